//! The HTTP adapter: cfssl's wire-compatible API under `/api/v1/cfssl/`, kpki's own under
//! `/api/v1/kpki/`, `/metrics`. One file per endpoint exposes `handle`; this file holds the
//! shared state, authentication, the router and the accept loop (plain or TLS, graceful stop).
//! Signing goes through `crate::issue` only.

pub mod authsign;
pub mod body;
pub mod certificates;
pub mod certinfo;
pub mod crl;
pub mod error;
pub mod gencrl;
pub mod health;
pub mod info;
pub mod init_ca;
pub mod metrics;
pub mod newcert;
pub mod newkey;
pub mod revoke;
pub mod sign;
pub mod tls;
pub mod tokenreview;
pub mod tokens;

use crate::auth::AuthenticatedRequest;
use crate::config::{Config, SigningProfile};
use crate::db::CertDb;
use crate::issue::{self, Issued};
use crate::signer::Ca;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post};
use error::ApiError;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Used authentication tokens are remembered until this Unix time (year 9999).
const REPLAY_MEMORY_UNTIL: i64 = 253_402_300_799;

/// Facts about the connection a request came on (inserted by the accept loop).
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// peer address
    pub peer: Option<SocketAddr>,
    /// CN of a verified mTLS client certificate
    pub client_cn: Option<String>,
}

/// Serial of the certificate a request issued (for the access log).
#[derive(Debug, Clone)]
pub struct IssuedSerial(pub String);

/// Everything the handlers share.
pub struct AppState {
    /// the signing CA (None: signing endpoints answer with an error)
    pub ca: Option<Arc<Ca>>,
    /// signing policy, auth keys, remotes
    pub config: Arc<Config>,
    /// certificate database
    pub db: Option<CertDb>,
    /// server-wide HMAC key for authenticated (wrapped) requests to any endpoint
    pub auth_key: Option<Vec<u8>>,
    /// state-changing endpoints require authentication
    pub require_auth: bool,
    /// `-mutual-tls-cn` regex
    pub mtls_cn: Option<regex::Regex>,
    /// counters and histograms
    pub metrics: metrics::Metrics,
    replay_mem: Mutex<HashMap<String, i64>>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Shared handle to the state.
pub type Shared = Arc<AppState>;

/// A request body split into its inner request and, when wrapped, the authentication envelope.
pub struct Unwrapped {
    /// the request JSON
    pub inner: Vec<u8>,
    /// the `{"token","request","timestamp"}` wrapper, when the client sent one
    pub envelope: Option<AuthenticatedRequest>,
    /// the connection presented a verified client certificate
    pub mtls: bool,
}

impl AppState {
    /// Builds the state.
    pub fn new(ca: Option<Ca>, config: Config, db: Option<CertDb>) -> Self {
        AppState {
            ca: ca.map(Arc::new),
            config: Arc::new(config),
            db,
            auth_key: None,
            require_auth: false,
            mtls_cn: None,
            metrics: metrics::Metrics::default(),
            replay_mem: Mutex::new(HashMap::new()),
        }
    }

    /// The CA, or a 400 when the server has none.
    pub fn ca(&self) -> Result<Arc<Ca>, ApiError> {
        self.ca
            .clone()
            .ok_or_else(|| ApiError::bad_request("the server has no CA configured (-ca/-ca-key)"))
    }

    /// The database, or cfssl's error when none is configured.
    pub fn db(&self) -> Result<&CertDb, ApiError> {
        self.db
            .as_ref()
            .ok_or_else(|| ApiError::bad_request("cert db not configured (missing -db-config)"))
    }

    /// Splits a body into inner request and optional auth envelope (a JSON object with string
    /// `token` and `request` fields).
    pub fn unwrap(&self, bytes: &[u8], conn: &ConnInfo) -> Unwrapped {
        let mtls = conn.client_cn.is_some();
        // Cheap pre-check so ordinary requests are not parsed twice on the hot path.
        let maybe_wrapped = contains(bytes, b"\"token\"") && contains(bytes, b"\"request\"");
        if maybe_wrapped
            && let Ok(serde_json::Value::Object(m)) =
                serde_json::from_slice::<serde_json::Value>(bytes)
            && m.get("token").is_some_and(|t| t.is_string())
            && m.get("request").is_some_and(|t| t.is_string())
            && let Ok(env) = AuthenticatedRequest::parse(bytes)
            && let Ok(inner) = env.inner()
        {
            return Unwrapped {
                inner,
                envelope: Some(env),
                mtls,
            };
        }
        Unwrapped {
            inner: bytes.to_vec(),
            envelope: None,
            mtls,
        }
    }

