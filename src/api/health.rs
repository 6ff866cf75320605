//! GET /api/v1/cfssl/health: `{"healthy": true}`.

use super::error::ok;
use axum::response::Response;

/// Handler.
pub async fn handle() -> Response {
    ok(serde_json::json!({"healthy": true}), vec![])
}
