//! A real etcd cluster for tests: certificates for it made with the cfssl tools under
//! test ([`make_etcd_pki`]) and a TLS cluster on 127.0.0.1 that consumes any directory
//! laid out like [`EtcdPki`] ([`EtcdCluster`], [`check_etcd_cluster`]), so a later test
//! can run the same cluster on certificates from another source.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{
    Output, ProcessGuard, Workspace, assert_openssl_verifies, free_ports, poll_until, run_bounded,
};

/// Signing config used for the etcd certificates (CoreOS guide profile names; member
/// server certificates use `peer` because etcd ≥ 3.2 also presents them as client
/// certificates to itself, see landscape.md §2.2).
pub const ETCD_CA_CONFIG: &str = r#"{
  "signing": {
    "default": { "expiry": "43800h" },
    "profiles": {
      "server": { "expiry": "43800h", "usages": ["signing", "key encipherment", "server auth"] },
      "client": { "expiry": "43800h", "usages": ["signing", "key encipherment", "client auth"] },
      "peer":   { "expiry": "43800h", "usages": ["signing", "key encipherment", "server auth", "client auth"] }
    }
  }
}"#;

/// A directory of etcd PEM files:
/// `ca.pem`; per member N (1-based) `member-N.pem`/`member-N-key.pem` (client-facing
/// server cert) and `peer-N.pem`/`peer-N-key.pem`; `client.pem`/`client-key.pem`.
/// All member certificates must carry SANs `127.0.0.1` and `localhost`.
#[derive(Clone, Debug)]
pub struct EtcdPki {
    pub dir: PathBuf,
    pub members: usize,
}

impl EtcdPki {
    /// Uses an existing directory with the layout above (checks the files exist).
    pub fn from_dir(dir: &Path, members: usize) -> EtcdPki {
        let pki = EtcdPki {
            dir: dir.to_path_buf(),
            members,
        };
        for f in pki.all_files() {
            assert!(f.is_file(), "etcd PKI file missing: {}", f.display());
        }
        pki
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn server_cert(&self, n: usize) -> PathBuf {
        self.dir.join(format!("member-{n}.pem"))
    }
    pub fn server_key(&self, n: usize) -> PathBuf {
        self.dir.join(format!("member-{n}-key.pem"))
    }
    pub fn peer_cert(&self, n: usize) -> PathBuf {
        self.dir.join(format!("peer-{n}.pem"))
    }
    pub fn peer_key(&self, n: usize) -> PathBuf {
        self.dir.join(format!("peer-{n}-key.pem"))
    }
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.pem")
    }
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client-key.pem")
    }

    fn all_files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.ca(), self.client_cert(), self.client_key()];
        for n in 1..=self.members {
            v.extend([
                self.server_cert(n),
                self.server_key(n),
                self.peer_cert(n),
                self.peer_key(n),
            ]);
        }
        v
    }
}

/// Makes an etcd PKI in `ws/<subdir>` with the workspace's tools, exactly as the
/// classic guides do (`gencert -initca | cfssljson -bare`, then `gencert -profile=…`).
/// `ca_cn` distinguishes CAs when a test needs a second, unrelated one.
pub fn make_etcd_pki(ws: &Workspace, subdir: &str, members: usize, ca_cn: &str) -> EtcdPki {
    ws.write(&format!("{subdir}/ca-config.json"), ETCD_CA_CONFIG);
    ws.write(
        &format!("{subdir}/ca-csr.json"),
        format!(
            r#"{{"CN": "{ca_cn}", "key": {{"algo": "ecdsa", "size": 256}},
                "names": [{{"C": "US", "L": "San Francisco", "ST": "CA", "O": "etcd", "OU": "Test"}}],
                "ca": {{"expiry": "87600h"}}}}"#
        ),
    );
    ws.write(
        &format!("{subdir}/client.json"),
        r#"{"CN": "etcd-client", "hosts": [""], "key": {"algo": "ecdsa", "size": 256}}"#,
    );
    let mut script = format!(
        "set -e\ncd {subdir}\n\
         cfssl gencert -initca ca-csr.json | cfssljson -bare ca -\n\
         cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=client \
         client.json | cfssljson -bare client\n"
    );
    for n in 1..=members {
        ws.write(
            &format!("{subdir}/member-{n}.json"),
            format!(
                r#"{{"CN": "member-{n}", "hosts": ["127.0.0.1", "localhost"],
                    "key": {{"algo": "ecdsa", "size": 256}}, "names": [{{"O": "etcd"}}]}}"#
            ),
        );
        script.push_str(&format!(
            "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=peer \
             member-{n}.json | cfssljson -bare member-{n}\n\
             cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=peer \
             member-{n}.json | cfssljson -bare peer-{n}\n"
        ));
    }
    ws.sh(&script).ok();
    EtcdPki::from_dir(&ws.path(subdir), members)
}

