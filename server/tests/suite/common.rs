//! A real server on an ephemeral port, and clients that talk to it as a
//! browser does: HTTP with a cookie jar, and the event WebSocket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Config, serve};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

pub type Socket = tokio_tungstenite::WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for an event before failing.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A server in this process, on the embedded database in a fresh folder.
pub struct TestServer {
    pub addr: SocketAddr,
    pub stop: CancellationToken,
    pub task: JoinHandle<Result<(), server::ServeError>>,
    /// The data folder, removed when the server is dropped.
    _data: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(extra_flags: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("a temporary data folder");
        let data_dir = data.path().to_string_lossy().into_owned();
        let mut flags = vec!["server", "--addr", "127.0.0.1:0", "--data-dir", &data_dir];
        flags.extend_from_slice(extra_flags);
        let config = Config::try_parse_from(flags).expect("flags parse");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, config, stop.clone()));
        Self {
            addr,
            stop,
            task,
            _data: data,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn socket(&self) -> Socket {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/ws", self.addr))
            .await
            .expect("websocket upgrade");
        socket
    }

    pub async fn status(&self) -> Value {
        reqwest::Client::new()
            .post(self.url("/api/status"))
            .json(&json!({}))
            .send()
            .await
            .expect("status request")
            .json()
            .await
            .expect("status is JSON")
    }

    /// A client with its own cookie jar, not signed in yet.
    pub fn client(&self) -> Client {
        TestServerAddr(self.addr.to_string()).client()
    }
}

/// A server known by its address only (another process, say).
pub struct TestServerAddr(pub String);

impl TestServerAddr {
    /// A client with its own cookie jar, not signed in yet.
    pub fn client(&self) -> Client {
        self.client_at(None)
    }

    /// A client whose connections come from `local` (a loopback address
    /// other than 127.0.0.1, say), or from any address.
    pub fn client_at(&self, local: Option<IpAddr>) -> Client {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .local_address(local)
            .build()
            .expect("http client");
        Client {
            base: format!("http://{}", self.0),
            http,
            jar,
            local,
            socket: None,
            user: uuid::Uuid::new_v4(),
            seen: Vec::new(),
        }
    }
}

/// The next text frame as JSON.
pub async fn next_text(
    socket: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("frame is JSON");
        }
    }
}

/// One player: a cookie jar, a socket, a user id.
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    /// The address its connections come from, if it was chosen.
    local: Option<IpAddr>,
    pub socket: Option<Socket>,
    pub user: uuid::Uuid,
    /// Every frame received so far.
    pub seen: Vec<Value>,
}

impl Client {
    /// Another tab of this client's user: the same session, its own socket.
    pub fn clone_session(&self) -> Self {
        Self {
            base: self.base.clone(),
            http: self.http.clone(),
            jar: self.jar.clone(),
            local: self.local,
            socket: None,
            user: self.user,
            seen: Vec::new(),
        }
    }

