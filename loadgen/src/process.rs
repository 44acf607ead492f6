//! The server's CPU time, memory and file writes, read from `/proc` when
//! it runs on this machine: found by the port it listens on, or named with
//! `--server-pid`.

use std::fs;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on
/// every Linux architecture this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// A reading of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// User + system CPU time so far, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory now, in bytes.
    pub rss_bytes: u64,
    /// Highest resident memory so far, in bytes.
    pub peak_rss_bytes: u64,
    /// What it wrote so far (`None`: `/proc/<pid>/io` cannot be read).
    pub writes: Option<Writes>,
}

/// Bytes and calls of `write`-like system calls so far (`wchar`, `syscw`
/// of `/proc/<pid>/io`): files (a database, its journal, its WAL), not
/// sockets, which are written with `sendto`. Unlike CPU time, they do not
/// change with the machine's speed, so they show a change to what a move
/// writes on a machine whose speed drifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writes {
    pub bytes: u64,
    pub calls: u64,
}

/// The processes of `pids` together (a cluster's nodes): CPU and memory
/// summed; `None` if any cannot be read, or there are none.
pub fn sample_all(pids: &[u32]) -> Option<Sample> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().try_fold(
        Sample {
            cpu_seconds: 0.0,
            rss_bytes: 0,
            peak_rss_bytes: 0,
            writes: Some(Writes { bytes: 0, calls: 0 }),
        },
        |sum, pid| {
            let one = sample(*pid)?;
            Some(Sample {
                cpu_seconds: sum.cpu_seconds + one.cpu_seconds,
                rss_bytes: sum.rss_bytes + one.rss_bytes,
                peak_rss_bytes: sum.peak_rss_bytes + one.peak_rss_bytes,
                writes: sum.writes.zip(one.writes).map(|(sum, one)| Writes {
                    bytes: sum.bytes + one.bytes,
                    calls: sum.calls + one.calls,
                }),
            })
        },
    )
}

/// Messages the servers at `bases` published over NATS so far (a
/// cluster's `cluster_messages_published_total`, from `/metrics`); `None`
/// for a single server, or when one does not answer.
pub async fn nats_published(http: &reqwest::Client, bases: &[String]) -> Option<u64> {
    let mut total = 0;
    for base in bases {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        total += text
            .lines()
            .find_map(|line| line.strip_prefix("cluster_messages_published_total "))
            .and_then(|value| value.trim().parse::<f64>().ok())? as u64;
    }
    Some(total)
}

/// Reads `/proc/<pid>`; `None` when there is no such process (or no /proc).
pub fn sample(pid: u32) -> Option<Sample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |n: usize| fields.get(n)?.parse::<u64>().ok();
    // Fields 14 and 15 (utime, stime) are 12 and 13 after the name.
    let cpu_seconds = (ticks(11)? + ticks(12)?) as f64 / TICKS_PER_SECOND;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kilobytes = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse::<u64>().ok())
    };
    Some(Sample {
        cpu_seconds,
        rss_bytes: kilobytes("VmRSS:")? * 1024,
        peak_rss_bytes: kilobytes("VmHWM:")? * 1024,
        writes: writes(pid),
    })
}

fn writes(pid: u32) -> Option<Writes> {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let count = |name: &str| {
        io.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|number| number.trim().parse::<u64>().ok())
    };
    Some(Writes {
        bytes: count("wchar:")?,
        calls: count("syscw:")?,
    })
}

/// The process listening on TCP `port` on this machine, if it can be seen.
pub fn listening_on(port: u16) -> Option<u32> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit_once(':')?.1;
                    let listening = *fields.get(3)? == "0A";
                    let inode = fields.get(9)?;
                    (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                        .then(|| format!("socket:[{inode}]"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if inodes.is_empty() {
        return None;
    }
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let descriptors = fs::read_dir(entry.path().join("fd")).ok()?;
        descriptors
            .flatten()
            .any(|fd| {
                fs::read_link(fd.path()).is_ok_and(|target| {
                    inodes
                        .iter()
                        .any(|inode| target.as_os_str() == inode.as_str())
                })
            })
            .then_some(pid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_can_be_read_and_found_by_its_port() {
        let me = sample(std::process::id()).expect("/proc/self");
        assert!(me.rss_bytes > 0 && me.peak_rss_bytes >= me.rss_bytes);
        let file = std::env::temp_dir().join(format!("loadgen-writes-{}", std::process::id()));
        std::fs::write(&file, [0u8; 1000]).expect("writes");
        let _ = std::fs::remove_file(&file);
        let after = sample(std::process::id()).expect("/proc/self");
        let (before, after) = (me.writes.expect("io"), after.writes.expect("io"));
        assert!(after.bytes >= before.bytes + 1000 && after.calls > before.calls);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(listening_on(port), Some(std::process::id()));
        assert!(sample(u32::MAX).is_none());
    }
}
