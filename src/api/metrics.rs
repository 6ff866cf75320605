//! `/metrics` in Prometheus text format: certificates issued by profile, errors by code,
//! request latency histogram, seconds until the earliest expiry among valid certificates, and
//! bootstrap token gauges (active count, seconds until the earliest token expiry).

use super::Shared;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Inner {
    issued: BTreeMap<String, u64>,
    errors: BTreeMap<u32, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters shared by the handlers.
#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one issued certificate.
    pub fn issued(&self, profile: &str) {
        let p = if profile.is_empty() {
            "default"
        } else {
            profile
        };
        *self.lock().issued.entry(p.to_string()).or_default() += 1;
    }

    /// Records one request's latency and, for failures, its code.
    pub fn observe(&self, _path: &str, secs: f64, code: Option<u32>) {
        let mut m = self.lock();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                m.buckets[i] += 1;
            }
        }
        m.count += 1;
        m.sum += secs;
        if let Some(c) = code {
            *m.errors.entry(c).or_default() += 1;
        }
    }

    /// Renders the text exposition; `earliest` = seconds until the earliest valid expiry.
    pub fn render(&self, earliest: Option<f64>, extra: &str) -> String {
        let m = self.lock();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP kpki_certificates_issued_total Certificates issued, by profile."
        );
        let _ = writeln!(s, "# TYPE kpki_certificates_issued_total counter");
        for (p, n) in &m.issued {
            let _ = writeln!(
                s,
                "kpki_certificates_issued_total{{profile=\"{}\"}} {n}",
                p.replace(['"', '\\', '\n'], "_")
            );
        }
        let _ = writeln!(
            s,
            "# HELP kpki_errors_total Failed requests, by cfssl error code."
        );
        let _ = writeln!(s, "# TYPE kpki_errors_total counter");
        for (c, n) in &m.errors {
            let _ = writeln!(s, "kpki_errors_total{{code=\"{c}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP kpki_request_duration_seconds Request latency.");
        let _ = writeln!(s, "# TYPE kpki_request_duration_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "kpki_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
                m.buckets[i]
            );
        }
        let _ = writeln!(
            s,
            "kpki_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            m.count
        );
        let _ = writeln!(s, "kpki_request_duration_seconds_sum {}", m.sum);
        let _ = writeln!(s, "kpki_request_duration_seconds_count {}", m.count);
        let _ = writeln!(
            s,
            "# HELP kpki_earliest_expiry_seconds Seconds until the earliest notAfter among valid certificates."
        );
        let _ = writeln!(s, "# TYPE kpki_earliest_expiry_seconds gauge");
        if let Some(e) = earliest {
            let _ = writeln!(s, "kpki_earliest_expiry_seconds {e}");
        }
        s.push_str(extra);
        s
    }
}

/// Gauges for bootstrap tokens: how many are active, seconds until the earliest expiry.
async fn token_gauges(db: &crate::db::CertDb) -> String {
    let Ok(tokens) = db.list_tokens().await else {
        return String::new();
    };
    let now = time::OffsetDateTime::now_utc();
    let active: Vec<_> = tokens
        .iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now))
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# HELP kpki_bootstrap_tokens_active Bootstrap tokens neither deleted nor expired."
    );
    let _ = writeln!(s, "# TYPE kpki_bootstrap_tokens_active gauge");
    let _ = writeln!(s, "kpki_bootstrap_tokens_active {}", active.len());
    let _ = writeln!(
        s,
        "# HELP kpki_bootstrap_token_earliest_expiry_seconds Seconds until the earliest expiry among active bootstrap tokens."
    );
    let _ = writeln!(
        s,
        "# TYPE kpki_bootstrap_token_earliest_expiry_seconds gauge"
    );
    if let Some(e) = active.iter().filter_map(|t| t.expires_at).min() {
        let _ = writeln!(
            s,
            "kpki_bootstrap_token_earliest_expiry_seconds {}",
            (e - now).as_seconds_f64()
        );
    }
    s
}

/// GET /metrics
pub async fn handle(State(st): State<Shared>) -> Response {
    let earliest = match &st.db {
        Some(db) => db
            .earliest_valid_expiry()
            .await
            .ok()
            .flatten()
            .map(|t| (t - time::OffsetDateTime::now_utc()).as_seconds_f64()),
        None => None,
    };
    let tokens = match &st.db {
        Some(db) => token_gauges(db).await,
        None => String::new(),
    };
    let text = st.metrics.render(earliest, &tokens);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_buckets_sum_and_errors() {
        let m = Metrics::default();
        m.issued("www");
        m.issued("");
        m.issued("www");
        m.issued("a\"b");
        // Binary fractions, so the sum prints exactly.
        m.observe("/x", 0.0009765625, None);
        m.observe("/x", 0.0625, Some(5400));
        m.observe("/x", 0.25, Some(9002));
        m.observe("/x", 8.0, Some(9002));
        let want = "\
# HELP kpki_certificates_issued_total Certificates issued, by profile.
# TYPE kpki_certificates_issued_total counter
kpki_certificates_issued_total{profile=\"a_b\"} 1
kpki_certificates_issued_total{profile=\"default\"} 1
kpki_certificates_issued_total{profile=\"www\"} 2
# HELP kpki_errors_total Failed requests, by cfssl error code.
# TYPE kpki_errors_total counter
kpki_errors_total{code=\"5400\"} 1
kpki_errors_total{code=\"9002\"} 2
# HELP kpki_request_duration_seconds Request latency.
# TYPE kpki_request_duration_seconds histogram
kpki_request_duration_seconds_bucket{le=\"0.0005\"} 0
kpki_request_duration_seconds_bucket{le=\"0.001\"} 1
kpki_request_duration_seconds_bucket{le=\"0.0025\"} 1
kpki_request_duration_seconds_bucket{le=\"0.005\"} 1
kpki_request_duration_seconds_bucket{le=\"0.01\"} 1
kpki_request_duration_seconds_bucket{le=\"0.025\"} 1
kpki_request_duration_seconds_bucket{le=\"0.05\"} 1
kpki_request_duration_seconds_bucket{le=\"0.1\"} 2
kpki_request_duration_seconds_bucket{le=\"0.25\"} 3
kpki_request_duration_seconds_bucket{le=\"0.5\"} 3
kpki_request_duration_seconds_bucket{le=\"1\"} 3
kpki_request_duration_seconds_bucket{le=\"5\"} 3
kpki_request_duration_seconds_bucket{le=\"+Inf\"} 4
kpki_request_duration_seconds_sum 8.3134765625
kpki_request_duration_seconds_count 4
# HELP kpki_earliest_expiry_seconds Seconds until the earliest notAfter among valid certificates.
# TYPE kpki_earliest_expiry_seconds gauge
kpki_earliest_expiry_seconds 12.5
extra 1
";
        assert_eq!(m.render(Some(12.5), "extra 1\n"), want);
        // Without a valid certificate there is no expiry sample.
        let empty = Metrics::default().render(None, "");
        assert!(
            empty.ends_with("# TYPE kpki_earliest_expiry_seconds gauge\n"),
            "{empty}"
        );
        assert!(empty.contains("kpki_request_duration_seconds_count 0\n"));
    }
}
