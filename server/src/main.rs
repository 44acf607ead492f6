//! Starts the server: flags, logs, listener, serve until SIGINT or SIGTERM.

use clap::Parser;
use server::{Config, serve, shutdown};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

mod logs;

/// jemalloc, which hands freed memory back to the system: under glibc's
/// malloc a burst of 2,000 requests left the server 13 MB larger for good,
/// though the heap was back to its size before within a second (measured
/// in docs/performance.md, "Memory after a burst").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, which it reads at its start: freed pages go back to
/// the system once unused for 3 s rather than its default 10, so what a
/// burst of arrivals left is returned before the server settles (19,600
/// players arriving left 500 to 700 bytes a connection more 10 s later on
/// one thread; no change to the CPU per move: docs/performance.md, "One
/// thread on one core").
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: JemallocConf = JemallocConf(c"dirty_decay_ms:3000".as_ptr());

/// A C string's address, as jemalloc reads `malloc_conf`.
#[repr(transparent)]
struct JemallocConf(*const std::ffi::c_char);

// SAFETY: it points at a constant string, never written.
unsafe impl Sync for JemallocConf {}

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    match runtime(config.worker_threads()) {
        Ok(runtime) => runtime.block_on(run(config)),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Tokio's runtime for `threads` threads. On one, its single-threaded
/// scheduler: the multi-threaded one with a single worker still pays for
/// what only several workers need (a shared queue, cross-thread wake-ups,
/// its scheduling statistics), 4% of the server's CPU per move at 1,000
/// games on one core (docs/performance.md, "One thread on one core").
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder.enable_all().build()
}

async fn run(config: Config) -> std::process::ExitCode {
    let name = config
        .node_name
        .clone()
        .unwrap_or_else(|| config.addr.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(logs::Named::new(&name))
        .init();
    raise_open_files_limit();
    // Purge freed pages on a thread of jemalloc's own, so that an idle
    // server shrinks too (otherwise it purges only as it allocates).
    if let Err(error) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(%error, "jemalloc's background purging is off");
    }

    let listener = match TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(addr = %config.addr, %error, "cannot listen");
            return std::process::ExitCode::FAILURE;
        }
    };
    let stop = CancellationToken::new();
    tokio::spawn(shutdown::cancel_on_signal(stop.clone()));
    match serve(listener, config, stop).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %with_causes(&error), "server failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Raises the open-files limit to its hard limit: every connection is a
/// file, and the server caps connections under the limit it runs with.
fn raise_open_files_limit() {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => tracing::info!(
            open_files = now,
            before = before.unwrap_or(now),
            "open-files limit raised to its hard limit"
        ),
        Err(error) => tracing::warn!(%error, "cannot raise the open-files limit"),
    }
}

/// An error and each of its causes, `: `-separated.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::runtime::RuntimeFlavor;

    #[test]
    fn jemalloc_reads_our_options() {
        // SAFETY: `opt.dirty_decay_ms` is an `ssize_t`, read once.
        let decay: isize = unsafe { tikv_jemalloc_ctl::raw::read(b"opt.dirty_decay_ms\0") }
            .expect("jemalloc answers");
        assert_eq!(decay, 3000);
    }

    #[test]
    fn one_thread_runs_the_single_threaded_scheduler() {
        let flavor = |threads| runtime(threads).unwrap().handle().runtime_flavor();
        assert_eq!(flavor(1), RuntimeFlavor::CurrentThread);
        assert_eq!(flavor(2), RuntimeFlavor::MultiThread);
    }
}
