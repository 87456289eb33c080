//! Accounts of the page and API: first-boot setup, login and logout with lock-out, roles,
//! IP/MAC binding, password change and reset through security questions, online users. Every
//! function here is what both the JSON API and the page call; it owns the `ACCOUNTS` table's
//! records and the session and lock-out state, and knows nothing of HTTP.

pub mod hashing;
pub mod lockout;
pub mod netaccess;
pub mod password;
pub mod sessions;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{self, StoreError, Versioned, ACCOUNTS};
use netaccess::AllowList;
use password::QuestionInput;
pub use sessions::Session;

/// What an account may do.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including accounts, certificates and system settings.
    Admin,
    /// Persons, records and calls; not accounts, certificates or system settings.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StoredQuestion {
    pub question: String,
    /// Argon2id PHC string of the normalised answer.
    pub answer_hash: String,
}

/// An account as stored (version 1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Account {
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub questions: Vec<StoredQuestion>,
    pub allow: AllowList,
    pub created: u64,
    pub password_changed: u64,
}

impl Versioned for Account {
    const KIND: &'static str = "account";
    const VERSION: u8 = 1;
}

/// An account as shown: never a hash.
#[derive(Serialize, Deserialize, Clone, Debug, ToSchema)]
pub struct AccountView {
    pub username: String,
    pub role: Role,
    pub allowed_ips: Vec<String>,
    pub allowed_macs: Vec<String>,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub password_changed: u64,
    pub has_security_questions: bool,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            username: a.username.clone(),
            role: a.role,
            allowed_ips: a.allow.ips.iter().map(compact_net).collect(),
            allowed_macs: a.allow.macs.clone(),
            created: a.created,
            password_changed: a.password_changed,
            has_security_questions: a.questions.len() == 3,
        }
    }
}

/// `192.168.1.20` for a host network, `192.168.1.0/24` otherwise.
fn compact_net(n: &ipnet::IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, ToSchema)]
pub struct SecurityQuestion {
    pub question: String,
    pub answer: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, ToSchema)]
pub struct SetupRequest {
    pub username: String,
    pub password: String,
    pub security_questions: Vec<SecurityQuestion>,
}

#[derive(Deserialize, Serialize, Clone, Debug, ToSchema)]
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub role: Role,
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    #[serde(default)]
    pub allowed_macs: Vec<String>,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
pub struct AccountPatch {
    pub role: Option<Role>,
    pub allowed_ips: Option<Vec<String>>,
    pub allowed_macs: Option<Vec<String>>,
    /// A new password set by an administrator.
    pub password: Option<String>,
}

/// Who is acting, for permission checks and the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub username: String,
    pub role: Role,
    pub ip: IpAddr,
    pub session_id: String,
}

impl Actor {
    pub fn from_session(s: &Session, ip: IpAddr) -> Actor {
        Actor {
            username: s.username.clone(),
            role: s.role,
            ip,
            session_id: s.id.clone(),
        }
    }
    pub fn require_admin(&self) -> Result<()> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(Error::forbidden(
                "admin_only",
                "only an administrator may do this",
            ))
        }
    }
}

fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// 1–32 characters of letters, digits, `.`, `_` and `-`.
pub fn check_username(username: &str) -> Result<()> {
    let u = username.trim();
    if u.is_empty()
        || u.chars().count() > 32
        || !u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(Error::invalid(
            "username_format",
            "username",
            "the user name must have 1 to 32 characters: letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(())
}

fn load(
    txn: &impl redb::ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<Option<Account>> {
    Ok(store::get(txn, &key(name))?)
}

fn hash_questions(qs: &[SecurityQuestion]) -> Result<Vec<StoredQuestion>> {
    let inputs: Vec<QuestionInput<'_>> = qs
        .iter()
        .map(|q| QuestionInput {
            question: &q.question,
            answer: &q.answer,
        })
        .collect();
    password::check_questions(&inputs)?;
    qs.iter()
        .map(|q| {
            Ok(StoredQuestion {
                question: q.question.trim().to_owned(),
                answer_hash: hashing::hash(&password::normalize_answer(&q.answer))?,
            })
        })
        .collect()
}

/// Whether first-boot setup is still to be done (no administrator exists).
pub fn setup_required(app: &App) -> Result<bool> {
    app.store.read(|txn| {
        let t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        let all: Vec<Account> = store::all(&t)?;
        Ok(!all.iter().any(|a| a.role == Role::Admin))
    })
}

/// First-boot setup: creates the first administrator. `Conflict` once one exists.
pub fn setup(app: &App, ip: IpAddr, req: &SetupRequest) -> Result<AccountView> {
    if !setup_required(app)? {
        return Err(Error::conflict(
            "already_set_up",
            "Gatehouse is already set up",
        ));
    }
    check_username(&req.username)?;
    password::check(&req.username, &req.password, "password")?;
    let questions = hash_questions(&req.security_questions)?;
    let now = crate::time::now();
    let account = Account {
        username: req.username.trim().to_owned(),
        role: Role::Admin,
        password_hash: hashing::hash(&req.password)?,
        questions,
        allow: AllowList::default(),
        created: now,
        password_changed: now,
    };
    app.store.write(|txn| {
        let mut t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        // Checked again inside the transaction: two racing setups cannot both win.
        let all: Vec<Account> = store::all(&t)?;
        if all.iter().any(|a| a.role == Role::Admin) {
            return Err(Error::conflict(
                "already_set_up",
                "Gatehouse is already set up",
            ));
        }
        store::put(&mut t, &key(&account.username), &account)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&account.username),
            ip,
            "setup",
            &account.username,
            "first administrator created",
        )
    })?;
    Ok(AccountView::from(&account))
}

/// The generic refusal for wrong credentials, identical for known and unknown names.
fn bad_credentials() -> Error {
    Error::Unauthorized("wrong user name or password".into())
}

fn audit_alone(
    app: &App,
    actor: Option<&str>,
    ip: IpAddr,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    app.store.write(|txn| {
        audit::record(
            txn,
            app.config.audit_retention,
            actor,
            ip,
            action,
            target,
            detail,
        )
    })
}

/// Counts a failed attempt and audits it; returns the error the caller answers with.
fn failed_attempt(app: &App, username: &str, ip: IpAddr, what: &str) -> Error {
    let now = crate::time::now();
    let locked = app.lockout.fail(username, ip, now);
    let name = username.trim();
    let _ = audit_alone(
        app,
        Some(name),
        ip,
        &format!("{what}.failure"),
        name,
        "wrong credentials",
    );
    match locked {
        Some(until) => {
            let _ = audit_alone(
                app,
                Some(name),
                ip,
                &format!("{what}.locked"),
                name,
                &format!(
                    "account name and address locked until {}",
                    crate::time::rfc3339(until)
                ),
            );
            Error::Locked { until }
        }
        None => bad_credentials(),
    }
}

/// Signs in. Same answer and same work for unknown names; lock-out per name and per address.
pub fn login(app: &App, ip: IpAddr, username: &str, password: &str) -> Result<(String, Session)> {
    let now = crate::time::now();
    if let Some(until) = app.lockout.locked_until(username, ip, now) {
        return Err(Error::Locked { until });
    }
    let account = app.store.read(|txn| {
        let t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        load(&t, username)
    })?;
    let ok = match &account {
        Some(a) => hashing::verify(password, &a.password_hash),
        None => {
            hashing::verify(password, app.dummy_hash());
            false
        }
    };
    let account = match (ok, account) {
        (true, Some(a)) => a,
        _ => return Err(failed_attempt(app, username, ip, "login")),
    };
    if !account.allow.allows(ip, &app.config.arp_table) {
        let _ = failed_attempt(app, username, ip, "login");
        let _ = audit_alone(
            app,
            Some(&account.username),
            ip,
            "login.denied",
            &account.username,
            "address not in the account's allow-list",
        );
        return Err(Error::forbidden(
            "address_not_allowed",
            format!("this account may not sign in from {ip}"),
        ));
    }
    app.lockout.succeed(username, ip);
    let (token, session) =
        app.sessions
            .start(&account.username, account.role, ip, account.allow.clone())?;
    audit_alone(
        app,
        Some(&account.username),
        ip,
        "login.success",
        &account.username,
        "signed in",
    )?;
    Ok((token, session))
}

/// Ends the session of `token`.
pub fn logout(app: &App, token: &str, ip: IpAddr) -> Result<()> {
    if let Some(s) = app.sessions.end_token(token) {
        audit_alone(
            app,
            Some(&s.username),
            ip,
            "logout",
            &s.username,
            "signed out",
        )?;
    }
    Ok(())
}

/// Resolves a bearer token to an actor, checking expiry and the allow-list for this request.
pub fn authenticate(app: &App, token: &str, ip: IpAddr) -> Result<(Actor, Session)> {
    let s = app
        .sessions
        .lookup(token)
        .ok_or_else(|| Error::Unauthorized("not signed in, or the session has expired".into()))?;
    if !s.allow.allows(ip, &app.config.arp_table) {
        return Err(Error::forbidden(
            "address_not_allowed",
            format!("this account may not be used from {ip}"),
        ));
    }
    Ok((Actor::from_session(&s, ip), s))
}

pub fn list(app: &App, actor: &Actor) -> Result<Vec<AccountView>> {
    actor.require_admin()?;
    app.store.read(|txn| {
        let t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        let all: Vec<Account> = store::all(&t)?;
        Ok(all.iter().map(AccountView::from).collect())
    })
}

pub fn get(app: &App, actor: &Actor, username: &str) -> Result<AccountView> {
    if !actor.username.eq_ignore_ascii_case(username) {
        actor.require_admin()?;
    }
    app.store.read(|txn| {
        let t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        load(&t, username)?
            .map(|a| AccountView::from(&a))
            .ok_or_else(|| Error::NotFound(format!("no account named \"{username}\"")))
    })
}

pub fn create(app: &App, actor: &Actor, req: &NewAccount) -> Result<AccountView> {
    actor.require_admin()?;
    check_username(&req.username)?;
    password::check(&req.username, &req.password, "password")?;
    let allow = AllowList::parse(&req.allowed_ips, &req.allowed_macs)?;
    let now = crate::time::now();
    let account = Account {
        username: req.username.trim().to_owned(),
        role: req.role,
        password_hash: hashing::hash(&req.password)?,
        questions: Vec::new(),
        allow,
        created: now,
        password_changed: now,
    };
    app.store.write(|txn| {
        let mut t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        if load(&t, &account.username)?.is_some() {
            return Err(Error::Conflict {
                code: "username_taken",
                message: format!("an account named \"{}\" already exists", account.username),
            });
        }
        store::put(&mut t, &key(&account.username), &account)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "account.create",
            &account.username,
            format!("role {}", account.role.as_str()),
        )
    })?;
    Ok(AccountView::from(&account))
}

