//! People: accounts per organisation for the web console, signing in and out, and the tokens a
//! signed-in person issues for themselves. A signed-in person is a [`Principal::User`] and
//! reads through the same methods, and the same policy, as a token of their organisation and
//! role.

use std::sync::OnceLock;

use stix::Timestamp;

use crate::auth;
use crate::exchange::{Error, Exchange, Result};
use crate::model::{Principal, Role, Session, Token, User};
use crate::store::StoreError;

/// How long a session lasts from sign-in, whatever it does.
pub const SESSION_LIFETIME_MICROS: i64 = 12 * 3_600 * 1_000_000;

/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A session just opened: the secret goes into the browser's cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub secret: String,
    pub session: Session,
}

/// A session presented by a browser, with the principal it acts as.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub principal: Principal,
    pub user: User,
    pub session: Session,
}

fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// An argon2id hash of a password nobody has, verified when the username is unknown so that
/// a refusal takes as long for an unknown account as for a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| auth::hash_secret(&auth::new_session_secret()).unwrap_or_default())
}

fn is_self(who: &Principal, user: &User) -> bool {
    matches!(who, Principal::User { username, .. } if *username == user.username)
}

/// Whether an account of role `own` may issue itself a token of role `wanted`: never one with
/// rights it does not have.
pub fn may_issue_own_token(own: Role, wanted: Role) -> bool {
    match own {
        Role::Admin => true,
        Role::Analyst => wanted != Role::Admin,
        Role::Reader => wanted == Role::Reader,
        Role::Sensor => wanted == Role::Sensor,
    }
}

