//! Account pages: the account list with create, edit (role, IP/MAC allow-lists, a new password)
//! and delete; online users with "End session"; and "My account" (own password and security
//! questions). Calls `accounts::{list, create, update, delete, online, end_session, get,
//! change_password, set_questions}`; who may do what is decided there (operators get its
//! "only an administrator may do this" as a 403 page).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::public::{questions_inputs, CsrfForm};
use super::{
    csrf_input, csrf_valid, error_box, mismatch, notice_box, query_escape, see_other, split_list,
    when, Done, Frame, SetUp,
};
use crate::accounts::{self, AccountPatch, AccountView, NewAccount, Role, SecurityQuestion};
use crate::app::App;
use crate::error::Error;
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/accounts", get(accounts_page).post(create))
        .route("/accounts/{name}", post(update))
        .route("/accounts/{name}/delete", post(delete))
        .route("/sessions", get(sessions_page))
        .route("/sessions/{id}/end", post(end_session))
        .route("/me", get(me_page))
        .route("/me/password", post(change_password))
        .route("/me/questions", post(set_questions))
}

/// The role named in a form's select.
fn parse_role(text: &str) -> Result<Role, Error> {
    match text {
        "admin" => Ok(Role::Admin),
        "operator" => Ok(Role::Operator),
        _ => Err(Error::invalid(
            "role",
            "role",
            "choose the role \"admin\" or \"operator\"",
        )),
    }
}

fn role_select(current: Role) -> Markup {
    html! {
        select name="role" {
            option value="operator" selected[current == Role::Operator] { "operator" }
            option value="admin" selected[current == Role::Admin] { "admin" }
        }
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct CreateForm {
    csrf: String,
    username: String,
    password: String,
    password2: String,
    role: String,
    allowed_ips: String,
    allowed_macs: String,
}

fn account_row(caller: &PageCaller, a: &AccountView) -> Markup {
    let action = format!("/accounts/{}", query_escape(&a.username));
    let any = |v: &[String]| {
        if v.is_empty() {
            "any".to_owned()
        } else {
            v.join(", ")
        }
    };
    html! {
        tr {
            td { strong { (a.username) } }
            td { (a.role.as_str()) }
            td { (any(&a.allowed_ips)) }
            td { (any(&a.allowed_macs)) }
            td { (when(a.password_changed)) }
            td { @if a.has_security_questions { "set" } @else { "not set" } }
            td.actions {
                details {
                    summary { "Edit" }
                    form.stack method="post" action=(action) {
                        (csrf_input(caller))
                        label { "Role" (role_select(a.role)) }
                        label { "Allowed IPs (empty: any)"
                            textarea name="allowed_ips" rows="2" { (a.allowed_ips.join("\n")) }
                        }
                        label { "Allowed MACs (empty: any)"
                            textarea name="allowed_macs" rows="2" { (a.allowed_macs.join("\n")) }
                        }
                        label { "New password (leave empty to keep)"
                            input type="password" name="password" autocomplete="new-password";
                        }
                        button type="submit" { "Save " (a.username) }
                    }
                    form method="post" action={ (action) "/delete" } {
                        (csrf_input(caller))
                        button.danger type="submit" { "Delete " (a.username) }
                    }
                }
            }
        }
    }
}

async fn show_accounts(
    app: &Arc<App>,
    caller: &PageCaller,
    typed: &CreateForm,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let actor = caller.actor.clone();
    let list = match blocking(app, move |app| accounts::list(app, &actor)).await {
        Ok(l) => l,
        Err(e) => return frame.error(&e),
    };
    let role = parse_role(&typed.role).unwrap_or(Role::Operator);
    frame.page(
        err.map(status_of).unwrap_or(StatusCode::OK),
        "Accounts",
        html! {
            p { "Administrators may do everything; operators work with persons, records and \
                 calls but not with accounts, certificates or system settings. An account bound \
                 to IP addresses or MAC addresses may sign in only from those." }
            (notice_box(notice))
            (error_box(err))
            div.scroll {
                table #accounts {
                    thead { tr {
                        th { "User name" } th { "Role" } th { "Allowed IPs" } th { "Allowed MACs" }
                        th { "Password changed" } th { "Security questions" } th {}
                    } }
                    tbody { @for a in &list { (account_row(caller, a)) } }
                }
            }
            section.card {
                h2 { "New account" }
                form.stack method="post" action="/accounts" {
                    (csrf_input(caller))
                    label { "User name" input name="username" value=(typed.username) required autocomplete="off"; }
                    label { "Password" input type="password" name="password" required autocomplete="new-password"; }
                    label { "Password again" input type="password" name="password2" required autocomplete="new-password"; }
                    label { "Role" (role_select(role)) }
                    label { "Allowed IPs or networks, comma or line separated (empty: any)"
                        textarea name="allowed_ips" rows="2" placeholder="192.168.1.20, 192.168.1.0/24" { (typed.allowed_ips) }
                    }
                    label { "Allowed MAC addresses, comma or line separated (empty: any)"
                        textarea name="allowed_macs" rows="2" placeholder="3c:ef:8c:01:02:03" { (typed.allowed_macs) }
                    }
                    button #account-create type="submit" { "Create account" }
                }
            }
        },
    )
}

async fn accounts_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(done): Query<Done>,
) -> Response {
    show_accounts(&app, &caller, &CreateForm::default(), done.text(), None).await
}

