//! The built-in profile pack and `print-defaults` templates, embedded from `profiles/`.
//! Pure: parses embedded text; knows nothing of the CLI.

use crate::config::Config;

/// The built-in signing profile pack (profiles/kpki.json).
pub const PACK_JSON: &str = include_str!("../profiles/kpki.json");
/// What `print-defaults config` prints.
pub const DEFAULT_CONFIG_JSON: &str = include_str!("../profiles/print-defaults-config.json");
/// What `print-defaults csr` prints.
pub const DEFAULT_CSR_JSON: &str = include_str!("../profiles/print-defaults-csr.json");

/// The built-in pack as a validated configuration.
pub fn builtin() -> Config {
    Config::from_json(PACK_JSON.as_bytes()).expect("profiles/kpki.json is valid (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_profiles_loads() {
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/profiles")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read(&p).unwrap();
                if p.file_name().unwrap().to_string_lossy().contains("csr") {
                    crate::csr::CertificateRequest::from_json(&text).unwrap();
                } else {
                    Config::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                }
            }
        }
        let pack = builtin();
        for name in [
            "server",
            "client",
            "peer",
            "www",
            "etcd",
            "kubernetes",
            "intermediate",
        ] {
            pack.signing.profile(name).unwrap();
        }
        assert!(
            pack.signing
                .profile("intermediate")
                .unwrap()
                .ca_constraint
                .is_ca
        );
    }

    #[test]
    fn embedded_constants_are_the_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap();
        assert_eq!(PACK_JSON, read("kpki.json"));
        assert_eq!(DEFAULT_CONFIG_JSON, read("print-defaults-config.json"));
        assert_eq!(DEFAULT_CSR_JSON, read("print-defaults-csr.json"));
    }

    #[test]
    fn builtin_pack_has_exactly_the_documented_profiles() {
        let pack = builtin();
        let names: Vec<&str> = pack.signing.profiles.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "client",
                "etcd",
                "intermediate",
                "kubernetes",
                "peer",
                "server",
                "www"
            ]
        );
        assert_eq!(pack.signing.default.expiry_string, "8760h");
        assert_eq!(
            pack.signing.default.usages,
            ["signing", "key encipherment", "server auth", "client auth"]
        );
        let p = |n: &str| pack.signing.profile(n).unwrap();
        assert_eq!(p("server").expiry_string, "8760h");
        assert_eq!(
            p("server").usages,
            ["signing", "key encipherment", "server auth"]
        );
        assert_eq!(
            p("client").usages,
            ["signing", "key encipherment", "client auth"]
        );
        assert_eq!(p("etcd").expiry_string, "87600h");
        assert_eq!(p("intermediate").expiry_string, "43800h");
        assert_eq!(p("intermediate").usages, ["cert sign", "crl sign"]);
        assert!(!p("server").ca_constraint.is_ca);
        assert!(pack.auth_keys.is_empty());
    }
}