fn admins(t: &impl redb::ReadableTable<&'static str, &'static [u8]>) -> Result<usize> {
    let all: Vec<Account> = store::all(t)?;
    Ok(all.iter().filter(|a| a.role == Role::Admin).count())
}

pub fn update(
    app: &App,
    actor: &Actor,
    username: &str,
    patch: &AccountPatch,
) -> Result<AccountView> {
    actor.require_admin()?;
    let allow_ips = match &patch.allowed_ips {
        Some(v) => Some(AllowList::parse(v, &[])?.ips),
        None => None,
    };
    let allow_macs = match &patch.allowed_macs {
        Some(v) => Some(AllowList::parse(&[], v)?.macs),
        None => None,
    };
    if let Some(pw) = &patch.password {
        password::check(username, pw, "password")?;
    }
    let new_hash = patch.password.as_deref().map(hashing::hash).transpose()?;
    let updated = app.store.write(|txn| {
        let mut t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        let mut a = load(&t, username)?
            .ok_or_else(|| Error::NotFound(format!("no account named \"{username}\"")))?;
        let mut changes = Vec::new();
        if let Some(role) = patch.role {
            if role != a.role {
                if a.role == Role::Admin && admins(&t)? <= 1 {
                    return Err(Error::invalid(
                        "last_admin",
                        "role",
                        "the last administrator cannot lose the admin role",
                    ));
                }
                changes.push(format!("role {} → {}", a.role.as_str(), role.as_str()));
                a.role = role;
            }
        }
        if let Some(ips) = allow_ips.clone() {
            changes.push(format!(
                "allowed IPs: {}",
                if ips.is_empty() {
                    "any".into()
                } else {
                    ips.iter().map(compact_net).collect::<Vec<_>>().join(", ")
                }
            ));
            a.allow.ips = ips;
        }
        if let Some(macs) = allow_macs.clone() {
            changes.push(format!(
                "allowed MACs: {}",
                if macs.is_empty() {
                    "any".into()
                } else {
                    macs.join(", ")
                }
            ));
            a.allow.macs = macs;
        }
        if let Some(h) = new_hash.clone() {
            changes.push("password set by an administrator".into());
            a.password_hash = h;
            a.password_changed = crate::time::now();
        }
        store::put(&mut t, &key(&a.username), &a)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "account.update",
            &a.username,
            changes.join("; "),
        )?;
        Ok(a)
    })?;
    // Role, binding and password are re-read at sign-in: end the account's sessions.
    app.sessions.end_user(&updated.username, None);
    Ok(AccountView::from(&updated))
}