impl Exchange {
    /// Adds an account to an organisation. Instance admins add to any organisation; an
    /// organisation's admins to their own.
    pub fn add_user(
        &self,
        who: &Principal,
        org_name: &str,
        username: &str,
        role: Role,
        password: &str,
    ) -> Result<User> {
        let org = self.store().org_by_name(org_name)?.ok_or_else(|| {
            Error::BadRequest(format!("organisation `{org_name}` does not exist"))
        })?;
        if !matches!(who, Principal::Local { .. }) && who.org_admin() != Some(org.id) {
            self.require_instance_admin(who)?;
        }
        if !valid_username(username) {
            return Err(Error::BadRequest(format!(
                "username `{username}` must be 1 to 64 letters, digits or . _ - @"
            )));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(Error::BadRequest(format!(
                "a password needs at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        let hash = auth::hash_secret(password).map_err(|e| Error::Store(StoreError::Backend(e)))?;
        let user = self
            .store()
            .create_user(org.id, username, role, &hash)
            .map_err(|e| match e {
                StoreError::Duplicate(_) => {
                    Error::Conflict(format!("user `{username}` already exists"))
                }
                other => Error::Store(other),
            })?;
        self.record_admin(
            who,
            "user.add",
            username,
            &format!("org {} role {role}", org.name),
        )?;
        Ok(user)
    }

    /// Accounts an admin may manage: all for instance admins, their organisation's otherwise.
    pub fn users(&self, who: &Principal) -> Result<Vec<User>> {
        let all = self.store().users()?;
        if matches!(who, Principal::Local { .. }) || self.require_instance_admin(who).is_ok() {
            return Ok(all);
        }
        match who.org_admin() {
            Some(org) => Ok(all.into_iter().filter(|u| u.org == org).collect()),
            None => Err(Error::Forbidden(
                "listing accounts requires an admin".to_owned(),
            )),
        }
    }

    /// An account the principal administers, by name; accounts of organisations it does
    /// not administer look the same as accounts that do not exist.
    fn administered_user(&self, who: &Principal, username: &str) -> Result<User> {
        let scope = self.admin_scope(who)?;
        self.store()
            .user_by_name(username)?
            .filter(|u| scope.covers(u.org))
            .ok_or_else(|| Error::NotFound(format!("no account `{username}` that you manage")))
    }

    /// Disables an account (its sessions close, it cannot sign in) or enables it again.
    /// Nobody disables their own account, so an organisation cannot lock out its last admin
    /// by mistake.
    pub fn set_user_disabled(
        &self,
        who: &Principal,
        username: &str,
        disabled: bool,
    ) -> Result<User> {
        let user = self.administered_user(who, username)?;
        if disabled && is_self(who, &user) {
            return Err(Error::BadRequest(
                "you cannot disable your own account".to_owned(),
            ));
        }
        self.store().set_user_disabled(user.id, disabled)?;
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.record_admin(who, action, username, "ok")?;
        Ok(User { disabled, ..user })
    }

    /// Deletes an account and its sessions. What it did stays in the audit trail under its
    /// name.
    pub fn delete_user(&self, who: &Principal, username: &str) -> Result<()> {
        let user = self.administered_user(who, username)?;
        if is_self(who, &user) {
            return Err(Error::BadRequest(
                "you cannot delete your own account".to_owned(),
            ));
        }
        self.store().delete_user(user.id)?;
        self.record_admin(who, "user.delete", username, "ok")?;
        Ok(())
    }

    /// Checks a username and password and opens a session. Failures say no more than that
    /// the pair is wrong, and are kept in the audit trail with `from` (the client's address).
    pub fn sign_in(&self, username: &str, password: &str, from: &str) -> Result<SignedIn> {
        let actor = format!("user:{}", username.chars().take(64).collect::<String>());
        let refused = || Error::Unauthenticated("unknown user or wrong password".to_owned());
        let user = if valid_username(username) {
            self.store().user_by_name(username)?
        } else {
            None
        };
        let verified = match &user {
            Some(user) => auth::verify_secret(password, &user.password_hash),
            None => {
                auth::verify_secret(password, decoy_hash());
                false
            }
        };
        let Some(user) = user.filter(|_| verified) else {
            self.record_event(actor, None, "sign-in", from, "refused: wrong credentials");
            return Err(refused());
        };
        if user.disabled {
            // Only someone holding the password learns that the account is disabled.
            self.record_event(actor, Some(user.org), "sign-in", from, "refused: disabled");
            return Err(Error::Forbidden(
                "this account is disabled; ask your organisation's administrator".to_owned(),
            ));
        }
        let secret = auth::new_session_secret();
        let session = Session {
            secret_sha256: auth::session_digest(&secret),
            user: user.id,
            csrf: auth::new_csrf_token(),
            expires: Timestamp::from_micros(Timestamp::now().as_micros() + SESSION_LIFETIME_MICROS),
        };
        self.store().create_session(&session)?;
        self.record_event(actor, Some(user.org), "sign-in", from, "ok");
        Ok(SignedIn {
            user,
            secret,
            session,
        })
    }

    /// The session a browser's cookie names, if it is open and its account still exists.
    pub fn session(&self, secret: &str) -> Result<Option<ActiveSession>> {
        let digest = auth::session_digest(secret);
        let Some(session) = self.store().session(&digest)? else {
            return Ok(None);
        };
        if session.expires <= Timestamp::now() {
            self.store().delete_session(&digest)?;
            return Ok(None);
        }
        let Some(user) = self.store().user(session.user)?.filter(|u| !u.disabled) else {
            self.store().delete_session(&digest)?;
            return Ok(None);
        };
        Ok(Some(ActiveSession {
            principal: Principal::User {
                username: user.username.clone(),
                org: user.org,
                role: user.role,
            },
            user,
            session,
        }))
    }

    /// Closes the session; the cookie then opens nothing.
    pub fn sign_out(&self, active: &ActiveSession) -> Result<()> {
        self.store().delete_session(&active.session.secret_sha256)?;
        self.record(&active.principal, "sign-out", "", "ok");
        Ok(())
    }

    /// Removes sessions past their expiry; returns how many.
    pub fn expire_sessions(&self) -> Result<usize> {
        Ok(self.store().delete_expired_sessions(Timestamp::now())?)
    }

    /// A signed-in person issues an API token for their organisation, with at most their own
    /// rights. The secret is returned once.
    pub fn issue_own_token(&self, who: &Principal, role: Role) -> Result<(Token, String)> {
        let Principal::User {
            org,
            role: own,
            username,
        } = who
        else {
            return Err(Error::Forbidden(
                "only a signed-in person issues their own tokens".to_owned(),
            ));
        };
        if !may_issue_own_token(*own, role) {
            return Err(Error::Forbidden(format!(
                "an account with role `{own}` may not issue a `{role}` token"
            )));
        }
        let (token, secret) = self.issue_token(*org, role)?;
        self.record_admin(
            who,
            "token.add",
            &token.id,
            &format!("self-service by {username}, role {role}"),
        )?;
        Ok((token, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_plain() {
        assert!(valid_username("ana.lyst@my-cert"));
        assert!(!valid_username(""));
        assert!(!valid_username("a b"));
        assert!(!valid_username(&"a".repeat(65)));
    }

    #[test]
    fn nobody_issues_themselves_more_rights() {
        assert!(may_issue_own_token(Role::Admin, Role::Admin));
        assert!(may_issue_own_token(Role::Analyst, Role::Sensor));
        assert!(!may_issue_own_token(Role::Analyst, Role::Admin));
        assert!(!may_issue_own_token(Role::Reader, Role::Analyst));
        assert!(!may_issue_own_token(Role::Reader, Role::Sensor));
    }
}
