//! The real cfssl (Debian golang-cfssl 1.2, `/usr/bin/cfssl`) as the client of `kpki serve`:
//! `sign -remote`, `gencert -remote`, `info -remote`, and authsign through a cfssl client
//! config (`auth_keys`, `remotes`, `auth_remote`), accepted with the right key and refused with
//! a wrong or missing one. kpki's own client is checked against the same server with bare
//! `IP:port` remotes (which cfssl 1.2 cannot parse, cfssl#961). Every certificate obtained
//! verifies with `openssl verify -CAfile ca.pem` and is in the server's database.
//!
//! cfssl 1.2 quirks this suite works with: `-remote 127.0.0.1:PORT` fails client-side with
//! `{"code":5300,"message":"failed to connect to remote"}` (it wants `http://IP:PORT` or
//! `HOST:PORT`), and a client config whose default profile has no remote makes cfssl build a
//! local signer and fail with code 2000 before contacting any server, so the client configs
//! below point the default profile at the remote too.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::serve::*;
use common::*;
use serde_json::{Value, json};

const AUTH_KEY_HEX: &str = "00112233445566778899aabbccddeeff";
const WRONG_KEY_HEX: &str = "ffeeddccbbaa99887766554433221100";

const SERVER_CONFIG: &str = r#"{
  "signing": {
    "default": { "expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"] },
    "profiles": {
      "www":    { "expiry": "720h", "usages": ["signing", "key encipherment", "server auth"] },
      "client": { "expiry": "168h", "usages": ["signing", "key encipherment", "client auth"] },
      "authed": { "expiry": "2160h", "usages": ["signing", "key encipherment", "client auth"],
                  "auth_key": "k" }
    }
  },
  "auth_keys": { "k": { "type": "standard", "key": "00112233445566778899aabbccddeeff" } }
}"#;

/// The real cfssl binary, unless PATH's cfssl is kpki itself (then the suite is moot).
fn real_cfssl() -> Option<PathBuf> {
    if !require_program("cfssl") || !require_program("openssl") {
        return None;
    }
    let p = find_program("cfssl")?;
    let real = std::fs::canonicalize(&p).ok()?;
    if std::fs::canonicalize(kpki_bin()).ok().as_ref() == Some(&real) {
        skip("the cfssl on PATH is kpki, not the real cfssl");
        return None;
    }
    Some(p)
}

struct Env {
    ws: Workspace,
    cfssl: PathBuf,
    guard: ProcessGuard,
    server: Server,
    db_url: String,
    ca: CertSummary,
    /// lowercase hex AKI of what the CA signs
    aki: String,
}

impl Env {
    /// A CA made by the real cfssl, and `kpki serve -ca -ca-key -config -db` on it.
    fn start() -> Option<Env> {
        let cfssl = real_cfssl()?;
        let ws = Workspace::with_tools(Tools::kpki());
        ws.write_json(
            "ca-csr.json",
            &json!({"CN": "cfssl-made CA", "names": [{"O": "kpki tests"}],
                    "key": {"algo": "ecdsa", "size": 256}}),
        );
        let ca = run_cfssl(&ws, &cfssl, &["gencert", "-initca", "ca-csr.json"]);
        let v = ca.ok().json();
        ws.write("ca.pem", v["cert"].as_str().unwrap());
        ws.write("ca-key.pem", v["key"].as_str().unwrap());
        ws.write("server-config.json", SERVER_CONFIG);
        let db_url = format!("sqlite://{}", ws.path("certs.db").display());
        let mut guard = ProcessGuard::new();
        let server = start_serve(
            &mut guard,
            ws.dir(),
            &[
                "-ca",
                "ca.pem",
                "-ca-key",
                "ca-key.pem",
                "-config",
                "server-config.json",
                "-db",
                &db_url,
            ],
            Ready::Health,
        );
        let ca = summarize_cert_pem(&ws.read("ca.pem"));
        let aki = hex::encode(ca.ski.as_ref().expect("CA SKI"));
        Some(Env {
            ws,
            cfssl,
            guard,
            server,
            db_url,
            ca,
            aki,
        })
    }

    fn cfssl(&self, args: &[&str]) -> Output {
        run_cfssl(&self.ws, &self.cfssl, args)
    }

    fn kpki(&self, args: &[&str]) -> Output {
        self.ws.run("kpki", args)
    }