pub fn delete(app: &App, actor: &Actor, username: &str) -> Result<()> {
    actor.require_admin()?;
    if actor.username.eq_ignore_ascii_case(username.trim()) {
        return Err(Error::invalid(
            "delete_self",
            "username",
            "you cannot delete the account you are signed in with",
        ));
    }
    app.store.write(|txn| {
        let mut t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        let a = load(&t, username)?
            .ok_or_else(|| Error::NotFound(format!("no account named \"{username}\"")))?;
        if a.role == Role::Admin && admins(&t)? <= 1 {
            return Err(Error::invalid(
                "last_admin",
                "username",
                "the last administrator cannot be deleted",
            ));
        }
        t.remove(key(username).as_str()).map_err(StoreError::from)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "account.delete",
            &a.username,
            "deleted",
        )
    })?;
    app.sessions.end_user(username.trim(), None);
    Ok(())
}

/// Changes the signed-in account's own record after confirming its current password, and audits
/// it, in one transaction.
fn change_own(
    app: &App,
    actor: &Actor,
    current: &str,
    action: &str,
    detail: &str,
    change: impl FnOnce(&mut Account),
) -> Result<()> {
    app.store.write(|txn| {
        let mut t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        let mut a = load(&t, &actor.username)?
            .ok_or_else(|| Error::NotFound("your account no longer exists".into()))?;
        if !hashing::verify(current, &a.password_hash) {
            return Err(Error::invalid(
                "current_password_wrong",
                "current_password",
                "the current password is wrong",
            ));
        }
        change(&mut a);
        store::put(&mut t, &key(&a.username), &a)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            action,
            &actor.username,
            detail,
        )
    })
}

/// The signed-in account changes its own password; its other sessions end.
pub fn change_password(app: &App, actor: &Actor, current: &str, new: &str) -> Result<()> {
    password::check(&actor.username, new, "new_password")?;
    let new_hash = hashing::hash(new)?;
    change_own(
        app,
        actor,
        current,
        "account.password",
        "changed own password",
        |a| {
            a.password_hash = new_hash;
            a.password_changed = crate::time::now();
        },
    )?;
    app.sessions
        .end_user(&actor.username, Some(&actor.session_id));
    Ok(())
}

/// The signed-in account sets its three security questions (password confirmed).
pub fn set_questions(
    app: &App,
    actor: &Actor,
    current: &str,
    qs: &[SecurityQuestion],
) -> Result<()> {
    let hashed = hash_questions(qs)?;
    change_own(
        app,
        actor,
        current,
        "account.questions",
        "set security questions",
        |a| {
            a.questions = hashed;
        },
    )
}

/// Plausible stand-in questions for a name without questions (or without an account), chosen by
/// a keyed hash of the name so they are stable and reveal nothing.
const DECOY_QUESTIONS: &[&str] = &[
    "What was the name of your first school?",
    "In which city were you born?",
    "What was the name of your first pet?",
    "What is your favourite book?",
    "What was the model of your first car?",
    "What is your mother's maiden name?",
    "What was your childhood nickname?",
];

