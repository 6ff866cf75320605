//! Reading command inputs: `-` for stdin, plain paths, and cfssl's `file:PATH` / `env:VAR`
//! sources for keys, certificates and secrets. Only reads; never writes.

use crate::error::{Error, Result, io_message};
use std::io::Read;

/// Reads a positional file argument; `-` reads standard input.
pub fn read_arg(path: &str, stdin: &mut dyn Read) -> Result<Vec<u8>> {
    if path == "-" {
        // Room for a typical cfssl JSON reply up front: one read instead of eight growing ones.
        let mut buf = Vec::with_capacity(16 * 1024);
        stdin
            .read_to_end(&mut buf)
            .map_err(|e| Error::Api(7300, format!("read stdin: {}", io_message(&e))))?;
        return Ok(buf);
    }
    read_file(path)
}

/// Reads a file, with Go's error wording (`open x: no such file or directory`).
pub fn read_file(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Api(7300, format!("open {path}: {}", io_message(&e))))
}

/// Reads a `path`, `file:path` or `env:VAR` source (cfssl's `-ca`/`-ca-key` helper).
pub fn read_source(spec: &str, stdin: &mut dyn Read) -> Result<Vec<u8>> {
    if let Some(var) = spec.strip_prefix("env:") {
        return std::env::var(var)
            .map(String::into_bytes)
            .map_err(|_| Error::Api(7300, format!("environment variable {var} is not set")));
    }
    if let Some(p) = spec.strip_prefix("file:") {
        return read_file(p);
    }
    read_arg(spec, stdin)
}

/// Reads a secret from `env:VAR` or `file:PATH` (trailing newline trimmed). Plain values are
/// refused so secrets never sit in shell history or `ps` output.
pub fn read_secret(spec: &str) -> Result<Vec<u8>> {
    let raw = if let Some(var) = spec.strip_prefix("env:") {
        std::env::var(var)
            .map_err(|_| Error::Api(7300, format!("environment variable {var} is not set")))?
            .into_bytes()
    } else if let Some(p) = spec.strip_prefix("file:") {
        read_file(p)?
    } else {
        return Err(Error::BadRequest(
            "secrets are read from env:VAR or file:PATH, not given on the command line".into(),
        ));
    };
    let mut v = raw;
    while v.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        v.pop();
    }
    Ok(v)
}

const ENCRYPTED_LABEL: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";