async fn create(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<CreateForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let req = match (parse_role(&f.role), f.password == f.password2) {
        (_, false) => Err(mismatch("password2")),
        (Err(e), _) => Err(e),
        (Ok(role), true) => Ok(NewAccount {
            username: f.username.clone(),
            password: f.password.clone(),
            role,
            allowed_ips: split_list(&f.allowed_ips),
            allowed_macs: split_list(&f.allowed_macs),
        }),
    };
    let actor = caller.actor.clone();
    let result = match req {
        Ok(req) => blocking(&app, move |app| accounts::create(app, &actor, &req)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other("/accounts?done=account-created"),
        Err(e) => show_accounts(&app, &caller, &f, None, Some(&e)).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EditForm {
    csrf: String,
    role: String,
    allowed_ips: String,
    allowed_macs: String,
    password: String,
}

async fn update(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(name): Path<String>,
    Form(f): Form<EditForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let result = match parse_role(&f.role) {
        Err(e) => Err(e),
        Ok(role) => {
            let patch = AccountPatch {
                role: Some(role),
                allowed_ips: Some(split_list(&f.allowed_ips)),
                allowed_macs: Some(split_list(&f.allowed_macs)),
                password: Some(f.password).filter(|p| !p.is_empty()),
            };
            blocking(&app, move |app| {
                accounts::update(app, &actor, &name, &patch)
            })
            .await
        }
    };
    match result {
        Ok(_) => see_other("/accounts?done=account-saved"),
        Err(e) => show_accounts(&app, &caller, &CreateForm::default(), None, Some(&e)).await,
    }
}

async fn delete(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| accounts::delete(app, &actor, &name)).await {
        Ok(()) => see_other("/accounts?done=account-deleted"),
        Err(e) => show_accounts(&app, &caller, &CreateForm::default(), None, Some(&e)).await,
    }
}

async fn show_sessions(
    app: &Arc<App>,
    caller: &PageCaller,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let online = match accounts::online(app, &caller.actor) {
        Ok(o) => o,
        Err(e) => return frame.error(&e),
    };
    frame.page(
        err.map(status_of).unwrap_or(StatusCode::OK),
        "Online users",
        html! {
            p { "Everyone signed in now. Ending a session signs that browser or API client out." }
            (notice_box(notice))
            (error_box(err))
            div.scroll {
                table #sessions {
                    thead { tr {
                        th { "User name" } th { "Role" } th { "Address" } th { "Signed in" }
                        th { "Last seen" } th {}
                    } }
                    tbody {
                        @for u in &online {
                            tr {
                                td { (u.username)
                                    @if u.session_id == caller.session.id { " " span.badge { "you" } }
                                }
                                td { (u.role.as_str()) }
                                td { (u.ip) }
                                td { (when(u.signed_in)) }
                                td { (when(u.last_seen)) }
                                td {
                                    form method="post" action={ "/sessions/" (query_escape(&u.session_id)) "/end" } {
                                        (csrf_input(caller))
                                        button.danger type="submit" { "End session" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

async fn sessions_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(done): Query<Done>,
) -> Response {
    show_sessions(&app, &caller, done.text(), None).await
}

async fn end_session(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| accounts::end_session(app, &actor, &id)).await {
        Ok(()) => see_other("/sessions?done=session-ended"),
        Err(e) => show_sessions(&app, &caller, None, Some(&e)).await,
    }
}

async fn show_me(
    app: &Arc<App>,
    caller: &PageCaller,
    typed_questions: [&str; 3],
    notice: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let (actor, name) = (caller.actor.clone(), caller.session.username.clone());
    let me = match blocking(app, move |app| accounts::get(app, &actor, &name)).await {
        Ok(m) => m,
        Err(e) => return frame.error(&e),
    };
    frame.page(
        err.map(status_of).unwrap_or(StatusCode::OK),
        "My account",
        html! {
            (notice_box(notice))
            (error_box(err))
            dl.facts {
                dt { "User name" } dd { (me.username) }
                dt { "Role" } dd { (me.role.as_str()) }
                dt { "Password changed" } dd { (when(me.password_changed)) }
                dt { "Security questions" } dd { @if me.has_security_questions { "set" } @else { "not set: set them below to be able to reset a forgotten password" } }
            }
            section.card {
                h2 { "Change password" }
                form.stack method="post" action="/me/password" {
                    (csrf_input(caller))
                    label { "Current password" input type="password" name="current_password" required autocomplete="current-password"; }
                    label { "New password" input type="password" name="new_password" required autocomplete="new-password"; }
                    label { "New password again" input type="password" name="new_password2" required autocomplete="new-password"; }
                    button #password-save type="submit" { "Change password" }
                }
            }
            section.card {
                h2 { "Security questions" }
                form.stack method="post" action="/me/questions" {
                    (csrf_input(caller))
                    (questions_inputs(typed_questions))
                    label { "Current password" input type="password" name="current_password" required autocomplete="current-password"; }
                    button #questions-save type="submit" { "Save questions" }
                }
            }
        },
    )
}

async fn me_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(done): Query<Done>,
) -> Response {
    show_me(&app, &caller, ["", "", ""], done.text(), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    new_password2: String,
}

async fn change_password(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<PasswordForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let result = if f.new_password != f.new_password2 {
        Err(mismatch("new_password2"))
    } else {
        let actor = caller.actor.clone();
        blocking(&app, move |app| {
            accounts::change_password(app, &actor, &f.current_password, &f.new_password)
        })
        .await
    };
    match result {
        Ok(()) => see_other("/me?done=password"),
        Err(e) => show_me(&app, &caller, ["", "", ""], None, Some(&e)).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QuestionsForm {
    csrf: String,
    current_password: String,
    q1: String,
    a1: String,
    q2: String,
    a2: String,
    q3: String,
    a3: String,
}

async fn set_questions(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<QuestionsForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let qs = vec![
        SecurityQuestion {
            question: f.q1.clone(),
            answer: f.a1,
        },
        SecurityQuestion {
            question: f.q2.clone(),
            answer: f.a2,
        },
        SecurityQuestion {
            question: f.q3.clone(),
            answer: f.a3,
        },
    ];
    let (actor, pw) = (caller.actor.clone(), f.current_password);
    match blocking(&app, move |app| {
        accounts::set_questions(app, &actor, &pw, &qs)
    })
    .await
    {
        Ok(()) => see_other("/me?done=questions"),
        Err(e) => show_me(&app, &caller, [&f.q1, &f.q2, &f.q3], None, Some(&e)).await,
    }
}