    /// A fresh key + CSR made by the real cfssl (`cfssl genkey`) → `NAME.csr`.
    fn cfssl_csr(&self, name: &str, cn: &str, hosts: &[&str]) -> String {
        self.ws.write_json(
            &format!("{name}-csr.json"),
            &json!({"CN": cn, "hosts": hosts, "key": {"algo": "ecdsa", "size": 256}}),
        );
        let out = self.cfssl(&["genkey", &format!("{name}-csr.json")]);
        let v = out.ok().json();
        let file = format!("{name}.csr");
        self.ws.write(&file, v["csr"].as_str().unwrap());
        self.ws
            .write(&format!("{name}-key.pem"), v["key"].as_str().unwrap());
        file
    }

    /// openssl verifies `cert_pem` against ca.pem, x509-parser checks the signature, and the
    /// database holds it (with this profile). Returns the summary.
    #[track_caller]
    fn check(&self, name: &str, cert_pem: &str, profile: &str) -> CertSummary {
        let file = format!("{name}.pem");
        self.ws.write(&file, cert_pem);
        assert_openssl_verifies(&self.ws, "ca.pem", None, None, &file);
        let c = summarize_cert_pem(cert_pem);
        c.verify_signed_by(Some(&self.ca))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_key_ids(&c, Some(&self.ca), name);
        let rows = certs_json(&self.db_url, &[]);
        let rec = find_record(&rows, &c.serial_decimal, &self.aki).unwrap_or_else(|| {
            panic!(
                "{name}: serial {} is not in the server's database",
                c.serial_decimal
            )
        });
        assert_eq!(rec["profile"], profile, "{name}: recorded profile");
        assert_eq!(rec["status"], "good");
        assert_eq!(
            pem_block(rec["pem"].as_str().unwrap(), "CERTIFICATE"),
            c.der,
            "{name}: stored PEM"
        );
        c
    }

    fn record_count(&self) -> usize {
        certs_json(&self.db_url, &[]).len()
    }

    fn stop(mut self) {
        let st = self
            .guard
            .terminate(self.server.pid, Duration::from_secs(30));
        assert_eq!(st.code(), Some(0), "{}", self.server.log_text());
    }
}

fn run_cfssl(ws: &Workspace, cfssl: &PathBuf, args: &[&str]) -> Output {
    let mut c = Command::new(cfssl);
    c.current_dir(ws.dir()).args(args);
    run_bounded(
        c,
        None,
        Duration::from_secs(60),
        &format!("cfssl {}", args.join(" ")),
    )
}

/// stdout + stderr, for matching error messages wherever cfssl prints them.
fn all_output(o: &Output) -> String {
    format!("{}\n{}", o.stdout, o.stderr)
}

// ---------------------------------------------------------------------------
// sign / gencert / info through -remote
// ---------------------------------------------------------------------------

#[test]
fn cfssl_sign_remote() {
    let Some(env) = Env::start() else { return };
    let url = env.server.url();
    let csr = env.cfssl_csr("a", "a.example", &["a.example", "127.0.0.1"]);

    let out = env.cfssl(&["sign", "-remote", &url, "-profile", "www", &csr]);
    let c = env.check("a", out.ok().json()["cert"].as_str().unwrap(), "www");
    assert_eq!(c.sans, vec![San::dns("a.example"), San::ip("127.0.0.1")]);
    assert_eq!(c.ext_key_usage, Some(vec!["serverAuth".to_string()]));
    assert_eq!(c.validity_secs(), 720 * HOUR);
    assert_key_matches_cert(&env.ws, "a-key.pem", "a.pem");

    // HOST:PORT without a scheme, and -hostname overriding the CSR's SANs.
    let local = format!("localhost:{}", env.server.port);
    let out = env.cfssl(&[
        "sign",
        "-remote",
        &local,
        "-profile",
        "client",
        "-hostname",
        "h.example,10.0.0.9",
        &csr,
    ]);
    let c = env.check(
        "a-host",
        out.ok().json()["cert"].as_str().unwrap(),
        "client",
    );
    assert_eq!(c.sans, vec![San::dns("h.example"), San::ip("10.0.0.9")]);
    assert_eq!(c.ext_key_usage, Some(vec!["clientAuth".to_string()]));

    // No profile: the server's default.
    let out = env.cfssl(&["sign", "-remote", &url, &csr]);
    let c = env.check("a-default", out.ok().json()["cert"].as_str().unwrap(), "");
    assert_eq!(c.validity_secs(), 8760 * HOUR);

    // kpki's own client with a bare IP:port.
    let csr_b = env.cfssl_csr("b", "b.example", &["b.example"]);
    let out = env.kpki(&[
        "sign",
        "-remote",
        &env.server.addr(),
        "-profile",
        "www",
        &csr_b,
    ]);
    let c = env.check("b", out.ok().json()["cert"].as_str().unwrap(), "www");
    assert_eq!(c.sans, vec![San::dns("b.example")]);

    // A profile the server lacks: cfssl reports the server's error and exits non-zero.
    let out = env.cfssl(&["sign", "-remote", &url, "-profile", "nosuch", &csr]);
    out.failed();
    let text = all_output(&out);
    assert!(
        text.contains("Unknown policy profile") && text.contains("5400"),
        "{}",
        out.describe()
    );
    assert_eq!(env.record_count(), 4);
    env.stop();
}

