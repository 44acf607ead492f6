//! Sessions: who a request signs in as. A random token in an HttpOnly
//! cookie names a session; a user id belongs to the first session that
//! creates it.

use std::collections::{HashMap, HashSet};
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

/// Every session held, one entry a player: the token as its 32 bytes
/// in place (it was a shared string, 80 bytes on the heap, with a second
/// map from each user back to it: 134 bytes an idle player more, measured;
/// docs/performance.md, "Sessions held as bytes").
#[derive(Debug, Default)]
struct SessionTable {
    users: HashMap<Token, UserId>,
    /// The users some session owns.
    owned: HashSet<UserId>,
}

impl SessionTable {
    fn insert(&mut self, token: Token, user: UserId) {
        self.users.insert(token, user);
        self.owned.insert(user);
    }
}

/// A session token as [`new_token`] makes it, held as its 32 bytes and
/// written as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Token([u8; 32]);

impl Token {
    /// The token `text` spells, if it is one [`new_token`] could make.
    fn parse(text: &str) -> Option<Self> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
        }
        Some(Self(bytes))
    }
}

/// A lowercase hex digit's value.
fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

impl Sessions {
    /// Sessions read back from `store` (`known`), kept there from now on.
    pub fn restore(
        known: impl IntoIterator<Item = (String, UserId)>,
        store: Arc<dyn SessionStore>,
    ) -> Self {
        let mut table = SessionTable::default();
        for (token, user) in known {
            match Token::parse(&token) {
                Some(token) => table.insert(token, user),
                None => tracing::warn!("a stored session token of another shape: skipped"),
            }
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
        let parsed = Token::parse(token)?;
        if let Some(user) = self.user_of(parsed) {
            return Some(user);
        }
        let store = self.store.as_ref()?;
        let user = match store.find(token).await {
            Ok(user) => user?,
            Err(error) => {
                tracing::warn!(error = %error, "cannot look a session up");
                return None;
            }
        };
        self.table
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(parsed, user);
        Some(user)
    }

    /// The user a session token signs in as, among the sessions in memory.
    pub fn user(&self, token: &str) -> Option<UserId> {
        self.user_of(Token::parse(token)?)
    }

    fn user_of(&self, token: Token) -> Option<UserId> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .users
            .get(&token)
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
            if table.owned.contains(&user) {
                // A user has one session: the caller's, or someone else's.
                let mine = current
                    .and_then(Token::parse)
                    .is_some_and(|current| table.users.get(&current) == Some(&user));
                return Ok(current.filter(|_| mine).map(str::to_owned));
            }
            let token = new_token();
            table.insert(token, user);
            token
        };
        let text = token.to_string();
        if let Some(store) = &self.store
            && let Err(error) = store.save(&text, user).await
        {
            let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
            table.users.remove(&token);
            table.owned.remove(&user);
            return Err(error);
        }
        Ok(Some(text))
    }
}

/// A new session token: two v4 UUIDs, 244 bits from the operating
/// system's random source (each UUID fixes 6 of its 128 bits), written as
/// 64 hex characters.
fn new_token() -> Token {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    Token(bytes)
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
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
        let token = new_token().to_string();
        let sessions = Sessions::restore([], Arc::new(Shared(user, token.clone())));
        assert_eq!(sessions.user(&token), None, "not read at start");
        assert_eq!(sessions.resolve(&token).await, Some(user));
        assert_eq!(sessions.user(&token), Some(user), "remembered");
        assert_eq!(
            sessions.open(user, None).await.ok(),
            Some(None),
            "and the user is its"
        );
        assert_eq!(sessions.resolve(&new_token().to_string()).await, None);
        assert_eq!(sessions.resolve("not a token").await, None);
    }

    #[test]
    fn a_token_is_read_back_from_its_text_and_other_shapes_are_not() {
        let token = new_token();
        let text = token.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(Token::parse(&text), Some(token));
        for refused in [
            &text[..63],
            &format!("{text}0"),
            &text.to_uppercase(),
            &format!("g{}", &text[1..]),
            "",
        ] {
            assert_eq!(Token::parse(refused), None, "{refused}");
        }
    }

    #[tokio::test]
    async fn sessions_restored_from_the_store_sign_in_and_own_their_users() {
        let user = UserId::from_u128(3);
        let text = new_token().to_string();
        let sessions = Sessions::restore(
            [
                (text.clone(), user),
                ("not a token".to_owned(), UserId::from_u128(4)),
            ],
            Arc::new(Shared(user, String::new())),
        );
        assert_eq!(sessions.user(&text), Some(user));
        assert_eq!(
            sessions.open(user, Some(&text)).await.ok(),
            Some(Some(text.clone()))
        );
        assert_eq!(sessions.open(user, None).await.ok(), Some(None));
        assert_eq!(sessions.user("not a token"), None);
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