/// The three questions of `username` for a password reset. Unknown names get stable decoys.
pub fn reset_questions(app: &App, ip: IpAddr, username: &str) -> Result<Vec<String>> {
    if let Some(until) = app.lockout.locked_until(username, ip, crate::time::now()) {
        return Err(Error::Locked { until });
    }
    let account = app.store.read(|txn| {
        let t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        load(&t, username)
    })?;
    match account {
        Some(a) if a.questions.len() == 3 => {
            Ok(a.questions.iter().map(|q| q.question.clone()).collect())
        }
        _ => {
            use sha2::{Digest, Sha256};
            let d = Sha256::new()
                .chain_update(app.secret())
                .chain_update(key(username).as_bytes())
                .finalize();
            let mut picked: Vec<String> = Vec::new();
            let mut i = 0;
            while picked.len() < 3 {
                let q = DECOY_QUESTIONS[d[i % d.len()] as usize % DECOY_QUESTIONS.len()];
                if !picked.iter().any(|p| p == q) {
                    picked.push(q.to_owned());
                }
                i += 1;
                if i > 64 {
                    picked = DECOY_QUESTIONS[..3].iter().map(|s| s.to_string()).collect();
                }
            }
            Ok(picked)
        }
    }
}

/// Resets a password with the three answers; same lock-out as login.
pub fn reset_password(
    app: &App,
    ip: IpAddr,
    username: &str,
    answers: &[String],
    new_password: &str,
) -> Result<()> {
    if let Some(until) = app.lockout.locked_until(username, ip, crate::time::now()) {
        return Err(Error::Locked { until });
    }
    let account = app.store.read(|txn| {
        let t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        load(&t, username)
    })?;
    let ok = match &account {
        Some(a) if a.questions.len() == 3 && answers.len() == 3 => {
            a.questions.iter().zip(answers).fold(true, |ok, (q, ans)| {
                hashing::verify(&password::normalize_answer(ans), &q.answer_hash) && ok
            })
        }
        _ => {
            for _ in 0..3 {
                hashing::verify("x", app.dummy_hash());
            }
            false
        }
    };
    if !ok {
        return Err(match failed_attempt(app, username, ip, "reset") {
            Error::Unauthorized(_) => Error::Unauthorized("wrong user name or answers".into()),
            other => other,
        });
    }
    let Some(mut a) = account else {
        return Err(bad_credentials());
    };
    password::check(&a.username, new_password, "new_password")?;
    a.password_hash = hashing::hash(new_password)?;
    a.password_changed = crate::time::now();
    app.lockout.succeed(username, ip);
    app.store.write(|txn| {
        let mut t = txn.open_table(ACCOUNTS).map_err(StoreError::from)?;
        store::put(&mut t, &key(&a.username), &a)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&a.username),
            ip,
            "reset.success",
            &a.username,
            "password reset through security questions",
        )
    })?;
    app.sessions.end_user(&a.username, None);
    Ok(())
}

/// An online user, as listed for administrators.
#[derive(Serialize, Deserialize, Clone, Debug, ToSchema)]
pub struct OnlineUser {
    pub session_id: String,
    pub username: String,
    pub role: Role,
    pub ip: String,
    /// Unix seconds.
    pub signed_in: u64,
    /// Unix seconds.
    pub last_seen: u64,
}

pub fn online(app: &App, actor: &Actor) -> Result<Vec<OnlineUser>> {
    actor.require_admin()?;
    Ok(app
        .sessions
        .list()
        .into_iter()
        .map(|s| OnlineUser {
            session_id: s.id,
            username: s.username,
            role: s.role,
            ip: s.ip.to_string(),
            signed_in: s.created,
            last_seen: s.last_seen,
        })
        .collect())
}

pub fn end_session(app: &App, actor: &Actor, session_id: &str) -> Result<()> {
    actor.require_admin()?;
    let s = app
        .sessions
        .end_id(session_id)
        .ok_or_else(|| Error::NotFound(format!("no session {session_id}")))?;
    audit_alone(
        app,
        Some(&actor.username),
        actor.ip,
        "session.end",
        &s.username,
        &format!("ended session {session_id} from {}", s.ip),
    )
}