/// Loads a private key file, decrypting with the passphrase source when given, and warns (via
/// the returned text) when the file is readable by group or others, or when a passphrase was
/// given for a key that is not encrypted (the operator believes it is).
pub fn read_key(
    spec: &str,
    passphrase: &str,
    stdin: &mut dyn Read,
) -> Result<(crate::keys::PrivateKey, Option<String>)> {
    let bytes = read_source(spec, stdin).map_err(|e| match e {
        Error::Api(7300, m) => Error::PrivateKey(2001, m),
        other => other,
    })?;
    let pass = if passphrase.is_empty() {
        None
    } else {
        Some(zeroize::Zeroizing::new(read_secret(passphrase)?))
    };
    let key = crate::keys::PrivateKey::from_pem(&bytes, pass.as_ref().map(|p| p.as_slice()))?;
    let path = spec.strip_prefix("file:").unwrap_or(spec);
    let mut warnings = Vec::new();
    let encrypted = bytes
        .windows(ENCRYPTED_LABEL.len())
        .any(|w| w == ENCRYPTED_LABEL);
    if pass.is_some() && !encrypted {
        warnings.push(format!(
            "[WARNING] key {path} is not encrypted; the passphrase was not needed \
             (write an encrypted key with -encrypt -passphrase, or openssl pkcs8 -topk8 -v2 aes-256-cbc)"
        ));
    }
    #[cfg(unix)]
    if !spec.starts_with("env:") && path != "-" {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            warnings.push(format!(
                "[WARNING] key file {path} is readable by group or others (mode {:o}); chmod 600 it",
                m.permissions().mode() & 0o777
            ));
        }
    }
    Ok((key, (!warnings.is_empty()).then(|| warnings.join("\n"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_warn_about_loose_modes_and_needless_passphrases() {
        use crate::cli::output::write_atomic;
        let d = tempfile::tempdir().unwrap();
        let key = crate::keys::PrivateKey::generate(crate::keys::KeyAlgo::EcdsaP256).unwrap();
        let plain = key.to_cfssl_pem().unwrap();
        let sealed = key.to_encrypted_pem(b"pw", 1000).unwrap();
        let pass = d.path().join("pass");
        std::fs::write(&pass, "pw\n").unwrap();
        let pass = format!("file:{}", pass.display());
        let write = |name: &str, pem: &str, mode: u32| {
            let p = d.path().join(name);
            write_atomic(&p, pem.as_bytes(), mode).unwrap();
            p.display().to_string()
        };
        let none = &mut std::io::empty();

        // a private, unencrypted key without passphrase: no warning (also as file:PATH)
        let k600 = write("k600.pem", &plain, 0o600);
        let (k, w) = read_key(&k600, "", none).unwrap();
        assert_eq!(k.pkcs8_der(), key.pkcs8_der());
        assert_eq!(w, None);
        assert_eq!(read_key(&format!("file:{k600}"), "", none).unwrap().1, None);

        // readable by group or others: warned, with the mode
        for (name, mode) in [("k640.pem", 0o640), ("k604.pem", 0o604)] {
            let p = write(name, &plain, mode);
            let w = read_key(&format!("file:{p}"), "", none).unwrap().1.unwrap();
            assert_eq!(
                w,
                format!(
                    "[WARNING] key file {p} is readable by group or others (mode {mode:o}); chmod 600 it"
                )
            );
        }

        // a passphrase for a key that is not encrypted: warned
        let w = read_key(&k600, &pass, none).unwrap().1.unwrap();
        assert!(
            w.starts_with(&format!("[WARNING] key {k600} is not encrypted;")),
            "{w}"
        );
        assert!(!w.contains('\n'), "one warning: {w}");

        // an encrypted key with its passphrase: no warning; both warnings join with a newline
        let enc = write("enc.pem", &sealed, 0o600);
        let (k, w) = read_key(&enc, &pass, none).unwrap();
        assert_eq!(k.pkcs8_der(), key.pkcs8_der());
        assert_eq!(w, None);
        let loose = write("loose.pem", &plain, 0o644);
        let w = read_key(&loose, &pass, none).unwrap().1.unwrap();
        assert_eq!(w.lines().count(), 2, "{w}");

        // standard input is not a file: no mode check
        let (k, w) = read_key("-", "", &mut plain.as_bytes()).unwrap();
        assert_eq!(k.pkcs8_der(), key.pkcs8_der());
        assert_eq!(w, None);

        // a missing file is a private-key error (2001), not an I/O one
        match read_key(&d.path().join("none").display().to_string(), "", none) {
            Err(Error::PrivateKey(2001, m)) => assert!(m.starts_with("open "), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sources() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        std::fs::write(&p, "hello\n").unwrap();
        let ps = p.to_str().unwrap();
        assert_eq!(read_source(ps, &mut &b""[..]).unwrap(), b"hello\n");
        assert_eq!(
            read_source(&format!("file:{ps}"), &mut &b""[..]).unwrap(),
            b"hello\n"
        );
        assert_eq!(read_source("-", &mut &b"in"[..]).unwrap(), b"in");
        assert_eq!(read_secret(&format!("file:{ps}")).unwrap(), b"hello");
        assert!(read_secret("hunter2").is_err());
        let e = read_file("/nonexistent/x.json").unwrap_err();
        assert_eq!(
            e.message(),
            "open /nonexistent/x.json: no such file or directory"
        );
    }
}