#[test]
fn cfssl_gencert_remote() {
    let Some(env) = Env::start() else { return };
    env.ws.write_json(
        "www-csr.json",
        &json!({"CN": "www.example", "hosts": ["www.example", "192.0.2.10"],
                "names": [{"C": "US", "O": "Example"}],
                "key": {"algo": "ecdsa", "size": 256}}),
    );
    let out = env.cfssl(&[
        "gencert",
        "-remote",
        &env.server.url(),
        "-profile",
        "www",
        "www-csr.json",
    ]);
    let v = out.ok().json();
    let c = env.check("www", v["cert"].as_str().unwrap(), "www");
    assert_eq!(c.subject_cn().as_deref(), Some("www.example"));
    assert_eq!(c.sans, vec![San::dns("www.example"), San::ip("192.0.2.10")]);
    env.ws.write("www-key.pem", v["key"].as_str().unwrap());
    assert_key_matches_cert(&env.ws, "www-key.pem", "www.pem");
    assert_eq!(
        csr_sans(v["csr"].as_str().unwrap()),
        vec![San::dns("www.example"), San::ip("192.0.2.10")]
    );

    // kpki gencert against the same server, bare IP:port.
    let out = env.kpki(&[
        "gencert",
        "-remote",
        &env.server.addr(),
        "-profile",
        "client",
        "www-csr.json",
    ]);
    let v = out.ok().json();
    let c = env.check("kwww", v["cert"].as_str().unwrap(), "client");
    env.ws.write("kwww-key.pem", v["key"].as_str().unwrap());
    assert_key_matches_cert(&env.ws, "kwww-key.pem", "kwww.pem");
    assert_eq!(c.ext_key_usage, Some(vec!["clientAuth".to_string()]));
    assert_eq!(env.record_count(), 2);
    env.stop();
}

#[test]
fn cfssl_info_remote() {
    let Some(env) = Env::start() else { return };
    for (profile, usages, expiry) in [
        (
            Some("www"),
            json!(["signing", "key encipherment", "server auth"]),
            "720h",
        ),
        (
            None,
            json!(["signing", "key encipherment", "server auth"]),
            "8760h",
        ),
        (
            Some("client"),
            json!(["signing", "key encipherment", "client auth"]),
            "168h",
        ),
    ] {
        let mut args = vec!["info", "-remote"];
        let url = env.server.url();
        args.push(&url);
        if let Some(p) = profile {
            args.extend(["-profile", p]);
        }
        let v = env.cfssl(&args).ok().json();
        assert_eq!(
            pem_block(v["certificate"].as_str().unwrap(), "CERTIFICATE"),
            env.ca.der,
            "{profile:?}"
        );
        assert_eq!(v["usages"], usages, "{profile:?}");
        assert_eq!(v["expiry"], expiry, "{profile:?}");
        // kpki's client, bare IP:port, gets the same answer.
        let mut kargs = vec!["info", "-remote"];
        let addr = env.server.addr();
        kargs.push(&addr);
        if let Some(p) = profile {
            kargs.extend(["-profile", p]);
        }
        let kv = env.kpki(&kargs).ok().json();
        assert_eq!(
            pem_block(kv["certificate"].as_str().unwrap(), "CERTIFICATE"),
            env.ca.der
        );
        assert_eq!(kv["usages"], usages);
        assert_eq!(kv["expiry"], expiry);
    }
    env.stop();
}

// ---------------------------------------------------------------------------
// authsign through a cfssl client configuration
// ---------------------------------------------------------------------------

/// A cfssl client config: every profile goes to remote `ca` (`auth_remote` with key `k` when
/// `key_hex` is given, plain `remote` otherwise).
fn client_config(remote: &str, key_hex: Option<&str>) -> Value {
    let profile = |usages: Value| match key_hex {
        Some(_) => json!({"expiry": "2160h", "usages": usages,
                          "auth_remote": {"remote": "ca", "auth_key": "k"}}),
        None => json!({"expiry": "2160h", "usages": usages, "remote": "ca"}),
    };
    let mut cfg = json!({
        "signing": {
            "default": profile(json!(["signing", "key encipherment", "client auth"])),
            "profiles": {
                "authed": profile(json!(["signing", "key encipherment", "client auth"]))
            }
        },
        "remotes": {"ca": remote}
    });
    if let Some(k) = key_hex {
        cfg["auth_keys"] = json!({"k": {"type": "standard", "key": k}});
    }
    cfg
}

