//! The pages reachable without signing in: first-boot setup, sign-in, password reset through the
//! security questions, and sign-out. They call `accounts::{setup, login, logout,
//! reset_questions, reset_password}`; the lock-out and password rules stay there.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::{error_box, mismatch, notice_box, see_other, Done, Frame, SetUp};
use crate::accounts::{self, SecurityQuestion, SetupRequest};
use crate::app::App;
use crate::error::Error;
use crate::web::auth::{clear_cookie, cookie_token, session_cookie, ClientIp, PageCaller};
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/reset", get(reset_page).post(reset_submit))
}

/// Suggestions for the security questions (any text is accepted).
const SUGGESTED_QUESTIONS: &[&str] = &[
    "What was the name of your first school?",
    "In which city were you born?",
    "What was the name of your first pet?",
    "What is your favourite book?",
    "What was the model of your first car?",
    "What was your childhood nickname?",
];

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetupForm {
    username: String,
    password: String,
    password2: String,
    q1: String,
    a1: String,
    q2: String,
    a2: String,
    q3: String,
    a3: String,
}

fn setup_form(f: &SetupForm, err: Option<&Error>) -> Markup {
    html! {
        p { "Welcome. Create the first administrator account of this Gatehouse. You will be \
             signed in with it right away." }
        (error_box(err))
        form.card method="post" action="/setup" {
            label { "User name" input name="username" value=(f.username) required autocomplete="username"; }
            label { "Password" input type="password" name="password" required autocomplete="new-password"; }
            label { "Password again" input type="password" name="password2" required autocomplete="new-password"; }
            p.hint { "At least 8 characters mixing two kinds (upper case, lower case, digits, \
                      symbols); not the user name; no runs like 123 or abc; no character three \
                      times in a row." }
            fieldset {
                legend { "Security questions (to reset a forgotten password)" }
                (questions_inputs([&f.q1, &f.q2, &f.q3]))
            }
            button #setup-submit type="submit" { "Create administrator" }
        }
    }
}

/// Three question/answer input pairs named q1,a1…q3,a3; answers are never echoed back.
pub(super) fn questions_inputs(questions: [&str; 3]) -> Markup {
    html! {
        datalist #suggested-questions {
            @for q in SUGGESTED_QUESTIONS { option value=(q); }
        }
        @for (i, q) in questions.iter().enumerate() {
            div.pair {
                label { "Question " (i + 1)
                    input name={ "q" (i + 1) } value=(q) list="suggested-questions" required;
                }
                label { "Answer " (i + 1)
                    input type="password" name={ "a" (i + 1) } required autocomplete="off";
                }
            }
        }
    }
}

async fn setup_page(State(app): State<Arc<App>>) -> Response {
    match blocking(&app, accounts::setup_required).await {
        Ok(true) => Frame::load(&app, None).await.page(
            StatusCode::OK,
            "Set up Gatehouse",
            setup_form(&SetupForm::default(), None),
        ),
        Ok(false) => see_other("/login"),
        Err(e) => Frame::load(&app, None).await.error(&e),
    }
}

async fn setup_submit(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Form(f): Form<SetupForm>,
) -> Response {
    match blocking(&app, accounts::setup_required).await {
        Ok(true) => {}
        Ok(false) => return see_other("/login"),
        Err(e) => return Frame::load(&app, None).await.error(&e),
    }
    let result = if f.password != f.password2 {
        Err(mismatch("password2"))
    } else {
        let req = SetupRequest {
            username: f.username.clone(),
            password: f.password.clone(),
            security_questions: vec![
                SecurityQuestion {
                    question: f.q1.clone(),
                    answer: f.a1.clone(),
                },
                SecurityQuestion {
                    question: f.q2.clone(),
                    answer: f.a2.clone(),
                },
                SecurityQuestion {
                    question: f.q3.clone(),
                    answer: f.a3.clone(),
                },
            ],
        };
        blocking(&app, move |app| {
            let view = accounts::setup(app, ip, &req)?;
            Ok(accounts::login(app, ip, &view.username, &req.password))
        })
        .await
    };
    match result {
        Ok(Ok((token, _))) => signed_in(&token),
        // Set up, but the sign-in itself was refused: the login page says why.
        Ok(Err(_)) => see_other("/login"),
        Err(e) => Frame::load(&app, None).await.page(
            status_of(&e),
            "Set up Gatehouse",
            setup_form(&f, Some(&e)),
        ),
    }
}

