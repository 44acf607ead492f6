//! A short run against a real server in this process, so the load
//! generator cannot rot: 20 games of each pattern, none may fail.

use clap::Parser;
use loadgen::{Args, Pattern, run};
use tokio_util::sync::CancellationToken;

async fn server() -> (String, CancellationToken) {
    let config = server::Config::try_parse_from([
        "server",
        "--in-memory",
        "--rate-limit-per-sec",
        "100000",
        "--rate-limit-burst",
        "100000",
    ])
    .expect("flags parse");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = CancellationToken::new();
    tokio::spawn(server::serve(listener, config, stop.clone()));
    (url, stop)
}

/// A quiet run against `url`, with a time limit, and these flags.
fn flags(url: &str, more: &[&str]) -> Args {
    let base = [
        "loadgen",
        "--url",
        url,
        "--time-limit-secs",
        "60",
        "--quiet",
    ];
    Args::parse_from(base.iter().chain(more))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_games_of_each_pattern_play_without_an_error() {
    let (url, stop) = server().await;
    for (pattern, moves) in [(Pattern::Win, 5), (Pattern::Draw, 9), (Pattern::Mixed, 7)] {
        let args = Args {
            pattern,
            ..flags(&url, &["--games", "5", "--total", "20"])
        };
        let summary = run(&args).await;
        assert!(summary.clean(), "{summary}");
        assert_eq!(summary.games, 20, "{summary}");
        assert_eq!(summary.moves, 20 * moves, "{summary}");
        // A move crosses HTTP, the bus and a WebSocket: never 50 µs or less
        // (a stale board taken for the new one would read as about zero).
        let fastest_half = summary.latency_ms.p50.expect("latencies");
        assert!(fastest_half > 0.05, "{summary}");
        assert_eq!(
            summary.server_pids,
            [std::process::id()],
            "found the server by its port"
        );
        let per_move = summary.server_cpu_us_per_move.expect("CPU per move");
        assert!(per_move > 0.0, "{summary}");
        assert_eq!(summary.nats_messages_per_move, None, "one server, no NATS");
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn games_whose_commands_go_on_the_socket_play_without_an_error() {
    let (url, stop) = server().await;
    let args = flags(
        &url,
        &[
            "--games",
            "5",
            "--total",
            "20",
            "--commands-over",
            "socket",
            "--pattern",
            "win",
        ],
    );
    let summary = run(&args).await;
    assert!(summary.clean(), "{summary}");
    assert_eq!(summary.games, 20, "{summary}");
    assert_eq!(summary.moves, 20 * 5, "{summary}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_arrive_and_leave_and_each_is_counted() {
    let (url, stop) = server().await;
    let summary = run(&flags(&url, &["--arrivals", "30"])).await;
    assert!(summary.clean(), "{summary}");
    assert_eq!(summary.arrivals, 30, "{summary}");
    assert_eq!(summary.games, 0, "{summary}");
    assert!(
        summary.arrivals_per_sec.is_some_and(|rate| rate > 0.0),
        "{summary}"
    );
    assert!(summary.server_cpu_us_per_arrival.is_some(), "{summary}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_games_wait_for_their_first_move_and_stay_connected() {
    let (url, stop) = server().await;
    let summary = run(&flags(&url, &["--games", "10", "--idle-secs", "0.5"])).await;
    assert!(summary.clean(), "{summary}");
    assert_eq!(summary.idle_games, 10);
    assert!(summary.rss_per_connection_bytes.is_some(), "{summary}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_games_keep_to_the_rate_asked() {
    let (url, stop) = server().await;
    let args = flags(
        &url,
        &[
            "--games",
            "4",
            "--moves-per-sec",
            "40",
            "--duration-secs",
            "1",
        ],
    );
    let summary = run(&args).await;
    assert!(summary.clean(), "{summary}");
    // Unpaced, four games make thousands of moves a second here.
    assert!(summary.moves_per_sec < 60.0, "{summary}");
    assert!(summary.moves > 0, "{summary}");
    // The rate while every pair played is reported too, paced as well.
    let window = summary.window_moves_per_sec;
    assert!(
        window.is_some_and(|rate| rate > 0.0 && rate < 60.0),
        "{summary}"
    );
    stop.cancel();
}
