//! The tic-tac-toe server: wiring of configuration, the bus, routes, the
//! event WebSocket and shutdown. `main.rs` only parses flags and calls [`serve`].
#![forbid(unsafe_code)]

pub mod accept;
mod api_calls;
pub mod body_limit;
pub mod client_address;
pub mod cluster;
pub mod config;
pub mod connection_caps;
pub mod connection_clock;
pub mod event_routing;
pub mod live_games;
pub mod live_sockets;
pub mod lobby_news;
pub mod metrics;
mod on_disk_first;
pub mod presence_roll;
pub mod queue;
pub mod rate_limit;
pub mod routes;
pub mod same_site;
pub mod shutdown;
pub mod socket;
pub mod state;
pub mod storage;
mod tally;

use std::net::SocketAddr;
use std::sync::Arc;

use app::api::endpoints::ApiContext;
use app::api::sessions::Sessions;
use bus::{Bus, BusBuilder, Runtime, TracingHook};
use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::AppState;

use crate::event_routing::Hub;
use crate::rate_limit::RateLimiter;
use crate::routes::Operations;

/// The name cargo-leptos gives the WASM, JS and CSS bundle (`name` in the
/// workspace's `[[workspace.metadata.leptos]]`).
pub const BUNDLE_NAME: &str = "tictactoe";

