//! Writing command results: cfssl's one-line JSON (`{"cert","csr","key"}`, sorted keys, Go
//! escaping) and atomic file writes (temp file + rename, fsync where asked) with explicit modes.

use crate::error::{Error, Result, io_message};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Prints one compact JSON object with sorted keys and a newline, as cfssl does.
pub fn print_json(out: &mut dyn Write, fields: &BTreeMap<&str, String>) -> Result<()> {
    let line = crate::jsonci::to_go_json(fields);
    writeln!(out, "{line}")
        .map_err(|e| Error::Api(7300, format!("write stdout: {}", io_message(&e))))
}

/// Writes `data` to `path` atomically with `mode`: a temp file in the same directory (created
/// with the final mode, so a key is never briefly world-readable), then rename — readers and
/// crashes see the old file or the new one, never a partial one. Like cfssljson, openssl and
/// kubeadm, no fsync: that costs ~1 ms per call here; use [`write_durable`] where a file must
/// survive a power loss right after creation.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_file(path, data, mode, false)
}

/// [`write_atomic`] plus fsync of the file and its directory.
pub fn write_durable(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_file(path, data, mode, true)
}

/// Writes several files as a set: every temp file is written first and the destinations are
/// checked, then all are renamed into place — a failure before the renames leaves nothing.
pub fn write_set_atomic(files: &[(std::path::PathBuf, Vec<u8>, u32)]) -> Result<()> {
    let mut staged: Vec<(std::path::PathBuf, &Path)> = Vec::new();
    let cleanup = |staged: &[(std::path::PathBuf, &Path)]| {
        for (tmp, _) in staged {
            let _ = std::fs::remove_file(tmp);
        }
    };
    for (path, data, mode) in files {
        if path.is_dir() {
            cleanup(&staged);
            return Err(Error::Api(
                7300,
                format!("write {}: is a directory", path.display()),
            ));
        }
        match stage(path, data, *mode, false) {
            Ok(tmp) => staged.push((tmp, path.as_path())),
            Err(e) => {
                cleanup(&staged);
                return Err(e);
            }
        }
    }
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            cleanup(&staged[i..]);
            return Err(Error::Api(
                7300,
                format!("write {}: {}", path.display(), io_message(&e)),
            ));
        }
    }
    Ok(())
}

/// An unpredictable 64-bit suffix for a temp file's name (the file is created with O_EXCL, so this
/// only has to make collisions and guessing unlikely). std's `RandomState` is keyed from the OS
/// once per thread, so this costs no crypto library start-up in short-lived commands like
/// `json -bare`.
fn temp_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(now);
    format!("{:016x}", h.finish())
}

/// Writes `data` to a new temp file beside `path` with `mode`; returns the temp path.
fn stage(path: &Path, data: &[u8], mode: u32, durable: bool) -> Result<std::path::PathBuf> {
    let err = |e: std::io::Error| {
        Error::Api(
            7300,
            format!("write {}: {}", path.display(), io_message(&e)),
        )
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", temp_suffix()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        {
            // The umask may have narrowed the mode; set it exactly.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(err(e))
        }
    }
}

fn write_file(path: &Path, data: &[u8], mode: u32, durable: bool) -> Result<()> {
    let tmp = stage(path, data, mode, durable)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Api(
            7300,
            format!("write {}: {}", path.display(), io_message(&e)),
        ));
    }
    if durable {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Creates a directory (and parents) with mode 0700 for key material.
pub fn create_private_dir(path: &Path) -> Result<()> {
    let err = |e: std::io::Error| {
        Error::Api(
            7300,
            format!("mkdir {}: {}", path.display(), io_message(&e)),
        )
    };
    std::fs::create_dir_all(path).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_suffixes_are_16_hex_digits_and_do_not_repeat() {
        let all: std::collections::HashSet<String> = (0..1000).map(|_| temp_suffix()).collect();
        assert_eq!(all.len(), 1000);
        assert!(
            all.iter()
                .all(|s| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn atomic_write_sets_mode_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        write_atomic(&p, b"secret", 0o600).unwrap();
        write_durable(&p, b"secret2", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"secret2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        assert!(write_atomic(&d.path().join("no/such/dir/x"), b"", 0o644).is_err());
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_set_is_written_with_each_mode_and_nothing_on_failure() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.pem"), d.path().join("a-key.pem"));
        write_set_atomic(&[
            (a.clone(), b"cert".to_vec(), 0o644),
            (b.clone(), b"key".to_vec(), 0o600),
        ])
        .unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"cert");
        assert_eq!(std::fs::read(&b).unwrap(), b"key");
        #[cfg(unix)]
        assert_eq!((mode(&a), mode(&b)), (0o644, 0o600));
        // A directory in the set: an error, the earlier files are not replaced and no temp stays.
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = write_set_atomic(&[
            (a.clone(), b"new".to_vec(), 0o644),
            (sub.clone(), b"x".to_vec(), 0o644),
        ])
        .unwrap_err();
        assert!(e.message().ends_with("is a directory"), "{}", e.message());
        // A file that cannot be staged (its directory is missing): the same.
        assert!(
            write_set_atomic(&[
                (a.clone(), b"new".to_vec(), 0o644),
                (d.path().join("none/x"), b"x".to_vec(), 0o644),
            ])
            .is_err()
        );
        assert_eq!(std::fs::read(&a).unwrap(), b"cert");
        let mut names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a-key.pem", "a.pem", "sub"]);
    }

    #[test]
    fn the_temp_file_is_staged_beside_its_target() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        let tmp = stage(&p, b"data", 0o600, true).unwrap();
        assert_eq!(tmp.parent(), Some(d.path()));
        let name = tmp.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(".k.pem.") && name.ends_with(".tmp"),
            "{name}"
        );
        assert_eq!(std::fs::read(&tmp).unwrap(), b"data");
        #[cfg(unix)]
        assert_eq!(mode(&tmp), 0o600);
        assert!(!p.exists());
    }

    #[test]
    fn private_dirs_are_0700() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b");
        create_private_dir(&p).unwrap();
        assert!(p.is_dir());
        #[cfg(unix)]
        assert_eq!(mode(&p), 0o700);
        // an existing directory is narrowed to 0700
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            create_private_dir(&p).unwrap();
            assert_eq!(mode(&p), 0o700);
        }
        let f = d.path().join("file");
        std::fs::write(&f, b"").unwrap();
        assert!(create_private_dir(&f.join("x")).is_err());
    }

    #[test]
    fn json_line_is_sorted_and_go_escaped() {
        let mut out = Vec::new();
        let mut m = BTreeMap::new();
        m.insert("key", "k".to_string());
        m.insert("cert", "<c>".to_string());
        print_json(&mut out, &m).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"cert\":\"\\u003cc\\u003e\",\"key\":\"k\"}\n"
        );
    }
}
