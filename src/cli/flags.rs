//! Go `flag`-package parsing with cfssl's single flag table: `-f`, `--f`, `-f=v`, `-f v`;
//! booleans only as `-f` or `-f=false`; parsing stops at the first positional or `--`; a lone
//! `-` is positional. Knows nothing of what the flags do.

use std::collections::BTreeMap;

/// The type of a flag's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// boolean: `-x`, `-x=true`, `-x=false`
    Bool,
    /// string
    Str,
    /// integer
    Int,
}

/// One entry of the flag table.
#[derive(Debug)]
pub struct FlagDef {
    /// name without dashes
    pub name: &'static str,
    /// value type
    pub kind: Kind,
    /// default value as text
    pub default: &'static str,
    /// one-line help
    pub help: &'static str,
}

const fn s(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
    FlagDef {
        name,
        kind: Kind::Str,
        default,
        help,
    }
}
const fn b(name: &'static str, help: &'static str) -> FlagDef {
    FlagDef {
        name,
        kind: Kind::Bool,
        default: "false",
        help,
    }
}
const fn i(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
    FlagDef {
        name,
        kind: Kind::Int,
        default,
        help,
    }
}

/// The one flag table (cfssl's names and meanings, plus kpki's own).
pub const FLAGS: &[FlagDef] = &[
    s(
        "hostname",
        "",
        "Hostname for the cert, could be a comma-separated hostname list",
    ),
    s(
        "cert",
        "",
        "Client certificate that contains the public key",
    ),
    s(
        "csr",
        "",
        "Certificate signature request file for new public key",
    ),
    s(
        "ca",
        "",
        "CA used to sign the new certificate -- accepts '[file:]fname' or 'env:varname'",
    ),
    s(
        "ca-key",
        "",
        "CA private key -- accepts '[file:]fname' or 'env:varname'",
    ),
    s(
        "ca-key-passphrase",
        "",
        "passphrase of an encrypted CA key -- 'env:VAR' or 'file:PATH'",
    ),
    s("tls-cert", "", "Other endpoint CA to set up TLS protocol"),
    s("tls-key", "", "Other endpoint CA private key"),
    s(
        "mutual-tls-ca",
        "",
        "Mutual TLS - require clients be signed by this CA",
    ),
    s(
        "mutual-tls-cn",
        "",
        "Mutual TLS - regex for whitelist of allowed client CNs",
    ),
    s("tls-remote-ca", "", "CAs to trust for remote TLS requests"),
    s(
        "mutual-tls-client-cert",
        "",
        "Mutual TLS - client certificate to call remote instance requiring client certs",
    ),
    s(
        "mutual-tls-client-key",
        "",
        "Mutual TLS - client key to call remote instance requiring client certs",
    ),
    s("key", "", "private key for the certificate"),
    s("address", "127.0.0.1", "Address to bind"),
    i("port", "8888", "Port to bind"),
    s("config", "", "path to configuration file"),
    s("profile", "", "signing profile to use"),
    b("initca", "initialise new CA"),
    b(
        "renewca",
        "re-generate a CA certificate from existing CA certificate/key",
    ),
    s("domain", "", "remote server domain name (host[:port])"),
    s("remote", "", "remote CFSSL server"),
    s("label", "", "key label to use in remote CFSSL server"),
    s("reason", "0", "Reason code for revocation (name or number)"),
    s("serial", "", "certificate serial number (decimal)"),
    s("cn", "", "certificate common name (CN)"),
    s(
        "aki",
        "",
        "certificate issuer (authority) key identifier (hex)",
    ),
    s("db-config", "", "certificate db configuration file"),
    s("db", "", "certificate database URL (sqlite://PATH)"),
    s(
        "data-dir",
        "./kpki-data",
        "directory for the embedded CA and database of `kpki serve`",
    ),
    s(
        "expiry",
        "168h",
        "time from now after which the CRL will expire (Go duration)",
    ),
    s("disable", "", "endpoints to disable (comma-separated)"),
    i("loglevel", "1", "Log level (0 = DEBUG, 5 = FATAL)"),
    b(
        "bare",
        "the response from CFSSL is not wrapped in the API standard response",
    ),
    s("f", "-", "JSON input"),
    b("stdout", "output the response instead of saving to a file"),
    b("version", "print version and exit"),
    b("pem", "print the CRL as PEM instead of one-line base64 DER"),
    b("json", "print JSON"),
    b(
        "insecure",
        "allow listening on a non-loopback address without authentication",
    ),
    b(
        "require-auth",
        "require authentication (HMAC or mTLS) on every state-changing endpoint",
    ),
    b(
        "encrypt",
        "write the private key encrypted (PKCS#8, PBKDF2-SHA256 + AES-256-CBC)",
    ),
    s(
        "passphrase",
        "",
        "passphrase for -encrypt -- 'env:VAR' or 'file:PATH'",
    ),
    s("status", "", "filter by status (good, revoked)"),
    s(
        "expiring",
        "",
        "only certificates expiring within this duration (e.g. 720h, 30d)",
    ),
    i("limit", "100", "maximum rows to list"),
    i("rows", "1000000", "synthetic certificate rows to insert"),
    i(
        "revoked-every",
        "10",
        "revoke every Nth synthetic row (0: none)",
    ),
    s("o", "", "output file"),
    s("user", "kubelet-bootstrap", "user name"),
    s("uid", "10001", "user uid"),
    s(
        "group",
        "system:kubelet-bootstrap",
        "group(s), comma-separated",
    ),
    b("append", "add to an existing file"),
    s("ttl", "24h", "token lifetime (0 = never expires)"),
    s(
        "groups",
        "system:bootstrappers:kubeadm:default-node-token",
        "extra groups (comma-separated)",
    ),
    s(
        "usages",
        "signing,authentication",
        "token usages (comma-separated)",
    ),
    s("description", "", "description"),
    s("server", "", "API server URL (https://IP:6443)"),
    s("token", "", "bearer token"),
    s("cluster", "kubernetes", "cluster name"),
    s("context", "default", "context name"),
    FlagDef {
        name: "embed",
        kind: Kind::Bool,
        default: "true",
        help: "embed certificates and keys into the kubeconfig (-embed=false writes file paths)",
    },
    s("dir", "", "directory to scan"),
    s(
        "within",
        "720h",
        "warn about what expires within this duration",
    ),
    s(
        "renew-within",
        "",
        "re-issue certificates expiring within this duration",
    ),
    b(
        "admin-cluster-admins",
        "admin certificate O=kubeadm:cluster-admins instead of system:masters",
    ),
    s(
        "auth-key",
        "",
        "auth key for kpki REST calls (hex, env:VAR or file:PATH)",
    ),
    i("count", "0", "number of rows"),
];

