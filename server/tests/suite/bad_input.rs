//! Bad input gets a clear 4xx with `{"error": {"code", "message"}}` and
//! changes nothing; nobody acts for anyone else.

use std::time::Duration;

use crate::common::{Client, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn refused((status, body): (StatusCode, Value), expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

async fn raw(client: &Client, path: &str, body: &str) -> (StatusCode, Value) {
    let response = client
        .http
        .post(format!("{}{path}", client.base))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn signed_up(server: &TestServer, alias: &str) -> Client {
    let client = server.client();
    client.sign_up(alias).await;
    client
}

#[tokio::test]
async fn malformed_json_is_400() {
    let server = TestServer::start(&[]).await;
    let client = signed_up(&server, "alice").await;
    refused(
        raw(&client, "/api/commands", "{not json").await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );
    refused(
        raw(&client, "/api/commands", r#"{"order": {}}"#).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );
    refused(
        raw(&client, "/api/commands", r#"{"command": 7}"#).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );
    refused(
        raw(&client, "/api/queries", r#"{"query": {"payload": {}}}"#).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );
}

#[tokio::test]
async fn an_unknown_type_is_400() {
    let server = TestServer::start(&[]).await;
    let client = signed_up(&server, "alice").await;
    refused(
        client.command("LaunchRocket", json!({})).await,
        StatusCode::BAD_REQUEST,
        "UNKNOWN_TYPE",
    );
    // Events and internal commands are not commands clients may send.
    refused(
        client.command("GameEnded", json!({})).await,
        StatusCode::BAD_REQUEST,
        "UNKNOWN_TYPE",
    );
    refused(
        client.query("CreateGame", json!({})).await,
        StatusCode::BAD_REQUEST,
        "UNKNOWN_TYPE",
    );
}

#[tokio::test]
async fn a_missing_field_or_a_wrong_type_is_400() {
    let server = TestServer::start(&[]).await;
    let client = signed_up(&server, "alice").await;
    refused(
        client.command("CreateGame", json!({})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYLOAD",
    );
    refused(
        client
            .command("CreateGame", json!({ "gameId": "not-a-uuid" }))
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYLOAD",
    );
    refused(
        client
            .command(
                "PlaceMark",
                json!({ "gameId": Uuid::new_v4(), "x": "one", "y": 0 }),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYLOAD",
    );
    refused(
        client
            .command(
                "CreateGame",
                json!({ "gameId": Uuid::new_v4(), "extra": true }),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYLOAD",
    );
    refused(
        client.query("GetGame", json!({ "gameId": 12 })).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYLOAD",
    );
}

#[tokio::test]
async fn an_invalid_alias_is_refused_in_words() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let answer = client
        .command(
            "CreateUser",
            json!({ "userId": client.user, "alias": "   " }),
        )
        .await;
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("alias is empty"),
        "{}",
        answer.1
    );
    refused(answer, StatusCode::BAD_REQUEST, "INVALID_PAYLOAD");
    let long = "x".repeat(25);
    refused(
        client
            .command(
                "CreateUser",
                json!({ "userId": client.user, "alias": long }),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYLOAD",
    );
    // Nothing was created.
    refused(
        client
            .query("GetUser", json!({ "userId": client.user }))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn a_command_without_a_session_is_401() {
    let server = TestServer::start(&[]).await;
    let stranger = server.client();
    refused(
        stranger
            .command("CreateGame", json!({ "gameId": Uuid::new_v4() }))
            .await,
        StatusCode::UNAUTHORIZED,
        "NO_SESSION",
    );
}

#[tokio::test]
async fn acting_for_someone_else_is_403_and_changes_nothing() {
    let server = TestServer::start(&[]).await;
    let mut alice = signed_up(&server, "alice").await;
    let mallory = signed_up(&server, "mallory").await;
    alice.connect().await;
    let game = Uuid::new_v4();
    refused(
        mallory
            .command(
                "CreateGame",
                json!({ "gameId": game, "playerId": alice.user }),
            )
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    refused(
        mallory
            .command(
                "JoinGame",
                json!({ "gameId": game, "playerId": alice.user }),
            )
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    refused(
        mallory
            .command(
                "InviteUser",
                json!({ "gameId": game, "inviterId": alice.user, "invitedId": mallory.user }),
            )
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    refused(
        mallory
            .command(
                "PlaceMark",
                json!({ "gameId": game, "playerId": alice.user, "x": 0, "y": 0 }),
            )
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    refused(
        alice.query("GetGame", json!({ "gameId": game })).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    // Naming yourself is fine.
    let (status, _) = alice
        .command(
            "CreateGame",
            json!({ "gameId": game, "playerId": alice.user }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn nobody_takes_over_an_existing_user_id() {
    let server = TestServer::start(&[]).await;
    let alice = signed_up(&server, "alice").await;
    let mallory = server.client();
    refused(
        mallory
            .command(
                "CreateUser",
                json!({ "userId": alice.user, "alias": "alice2" }),
            )
            .await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    refused(
        mallory
            .command("CreateGame", json!({ "gameId": Uuid::new_v4() }))
            .await,
        StatusCode::UNAUTHORIZED,
        "NO_SESSION",
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let server = TestServer::start(&["--max-body-bytes", "1024"]).await;
    let client = signed_up(&server, "alice").await;
    let alias = "a".repeat(4096);
    refused(
        client
            .command(
                "CreateUser",
                json!({ "userId": client.user, "alias": alias }),
            )
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
}

#[tokio::test]
async fn too_many_requests_is_429_per_session() {
    let server =
        TestServer::start(&["--rate-limit-burst", "5", "--rate-limit-per-sec", "0.01"]).await;
    let greedy = signed_up(&server, "greedy").await;
    // The session's bucket holds five: five pass, the sixth is refused.
    for _ in 0..5 {
        assert_eq!(
            greedy.query("GetUsersOnline", json!({})).await.0,
            StatusCode::OK
        );
    }
    refused(
        greedy.query("GetUsersOnline", json!({})).await,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
    );
    // Someone else is not slowed down.
    let (status, _) = signed_up(&server, "patient")
        .await
        .query("GetUsersOnline", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_events_endpoint_is_off_without_a_token_and_guarded_with_one() {
    let event = json!({ "event": { "type": "UsersOnlineUpdated", "payload": { "users": [], "total": 0 } } });
    let off = TestServer::start(&[]).await;
    refused(
        off.client().post("/api/events", event.clone()).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );

    let on = TestServer::start(&["--service-token", "s3cret"]).await;
    let client = on.client();
    refused(
        client.post("/api/events", event.clone()).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let send = |token: &'static str| {
        client
            .http
            .post(format!("{}/api/events", client.base))
            .bearer_auth(token)
            .json(&event)
            .send()
    };
    assert_eq!(send("wrong").await.unwrap().status(), StatusCode::FORBIDDEN);
    let accepted = send("s3cret").await.unwrap();
    assert_eq!(
        accepted.status(),
        StatusCode::OK,
        "{:?}",
        accepted.text().await
    );
}

#[tokio::test]
async fn a_cross_site_socket_is_refused() {
    let server = TestServer::start(&[]).await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/api/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(refused.is_err());
    let mut request = format!("ws://{}/api/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", format!("http://{}", server.addr).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}

#[tokio::test]
async fn a_plain_get_of_the_socket_is_400_in_words() {
    let server = TestServer::start(&[]).await;
    let url = format!("http://{}/api/ws", server.addr);
    let answer = reqwest::get(&url).await.unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "INVALID_PAYLOAD");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upgrade"),
        "{body}"
    );
}

#[tokio::test]
async fn garbage_from_one_client_does_not_touch_another_clients_game() {
    let server = TestServer::start(&[]).await;
    let mut alice = signed_up(&server, "alice").await;
    let bob = signed_up(&server, "bob").await;
    alice.connect().await;
    let game = Uuid::new_v4();
    for (kind, payload) in [
        ("CreateGame", json!({ "gameId": game })),
        ("JoinGame", json!({ "gameId": game })),
    ] {
        assert_eq!(alice.command(kind, payload).await.0, StatusCode::OK);
    }
    alice.wait_for("PlayerJoinedAGame").await;
    for junk in [
        "",
        "null",
        "[]",
        "{\"command\":{\"type\":\"PlaceMark\",\"payload\":{\"gameId\":null}}}",
        "\u{0}\u{1}",
    ] {
        let status = raw(&bob, "/api/commands", junk).await.0;
        assert!(status.is_client_error(), "{junk:?} gave {status}");
    }
    let (_, view) = alice.query("GetGame", json!({ "gameId": game })).await;
    assert_eq!(view["stage"], "WAITING");
    assert_eq!(view["version"], 2);
}

/// A POST from `client`'s cookie jar with these headers and body.
async fn post_with(
    client: &Client,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (StatusCode, Value) {
    let mut request = client
        .http
        .post(format!("{}{path}", client.base))
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Whether `game` exists, asked by `client`.
async fn game_exists(client: &Client, game: Uuid) -> bool {
    client.query("GetGame", json!({ "gameId": game })).await.0 == StatusCode::OK
}

#[tokio::test]
async fn a_command_posted_as_text_plain_is_415_and_changes_nothing() {
    let server = TestServer::start(&[]).await;
    let victim = signed_up(&server, "victim").await;
    let game = Uuid::new_v4();
    let command = json!({ "command": { "type": "CreateGame", "payload": { "gameId": game } } });
    refused(
        post_with(
            &victim,
            "/api/commands",
            &[("content-type", "text/plain".into())],
            &command.to_string(),
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!game_exists(&victim, game).await, "no game was made");
}

#[tokio::test]
async fn a_command_from_another_origin_is_403_and_changes_nothing() {
    let server = TestServer::start(&[]).await;
    let victim = signed_up(&server, "victim").await;
    let game = Uuid::new_v4();
    let command = json!({ "command": { "type": "CreateGame", "payload": { "gameId": game } } });
    let sibling_port = format!("http://127.0.0.1:{}", server.addr.port() + 1);
    refused(
        post_with(
            &victim,
            "/api/commands",
            &[
                ("content-type", "application/json".into()),
                ("origin", sibling_port),
            ],
            &command.to_string(),
        )
        .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!game_exists(&victim, game).await, "no game was made");

    // The site's own origin is fine.
    let own = format!("http://{}", server.addr);
    let (status, body) = post_with(
        &victim,
        "/api/commands",
        &[("content-type", "application/json".into()), ("origin", own)],
        &command.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn made_up_session_cookies_share_the_address_bucket() {
    let server =
        TestServer::start(&["--rate-limit-burst", "5", "--rate-limit-per-sec", "0.01"]).await;
    let client = server.client();
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let user = Uuid::new_v4();
        let command = json!({ "command": { "type": "CreateUser", "payload": { "userId": user, "alias": "sybil" } } });
        let cookie = format!("session={}", Uuid::new_v4().simple());
        let (status, _) = post_with(
            &client,
            "/api/commands",
            &[
                ("content-type", "application/json".into()),
                ("cookie", cookie),
            ],
            &command.to_string(),
        )
        .await;
        statuses.push(status);
    }
    let accepted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(
        accepted, 5,
        "the address's burst, not one per cookie: {statuses:?}"
    );
    assert!(
        statuses[5..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS)
    );
}

#[tokio::test]
async fn invisible_and_spoofing_aliases_are_refused_and_length_is_what_shows() {
    let server = TestServer::start(&[]).await;
    let invisible = [
        "\u{200B}\u{200B}\u{200B}",
        "\u{FEFF}",
        "\u{3164}",
        "\u{2800}",
        "\u{202E}evil",
        "ad\u{200B}min",
    ];
    for alias in invisible {
        let client = server.client();
        refused(
            client
                .command(
                    "CreateUser",
                    json!({ "userId": client.user, "alias": alias }),
                )
                .await,
            StatusCode::BAD_REQUEST,
            "INVALID_PAYLOAD",
        );
        assert_eq!(
            client
                .query("GetUser", json!({ "userId": client.user }))
                .await
                .0,
            StatusCode::NOT_FOUND,
            "{alias:?} made no user"
        );
    }
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
    for shown_as_24 in [family.repeat(24), "e\u{301}".repeat(24)] {
        let client = server.client();
        let (status, body) = client
            .command(
                "CreateUser",
                json!({ "userId": client.user, "alias": shown_as_24 }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let client = server.client();
    let (status, body) = client
        .command(
            "CreateUser",
            json!({ "userId": client.user, "alias": "e\u{301}".repeat(25) }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("25 characters")),
        "{body}"
    );
}

#[tokio::test]
async fn signing_up_again_as_oneself_is_a_retry_not_a_rename() {
    let server = TestServer::start(&[]).await;
    let mut alice = signed_up(&server, "alice").await;
    alice.connect().await;
    let again = alice
        .command(
            "CreateUser",
            json!({ "userId": alice.user, "alias": "alice" }),
        )
        .await;
    assert_eq!(again, (StatusCode::OK, json!({ "accepted": true })));
    let renamed = alice
        .command(
            "CreateUser",
            json!({ "userId": alice.user, "alias": "queen" }),
        )
        .await;
    refused(renamed.clone(), StatusCode::CONFLICT, "CONFLICT");
    assert!(
        renamed.1["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"alice\"")),
        "{}",
        renamed.1
    );
    let (_, me) = alice
        .query("GetUser", json!({ "userId": alice.user }))
        .await;
    assert_eq!(me["alias"], "alice", "nothing changed");
    // Neither answer sent a refusal of its own to the socket.
    alice.drain(Duration::from_millis(200)).await;
    assert!(
        !alice.seen.iter().any(|f| f["type"] == "UserErrorOccurred"),
        "{:?}",
        alice.seen
    );
}
