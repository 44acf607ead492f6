//! Sessions: who a request signs in as. A random token in an HttpOnly
//! cookie names a session; a user id belongs to the first session that
//! creates it.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use domain::UserId;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "session";

/// Where sessions are kept across restarts.
pub trait SessionStore: Send + Sync + 'static {
    /// Records a new session durably.
    fn save<'a>(
        &'a self,
        token: &'a str,
        user: UserId,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), SessionStoreError>> + Send + 'a>,
    >;
}

/// A session could not be stored; the store's own error is the cause.
#[derive(Debug, thiserror::Error)]
#[error("the session could not be stored")]
pub struct SessionStoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Session tokens and the user each signs in as.
///
/// A token is 244 random bits (see [`new_token`]); a user id belongs to the first session that
/// creates it, so nobody can take over a user by naming its id. With a
/// [`SessionStore`], sessions survive restarts.
#[derive(Clone, Default)]
pub struct Sessions {
    table: Arc<RwLock<SessionTable>>,
    store: Option<Arc<dyn SessionStore>>,
}

#[derive(Debug, Default)]
struct SessionTable {
    // The token is kept once, shared by both maps.
    users: HashMap<Arc<str>, UserId>,
    owners: HashMap<UserId, Arc<str>>,
}

impl Sessions {
    /// Sessions read back from `store` (`known`), kept there from now on.
    pub fn restore(
        known: impl IntoIterator<Item = (String, UserId)>,
        store: Arc<dyn SessionStore>,
    ) -> Self {
        let mut table = SessionTable::default();
        for (token, user) in known {
            let token: Arc<str> = token.into();
            table.owners.insert(user, token.clone());
            table.users.insert(token, user);
        }
        Self {
            table: Arc::new(RwLock::new(table)),
            store: Some(store),
        }
    }

    /// The user a session token signs in as.
    pub fn user(&self, token: &str) -> Option<UserId> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .users
            .get(token)
            .copied()
    }

    /// A session for `user`: the caller's own when it already is `user`'s,
    /// a new one when nobody owns `user` yet, `Ok(None)` when someone else
    /// does; an error when the new session cannot be stored.
    pub async fn open(
        &self,
        user: UserId,
        current: Option<&str>,
    ) -> Result<Option<String>, SessionStoreError> {
        let token = {
            let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
            match table.owners.get(&user) {
                Some(owner) if Some(&**owner) == current => return Ok(Some(owner.to_string())),
                Some(_) => return Ok(None),
                None => {
                    let token = new_token();
                    let shared: Arc<str> = token.as_str().into();
                    table.users.insert(shared.clone(), user);
                    table.owners.insert(user, shared);
                    token
                }
            }
        };
        if let Some(store) = &self.store
            && let Err(error) = store.save(&token, user).await
        {
            let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
            table.users.remove(token.as_str());
            table.owners.remove(&user);
            return Err(error);
        }
        Ok(Some(token))
    }
}

/// A new session token: two v4 UUIDs, 244 bits from the operating
/// system's random source (each UUID fixes 6 of its 128 bits), as 64 hex
/// characters.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The session token in a request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The user a request's session cookie signs in as.
pub fn session_user(sessions: &Sessions, headers: &HeaderMap) -> Option<UserId> {
    session_token(headers).and_then(|token| sessions.user(&token))
}

/// The `Set-Cookie` value for a session: HttpOnly, SameSite, for `/api`.
pub fn session_cookie(token: &str, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/api; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_user_id_belongs_to_its_first_session() {
        let sessions = Sessions::default();
        let user = UserId::from_u128(1);
        let token = sessions.open(user, None).await.unwrap().unwrap();
        assert_eq!(sessions.user(&token), Some(user));
        assert_eq!(
            sessions.open(user, Some(&token)).await.ok(),
            Some(Some(token.clone()))
        );
        assert_eq!(sessions.open(user, None).await.ok(), Some(None));
        assert_eq!(sessions.open(user, Some("guess")).await.ok(), Some(None));
        assert_eq!(token.len(), 64);
    }

    #[test]
    fn reads_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; session=abc123; x=y".parse().unwrap());
        assert_eq!(session_token(&headers).as_deref(), Some("abc123"));
    }

    #[test]
    fn the_cookie_is_http_only_same_site_for_api() {
        let cookie = session_cookie("t", false);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/api")
        );
        assert!(!cookie.contains("Secure"));
        assert!(session_cookie("t", true).ends_with("; Secure"));
    }
}
