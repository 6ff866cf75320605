//! The Kubernetes layer through the `kpki` binary: token.csv generation and checking, bootstrap
//! tokens in the database, kubeconfigs compared with what kubectl's own `config set-*` commands
//! write, `cluster init` for a 3-node inventory (openssl purposes, idempotence, the renewal rule,
//! a real 3-member etcd cluster on its certificates) and `expiry`.

mod common;

use common::etcd::{EtcdPki, check_etcd_cluster, make_etcd_pki};
use common::{Output, Workspace, assert_openssl_verifies, require_program};
use std::collections::BTreeMap;
use std::path::Path;

fn kpki(ws: &Workspace, args: &[&str]) -> Output {
    ws.run("kpki", args)
}

fn is_token_line(line: &str, user: &str) -> bool {
    let Some((tok, rest)) = line.split_once(',') else {
        return false;
    };
    tok.len() == 32
        && tok
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && rest.starts_with(&format!("{user},"))
}

#[test]
fn token_csv_writes_0600_appends_once_and_checks_by_apiserver_rules() {
    let ws = Workspace::new();
    let out = kpki(&ws, &["token", "csv"]);
    out.ok();
    let line = out.stdout.trim_end();
    assert!(is_token_line(line, "kubelet-bootstrap"), "{line}");
    assert!(line.ends_with(",kubelet-bootstrap,10001,\"system:kubelet-bootstrap\""));

    kpki(&ws, &["token", "csv", "-o", "token.csv"]).ok();
    assert_eq!(ws.mode("token.csv"), 0o600);
    // No overwrite without -append.
    kpki(&ws, &["token", "csv", "-o", "token.csv"]).failed();
    kpki(
        &ws,
        &[
            "token",
            "csv",
            "-user",
            "ops",
            "-uid",
            "2000",
            "-group",
            "g1,g2",
            "-o",
            "token.csv",
            "-append",
        ],
    )
    .ok();
    // The same user again: nothing added.
    let again = kpki(
        &ws,
        &["token", "csv", "-user", "ops", "-o", "token.csv", "-append"],
    );
    again.ok();
    assert!(
        again.stderr.contains("already has a token"),
        "{}",
        again.stderr
    );
    let text = ws.read("token.csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(is_token_line(lines[1], "ops") && lines[1].ends_with(",ops,2000,\"g1,g2\""));
    assert_ne!(lines[0][..32], lines[1][..32]);
    assert_eq!(ws.mode("token.csv"), 0o600);
    let ok = kpki(&ws, &["token", "check", "token.csv"]);
    ok.ok();
    assert!(
        ok.stdout.contains("2 token(s), no problems"),
        "{}",
        ok.stdout
    );

    // The classic shell recipe's output is accepted too.
    ws.sh(
        "printf '%s,kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\\n' \
           \"$(head -c 16 /dev/urandom | od -An -t x | tr -d ' ')\" > classic.csv",
    )
    .ok();
    kpki(&ws, &["token", "check", "classic.csv"]).ok();
    assert!(is_token_line(
        ws.read("classic.csv").trim_end(),
        "kubelet-bootstrap"
    ));

    // Problems, each with its line; exit status 1.
    ws.write(
        "bad.csv",
        "# bootstrap tokens\nabc,u,1\nabc,v,2\n,w,3\nx,y\n\"q\"z,a,b\n",
    );
    let bad = kpki(&ws, &["token", "check", "bad.csv"]);
    bad.exit_code(1);
    for want in [
        "bad.csv: line 1: error: 1 column(s)",
        "no comment syntax",
        "line 3: warning: duplicate token (also on line 2)",
        "line 4: warning: empty token",
        "line 5: error: 2 column(s)",
        "line 6: error: extraneous or missing \"",
        "kube-apiserver would refuse to start",
    ] {
        assert!(
            bad.stdout.contains(want),
            "missing {want:?} in\n{}",
            bad.stdout
        );
    }
    // Refuses to append to a file the apiserver would refuse.
    kpki(&ws, &["token", "csv", "-o", "bad.csv", "-append"]).failed();
}

