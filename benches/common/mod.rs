//! Helpers shared by the benchmarks (not a bench target itself). The
//! servers, process guards and the byte-level c2s helpers come from the
//! dev-only `talkgroups-testkit` crate (testkit/), shared with the tests.
#![allow(dead_code)]

pub mod fakeserver;

use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(unused_imports)]
pub use talkgroups_testkit::wire::{find, read_until};
#[allow(unused_imports)]
pub use talkgroups_testkit::Guard;

/// Whether `cargo bench` started us (it passes `--bench`). `cargo test
/// --all-targets` (which CI runs) also builds and runs bench targets, in
/// debug and without `--bench`: the benches then skip themselves instead of
/// running for minutes.
pub fn skip_unless_cargo_bench(name: &str) -> bool {
    if std::env::args().any(|a| a == "--bench") {
        return false;
    }
    eprintln!("{name}: a benchmark; run it with `cargo bench --bench {name}` (skipped)");
    true
}

/// The talkgroups binary: `TALKGROUPS_BIN`, else the one Cargo built.
pub fn talkgroups_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TALKGROUPS_BIN") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_talkgroups"))
}

/// Creates and migrates the database with the binary itself (`talkgroups
/// check`), then writes one open group `lobby` and `members` members
/// `u1@localhost`… (state `member`, offline, nick and FID `uI`).
pub fn prepare_database(bin: &Path, config: &Path, db: &Path, members: usize) {
    // The binary creates and migrates the database.
    let check = Command::new(bin)
        .arg("check")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run talkgroups check");
    assert!(
        check.status.success(),
        "talkgroups check failed: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let tx = conn.transaction().unwrap();
    tx.execute(
        "INSERT OR IGNORE INTO groups(name, title, join_policy, created_at) VALUES ('lobby', 'Lobby', 'open', ?1)",
        [now],
    )
    .unwrap();
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO members(id, group_name, jid, state, admin, nick, fid, fid_changed,
                                     muted, stop_until, joined_at, last_seen, offline_seq)
                 VALUES (?1, 'lobby', ?2, 'member', 0, ?3, ?3, 0, 0, NULL, ?4, ?4, 0)",
            )
            .unwrap();
        for i in 1..=members {
            let nick = format!("u{i}");
            ins.execute(rusqlite::params![
                i as i64,
                format!("{nick}@localhost"),
                nick,
                now
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    drop(conn);
}

/// User and system CPU seconds of a process (from /proc/PID/stat).
pub fn cpu_secs(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    (get(11), get(12))
}

pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The anonymous part of the RSS (heap, stacks): without the binary's and
/// libraries' file-backed pages, which are shared page cache and the same
/// whatever the member count (≈ 10 MB of the ≈ 12 MB of an idle process).
pub fn rss_anon_kib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn parse_num(b: &[u8]) -> u64 {
    b.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0u64, |n, c| n * 10 + u64::from(c - b'0'))
}

/// Tiny xorshift: which member sends each message.
pub struct Rng(pub u64);
impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The `p`-quantile (0..1) of sorted nanoseconds, in milliseconds.
pub fn percentile_ms(sorted_ns: &[u64], p: f64) -> f64 {
    if sorted_ns.is_empty() {
        return 0.0;
    }
    let idx = ((sorted_ns.len() as f64 * p).ceil() as usize).clamp(1, sorted_ns.len()) - 1;
    sorted_ns[idx] as f64 / 1e6
}
