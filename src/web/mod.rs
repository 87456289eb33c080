//! The HTTPS side: a bounded TLS accept loop (rustls) serving one axum router that holds the JSON
//! API (`api`, described by the OpenAPI document it generates) and the server-rendered page
//! (`page`), plus the optional plain-HTTP redirect. Handlers are thin: they authenticate, call the
//! feature modules on a blocking thread and shape the answer. No business rule lives here.

pub mod api;
pub mod auth;
pub mod error;
pub mod page;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::app::App;
use crate::error::{Error, Result};

/// The remote address of the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// At most this many blocking jobs (store writes, password hashing) run at once.
static BLOCKING: Semaphore = Semaphore::const_new(4);

/// Runs `f` on a blocking thread, bounded by [`BLOCKING`].
pub async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T> + Send + 'static,
) -> Result<T> {
    let _permit = BLOCKING
        .acquire()
        .await
        .map_err(|_| Error::Internal("shutting down".into()))?;
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| Error::Internal(format!("worker: {e}")))?
}

/// The whole router: API, OpenAPI document and page.
pub fn router(app: Arc<App>) -> Router {
    let (api, doc) = api::router().split_for_parts();
    let doc = Arc::new(doc);
    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(page::router())
        .fallback(not_found)
        .with_state(app)
}

/// Unknown paths: JSON under `/api/`, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") {
        error::ApiError(Error::NotFound(format!("no API route {}", uri.path()))).into_response()
    } else {
        (
            axum::http::StatusCode::NOT_FOUND,
            axum::response::Html(
                maud::html! {
                    (maud::DOCTYPE)
                    html lang="en" {
                        head { meta charset="utf-8"; title { "Not found — Gatehouse" } link rel="stylesheet" href="/assets/style.css"; }
                        body { main { h1 { "Not found" } p { "There is no page at " code { (uri.path()) } "." } p { a href="/" { "Back to the start page" } } } }
                    }
                }
                .into_string(),
            ),
        )
            .into_response()
    }
}

/// Serves HTTPS on the configured address until `shutdown` completes, then lets requests in flight
/// finish (up to `grace`).
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Result<()> {
    let tls = Arc::new(app.certs.server_config(&[b"http/1.1"])?);
    let acceptor = TlsAcceptor::from(tls);
    let router = router(app.clone());
    let limit = Arc::new(Semaphore::new(app.config.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ClientAddr(peer));
                    router.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            // HTTP/1.1 only: it is all the TLS handshake offers (ALPN), and the HTTP/2 stack would
            // cost the box's flash for nothing.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(15))
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(tls), svc);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => tracing::warn!("requests still open at shutdown were cut"),
    }
    Ok(())
}

/// Plain HTTP that only redirects to the HTTPS address.
pub async fn serve_redirect(
    listener: TcpListener,
    https_port: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    use axum::http::{header, HeaderMap, StatusCode, Uri};
    let app = Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.rsplit_once(':').map(|(h, _)| h).unwrap_or(h))
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c))
            })
            .unwrap_or("localhost")
            .to_owned();
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, format!("https://{host}{port}{path}"))],
        )
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Internal(format!("redirect server: {e}")))
}