#[test]
fn bootstrap_tokens_create_list_delete_store_only_a_hash() {
    let ws = Workspace::new();
    let db = format!("sqlite://{}", ws.path("certs.db").display());
    let out = kpki(
        &ws,
        &[
            "token",
            "create",
            "-db",
            &db,
            "-ttl",
            "2h",
            "-description",
            "rack 7",
            "-o",
            "secret.yaml",
        ],
    );
    out.ok();
    let token = out.stdout.trim().to_string();
    assert_eq!(token.len(), 23, "{token}");
    let (id, secret) = token.split_once('.').unwrap();
    assert_eq!(ws.mode("secret.yaml"), 0o600);
    let y = ws.read("secret.yaml");
    for want in [
        format!("name: bootstrap-token-{id}"),
        "namespace: kube-system".into(),
        "type: bootstrap.kubernetes.io/token".into(),
        format!("token-secret: \"{secret}\""),
        "usage-bootstrap-authentication: \"true\"".into(),
        "auth-extra-groups: \"system:bootstrappers:kubeadm:default-node-token\"".into(),
    ] {
        assert!(y.contains(&want), "{y} lacks {want}");
    }
    // The database never holds the secret.
    let raw = std::fs::read(ws.path("certs.db")).unwrap();
    let wal = std::fs::read(ws.path("certs.db-wal")).unwrap_or_default();
    for bytes in [&raw, &wal] {
        assert!(
            !bytes.windows(16).any(|w| w == secret.as_bytes()),
            "the secret is stored in the database"
        );
    }
    let list = kpki(&ws, &["token", "list", "-db", &db]);
    list.ok();
    assert!(list.stdout.contains(id) && list.stdout.contains("active"));
    assert!(!list.stdout.contains(secret), "list shows the secret");
    let bad = kpki(
        &ws,
        &["token", "create", "-db", &db, "-groups", "system:masters"],
    );
    bad.failed();
    assert!(
        bad.stderr.contains("system:bootstrappers"),
        "{}",
        bad.stderr
    );
    kpki(&ws, &["token", "create", "-db", &db, "-usages", "root"]).failed();
    kpki(&ws, &["token", "delete", "-db", &db, &token]).ok();
    let gone = kpki(&ws, &["token", "delete", "-db", &db, id]);
    gone.failed();
    assert_eq!(gone.error_code(), 11200);
    let list = kpki(&ws, &["token", "list", "-db", &db, "-json"]);
    assert_eq!(list.json()[0]["state"], "deleted");
}

