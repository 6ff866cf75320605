//! kpki's own in-process limits: the signing path per CA key type (parse + verify CSR, policy,
//! build, sign), CSR parse + verify alone, certinfo, and a durable database insert.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kpki::csr::{self, CertificateRequest};
use kpki::issue::{self, SignRequest};
use kpki::signer::Ca;

fn ca(key: &str) -> Ca {
    let req =
        CertificateRequest::from_json(format!(r#"{{"CN":"bench CA","key":{key}}}"#).as_bytes())
            .unwrap();
    let ss = issue::init_ca(&req, None).unwrap();
    Ca::new(ss.cert_pem.as_bytes(), ss.key).unwrap()
}

fn leaf_csr() -> Vec<u8> {
    let req = CertificateRequest::from_json(
        br#"{"CN":"bench.example","hosts":["bench.example","10.0.0.1"]}"#,
    )
    .unwrap();
    csr::generate(&req).unwrap().csr_pem.into_bytes()
}

fn signing(c: &mut Criterion) {
    let signing = kpki::profiles::builtin().signing;
    let csr_pem = leaf_csr();
    let mut g = c.benchmark_group("sign_p256_leaf_csr");
    for (name, key) in [
        ("ca_p256", r#"{"algo":"ecdsa","size":256}"#),
        ("ca_p384", r#"{"algo":"ecdsa","size":384}"#),
        ("ca_rsa2048", r#"{"algo":"rsa","size":2048}"#),
        ("ca_ed25519", r#"{"algo":"ed25519"}"#),
    ] {
        let ca = ca(key);
        let req = SignRequest {
            csr_pem: csr_pem.clone(),
            profile: "server".into(),
            ..Default::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| issue::sign(&ca, &signing, &req).unwrap())
        });
    }
    g.finish();
    // The same path on every core at once (the "in-process limit on the same cores" that the
    // server's throughput is compared with): time per certificate with one thread per core.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut g = c.benchmark_group(format!("sign_p256_leaf_csr_{threads}_threads"));
    for (name, key) in [
        ("ca_p256", r#"{"algo":"ecdsa","size":256}"#),
        ("ca_rsa2048", r#"{"algo":"rsa","size":2048}"#),
    ] {
        let ca = ca(key);
        let req = SignRequest {
            csr_pem: csr_pem.clone(),
            profile: "server".into(),
            ..Default::default()
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(threads as u64);
                let start = std::time::Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| {
                            for _ in 0..per {
                                std::hint::black_box(issue::sign(&ca, &signing, &req).unwrap());
                            }
                        });
                    }
                });
                // time per certificate across all threads, scaled to `iters`
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * threads as u64) as f64)
            })
        });
    }
    g.finish();
    c.bench_function("csr_parse_verify_p256", |b| {
        b.iter(|| csr::parse_pem(&csr_pem).unwrap())
    });
    let ca = ca(r#"{"algo":"ecdsa","size":256}"#);
    let req = SignRequest {
        csr_pem: csr_pem.clone(),
        profile: "server".into(),
        ..Default::default()
    };
    let issued = issue::sign(&ca, &signing, &req).unwrap();
    c.bench_function("certinfo", |b| {
        b.iter(|| kpki::certinfo::certificate(&issued.cert_der).unwrap())
    });
}

fn db_insert(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = rt
        .block_on(kpki::db::CertDb::connect(&format!(
            "sqlite://{}",
            dir.path().join("b.db").display()
        )))
        .unwrap();
    let signing = kpki::profiles::builtin().signing;
    let ca = ca(r#"{"algo":"ecdsa","size":256}"#);
    let req = SignRequest {
        csr_pem: leaf_csr(),
        profile: "server".into(),
        ..Default::default()
    };
    let mut g = c.benchmark_group("db");
    g.bench_function("insert_durable_one", |b| {
        b.iter_batched(
            || issue::record(&issue::sign(&ca, &signing, &req).unwrap()),
            |rec| rt.block_on(db.insert_certificate(&rec)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("insert_durable_64_concurrent", |b| {
        b.iter_batched(
            || {
                (0..64)
                    .map(|_| issue::record(&issue::sign(&ca, &signing, &req).unwrap()))
                    .collect::<Vec<_>>()
            },
            |recs| {
                rt.block_on(async {
                    let tasks: Vec<_> = recs
                        .into_iter()
                        .map(|r| {
                            let db = db.clone();
                            tokio::spawn(async move { db.insert_certificate(&r).await })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap().unwrap();
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, signing, db_insert);
criterion_main!(benches);