    /// Verifies the envelope (if any) with the profile's keys, else the server key; refuses
    /// replays. Returns whether the request is authenticated (envelope or mTLS).
    pub async fn authenticate(
        &self,
        u: &Unwrapped,
        profile: Option<&SigningProfile>,
    ) -> Result<bool, ApiError> {
        let Some(env) = &u.envelope else {
            return Ok(u.mtls);
        };
        let mut keys: Vec<Vec<u8>> = Vec::new();
        if let Some(p) = profile {
            for name in [&p.auth_key, &p.prev_auth_key] {
                if let Some(k) = self
                    .config
                    .auth_key_bytes(name)
                    .filter(|_| !name.is_empty())
                {
                    keys.push(k);
                }
            }
        }
        if keys.is_empty()
            && let Some(k) = &self.auth_key
        {
            keys.push(k.clone());
        }
        if keys.is_empty() {
            return Err(ApiError::bad_request("no authentication provider"));
        }
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        env.verify(&refs, now)?;
        // The HMAC does not cover the timestamp (cfssl's format), so a captured token could be
        // re-sent later with a fresh timestamp: used tokens are remembered for good.
        if !self.remember(&env.replay_id(), REPLAY_MEMORY_UNTIL).await? {
            return Err(crate::error::Error::Unauthorized(
                "replayed request: this token was already used".into(),
            )
            .into());
        }
        Ok(true)
    }

    /// Reads a body (1 MiB limit) and splits off an authentication envelope, if any.
    pub async fn read_request(
        &self,
        b: axum::body::Body,
        conn: Option<axum::extract::Extension<ConnInfo>>,
    ) -> Result<Unwrapped, ApiError> {
        let bytes = body::read(b).await?;
        let conn = conn.map(|c| c.0).unwrap_or_default();
        Ok(self.unwrap(&bytes, &conn))
    }

    /// [`Self::read_request`] for endpoints without a profile: authenticates with the server key,
    /// enforces `-require-auth`, and returns the inner request bytes.
    pub async fn read_authenticated(
        &self,
        b: axum::body::Body,
        conn: Option<axum::extract::Extension<ConnInfo>>,
    ) -> Result<Vec<u8>, ApiError> {
        let u = self.read_request(b, conn).await?;
        let authed = self.authenticate(&u, None).await?;
        self.require(authed)?;
        Ok(u.inner)
    }

    /// Refuses unauthenticated requests when authentication is required.
    pub fn require(&self, authed: bool) -> Result<(), ApiError> {
        if self.require_auth && !authed {
            return Err(crate::error::Error::Unauthorized(
                "authentication required: wrap the request with an auth key token or use a client certificate".into(),
            )
            .into());
        }
        Ok(())
    }

    async fn remember(&self, id: &str, expires: i64) -> Result<bool, ApiError> {
        if let Some(db) = &self.db {
            let t = time::OffsetDateTime::from_unix_timestamp(expires)
                .map_err(|_| ApiError::bad_request("invalid timestamp"))?;
            return Ok(db.remember_auth_token(id, t).await?);
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut m = self.replay_mem.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, exp| *exp > now);
        Ok(m.insert(id.to_string(), expires).is_none())
    }

    /// THE server signing step: issue (on the worker), record durably, then count it.
    pub async fn sign(&self, req: issue::SignRequest) -> Result<Issued, ApiError> {
        let ca = self.ca()?;
        let cfg = self.config.clone();
        // Signing a CSR is ~0.1–0.5 ms of CPU: done on the worker, a hop to the blocking pool
        // costs two context switches per request for no gain (measured in BENCHMARKS.md).
        let issued = issue::sign(&ca, &cfg.signing, &req)?;
        self.commit(&issued).await?;
        Ok(issued)
    }