#[test]
fn bootstrap_tokens_through_a_running_server_with_remote() {
    use common::ProcessGuard;
    use common::serve::{Ready, post_json, start_serve};
    let ws = Workspace::new();
    ws.write("auth.hex", "00112233445566778899aabbccddeeff\n");
    ws.write("wrong.hex", "ffeeddccbbaa99887766554433221100\n");
    let mut guard = ProcessGuard::new();
    let s = start_serve(
        &mut guard,
        ws.dir(),
        &["-data-dir", "data", "-auth-key", "file:auth.hex"],
        Ready::Health,
    );
    let remote = s.addr();
    let with_key = |args: &[&str]| {
        let mut a = vec![
            args[0],
            args[1],
            "-remote",
            &remote,
            "-auth-key",
            "file:auth.hex",
        ];
        a.extend_from_slice(&args[2..]);
        kpki(&ws, &a)
    };
    let out = with_key(&[
        "token",
        "create",
        "-ttl",
        "2h",
        "-description",
        "rack 9",
        "-o",
        "secret.yaml",
    ]);
    out.ok();
    let token = out.stdout.trim().to_string();
    assert_eq!(token.len(), 23, "{token}");
    let (id, secret) = token.split_once('.').unwrap();
    assert_eq!(ws.mode("secret.yaml"), 0o600);
    let y = ws.read("secret.yaml");
    assert!(y.contains(&format!("name: bootstrap-token-{id}")), "{y}");
    assert!(y.contains(&format!("token-secret: \"{secret}\"")), "{y}");

    // The server stored it (read its database directly) and authenticates it in a TokenReview.
    let db = format!("sqlite://{}", ws.path("data/certs.db").display());
    let local = kpki(&ws, &["token", "list", "-db", &db, "-json"]);
    local.ok();
    assert_eq!(local.json()[0]["token_id"], id);
    let review = |tok: &str| {
        let body = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": tok}});
        let r = post_json(
            s.port,
            "/apis/authentication.k8s.io/v1/tokenreviews",
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.describe());
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["status"].clone()
    };
    let st = review(&token);
    assert_eq!(st["authenticated"], true, "{st}");
    assert_eq!(st["user"]["username"], format!("system:bootstrap:{id}"));

    // Remote list: same shape as the local one, never the secret.
    let list = with_key(&["token", "list", "-json"]);
    list.ok();
    let v = list.json();
    assert_eq!(v[0]["token_id"], id);
    assert_eq!(v[0]["state"], "active");
    assert_eq!(v[0]["description"], "rack 9");
    assert_eq!(v, local.json(), "remote and local lists differ");
    let table = with_key(&["token", "list"]);
    table.ok();
    assert!(table.stdout.contains(id) && table.stdout.contains("active"));
    assert!(!table.stdout.contains(secret) && !list.stdout.contains(secret));

    // Without the key, or with another key: refused, nothing created.
    let anon = kpki(&ws, &["token", "create", "-remote", &remote]);
    anon.failed();
    assert_eq!(anon.error_code(), 7100, "{}", anon.describe());
    let wrong = kpki(
        &ws,
        &[
            "token",
            "list",
            "-remote",
            &remote,
            "-auth-key",
            "file:wrong.hex",
        ],
    );
    wrong.failed();
    assert_eq!(
        kpki(&ws, &["token", "list", "-db", &db, "-json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // -o that cannot be written: the command fails and the token it made is deleted again.
    let bad = with_key(&["token", "create", "-o", "no/such/dir/secret.yaml"]);
    bad.failed();
    let all = with_key(&["token", "list", "-json"]).json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        all.iter().filter(|t| t["state"] == "active").count(),
        1,
        "a token nobody holds was left active: {all:?}"
    );

    // Delete through the server: the token stops authenticating; a second delete is 11200.
    with_key(&["token", "delete", &token]).ok();
    assert_eq!(review(&token)["authenticated"], false);
    let gone = with_key(&["token", "delete", id]);
    gone.failed();
    assert_eq!(gone.error_code(), 11200, "{}", gone.describe());
    let all = with_key(&["token", "list", "-json"]).json();
    let mine = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == id)
        .unwrap();
    assert_eq!(mine["state"], "deleted");
    let st = guard.terminate(s.pid, std::time::Duration::from_secs(20));
    assert_eq!(st.code(), Some(0), "{}", s.log_text());
}

/// `kubectl config view --raw -o json` of a kubeconfig file.
fn view(ws: &Workspace, file: &str) -> serde_json::Value {
    let out = common::run_bounded(
        {
            let mut c = std::process::Command::new("kubectl");
            c.current_dir(ws.dir()).args([
                "config",
                "view",
                "--kubeconfig",
                file,
                "--raw",
                "-o",
                "json",
            ]);
            c
        },
        None,
        std::time::Duration::from_secs(60),
        "kubectl config view",
    );
    out.ok();
    out.json()
}

fn kubectl(ws: &Workspace, args: &[&str]) {
    let mut c = std::process::Command::new("kubectl");
    c.current_dir(ws.dir()).args(args);
    common::run_bounded(c, None, std::time::Duration::from_secs(60), "kubectl").ok();
}

#[test]
fn kubeconfigs_match_what_kubectl_config_set_writes() {
    if !require_program("kubectl") {
        return;
    }
    let ws = Workspace::new();
    ws.write(
        "admin.json",
        r#"{"CN":"kubernetes-admin","names":[{"O":"system:masters"}]}"#,
    );
    ws.write("ca.json", r#"{"CN":"kubernetes"}"#);
    ws.sh("cfssl gencert -initca ca.json | cfssljson -bare ca && \
           cfssl gencert -ca ca.pem -ca-key ca-key.pem -profile client admin.json | cfssljson -bare admin")
        .ok();
    let abs = |f: &str| ws.path(f).display().to_string();
    let server = "https://127.0.0.1:6443";
    // (kpki args, kubectl set-credentials args, user name)
    let cases: Vec<(Vec<String>, Vec<String>, &str, bool)> = vec![
        (
            vec![
                "-cert".into(),
                "admin.pem".into(),
                "-key".into(),
                "admin-key.pem".into(),
            ],
            vec![
                format!("--client-certificate={}", abs("admin.pem")),
                format!("--client-key={}", abs("admin-key.pem")),
                "--embed-certs=true".into(),
            ],
            "kubernetes-admin",
            true,
        ),
        (
            vec![
                "-cert".into(),
                "admin.pem".into(),
                "-key".into(),
                "admin-key.pem".into(),
                "-embed=false".into(),
                "-user".into(),
                "admin".into(),
            ],
            vec![
                format!("--client-certificate={}", abs("admin.pem")),
                format!("--client-key={}", abs("admin-key.pem")),
            ],
            "admin",
            false,
        ),
        (
            vec!["-token".into(), "abcdef.0123456789abcdef".into()],
            vec!["--token=abcdef.0123456789abcdef".into()],
            "kubelet-bootstrap",
            true,
        ),
    ];
    for (i, (ours, theirs, user, embed)) in cases.into_iter().enumerate() {
        let mine = format!("mine-{i}.kubeconfig");
        let ref_file = format!("ref-{i}.kubeconfig");
        let mut args: Vec<String> = vec![
            "kubeconfig".into(),
            "-server".into(),
            server.into(),
            "-ca".into(),
            if embed {
                "ca.pem".into()
            } else {
                abs("ca.pem")
            },
            "-o".into(),
            mine.clone(),
        ];
        if !embed {
            args.push("-embed=false".into());
        }
        args.extend(ours);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        kpki(&ws, &a).ok();
        assert_eq!(ws.mode(&mine), 0o600);
        let kc = format!("--kubeconfig={}", abs(&ref_file));
        let mut set_cluster = vec![
            "config".to_string(),
            "set-cluster".into(),
            "kubernetes".into(),
            format!("--server={server}"),
            format!("--certificate-authority={}", abs("ca.pem")),
            kc.clone(),
        ];
        if embed {
            set_cluster.push("--embed-certs=true".into());
        }
        kubectl(
            &ws,
            &set_cluster.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let mut creds = vec![
            "config".to_string(),
            "set-credentials".into(),
            user.into(),
            kc.clone(),
        ];
        creds.extend(theirs);
        kubectl(&ws, &creds.iter().map(String::as_str).collect::<Vec<_>>());
        kubectl(
            &ws,
            &[
                "config",
                "set-context",
                "default",
                "--cluster=kubernetes",
                &format!("--user={user}"),
                &kc,
            ],
        );
        kubectl(&ws, &["config", "use-context", "default", &kc]);
        let (a, b) = (view(&ws, &mine), view(&ws, &ref_file));
        assert_eq!(a, b, "case {i}: kpki's kubeconfig differs from kubectl's");
        assert_eq!(a["clusters"][0]["cluster"]["server"], server);
        assert_eq!(a["users"][0]["name"], user);
        if embed && i == 0 {
            use base64::Engine;
            let data = a["users"][0]["user"]["client-certificate-data"]
                .as_str()
                .unwrap();
            let pem = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            assert_eq!(pem, std::fs::read(ws.path("admin.pem")).unwrap());
        }
    }
    // The webhook config is a kubeconfig pointing at the TokenReview path.
    kpki(
        &ws,
        &[
            "kubeconfig",
            "webhook",
            "-server",
            "https://127.0.0.1:8888",
            "-ca",
            "ca.pem",
            "-cert",
            "admin.pem",
            "-key",
            "admin-key.pem",
            "-o",
            "webhook.kubeconfig",
        ],
    )
    .ok();
    let w = view(&ws, "webhook.kubeconfig");
    assert_eq!(
        w["clusters"][0]["cluster"]["server"],
        "https://127.0.0.1:8888/apis/authentication.k8s.io/v1/tokenreviews"
    );
    assert!(w["users"][0]["user"]["client-key-data"].is_string());
    // Bad input: a clear error, nothing written.
    let bad = kpki(
        &ws,
        &[
            "kubeconfig",
            "-server",
            server,
            "-ca",
            "ca.pem",
            "-cert",
            "admin.pem",
            "-key",
            "ca-key.pem",
            "-o",
            "x.kubeconfig",
        ],
    );
    bad.failed();
    assert_eq!(bad.error_code(), 2300);
    assert!(!ws.exists("x.kubeconfig"));
}

const INVENTORY: &str = r#"
name: kpki-test
serviceCIDR: 10.32.0.0/16
nodes:
  - {name: node1, ip: 127.0.0.1, roles: [etcd, control-plane, worker]}
  - {name: node2, ip: 127.0.0.2, roles: [etcd, control-plane, worker]}
  - {name: node3, ip: 127.0.0.3, roles: [etcd, worker]}
"#;

/// Every regular file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().contains("certs.db") {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn statuses(out: &Output) -> BTreeMap<String, String> {
    out.stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let st = it.next()?;
            let file = it.next()?;
            ["created", "kept", "renewed"]
                .contains(&st)
                .then(|| (file.to_string(), st.to_string()))
        })
        .collect()
}