    /// This client signed in as `user` with a session `token` the server
    /// already knows.
    pub fn with_session(mut self, user: uuid::Uuid, token: &str) -> Self {
        let url: reqwest::Url = format!("{}/api", self.base).parse().expect("url");
        self.jar
            .add_cookie_str(&format!("session={token}; Path=/api"), &url);
        self.user = user;
        self
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn command(&self, effect_type: &str, payload: Value) -> (StatusCode, Value) {
        self.post(
            "/api/commands",
            json!({ "command": { "type": effect_type, "payload": payload } }),
        )
        .await
    }

    pub async fn query(&self, effect_type: &str, payload: Value) -> (StatusCode, Value) {
        self.post(
            "/api/queries",
            json!({ "query": { "type": effect_type, "payload": payload } }),
        )
        .await
    }

    /// Creates this client's user and keeps the session cookie.
    pub async fn sign_up(&self, alias: &str) {
        let (status, body) = self
            .command("CreateUser", json!({ "userId": self.user, "alias": alias }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Opens the event socket with the session cookie.
    /// Opens the socket while the store is away: `Connected` only (the
    /// lobby's lists cannot be read, so they are left out).
    pub async fn connect_while_the_store_is_away(&mut self) {
        let mut socket = self.try_connect().await.expect("websocket upgrade");
        let hello = next_text(&mut socket).await;
        assert_eq!(hello["type"], "Connected");
        self.socket = Some(socket);
    }

    /// Opens the socket: `Connected`, then the lobby's lists as they are
    /// (kept in `seen`; `wait_for` looks at what comes after them).
    pub async fn connect(&mut self) {
        let mut socket = self.try_connect().await.expect("websocket upgrade");
        let hello = next_text(&mut socket).await;
        assert_eq!(hello["type"], "Connected");
        for list in [
            "UsersOnlineUpdated",
            "TopThreeListUpdated",
            "LiveGamesUpdated",
        ] {
            let frame = next_text(&mut socket).await;
            assert_eq!(frame["type"], list, "{frame}");
            self.seen.push(frame);
        }
        self.socket = Some(socket);
    }

    /// Asks for an event socket with the session cookie: the socket, or
    /// why the server refused it.
    pub async fn try_connect(&self) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let url = format!("{}/api/ws", self.base.replacen("http", "ws", 1));
        let mut request = url.as_str().into_client_request().expect("request");
        let api: reqwest::Url = format!("{}/api/ws", self.base).parse().expect("url");
        if let Some(cookie) = reqwest::cookie::CookieStore::cookies(self.jar.as_ref(), &api) {
            request.headers_mut().insert("cookie", cookie);
        }
        let socket = match self.local {
            None => tokio_tungstenite::connect_async(request).await,
            Some(local) => {
                let tcp = tokio::net::TcpSocket::new_v4().expect("a socket");
                tcp.bind(SocketAddr::new(local, 0)).expect("bind");
                let server = self
                    .base
                    .trim_start_matches("http://")
                    .parse()
                    .expect("addr");
                let stream = tcp.connect(server).await.expect("connect");
                tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await
            }
        };
        socket.map(|(socket, _)| socket)
    }

    pub async fn send_frame(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    /// Sends a frame written as it is.
    pub async fn send_text(&mut self, frame: String) {
        let socket = self.socket.as_mut().expect("connected");
        socket
            .send(Message::Text(frame.into()))
            .await
            .expect("send");
    }

    /// Waits for the next event of this type (the ones before it are kept in `seen`).
    /// The next frame, whole (kept in `seen` too).
    pub async fn next_frame(&mut self) -> Value {
        let socket = self.socket.as_mut().expect("connected");
        let frame = next_text(socket).await;
        self.seen.push(frame.clone());
        frame
    }

    pub async fn wait_for(&mut self, effect_type: &str) -> Value {
        let socket = self.socket.as_mut().expect("connected");
        loop {
            let frame = next_text(socket).await;
            self.seen.push(frame.clone());
            if frame["type"] == effect_type {
                return frame["payload"].clone();
            }
        }
    }

    /// Reads whatever arrives within `quiet` and keeps it in `seen`.
    pub async fn drain(&mut self, quiet: Duration) {
        let socket = self.socket.as_mut().expect("connected");
        while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, socket.next()).await {
            if let Message::Text(text) = message {
                self.seen.push(serde_json::from_str(&text).expect("JSON"));
            }
        }
    }
}

/// A throwaway PostgreSQL database on the cluster `TEST_DATABASE_URL`
/// names (`./scripts/test.sh` starts it and sets the variable).
pub struct TestDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let admin = std::env::var("TEST_DATABASE_URL").expect(
            "TEST_DATABASE_URL names a PostgreSQL role that may create databases; \
             ./scripts/test.sh starts the local cluster and sets it",
        );
        let name = format!("tictactoe_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL at TEST_DATABASE_URL answers");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .expect("create a throwaway database");
        let (server, _) = admin
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL ends with /database");
        Self {
            url: format!("{server}/{name}"),
            admin,
            name,
        }
    }

    /// The database server's address (`host:port` in the URL).
    pub fn server_addr(&self) -> std::net::SocketAddr {
        let (_, after_user) = self.url.rsplit_once('@').expect("a URL with a user");
        let (host_port, _) = after_user.split_once('/').expect("a URL with a database");
        std::net::ToSocketAddrs::to_socket_addrs(host_port)
            .expect("a host and port")
            .next()
            .expect("an address")
    }

    /// The URL of this database through `addr` instead of its server's.
    pub fn url_through(&self, addr: std::net::SocketAddr) -> String {
        let (user, after_user) = self.url.rsplit_once('@').expect("a URL with a user");
        let (_, database) = after_user.split_once('/').expect("a URL with a database");
        format!("{user}@{addr}/{database}")
    }

    /// Drops the database (a run cut short leaves it for
    /// `scripts/postgres.sh` to drop).
    pub async fn drop_it(self) {
        use sqlx::Connection;
        if let Ok(mut connection) = sqlx::PgConnection::connect(&self.admin).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut connection)
            .await;
        }
    }
}