    /// Records an issued certificate before the response is sent, and counts it.
    pub async fn commit(&self, issued: &Issued) -> Result<(), ApiError> {
        issue::commit(self.db.as_ref(), issued).await?;
        self.metrics.issued(&issued.profile);
        Ok(())
    }
}

async fn access_log(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let conn = req
        .extensions()
        .get::<ConnInfo>()
        .cloned()
        .unwrap_or_default();
    // -mutual-tls-cn: refuse clients whose certificate CN does not match.
    if let (Some(re), Some(cn)) = (&st.mtls_cn, &conn.client_cn)
        && !re.is_match(cn)
    {
        return axum::response::IntoResponse::into_response(ApiError::forbidden("Invalid CN"));
    }
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    let code = resp.extensions().get::<error::ErrorCode>().map(|c| c.0);
    st.metrics.observe(&path, secs, code);
    let serial = resp
        .extensions()
        .get::<IssuedSerial>()
        .map(|s| s.0.as_str())
        .unwrap_or("");
    tracing::info!(
        method = %method,
        path = %path,
        status,
        latency_ms = format!("{:.3}", secs * 1000.0),
        serial,
        peer = conn.peer.map(|p| p.to_string()).unwrap_or_default(),
        "request"
    );
    resp
}

/// Every route, as (path, method) — the list `openapi.yaml` is checked against.
pub const ROUTES: &[(&str, &str)] = &[
    ("/api/v1/cfssl/sign", "post"),
    ("/api/v1/cfssl/authsign", "post"),
    ("/api/v1/cfssl/newcert", "post"),
    ("/api/v1/cfssl/newkey", "post"),
    ("/api/v1/cfssl/init_ca", "post"),
    ("/api/v1/cfssl/info", "post"),
    ("/api/v1/cfssl/certinfo", "post"),
    ("/api/v1/cfssl/revoke", "post"),
    ("/api/v1/cfssl/crl", "get"),
    ("/api/v1/cfssl/gencrl", "post"),
    ("/api/v1/cfssl/health", "get"),
    ("/api/v1/kpki/certificates", "get"),
    ("/api/v1/kpki/certificates/{serial}", "get"),
    ("/api/v1/kpki/tokens", "post"),
    ("/api/v1/kpki/tokens", "get"),
    ("/api/v1/kpki/tokens/{id}", "delete"),
    ("/apis/authentication.k8s.io/v1/tokenreviews", "post"),
    ("/apis/authentication.k8s.io/v1beta1/tokenreviews", "post"),
    ("/metrics", "get"),
];

/// Builds the router; names in `disabled` (cfssl endpoint names like `sign`) are left out.
pub fn router(state: Shared, disabled: &[String]) -> Router {
    let off = |n: &str| disabled.iter().any(|d| d == n);
    let mut cfssl = Router::new();
    macro_rules! route {
        ($name:literal, $m:ident, $h:path) => {
            if !off($name) {
                cfssl = cfssl.route(concat!("/", $name), $m($h));
            }
        };
    }
    route!("sign", post, sign::handle);
    route!("authsign", post, authsign::handle);
    route!("newcert", post, newcert::handle);
    route!("newkey", post, newkey::handle);
    route!("init_ca", post, init_ca::handle);
    route!("info", post, info::handle);
    route!("certinfo", post, certinfo::handle);
    route!("revoke", post, revoke::handle);
    route!("crl", get, crl::handle);
    route!("gencrl", post, gencrl::handle);
    route!("health", get, health::handle);
    let mut app = Router::new().nest("/api/v1/cfssl", cfssl);
    if !off("certificates") {
        app = app
            .route("/api/v1/kpki/certificates", get(certificates::list))
            .route(
                "/api/v1/kpki/certificates/{serial}",
                get(certificates::get_one),
            );
    }
    if !off("tokens") {
        app = app
            .route(
                "/api/v1/kpki/tokens",
                post(tokens::create).get(tokens::list),
            )
            .route("/api/v1/kpki/tokens/{id}", delete(tokens::delete));
    }
    if !off("tokenreview") {
        app = app
            .route(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                post(tokenreview::v1),
            )
            .route(
                "/apis/authentication.k8s.io/v1beta1/tokenreviews",
                post(tokenreview::v1beta1),
            );
    }
    if !off("metrics") {
        app = app.route("/metrics", get(metrics::handle));
    }
    app.fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access_log,
        ))
        .with_state(state)
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` resolves, then drains
/// in-flight requests (up to 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::TokioIo;
    use tower::ServiceExt;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut info = ConnInfo {
                peer: Some(peer),
                client_cn: None,
            };
            // HTTP/1.1 only (what cfssl clients speak), and a client that does not send its
            // headers within 10 s is dropped, so slow clients cannot pile up (slowloris).
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10));
            let make_svc = |info: ConnInfo| {
                hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(info.clone());
                    app.clone().oneshot(req.map(axum::body::Body::new))
                })
            };
            match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), make_svc(info));
                    let _ = watcher.watch(conn).await;
                }
                Some(acc) => {
                    let hs = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acc.accept(stream),
                    )
                    .await;
                    let Ok(Ok(tls_stream)) = hs else { return };
                    info.client_cn = tls::client_cn(tls_stream.get_ref().1);
                    let conn = builder.serve_connection(TokioIo::new(tls_stream), make_svc(info));
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {
            tracing::warn!("in-flight requests did not finish within 30s; stopping anyway");
        }
    }
    Ok(())
}