/// Looks up a flag by name.
pub fn def(name: &str) -> Option<&'static FlagDef> {
    FLAGS.iter().find(|f| f.name == name)
}

/// A parse result: flag values (defaults filled in) and positional arguments.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, String>,
    set: Vec<&'static str>,
    /// positional arguments
    pub args: Vec<String>,
}

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagError {
    /// `-h`, `-help` or `--help`
    Help,
    /// a bad flag; the message is Go's
    Bad(String),
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl Parsed {
    /// A string flag's value (its default when not given).
    pub fn str(&self, name: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .or_else(|| def(name).map(|d| d.default.to_string()))
            .unwrap_or_default()
    }
    /// A boolean flag's value.
    pub fn bool(&self, name: &str) -> bool {
        parse_bool(&self.str(name)).unwrap_or(false)
    }
    /// An integer flag's value (validated at parse time), read as Go's flag package reads it.
    pub fn int(&self, name: &str) -> i64 {
        go_int(&self.str(name)).unwrap_or(0)
    }
    /// True when the flag was given on the command line.
    pub fn is_set(&self, name: &str) -> bool {
        self.set.contains(&name)
    }
    /// Sets a value programmatically (used by wrappers such as the serve defaults).
    pub fn set_value(&mut self, name: &'static str, v: &str) {
        self.values.insert(name, v.to_string());
    }
}

/// An integer as Go's flag package reads one (`strconv.ParseInt(s, 0, 64)`): an optional sign,
/// a `0x`, `0o` or `0b` prefix or a leading `0` for octal (`010` is 8), and `_` only between digits
/// or after a prefix (`1_000`, `0x_1F`).
fn go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, hex) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, false)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, false)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], false)
    } else {
        (10, lower.as_str(), false)
    };
    // Go's underscoreOK: each `_` follows a digit (or the prefix, or a legacy octal's 0) and is
    // followed by one.
    let prefixed = radix != 10;
    let mut prev_digit = prefixed;
    let mut clean = String::with_capacity(digits.len());
    for c in digits.chars() {
        if c == '_' {
            if !prev_digit {
                return None;
            }
            prev_digit = false;
        } else if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            clean.push(c);
            prev_digit = true;
        } else {
            return None;
        }
    }
    if !prev_digit || clean.is_empty() {
        return None;
    }
    let magnitude = u64::from_str_radix(&clean, radix).ok()?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses `args` accepting only the flags named in `allowed` (plus -h/-help).
