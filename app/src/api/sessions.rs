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

/// What a [`SessionStore`] answers, in time.
pub type SessionFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SessionStoreError>> + Send + 'a>>;

/// Where sessions are kept across restarts.
pub trait SessionStore: Send + Sync + 'static {
    /// Records a new session durably.
    fn save<'a>(&'a self, token: &'a str, user: UserId) -> SessionFuture<'a, ()>;

    /// The user of a session another process may have made since this one
    /// read them all (a store shared by the nodes of a cluster); a store
    /// only this process writes knows of none.
    fn find<'a>(&'a self, _token: &'a str) -> SessionFuture<'a, Option<UserId>> {
        Box::pin(async { Ok(None) })
    }
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

    /// The user a session token signs in as: from memory, else, for a
    /// token of the shape this server makes, from the store (where another
    /// node of a cluster may have made it), remembered from then on.
    /// Made-up tokens of the right shape cost a lookup each; they then
    /// count against their address's rate limit as no session.
    pub async fn resolve(&self, token: &str) -> Option<UserId> {
        if let Some(user) = self.user(token) {
            return Some(user);
        }
        let store = self.store.as_ref()?;
        if !is_token_shaped(token) {
            return None;
        }
        let user = match store.find(token).await {
            Ok(user) => user?,
            Err(error) => {
                tracing::warn!(error = %error, "cannot look a session up");
                return None;
            }
        };
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        let shared: Arc<str> = token.into();
        table.owners.insert(user, shared.clone());
        table.users.insert(shared, user);
        Some(user)
    }

    /// The user a session token signs in as, among the sessions in memory.
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

/// Whether `token` could be one [`new_token`] made: 64 lowercase hex digits.
fn is_token_shaped(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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
pub async fn session_user(sessions: &Sessions, headers: &HeaderMap) -> Option<UserId> {
    sessions.resolve(&session_token(headers)?).await
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

    /// A store another node wrote a session into.
    struct Shared(UserId, String);

    impl SessionStore for Shared {
        fn save<'a>(&'a self, _: &'a str, _: UserId) -> SessionFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }

        fn find<'a>(&'a self, token: &'a str) -> SessionFuture<'a, Option<UserId>> {
            Box::pin(async move { Ok((token == self.1).then_some(self.0)) })
        }
    }

    #[tokio::test]
    async fn a_session_made_elsewhere_is_found_in_the_store_and_kept() {
        let user = UserId::from_u128(7);
        let token = new_token();
        let sessions = Sessions::restore([], Arc::new(Shared(user, token.clone())));
        assert_eq!(sessions.user(&token), None, "not read at start");
        assert_eq!(sessions.resolve(&token).await, Some(user));
        assert_eq!(sessions.user(&token), Some(user), "remembered");
        assert_eq!(
            sessions.open(user, None).await.ok(),
            Some(None),
            "and the user is its"
        );
        assert_eq!(sessions.resolve(&new_token()).await, None);
        assert_eq!(sessions.resolve("not a token").await, None);
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