/// Why the server could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database could not be opened, migrated or read.
    #[error("the store failed")]
    Store(#[from] bus::StoreError),
    /// The game's handlers do not make a bus (a bug).
    #[error("the handlers do not make a bus")]
    Handlers(#[from] bus::BuildError),
    /// The bus refused to start or to answer at start-up.
    #[error("the bus failed")]
    Bus(#[from] bus::BusError),
    /// The listener failed.
    #[error("the listener failed")]
    Io(#[from] std::io::Error),
    /// The NATS URL or its options are unusable (an unreachable server is
    /// not an error: the node connects when it can).
    #[error("cannot connect to NATS")]
    Nats(#[from] async_nats::ConnectError),
}

/// Where state lives: the bus's store, and the sessions.
pub struct Storage {
    /// The bus's store.
    pub store: Arc<dyn bus::Store>,
    /// The sessions, restored.
    pub sessions: Sessions,
    /// The shared database, on a cluster's node.
    pub cluster: Option<Arc<storage::PostgresStore>>,
    /// What leaves the process passes it first (the store's commits on disk).
    pub barrier: storage::Barrier,
}

/// Opens the store the configuration names: memory with `--in-memory`,
/// PostgreSQL with `--database-url`, else the embedded database under
/// `--data-dir`.
pub async fn open_storage(config: &Config, node: u64) -> Result<Storage, bus::StoreError> {
    if config.in_memory {
        return Ok(Storage {
            store: Arc::new(bus::MemoryStore::new()),
            sessions: Sessions::default(),
            cluster: None,
            barrier: storage::Barrier::default(),
        });
    }
    if let Some(url) = &config.database_url {
        let mut database = storage::PostgresStore::open(url).await?;
        let known = database.sessions().await?;
        tracing::info!(sessions = known.len(), "PostgreSQL database open");
        if config.nats_url.is_some() {
            // A cluster's nodes share presence too: it stays in the database.
            database = database.join_cluster(node).await?;
            let database = Arc::new(database);
            return Ok(Storage {
                sessions: Sessions::restore(known, database.clone()),
                store: database.clone(),
                cluster: Some(database),
                barrier: storage::Barrier::default(),
            });
        }
        let database = Arc::new(database);
        return Ok(Storage {
            sessions: Sessions::restore(known, database.clone()),
            store: with_presence_in_memory(database),
            cluster: None,
            barrier: storage::Barrier::default(),
        });
    }
    let database = Arc::new(
        storage::SqliteStore::open_with(&config.data_dir, domain::history::ARCHIVED_STATES).await?,
    );
    let known = database.sessions().await?;
    tracing::info!(
        path = %config.data_dir.join(storage::DATABASE_FILE).display(),
        sessions = known.len(),
        "embedded database open"
    );
    Ok(Storage {
        sessions: Sessions::restore(known, database.clone()),
        barrier: database.barrier(),
        store: with_presence_in_memory(database),
        cluster: None,
    })
}

/// Presence is reset at every start: a durable store need not write it.
fn with_presence_in_memory(durable: Arc<dyn bus::Store>) -> Arc<dyn bus::Store> {
    Arc::new(storage::ephemeral::WithEphemeral::new(
        durable,
        domain::presence::EPHEMERAL_STATES,
    ))
}

/// How often a cluster node looks for due schedules no node holds (another
/// node's, a dead one's among them): how late such a timer may fire.
const SHARED_SCHEDULE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Starts the bus with the game's handlers on `store`, the hub listening to it.
pub async fn start_bus(
    config: &Config,
    store: Arc<dyn bus::Store>,
    hub: Arc<Hub>,
) -> Result<Bus, ServeError> {
    let mut handlers = BusBuilder::new();
    domain::register(&mut handlers, config.rules());
    let registry = handlers.build()?;
    let mut runtime = Runtime::new();
    if config.nats_url.is_some() {
        // Other nodes make, cancel and fire schedules in the same tables.
        runtime = runtime.shared_schedules(SHARED_SCHEDULE_POLL);
    }
    let runtime = runtime
        // A cluster's relay must see a dead node's events again (another
        // node republishes its outbox); one node's sockets are gone with
        // it, and a resume after a restart reads the game from the store.
        .unhandled_in_outbox(config.nats_url.is_some())
        .store(store)
        .hook(hub)
        .hook(Arc::new(metrics::MetricsHook::default()))
        .hook(Arc::new(TracingHook));
    let bus = Bus::start(registry, runtime).await?;
    if bus.set_aside_at_start() > 0 {
        tracing::warn!(
            count = bus.set_aside_at_start(),
            "stored effects this release cannot read were set aside (table set_aside)"
        );
    }
    Ok(bus)
}

/// This process as a node: its id (in connection ids and a cluster's
/// tables) and whether it can take commands now.
pub struct Node {
    /// New at every start.
    pub id: u64,
    /// Always, for a single server; while NATS and the database answer,
    /// for a cluster's node.
    pub ready: app::api::endpoints::Readiness,
    /// Its sockets of signed-in users, as presence should know them.
    pub roll: Arc<presence_roll::PresenceRoll>,
}

/// What the pages, the API and the sockets reach the store through.
pub struct Backend {
    /// The bus.
    pub bus: Bus,
    /// The sessions, restored.
    pub sessions: Sessions,
    /// Passed before anything leaves the process.
    pub barrier: storage::Barrier,
}

/// Builds the shared state for `config`, whose server stops when `shutdown`
/// is cancelled.
pub fn state(
    config: &Config,
    listening_on: SocketAddr,
    backend: Backend,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    node: Node,
) -> AppState {
    let Backend {
        bus,
        sessions,
        barrier,
    } = backend;
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("DEV" | "dev" | "development") => Env::DEV,
        _ => Env::PROD,
    };
    let leptos = LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_addr(listening_on)
        .env(env)
        .build();
    AppState::new(state::Shared {
        leptos,
        api: ApiContext {
            bus,
            sessions,
            service_token: config
                .service_token
                .as_deref()
                .filter(|token| !token.is_empty())
                .map(Arc::from),
            https: config.https,
            ready: node.ready,
        },
        hub,
        live: live_sockets::LiveSockets::new(live_sockets::SocketCaps {
            per_user: config.max_sockets_per_user,
            per_anonymous_address: config.max_anonymous_sockets_per_address,
        }),
        shutdown,
        ws_ping_interval: config.ws_ping_interval(),
        presence_grace: std::time::Duration::from_millis(config.presence_grace_ms),
        limiter: Arc::new(RateLimiter::new(
            config.rate_limit_per_sec,
            config.rate_limit_burst,
        )),
        body_limit: body_limit::BodyLimit {
            max_bytes: config.max_body_bytes,
            timeout: config.body_timeout(),
        },
        instance: node.id,
        presence_roll: node.roll,
        site: same_site::Site::new(config.public_url.as_deref()),
        barrier,
    })
}

/// The least time the hub keeps a game no socket here shows after its last
/// event.
const ROUTE_IDLE: std::time::Duration = std::time::Duration::from_secs(120);

/// How long a game's route may sit idle before the hub forgets it: a live
/// game has an event every turn timeout, an ended one its removal after
/// the cleanup delay, so twice both is long over.
fn route_idle(config: &Config) -> std::time::Duration {
    let live = std::time::Duration::from_millis(config.turn_timeout_ms + config.cleanup_delay_ms);
    ROUTE_IDLE.max(live * 2)
}

/// Sends the hub's held-back lobby events every lobby interval, wakes the
/// sockets for the lobby's frames a slice at a time over it, and sweeps
/// the hub's idle games now and then.
async fn flush_lobby(hub: Arc<Hub>, route_idle: std::time::Duration, shutdown: CancellationToken) {
    let mut last_sweep = tokio::time::Instant::now();
    by_slices(hub.lobby_interval(), LOBBY_SLICES, &shutdown, |slice| {
        hub.flush_lobby_slice(slice, LOBBY_SLICES);
        if last_sweep.elapsed() >= route_idle / 4 {
            last_sweep = tokio::time::Instant::now();
            hub.sweep(route_idle);
        }
    })
    .await;
}

/// Calls `each` with slices `0..slices` in turn, one every `round /
/// slices` (a whole round of them every `round`), until `shutdown`.
async fn by_slices(
    round: std::time::Duration,
    slices: u64,
    shutdown: &CancellationToken,
    mut each: impl FnMut(u64),
) {
    let slice_every = (round / slices as u32).max(std::time::Duration::from_millis(1));
    let mut every = tokio::time::interval(slice_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for slice in (0..slices).cycle() {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => each(slice),
        }
    }
}

/// Slices of the sockets the lobby's flush wakes in turn, a slice every
/// eighth of the lobby interval (see [`Hub::flush_lobby_slice`]).
const LOBBY_SLICES: u64 = 8;

/// Slices of the sockets the ping round takes in turn, so that an
/// interval's pings are spread over it rather than sent at once.
const PING_SLICES: u64 = 8;

/// The event sockets' round: every `ping_every` each socket looks whether
/// its peer is still there (pinging it after an interval of silence), a
/// slice of them at a time; at shutdown, every socket is told to close.
/// One timer for all the sockets instead of one each: see `socket/live.rs`.
async fn keep_sockets(hub: Arc<Hub>, ping_every: std::time::Duration, shutdown: CancellationToken) {
    by_slices(ping_every, PING_SLICES, &shutdown, |slice| {
        hub.tick(slice, PING_SLICES);
    })
    .await;
    hub.shut_down();
}

/// Serves on `listener` until `shutdown` is cancelled, then lets open
/// requests finish for up to the configured grace period.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    let hub = Arc::new(Hub::new(
        config.ws_queue_frames,
        std::time::Duration::from_millis(config.lobby_interval_ms),
    ));
    // This process, in connection ids and in a cluster's tables: new at
    // every start (a restarted node is a new one; the old one's leftovers
    // are another node's to clean up).
    let node = uuid::Uuid::new_v4().as_u64_pair().0;
    let mut storage = open_storage(&config, node).await?;
    if let Some(effect_type) = &config.abort_after_commit_of {
        tracing::warn!(
            effect_type,
            "fault injection: the process aborts after this commit"
        );
        storage.store = Arc::new(storage::fault::AbortAfterCommit::new(
            storage.store,
            effect_type.clone(),
            storage.barrier.clone(),
        ));
    }
    let store: Arc<dyn bus::Store> = Arc::new(metrics::TimedCommits::new(storage.store));
    let bus = start_bus(&config, store.clone(), hub.clone()).await?;
    let roll = Arc::new(presence_roll::PresenceRoll::default());
    let (nats, ready) = match (&config.nats_url, storage.cluster) {
        (Some(url), Some(database)) => {
            let reconnected = Arc::new(tokio::sync::Notify::new());
            let client =
                cluster::nats::connect(url, &format!("{node:016x}"), reconnected.clone()).await?;
            hub.set_relay(cluster::relay::start(
                client.clone(),
                hub.clone(),
                bus.clone(),
                reconnected,
                shutdown.clone(),
            ));
            let membership = cluster::membership::Membership::new(
                database,
                cluster::membership::NodeSockets {
                    node,
                    roll: roll.clone(),
                    hub: hub.clone(),
                },
            );
            let ready = membership.readiness(client.clone());
            tokio::spawn(membership.run(
                bus.clone(),
                std::time::Duration::from_millis(config.presence_grace_ms),
                shutdown.clone(),
            ));
            (Some(client), ready)
        }
        _ => {
            // No socket is open yet: whoever the store remembers as online
            // is not. (In a cluster the other nodes' sockets are.)
            bus.publish(domain::PresenceReset {})?;
            (None, app::api::endpoints::always_ready())
        }
    };
    bus.settle().await;
    let games = bus.query(domain::GetGameRoutes {}).await?;
    hub.seed(
        games
            .into_iter()
            .map(|game| (game.game_id, game.players, game.version)),
    );
    tokio::spawn(flush_lobby(
        hub.clone(),
        route_idle(&config),
        shutdown.clone(),
    ));
    let live = live_games::at_start(&bus).await;
    tokio::spawn(live_games::tell(
        hub.clone(),
        bus.clone(),
        live,
        shutdown.clone(),
    ));
    tokio::spawn(metrics::upkeep(shutdown.clone()));
    tokio::spawn(keep_sockets(
        hub.clone(),
        config.ws_ping_interval(),
        shutdown.clone(),
    ));
    let limits = connection_limits(&config);
    let state = state(
        &config,
        addr,
        Backend {
            bus: bus.clone(),
            sessions: storage.sessions,
            barrier: storage.barrier.clone(),
        },
        hub,
        shutdown.clone(),
        Node {
            id: node,
            ready,
            roll,
        },
    );
    let barrier = storage.barrier;
    let app = routes::router(
        state,
        Operations {
            store,
            caps: limits.caps.clone(),
            nats,
        },
    );
    tracing::info!(
        max_connections = limits.caps.total(),
        max_connections_per_address = config.max_connections_per_address,
        "listening on http://{addr}"
    );
    let graceful = accept::serve_connections(listener, app, limits, shutdown.clone());
    let grace = config.shutdown_grace();
    tokio::select! {
        () = graceful => {},
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "requests still open after the grace period; stopping anyway");
        }
    }
    bus.shutdown().await;
    // What the last moments committed, though nobody was told of it.
    if let Err(error) = barrier.pass() {
        tracing::error!(%error, "the store's last commits were not written");
    }
    Ok(())
}

/// The connection caps and timeouts of `config`, the total kept under the
/// process's open-files limit.
fn connection_limits(config: &Config) -> accept::Limits {
    let open_files = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _hard)) => soft,
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-files limit; assuming 1024");
            1024
        }
    };
    let (total, lowered) = connection_caps::total_for(open_files, config.max_connections);
    if let Some(why) = lowered {
        tracing::warn!("{why}");
    }
    accept::Limits {
        caps: connection_caps::ConnectionCaps::new(total, config.max_connections_per_address),
        timeouts: config.timeouts(),
        proxies: Arc::new(config.trusted_proxies.clone()),
    }
}