fn signed_in(token: &str) -> Response {
    (
        [(header::SET_COOKIE, session_cookie(token))],
        Redirect::to("/"),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    username: String,
    password: String,
}

fn login_form(username: &str, notice: Option<&str>, err: Option<&Error>) -> Markup {
    html! {
        (notice_box(notice))
        (error_box(err))
        form.card.narrow method="post" action="/login" {
            label { "User name" input name="username" value=(username) required autofocus autocomplete="username"; }
            label { "Password" input type="password" name="password" required autocomplete="current-password"; }
            button #login-submit type="submit" { "Sign in" }
            p { a #forgot href="/reset" { "Forgot password?" } }
        }
    }
}

async fn login_page(_: SetUp, State(app): State<Arc<App>>, Query(done): Query<Done>) -> Response {
    Frame::load(&app, None)
        .await
        .page(StatusCode::OK, "Sign in", login_form("", done.text(), None))
}

async fn login_submit(
    _: SetUp,
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Form(f): Form<LoginForm>,
) -> Response {
    let (user, pw) = (f.username.clone(), f.password);
    match blocking(&app, move |app| accounts::login(app, ip, &user, &pw)).await {
        Ok((token, _)) => signed_in(&token),
        Err(e) => Frame::load(&app, None).await.page(
            status_of(&e),
            "Sign in",
            login_form(&f.username, None, Some(&e)),
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CsrfForm {
    pub csrf: String,
}

async fn logout(
    _: SetUp,
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    caller: PageCaller,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    if !super::csrf_valid(&caller, &f.csrf) {
        return frame.csrf_refused();
    }
    let Some(token) = cookie_token(&headers) else {
        return see_other("/login");
    };
    match blocking(&app, move |app| accounts::logout(app, &token, ip)).await {
        Ok(()) => (
            [(header::SET_COOKIE, clear_cookie())],
            Redirect::to("/login?done=signed-out"),
        )
            .into_response(),
        Err(e) => frame.error(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResetForm {
    username: String,
    /// `answers` once the questions are shown.
    step: String,
    a1: String,
    a2: String,
    a3: String,
    new_password: String,
    new_password2: String,
}

fn reset_step1(username: &str, err: Option<&Error>) -> Markup {
    html! {
        p { "Answer your three security questions to choose a new password." }
        (error_box(err))
        form.card.narrow method="post" action="/reset" {
            label { "User name" input name="username" value=(username) required autocomplete="username"; }
            button #reset-next type="submit" { "Show my questions" }
            p { a href="/login" { "Back to sign-in" } }
        }
    }
}

fn reset_step2(username: &str, questions: &[String], err: Option<&Error>) -> Markup {
    html! {
        (error_box(err))
        form.card.narrow method="post" action="/reset" {
            input type="hidden" name="username" value=(username);
            input type="hidden" name="step" value="answers";
            p { "Account: " strong { (username) } }
            @for (i, q) in questions.iter().enumerate() {
                label { (q) input type="password" name={ "a" (i + 1) } required autocomplete="off"; }
            }
            label { "New password" input type="password" name="new_password" required autocomplete="new-password"; }
            label { "New password again" input type="password" name="new_password2" required autocomplete="new-password"; }
            button #reset-submit type="submit" { "Reset password" }
            p { a href="/login" { "Back to sign-in" } }
        }
    }
}

async fn reset_page(_: SetUp, State(app): State<Arc<App>>) -> Response {
    Frame::load(&app, None)
        .await
        .page(StatusCode::OK, "Reset password", reset_step1("", None))
}

async fn reset_submit(
    _: SetUp,
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Form(f): Form<ResetForm>,
) -> Response {
    let frame = Frame::load(&app, None).await;
    let title = "Reset password";
    let user = f.username.clone();
    let questions = blocking(&app, move |app| accounts::reset_questions(app, ip, &user)).await;
    let questions = match questions {
        Ok(q) => q,
        Err(e) => return frame.page(status_of(&e), title, reset_step1(&f.username, Some(&e))),
    };
    if f.step != "answers" {
        return frame.page(
            StatusCode::OK,
            title,
            reset_step2(&f.username, &questions, None),
        );
    }
    let result = if f.new_password != f.new_password2 {
        Err(mismatch("new_password2"))
    } else {
        let (user, answers, pw) = (f.username.clone(), vec![f.a1, f.a2, f.a3], f.new_password);
        blocking(&app, move |app| {
            accounts::reset_password(app, ip, &user, &answers, &pw)
        })
        .await
    };
    match result {
        Ok(()) => see_other("/login?done=reset"),
        Err(e @ Error::Locked { .. }) => {
            frame.page(status_of(&e), title, reset_step1(&f.username, Some(&e)))
        }
        Err(e) => frame.page(
            status_of(&e),
            title,
            reset_step2(&f.username, &questions, Some(&e)),
        ),
    }
}
