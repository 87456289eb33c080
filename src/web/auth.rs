//! Who is calling: the client address, the session from `Authorization: Bearer` or the session
//! cookie, the allow-list check on every request, and CSRF for cookie-authenticated changes.
//! API callers get JSON errors; page callers are sent to the setup or login page. Owns the cookie
//! format; the session rules themselves live in `accounts`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::error::{bad_body, ApiError};
use super::ClientAddr;
use crate::accounts::{self, Actor, Session};
use crate::app::App;
use crate::error::Error;

pub const COOKIE: &str = "gh_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The client's IP address (IPv4-mapped IPv6 shown as IPv4).
pub fn client_ip(parts: &Parts) -> IpAddr {
    let ip = parts
        .extensions
        .get::<ClientAddr>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client IP as an extractor.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// The session cookie's value, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// `Set-Cookie` value starting a session.
pub fn session_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// `Set-Cookie` value ending it.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// Whether `given` is the session's CSRF token.
pub fn csrf_ok(session: &Session, given: Option<&str>) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(session.csrf.as_bytes())))
}

/// A signed-in caller of the API.
pub struct Caller {
    pub actor: Actor,
    pub session: Session,
    pub token: String,
    pub via_cookie: bool,
}

fn resolve(parts: &Parts, app: &App) -> Result<Caller, Error> {
    let ip = client_ip(parts);
    let (token, via_cookie) = match bearer_token(&parts.headers) {
        Some(t) => (t, false),
        None => match cookie_token(&parts.headers) {
            Some(t) => (t, true),
            None => return Err(Error::Unauthorized("sign in first".into())),
        },
    };
    let (actor, session) = accounts::authenticate(app, &token, ip)?;
    Ok(Caller {
        actor,
        session,
        token,
        via_cookie,
    })
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let caller = resolve(parts, app)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if caller.via_cookie && !safe {
            let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !csrf_ok(&caller.session, given) {
                return Err(ApiError(Error::forbidden(
                    "csrf",
                    "missing or wrong CSRF token (send the X-CSRF-Token header with a cookie session)",
                )));
            }
        }
        Ok(caller)
    }
}

/// A JSON body whose errors answer in the API's error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(bad_body(rej.body_text())),
        }
    }
}

/// A signed-in caller of the page. Not signed in: to the login page (or setup, before setup).
pub struct PageCaller {
    pub actor: Actor,
    pub session: Session,
}

pub struct ToLogin;
impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<Arc<App>> for PageCaller {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        match resolve(parts, app) {
            Ok(c) => Ok(PageCaller {
                actor: c.actor,
                session: c.session,
            }),
            Err(Error::Forbidden { message, .. }) => Err((
                axum::http::StatusCode::FORBIDDEN,
                axum::response::Html(format!(
                    "<!doctype html><title>Refused</title><p>{}</p>",
                    maud::html!((message)).into_string()
                )),
            )
                .into_response()),
            Err(_) => Err(ToLogin.into_response()),
        }
    }
}