pub fn parse(args: &[String], allowed: &[&str]) -> Result<Parsed, FlagError> {
    let mut p = Parsed::default();
    let mut idx = 0;
    while idx < args.len() {
        let a = &args[idx];
        if a == "--" {
            idx += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let body = a.strip_prefix("--").unwrap_or(&a[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError::Bad(format!("bad flag syntax: {a}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let known = allowed.contains(&name).then(|| def(name)).flatten();
        let Some(d) = known else {
            if name == "h" || name == "help" {
                return Err(FlagError::Help);
            }
            return Err(FlagError::Bad(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let value = match (d.kind, inline) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(v)) => match parse_bool(&v) {
                Some(b) => b.to_string(),
                None => {
                    return Err(FlagError::Bad(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    )));
                }
            },
            (_, Some(v)) => v,
            (_, None) => {
                idx += 1;
                match args.get(idx) {
                    Some(v) => v.clone(),
                    None => return Err(FlagError::Bad(format!("flag needs an argument: -{name}"))),
                }
            }
        };
        if d.kind == Kind::Int && go_int(&value).is_none() {
            return Err(FlagError::Bad(format!(
                "invalid value {value:?} for flag -{name}: parse error"
            )));
        }
        p.values.insert(d.name, value);
        p.set.push(d.name);
        idx += 1;
    }
    p.args = args[idx..].to_vec();
    Ok(p)
}

/// Usage text: the command's usage line then `  -name=default: help` per allowed flag, as cfssl.
pub fn usage(text: &str, allowed: &[&str]) -> String {
    let mut out = String::from(text.trim_end());
    out.push_str("\n\nFlags:\n");
    for name in allowed {
        if let Some(d) = def(name) {
            let dflt = if d.default.is_empty() {
                "\"\"".to_string()
            } else {
                d.default.to_string()
            };
            out.push_str(&format!("  -{}={}: {}\n", d.name, dflt, d.help));
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn integers_are_read_as_gos_flag_package_reads_them() {
        // strconv.ParseInt(s, 0, 64); cfssl 1.2 accepts `-loglevel=0x1`.
        let ok = [
            ("0", 0),
            ("8888", 8888),
            ("+5", 5),
            ("-7", -7),
            ("0x22b8", 8888),
            ("0X1F", 31),
            ("010", 8),
            ("0o17", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1F", 31),
            ("0_7", 7),
            ("-0x10", -16),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (s, want) in ok {
            assert_eq!(go_int(s), Some(want), "{s:?}");
        }
        let bad = [
            "",
            "+",
            "-",
            "0x",
            "08",
            "0b2",
            "1_",
            "_1",
            "1__0",
            "0x_",
            "1e3",
            " 1",
            "1 ",
            "0x+5",
            "--1",
            "9223372036854775808",
            "-9223372036854775809",
            "12a",
            "٣",
        ];
        for s in bad {
            assert_eq!(go_int(s), None, "{s:?}");
        }
        // Through the parser: accepted, read back, and refused with Go's message.
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = parse(
            &args(&["-port", "0x22b8", "-loglevel=010"]),
            &["port", "loglevel"],
        )
        .unwrap();
        assert_eq!((p.int("port"), p.int("loglevel")), (8888, 8));
        match parse(&args(&["-port=08"]), &["port"]) {
            Err(FlagError::Bad(m)) => {
                assert_eq!(m, "invalid value \"08\" for flag -port: parse error")
            }
            other => panic!("{other:?}"),
        }
    }
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }
    const ALLOWED: &[&str] = &[
        "ca", "ca-key", "initca", "profile", "hostname", "f", "bare", "port",
    ];

    #[test]
    fn go_flag_forms_table() {
        // (argv, flag, expected value, expected positionals)
        let cases: &[(&[&str], &str, &str, &[&str])] = &[
            (&["-ca=ca.pem", "x.json"], "ca", "ca.pem", &["x.json"]),
            (&["-ca", "ca.pem", "x.json"], "ca", "ca.pem", &["x.json"]),
            (&["--ca=ca.pem"], "ca", "ca.pem", &[]),
            (&["--ca", "ca.pem"], "ca", "ca.pem", &[]),
            (
                &["-initca", "ca-csr.json"],
                "initca",
                "true",
                &["ca-csr.json"],
            ),
            (
                &["-initca=false", "ca-csr.json"],
                "initca",
                "false",
                &["ca-csr.json"],
            ),
            (&["-initca=1"], "initca", "true", &[]),
            (&["-initca", "-"], "initca", "true", &["-"]),
            (
                &["-f", "in.json", "-bare", "server"],
                "f",
                "in.json",
                &["server"],
            ),
            (&["-bare", "ca", "-"], "bare", "true", &["ca", "-"]),
            (&["-hostname=-weird"], "hostname", "-weird", &[]),
            (&["-hostname", "-weird"], "hostname", "-weird", &[]),
            (&["-ca=a=b"], "ca", "a=b", &[]),
            (&["-ca="], "ca", "", &[]),
            (&["--", "-initca"], "initca", "false", &["-initca"]),
            // Go stops at the first positional: the flag after it is an argument.
            (
                &["csr.json", "-initca"],
                "initca",
                "false",
                &["csr.json", "-initca"],
            ),
            (&["-port", "9000"], "port", "9000", &[]),
        ];
        for (argv, flag, want, pos) in cases {
            let p = parse(&v(argv), ALLOWED).unwrap_or_else(|e| panic!("{argv:?}: {e:?}"));
            assert_eq!(p.str(flag), *want, "{argv:?}");
            assert_eq!(p.args, v(pos), "{argv:?}");
        }
    }

    #[test]
    fn errors_table() {
        let cases: &[(&[&str], FlagError)] = &[
            (&["-h"], FlagError::Help),
            (&["-help"], FlagError::Help),
            (&["--help"], FlagError::Help),
            (
                &["-bogus"],
                FlagError::Bad("flag provided but not defined: -bogus".into()),
            ),
            (
                &["-serial=1"],
                FlagError::Bad("flag provided but not defined: -serial".into()),
            ),
            (
                &["-ca"],
                FlagError::Bad("flag needs an argument: -ca".into()),
            ),
            (
                &["-initca=maybe"],
                FlagError::Bad("invalid boolean value \"maybe\" for -initca: parse error".into()),
            ),
            (&["---x"], FlagError::Bad("bad flag syntax: ---x".into())),
            (&["-=x"], FlagError::Bad("bad flag syntax: -=x".into())),
            (
                &["-port=abc"],
                FlagError::Bad("invalid value \"abc\" for flag -port: parse error".into()),
            ),
        ];
        for (argv, want) in cases {
            assert_eq!(parse(&v(argv), ALLOWED).unwrap_err(), *want, "{argv:?}");
        }
    }

    #[test]
    fn typed_accessors_set_flags_and_overrides() {
        let p = parse(&v(&["-initca", "-ca=x.pem", "-port", "-7"]), ALLOWED).unwrap();
        assert!(p.bool("initca"));
        assert!(!p.bool("bare"));
        assert!(p.is_set("initca") && p.is_set("ca") && p.is_set("port"));
        assert!(!p.is_set("bare"));
        assert_eq!(p.int("port"), -7);
        let p = parse(&v(&["-initca=false"]), ALLOWED).unwrap();
        assert!(!p.bool("initca"));
        assert!(p.is_set("initca"), "given as false is still given");
        // a default of "true" reads as true; unknown names read as "" / false / 0
        assert!(parse(&[], &[]).unwrap().bool("embed"));
        assert_eq!(p.str("no-such-flag"), "");
        assert_eq!(p.int("no-such-flag"), 0);
        let mut p = parse(&[], ALLOWED).unwrap();
        p.set_value("address", "0.0.0.0");
        p.set_value("bare", "true");
        assert_eq!(p.str("address"), "0.0.0.0");
        assert!(p.bool("bare"));
        assert!(!p.is_set("address"), "set_value is not a command-line flag");
    }

    #[test]
    fn defaults_and_usage() {
        let p = parse(&[], ALLOWED).unwrap();
        assert_eq!(p.str("f"), "-");
        assert_eq!(p.int("port"), 8888);
        assert!(!p.is_set("ca"));
        let u = usage("Usage of gencert:", &["ca", "initca"]);
        assert!(u.contains("  -ca=\"\": CA used"), "{u}");
        assert!(u.contains("  -initca=false: "), "{u}");
        for f in FLAGS {
            assert_eq!(
                FLAGS.iter().filter(|g| g.name == f.name).count(),
                1,
                "duplicate flag {}",
                f.name
            );
        }
    }
}