#[test]
fn cluster_init_builds_a_verifiable_rerunnable_tree() {
    if !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.write("cluster.yaml", INVENTORY);
    let first = kpki(&ws, &["cluster", "init", "-f", "cluster.yaml", "-o", "out"]);
    first.ok();
    let st = statuses(&first);
    assert_eq!(st.len(), 25, "{}", first.stdout);
    assert!(st.values().all(|s| s == "created"), "{}", first.stdout);

    // Modes: keys and credentials 0600, directories 0700.
    for d in ["out", "out/pki", "out/pki/etcd", "out/kubeconfig"] {
        assert_eq!(ws.mode(d), 0o700, "{d}");
    }
    for (f, _) in snapshot(&ws.path("out")) {
        let m = ws.mode(&format!("out/{f}"));
        let secret = f.ends_with("-key.pem")
            || f.ends_with(".kubeconfig")
            || f == "token.csv"
            || f == "pki/sa.key";
        assert_eq!(m, if secret { 0o600 } else { 0o644 }, "{f}");
    }

    // Every certificate verifies for its purpose against its CA.
    let v = |ca: &str, purpose: &str, cert: &str| {
        assert_openssl_verifies(
            &ws,
            &format!("out/pki/{ca}"),
            None,
            Some(purpose),
            &format!("out/pki/{cert}"),
        )
    };
    for n in ["node1", "node2", "node3"] {
        for kind in ["server", "peer"] {
            v("etcd/ca.pem", "sslserver", &format!("etcd/{kind}-{n}.pem"));
            v("etcd/ca.pem", "sslclient", &format!("etcd/{kind}-{n}.pem"));
        }
    }
    v("etcd/ca.pem", "sslclient", "apiserver-etcd-client.pem");
    v("ca.pem", "sslserver", "apiserver.pem");
    for c in [
        "apiserver-kubelet-client",
        "admin",
        "kube-proxy",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        v("ca.pem", "sslclient", &format!("{c}.pem"));
        common::assert_openssl_rejects(
            &ws,
            "out/pki/ca.pem",
            None,
            Some("sslserver"),
            &format!("out/pki/{c}.pem"),
        );
    }
    v("front-proxy-ca.pem", "sslclient", "front-proxy-client.pem");
    common::assert_openssl_rejects(
        &ws,
        "out/pki/ca.pem",
        None,
        None,
        "out/pki/etcd/server-node1.pem",
    );

    // Shapes.
    let api = common::load_cert(&ws, "out/pki/apiserver.pem");
    let sans = common::openssl_cert_sans(&ws, "out/pki/apiserver.pem");
    for want in [
        common::San::dns("kubernetes"),
        common::San::dns("kubernetes.default"),
        common::San::dns("kubernetes.default.svc"),
        common::San::dns("kubernetes.default.svc.cluster.local"),
        common::San::ip("10.32.0.1"),
        common::San::ip("127.0.0.1"),
        common::San::ip("127.0.0.2"),
    ] {
        assert!(sans.contains(&want), "apiserver lacks {want:?}: {sans:?}");
    }
    assert!(
        !sans.contains(&common::San::ip("127.0.0.3")),
        "node3 is no control plane"
    );
    assert_eq!(api.subject_cn().as_deref(), Some("kube-apiserver"));
    let etcd2 = common::openssl_cert_sans(&ws, "out/pki/etcd/peer-node2.pem");
    for want in [
        common::San::dns("node2"),
        common::San::dns("localhost"),
        common::San::ip("127.0.0.2"),
        common::San::ip("127.0.0.1"),
    ] {
        assert!(etcd2.contains(&want), "peer-node2 lacks {want:?}");
    }
    let admin = common::load_cert(&ws, "out/pki/admin.pem");
    assert!(
        admin
            .subject_attrs()
            .contains(&("O".to_string(), "system:masters".to_string())),
        "{:?}",
        admin.subject_attrs()
    );
    common::assert_key_matches_cert(&ws, "out/pki/apiserver-key.pem", "out/pki/apiserver.pem");
    let sa_pub = openssl_pub(&ws, "out/pki/sa.key");
    assert_eq!(sa_pub, ws.read("out/pki/sa.pub"));
    kpki(&ws, &["token", "check", "out/token.csv"]).ok();

    // Every certificate is in the database: 3 CAs + 14 leaves.
    let db = format!("sqlite://{}", ws.path("out/certs.db").display());
    let rows = kpki(&ws, &["certs", "-db", &db, "-json", "-limit", "1000"]).json();
    assert_eq!(rows.as_array().unwrap().len(), 17, "{rows}");

    // A second run changes nothing.
    let before = snapshot(&ws.path("out"));
    let second = kpki(&ws, &["cluster", "init", "-f", "cluster.yaml", "-o", "out"]);
    second.ok();
    assert!(
        statuses(&second).values().all(|s| s == "kept"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("0 created, 25 kept, 0 renewed"),
        "{}",
        second.stdout
    );
    assert_eq!(
        snapshot(&ws.path("out")),
        before,
        "the second run changed files"
    );
    let rows = kpki(&ws, &["certs", "-db", &db, "-json", "-limit", "1000"]).json();
    assert_eq!(rows.as_array().unwrap().len(), 17);

    // -renew-within: a window shorter than the leaf lifetime renews nothing; a window longer
    // than it renews every leaf (and the kubeconfigs embedding them) but never a CA, sa.key or
    // token.csv.
    let short = kpki(
        &ws,
        &[
            "cluster",
            "init",
            "-f",
            "cluster.yaml",
            "-o",
            "out",
            "-renew-within",
            "30d",
        ],
    );
    short.ok();
    assert_eq!(snapshot(&ws.path("out")), before);
    let long = kpki(
        &ws,
        &[
            "cluster",
            "init",
            "-f",
            "cluster.yaml",
            "-o",
            "out",
            "-renew-within",
            "4000d",
        ],
    );
    long.ok();
    let st = statuses(&long);
    let after = snapshot(&ws.path("out"));
    for (f, s) in &st {
        let is_leaf_cert = f.starts_with("pki/") && f.ends_with(".pem") && !f.ends_with("ca.pem");
        let is_client_kc = f.ends_with(".kubeconfig") && !f.contains("bootstrap");
        let want = if is_leaf_cert || is_client_kc {
            "renewed"
        } else {
            "kept"
        };
        assert_eq!(s, want, "{f}\n{}", long.stdout);
        assert_eq!(before[f] != after[f], want == "renewed", "{f}");
    }
    assert!(
        long.stdout
            .contains("not renewed (rotate CAs deliberately)"),
        "{}",
        long.stdout
    );
    // Renewed leaves still verify; the old ones are superseded in the database.
    v("ca.pem", "sslserver", "apiserver.pem");
    let revoked = kpki(&ws, &["certs", "-db", &db, "-status", "revoked", "-json"]).json();
    assert_eq!(revoked.as_array().unwrap().len(), 14);

    // A change in the inventory re-issues exactly what it touches.
    ws.write(
        "cluster.yaml",
        format!("{INVENTORY}apiserverSANs: [api.example.com]\n"),
    );
    let changed = kpki(&ws, &["cluster", "init", "-f", "cluster.yaml", "-o", "out"]);
    changed.ok();
    let st = statuses(&changed);
    assert_eq!(st["pki/apiserver.pem"], "renewed");
    assert_eq!(
        st.values().filter(|s| *s == "renewed").count(),
        1,
        "{}",
        changed.stdout
    );

    // A CA with its key missing is refused, nothing is replaced.
    std::fs::remove_file(ws.path("out/pki/front-proxy-ca-key.pem")).unwrap();
    let refused = kpki(&ws, &["cluster", "init", "-f", "cluster.yaml", "-o", "out"]);
    refused.failed();
    assert!(
        refused.stderr.contains("front-proxy-ca"),
        "{}",
        refused.stderr
    );
    assert!(ws.exists("out/pki/front-proxy-ca.pem"));

    // Expiry: nothing within 30 days; everything leaf-like within 400 days (exit 1).
    let quiet = kpki(
        &ws,
        &["expiry", "-dir", "out", "-db", &db, "-within", "30d"],
    );
    quiet.ok();
    let loud = kpki(
        &ws,
        &[
            "expiry", "-dir", "out", "-db", &db, "-within", "400d", "-json",
        ],
    );
    loud.exit_code(1);
    let items = loud.json();
    let items = items.as_array().unwrap();
    assert!(items.iter().any(|e| {
        e["source"]
            .as_str()
            .unwrap()
            .contains("admin.kubeconfig (user admin client-certificate-data)")
    }));
    // Every certificate in the database is also on disk: listed once, by its file.
    let from_db: Vec<&serde_json::Value> = items
        .iter()
        .filter(|e| e["source"].as_str().unwrap().contains("(serial "))
        .collect();
    assert!(from_db.is_empty(), "listed twice: {from_db:?}");
    let lefts: Vec<i64> = items
        .iter()
        .map(|e| e["seconds_left"].as_i64().unwrap())
        .collect();
    assert!(
        lefts.windows(2).all(|w| w[0] <= w[1]),
        "not sorted by time left"
    );
    assert!(
        items.iter().any(|e| e["expiring"] == false),
        "CAs are outside 400 days"
    );
}

fn openssl_pub(ws: &Workspace, key: &str) -> String {
    common::openssl(ws, &["pkey", "-in", key, "-pubout"])
        .stdout
        .clone()
}

#[test]
fn etcd_cluster_runs_on_cluster_init_certificates() {
    if !require_program("etcd") || !require_program("etcdctl") || !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    ws.write("cluster.yaml", INVENTORY);
    kpki(&ws, &["cluster", "init", "-f", "cluster.yaml", "-o", "out"]).ok();
    // Lay the cluster-init output out as the etcd harness expects (all members on 127.0.0.1,
    // which every member certificate carries).
    let src = ws.path("out/pki");
    let dst = ws.path("etcd-pki");
    std::fs::create_dir_all(&dst).unwrap();
    let copy = |from: &str, to: &str| {
        std::fs::copy(src.join(from), dst.join(to)).unwrap_or_else(|e| panic!("{from}: {e}"));
    };
    copy("etcd/ca.pem", "ca.pem");
    copy("apiserver-etcd-client.pem", "client.pem");
    copy("apiserver-etcd-client-key.pem", "client-key.pem");
    for n in 1..=3 {
        copy(
            &format!("etcd/server-node{n}.pem"),
            &format!("member-{n}.pem"),
        );
        copy(
            &format!("etcd/server-node{n}-key.pem"),
            &format!("member-{n}-key.pem"),
        );
        copy(&format!("etcd/peer-node{n}.pem"), &format!("peer-{n}.pem"));
        copy(
            &format!("etcd/peer-node{n}-key.pem"),
            &format!("peer-{n}-key.pem"),
        );
    }
    let pki = EtcdPki::from_dir(&dst, 3);
    common::etcd::verify_etcd_pki_with_openssl(&ws, &pki);
    let foreign = make_etcd_pki(&ws, "foreign", 0, "foreign CA");
    check_etcd_cluster(&pki, &foreign, &ws.path("etcd"));
}