/// Checks every certificate of `pki` with `openssl verify` for the purposes etcd needs.
pub fn verify_etcd_pki_with_openssl(ws: &Workspace, pki: &EtcdPki) {
    let ca = pki.ca().display().to_string();
    let v = |purpose: &str, cert: PathBuf| {
        assert_openssl_verifies(ws, &ca, None, Some(purpose), &cert.display().to_string())
    };
    v("sslclient", pki.client_cert());
    for n in 1..=pki.members {
        v("sslserver", pki.server_cert(n));
        v("sslclient", pki.server_cert(n));
        v("sslserver", pki.peer_cert(n));
        v("sslclient", pki.peer_cert(n));
    }
}

/// A running etcd cluster; members are SIGKILLed by PID when this is dropped.
pub struct EtcdCluster {
    guard: ProcessGuard,
    pub client_urls: Vec<String>,
    logs: Vec<PathBuf>,
}

impl EtcdCluster {
    /// Starts `pki.members` members on distinct free 127.0.0.1 ports with mutual TLS for
    /// clients and peers; data dirs and logs go under `work`.
    pub fn start(pki: &EtcdPki, work: &Path) -> EtcdCluster {
        std::fs::create_dir_all(work).unwrap();
        let n = pki.members;
        let ports = free_ports(2 * n);
        let client_urls: Vec<String> = (0..n)
            .map(|i| format!("https://127.0.0.1:{}", ports[i]))
            .collect();
        let peer_urls: Vec<String> = (0..n)
            .map(|i| format!("https://127.0.0.1:{}", ports[n + i]))
            .collect();
        let initial_cluster = (0..n)
            .map(|i| format!("m{}={}", i + 1, peer_urls[i]))
            .collect::<Vec<_>>()
            .join(",");
        let mut guard = ProcessGuard::new();
        let mut logs = Vec::new();
        for i in 0..n {
            let m = i + 1;
            let log_path = work.join(format!("etcd-m{m}.log"));
            let log = std::fs::File::create(&log_path).unwrap();
            let mut c = Command::new("etcd");
            c.current_dir(work)
                .args(["--name", &format!("m{m}")])
                .args([
                    "--data-dir",
                    &work.join(format!("m{m}.data")).display().to_string(),
                ])
                .args(["--listen-client-urls", &client_urls[i]])
                .args(["--advertise-client-urls", &client_urls[i]])
                .args(["--listen-peer-urls", &peer_urls[i]])
                .args(["--initial-advertise-peer-urls", &peer_urls[i]])
                .args(["--initial-cluster", &initial_cluster])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "kpki-test"])
                .args(["--cert-file", &path_str(&pki.server_cert(m))])
                .args(["--key-file", &path_str(&pki.server_key(m))])
                .arg("--client-cert-auth")
                .args(["--trusted-ca-file", &path_str(&pki.ca())])
                .args(["--peer-cert-file", &path_str(&pki.peer_cert(m))])
                .args(["--peer-key-file", &path_str(&pki.peer_key(m))])
                .arg("--peer-client-cert-auth")
                .args(["--peer-trusted-ca-file", &path_str(&pki.ca())])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            guard.spawn(&format!("etcd m{m}"), c);
            logs.push(log_path);
        }
        EtcdCluster {
            guard,
            client_urls,
            logs,
        }
    }

    pub fn endpoints(&self) -> String {
        self.client_urls.join(",")
    }

    pub fn pids(&self) -> Vec<u32> {
        self.guard.pids()
    }

    /// Polls `endpoint health` on all members until it succeeds or `limit` elapses.
    pub fn wait_healthy(&mut self, pki: &EtcdPki, limit: Duration) -> Result<(), String> {
        let endpoints = self.endpoints();
        poll_until(limit, Duration::from_millis(250), || {
            let dead = self.guard.exited();
            if !dead.is_empty() {
                // A member that died will not come back: stop polling now.
                return Ok(Err(format!("etcd member(s) exited: {dead:?}")));
            }
            let out = etcdctl(
                &endpoints,
                &pki.ca(),
                &pki.client_cert(),
                &pki.client_key(),
                &["endpoint", "health"],
            );
            if out.success() {
                Ok(Ok(()))
            } else {
                Err(out.describe())
            }
        })?
    }

    /// Last lines of every member's log (for failure messages).
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut s = String::new();
        for p in &self.logs {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            s.push_str(&format!("==== {} ====\n", p.display()));
            for l in &all[all.len().saturating_sub(lines)..] {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// Concatenated member logs.
    pub fn logs(&self) -> String {
        self.logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    /// Kills every member now (the guard would do it on drop anyway).
    pub fn stop(&mut self) {
        self.guard.kill_all();
    }
}

/// `etcdctl` (API v3) against `endpoints` with the given client credentials.
pub fn etcdctl(endpoints: &str, ca: &Path, cert: &Path, key: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("etcdctl");
    c.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .args(["--cacert", &path_str(ca)])
        .args(["--cert", &path_str(cert)])
        .args(["--key", &path_str(key)])
        .args(["--dial-timeout=2s", "--command-timeout=5s"])
        .args(args);
    run_bounded(
        c,
        None,
        Duration::from_secs(20),
        &format!("etcdctl --endpoints={endpoints} {}", args.join(" ")),
    )
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The whole etcd check on a PKI directory: start the cluster, wait (≤ 30 s) until every
/// member is healthy over mutual TLS, put a key on member 1 and read it from the last
/// member, then show that a client certificate from `foreign` (another CA, files
/// `client.pem`/`client-key.pem`) is refused while the legitimate client still works.
pub fn check_etcd_cluster(pki: &EtcdPki, foreign: &EtcdPki, work: &Path) {
    let mut cluster = EtcdCluster::start(pki, work);
    if let Err(e) = cluster.wait_healthy(pki, Duration::from_secs(30)) {
        panic!(
            "etcd cluster did not become healthy: {e}\n{}",
            cluster.logs_tail(30)
        );
    }
    let first = cluster.client_urls[0].clone();
    let last = cluster.client_urls[pki.members - 1].clone();
    let (ca, cert, key) = (pki.ca(), pki.client_cert(), pki.client_key());

    let put = etcdctl(&first, &ca, &cert, &key, &["put", "kpki/test", "hello"]);
    assert!(
        put.success() && put.stdout.contains("OK"),
        "put failed: {}",
        put.describe()
    );
    let get = etcdctl(&last, &ca, &cert, &key, &["get", "kpki/test"]);
    assert!(
        get.success() && get.stdout.lines().collect::<Vec<_>>() == ["kpki/test", "hello"],
        "get via another member failed: {}",
        get.describe()
    );

    // A client certificate from another CA must be refused by the TLS layer.
    let refused = etcdctl(
        &first,
        &ca,
        &foreign.client_cert(),
        &foreign.client_key(),
        &["get", "kpki/test"],
    );
    assert!(
        !refused.success() && !refused.stdout.contains("hello"),
        "etcd accepted a client certificate from a foreign CA: {}",
        refused.describe()
    );
    let rejected_in_log = poll_until(Duration::from_secs(5), Duration::from_millis(100), || {
        let logs = cluster.logs();
        if logs.contains("unknown authority") {
            Ok(())
        } else {
            Err("no TLS rejection logged yet".to_string())
        }
    });
    assert!(
        rejected_in_log.is_ok(),
        "etcd logged no `unknown authority` TLS rejection for the foreign client:\n{}",
        cluster.logs_tail(20)
    );
    let again = etcdctl(&first, &ca, &cert, &key, &["get", "kpki/test"]);
    assert!(
        again.success(),
        "legit client failed after the refusal: {}",
        again.describe()
    );

    cluster.stop();
}