#[test]
fn cfssl_authsign_through_client_config() {
    let Some(env) = Env::start() else { return };
    let url = env.server.url();
    env.ws
        .write_json("client.json", &client_config(&url, Some(AUTH_KEY_HEX)));
    env.ws.write_json(
        "client-wrong.json",
        &client_config(&url, Some(WRONG_KEY_HEX)),
    );
    env.ws
        .write_json("client-noauth.json", &client_config(&url, None));
    env.ws.write_json(
        "client-bare.json",
        &client_config(&env.server.addr(), Some(AUTH_KEY_HEX)),
    );

    // cfssl sign with the right key: authsign succeeds.
    let csr = env.cfssl_csr("s", "signed.example", &["signed.example"]);
    let out = env.cfssl(&["sign", "-config", "client.json", "-profile", "authed", &csr]);
    let c = env.check("s", out.ok().json()["cert"].as_str().unwrap(), "authed");
    assert_eq!(c.ext_key_usage, Some(vec!["clientAuth".to_string()]));
    assert_eq!(c.validity_secs(), 2160 * HOUR);
    assert!(
        env.server.log_text().contains("/api/v1/cfssl/authsign"),
        "cfssl did not use authsign:\n{}",
        env.server.log_text()
    );

    // The same CSR again: cfssl's token covers only the request bytes (no timestamp, no
    // nonce), so the identical request is indistinguishable from a replay and kpki refuses
    // it (tokens are remembered for good).
    let out = env.cfssl(&["sign", "-config", "client.json", "-profile", "authed", &csr]);
    out.failed();
    assert!(
        all_output(&out).contains("replayed request"),
        "{}",
        out.describe()
    );

    // cfssl gencert with the same client config.
    env.ws.write_json(
        "g-csr.json",
        &json!({"CN": "generated.example", "hosts": ["generated.example"],
                "key": {"algo": "ecdsa", "size": 256}}),
    );
    let out = env.cfssl(&[
        "gencert",
        "-config",
        "client.json",
        "-profile",
        "authed",
        "g-csr.json",
    ]);
    let v = out.ok().json();
    env.check("g", v["cert"].as_str().unwrap(), "authed");
    env.ws.write("g-key.pem", v["key"].as_str().unwrap());
    assert_key_matches_cert(&env.ws, "g-key.pem", "g.pem");
    assert_eq!(env.record_count(), 2);

    // Wrong key: refused.
    let csr_w = env.cfssl_csr("w", "wrong.example", &["wrong.example"]);
    let out = env.cfssl(&[
        "sign",
        "-config",
        "client-wrong.json",
        "-profile",
        "authed",
        &csr_w,
    ]);
    out.failed();
    assert!(
        !out.stdout.contains("BEGIN CERTIFICATE"),
        "{}",
        out.describe()
    );
    assert!(
        all_output(&out).contains("invalid token"),
        "{}",
        out.describe()
    );
    // No key on the client: /sign is refused for a profile with an auth_key.
    let out = env.cfssl(&[
        "sign",
        "-config",
        "client-noauth.json",
        "-profile",
        "authed",
        &csr_w,
    ]);
    out.failed();
    assert!(
        !out.stdout.contains("BEGIN CERTIFICATE"),
        "{}",
        out.describe()
    );
    assert!(
        all_output(&out).contains("authentication required"),
        "{}",
        out.describe()
    );
    let out = env.cfssl(&[
        "gencert",
        "-config",
        "client-noauth.json",
        "-profile",
        "authed",
        "g-csr.json",
    ]);
    out.failed();
    assert!(
        all_output(&out).contains("authentication required"),
        "{}",
        out.describe()
    );
    assert_eq!(env.record_count(), 2, "a refused request was recorded");

    // kpki's own client with the same kind of config and a bare IP:port remote.
    let csr_k = env.cfssl_csr("k", "kpki-client.example", &["kpki-client.example"]);
    let out = env.kpki(&[
        "sign",
        "-config",
        "client-bare.json",
        "-profile",
        "authed",
        &csr_k,
    ]);
    env.check("k", out.ok().json()["cert"].as_str().unwrap(), "authed");
    let out = env.kpki(&[
        "gencert",
        "-config",
        "client-bare.json",
        "-profile",
        "authed",
        "g-csr.json",
    ]);
    env.check("kg", out.ok().json()["cert"].as_str().unwrap(), "authed");
    assert_eq!(env.record_count(), 4);
    env.stop();
}
