//! The server-rendered page (placeholder until the page lands).

use std::sync::Arc;

use axum::Router;

use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
}
