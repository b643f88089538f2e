//! Component-alone benchmark (issue 4, part 1).
//!
//! This program plays the XMPP server: it listens on a loopback port, starts
//! the real release `talkgroups` binary with a real config file and a real
//! SQLite database in a temporary directory, accepts its XEP-0114 handshake
//! (checking the SHA-1 digest), brings members online with presence stanzas
//! from their full JIDs, injects messages from random members and reads every
//! relayed copy. Nothing in it links the component's code: it only speaks
//! XML over TCP, like Prosody would.
//!
//! Runs (each against a fresh process and a fresh database):
//! - `fanout`: N members online (N = 10, 100, 1000, 10000), messages injected
//!   as fast as the component takes them, with a bounded number of messages
//!   in flight (so latency means something);
//! - `latency`: 100 members, a fixed offered load of 1000 msg/s;
//! - `startup`: 100 000 members in the database, time from process start to
//!   the group's first probe (and to the last one).
//!
//! Members are written into the database before start (after `talkgroups
//! check` has created and migrated it): one `groups` row and N `members`
//! rows in state `member`, offline (`offline_seq = 0`), nick and FID `uI`.
//!
//! Flood control is set out of the way (`relay.burst = 4000000000` per
//! `relay.window_secs = 1`), so the runs measure fan-out, not the limiter.
//! The keepalive is set to an hour: this fake server does not route the
//! component's self-ping.
//!
//! Usage: `cargo bench --bench fanout -- [all|fanout|latency|startup]
//! [--members N] [--messages M] [--rate R] [--sse READERS [--sse-nice N]]`:
//! `--sse` connects that many event-stream readers to the group before a
//! latency run, `--sse-nice` runs them at that nice value (19: as if they
//! were elsewhere, see `Readers`). One JSON line per run on
//! stdout; progress on stderr. `TALKGROUPS_BIN` overrides the binary.

mod common;

use common::fakeserver::{
    accept_component, accept_component_then, reader, setup, spawn, sync, Shared, GROUP, STALL,
};
use common::{cpu_secs, rss_kib, talkgroups_bin, Guard, Rng};
use std::io::Write;
use std::net::Shutdown;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// (members, messages) of the default fan-out runs: about 0.5 M relayed
/// copies each (fewer at 10 members, where per-message overhead dominates).
/// Copies in flight in the max-rate runs (messages = this / (members - 1)).
const WINDOW_COPIES: usize = 20_000;

const FANOUT_RUNS: &[(usize, usize)] = &[(10, 20_000), (100, 5_000), (1_000, 500), (10_000, 50)];

fn main() {
    if common::skip_unless_cargo_bench("fanout") {
        return;
    }
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut what = String::from("all");
    let mut members: Option<usize> = None;
    let mut messages: Option<usize> = None;
    let mut rate: Option<f64> = None;
    let mut window: Option<usize> = None;
    let mut sse = 0usize;
    let mut sse_nice = 0i32;
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> f64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--members" => members = Some(num("--members") as usize),
            "--messages" => messages = Some(num("--messages") as usize),
            "--rate" => rate = Some(num("--rate")),
            "--window" => window = Some(num("--window") as usize),
            "--sse" => sse = num("--sse") as usize,
            "--sse-nice" => sse_nice = num("--sse-nice") as i32,
            "all" | "fanout" | "latency" | "startup" => what = a,
            other => panic!("unknown argument {other:?}"),
        }
    }
    let bin = talkgroups_bin();
    eprintln!("talkgroups binary: {}", bin.display());
    if what == "all" || what == "fanout" {
        match members {
            Some(n) => fanout(
                &bin,
                n,
                messages.unwrap_or(500_000 / n.max(2)),
                None,
                window,
                Readers::default(),
            ),
            None => {
                for &(n, m) in FANOUT_RUNS {
                    fanout(
                        &bin,
                        n,
                        messages.unwrap_or(m),
                        None,
                        window,
                        Readers::default(),
                    );
                }
            }
        }
    }
    if what == "all" || what == "latency" {
        let rate = rate.unwrap_or(1000.0);
        fanout(
            &bin,
            members.unwrap_or(100),
            messages.unwrap_or((rate * 10.0) as usize),
            Some(rate),
            None,
            Readers {
                count: sse,
                nice: sse_nice,
            },
        );
    }
    if what == "all" || what == "startup" {
        startup(&bin, members.unwrap_or(100_000));
    }
}

/// The RSS of a talkgroups process with a group of two members, both
/// online, and nothing relayed: what any process costs before it holds
/// members (code pages, runtime, SQLite), the base for
/// `rss_kib_per_member_above_idle`.
fn idle_rss(bin: &Path) -> u64 {
    let s = setup(bin, "", 2);
    let sh = Shared::new(0, 1);
    let mut child = Guard::new(spawn(bin, &s));
    let pid = child.id();
    let mut sock = accept_component(&s.listener);
    let (tx, rx) = mpsc::channel();
    let rsock = sock.try_clone().unwrap();
    let reader_thread = thread::spawn(move || reader(rsock, sh, tx));
    sock.write_all(
        format!(
            "<presence from='u1@localhost/bench' to='{GROUP}'/>\
             <presence from='u2@localhost/bench' to='{GROUP}'/>"
        )
        .as_bytes(),
    )
    .unwrap();
    sync(&mut sock, &rx, 1);
    let rss = rss_kib(pid);
    child.stop();
    let _ = sock.shutdown(Shutdown::Both);
    let _ = reader_thread.join();
    rss
}

/// The event-stream readers of a run: how many, and the nice value of the
/// bench thread they run on.
#[derive(Clone, Copy, Default)]
struct Readers {
    count: usize,
    /// 19 stands in for readers on other machines (bots elsewhere, as
    /// in a deployment): they get only the CPU the component and the
    /// members leave, so what is left is the component's own cost of
    /// serving them. 0: they compete with it for these two cores.
    nice: i32,
}

/// One fan-out run. `rate`: fixed offered load (msg/s, open loop); `None`:
/// as fast as it goes, with at most `window` messages in flight.
/// `readers` of `GET /api/v1/groups/lobby/events` are connected
/// before the run (they read and count, never slow down).
fn fanout(
    bin: &Path,
    members: usize,
    messages: usize,
    rate: Option<f64>,
    window: Option<usize>,
    readers: Readers,
) {
    let sse = readers.count;
    assert!(members >= 2, "need at least two members");
    eprintln!(
        "fanout: {members} members, {messages} messages, {}",
        rate.map_or("max rate".to_string(), |r| format!("{r} msg/s offered"))
    );
    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0);
    let extra = if sse > 0 {
        format!(
            "[http]\nlisten = \"127.0.0.1:{http_port}\"\nmax_connections = {}\nmax_connections_per_ip = {}\nmax_connection_secs = 86400\n",
            sse + 64,
            sse + 64
        )
    } else {
        String::new()
    };
    let s = setup(bin, &extra, members);
    let token = if sse > 0 {
        let out = std::process::Command::new(bin)
            .args(["token", "add", "--scope", "group:lobby", "--config"])
            .arg(&s.config)
            .env("RUST_LOG", "warn")
            .output()
            .expect("talkgroups token add");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    } else {
        String::new()
    };
    let sh = Shared::new(messages, (members - 1) as u32);
    let mut child = Guard::new(spawn(bin, &s));
    let pid = child.id();
    let mut sock = accept_component(&s.listener);
    let (tx, rx) = mpsc::channel();
    let rsock = sock.try_clone().unwrap();
    let rsh = sh.clone();
    let reader_thread = thread::spawn(move || reader(rsock, rsh, tx));

    // Everyone comes online, one resource each.
    let setup_t = Instant::now();
    let mut batch = String::with_capacity(1 << 20);
    for i in 1..=members {
        batch.push_str(&format!(
            "<presence from='u{i}@localhost/bench' to='{GROUP}'/>"
        ));
        if batch.len() > 60_000 {
            sock.write_all(batch.as_bytes()).unwrap();
            batch.clear();
        }
    }
    sock.write_all(batch.as_bytes()).unwrap();
    sync(&mut sock, &rx, 1);
    let rss_online = rss_kib(pid);
    eprintln!(
        "  online in {:.0} ms; RSS {rss_online} KiB",
        setup_t.elapsed().as_secs_f64() * 1e3
    );
    // Event-stream readers: each on its own connection, all on one thread
    // of the bench (epoll, as a remote client's many connections would
    // be), so that the readers' own wake-ups take one thread of these two
    // cores, not a thousand.
    let sse_bytes = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicU64::new(0));
    let mut reader_threads = Vec::new();
    if sse > 0 {
        let (token, bytes, ready) = (token.clone(), sse_bytes.clone(), ready.clone());
        let nice = readers.nice;
        reader_threads.push(thread::spawn(move || {
            if nice != 0 {
                // This thread only (Linux: nice is per thread).
                // SAFETY: plain syscalls on the calling thread.
                let ok = unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice)
                } == 0;
                assert!(ok, "setpriority {nice}");
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("reader runtime");
            rt.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..sse {
                    let (token, bytes, ready) = (token.clone(), bytes.clone(), ready.clone());
                    tasks.spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let Ok(mut c) = tokio::net::TcpStream::connect(("127.0.0.1", http_port)).await
                        else {
                            return;
                        };
                        let req = format!(
                            "GET /api/v1/groups/lobby/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
                        );
                        if c.write_all(req.as_bytes()).await.is_err() {
                            return;
                        }
                        let mut buf = vec![0u8; 16384];
                        let mut first = true;
                        loop {
                            match c.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if first {
                                        first = false;
                                        ready.fetch_add(1, Ordering::Relaxed);
                                    }
                                    bytes.fetch_add(n as u64, Ordering::Relaxed);
                                }
                            }
                        }
                    });
                }
                while tasks.join_next().await.is_some() {}
            });
        }));
    }
    let deadline = Instant::now() + STALL;
    while (ready.load(Ordering::Relaxed) as usize) < sse {
        assert!(
            Instant::now() < deadline,
            "only {} event readers connected",
            ready.load(Ordering::Relaxed)
        );
        thread::sleep(Duration::from_millis(20));
    }
    let rss_readers = rss_kib(pid);
    if sse > 0 {
        eprintln!(
            "  {sse} event readers: RSS {rss_readers} KiB ({:.1} KiB per reader)",
            rss_readers.saturating_sub(rss_online) as f64 / sse as f64
        );
    }

    // At most this many messages in flight (about WINDOW_COPIES copies).
    let window = window.unwrap_or((WINDOW_COPIES / (members - 1)).clamp(1, 10_000));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let body = "The quick brown fox jumps over the lazy dog; a typical chat line of about a hundred bytes.";
    let start_ns = sh.now_ns();
    let mut last_progress = Instant::now();
    let mut out = String::with_capacity(1 << 16);
    let mut seq = 0usize;
    while seq < messages {
        match rate {
            Some(r) => {
                let due = Duration::from_secs_f64(seq as f64 / r);
                let now = Duration::from_nanos(sh.now_ns() - start_ns);
                if due > now {
                    thread::sleep(due - now);
                }
            }
            None => {
                while seq as u64 - sh.done_msgs.load(Ordering::Acquire) >= window as u64 {
                    match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(_) => last_progress = Instant::now(),
                        Err(_) if last_progress.elapsed() > STALL => {
                            panic!("stalled: {}", progress(&sh, seq))
                        }
                        Err(_) => {}
                    }
                }
            }
        }
        // Write as many as are due / allowed in one go.
        out.clear();
        let first = seq;
        loop {
            seq += 1;
            let from = rng.below(members) + 1;
            out.push_str(&format!(
                "<message from='u{from}@localhost/bench' to='{GROUP}' type='chat' id='b{seq}'>\
                 <body>{body} #{seq}</body></message>"
            ));
            let more = seq < messages
                && match rate {
                    Some(_) => false,
                    None => (seq as u64 - sh.done_msgs.load(Ordering::Acquire)) < window as u64,
                }
                && out.len() < 60_000;
            if !more {
                break;
            }
        }
        let t = sh.now_ns();
        for s in first + 1..=seq {
            sh.sent_ns[s].store(t, Ordering::Relaxed);
        }
        sock.write_all(out.as_bytes()).unwrap();
    }
    // Wait for the last copies.
    let mut last_done = sh.done_msgs.load(Ordering::Acquire);
    let mut last_change = Instant::now();
    while sh.done_msgs.load(Ordering::Acquire) < messages as u64 {
        let _ = rx.recv_timeout(Duration::from_millis(100));
        let d = sh.done_msgs.load(Ordering::Acquire);
        if d != last_done {
            last_done = d;
            last_change = Instant::now();
        } else if last_change.elapsed() > STALL {
            panic!("stalled: {}", progress(&sh, seq));
        }
    }
    let end_ns = (1..=messages)
        .map(|s| sh.done_ns[s].load(Ordering::Relaxed))
        .max()
        .unwrap();
    let rss = rss_kib(pid);
    let anon = common::rss_anon_kib(pid);
    if let Some(path) = std::env::var_os("SMAPS_DUMP") {
        let _ = std::fs::copy(format!("/proc/{pid}/smaps"), path);
    }
    let (cpu_user, cpu_sys) = cpu_secs(pid);
    let rss_end = rss_kib(pid);
    child.stop();
    for r in reader_threads {
        let _ = r.join();
    }
    let _ = sock.shutdown(Shutdown::Both);
    let _ = reader_thread.join();
    let idle = idle_rss(bin);
    // Every message completed with exactly `expected` copies.
    let copies = messages as u64 * u64::from(sh.expected);
    let secs = (end_ns - start_ns) as f64 / 1e9;
    let mut lat: Vec<u64> = (1..=messages)
        .map(|s| sh.done_ns[s].load(Ordering::Relaxed) - sh.sent_ns[s].load(Ordering::Relaxed))
        .collect();
    if let Some(path) = std::env::var_os("LAT_DUMP") {
        let mut out = String::new();
        for s in 1..=messages {
            let sent = sh.sent_ns[s].load(Ordering::Relaxed);
            out.push_str(&format!(
                "{} {}\n",
                sent,
                sh.done_ns[s].load(Ordering::Relaxed) - sent
            ));
        }
        let _ = std::fs::write(path, out);
    }
    lat.sort_unstable();
    let pct = |p: f64| common::percentile_ms(&lat, p);
    eprintln!(
        "  {copies} copies in {secs:.3} s ({:.0} msg/s in, {:.1} MB read), window {}; \
         talkgroups CPU since start: {cpu_user:.2} s user, {cpu_sys:.2} s sys",
        messages as f64 / secs,
        sh.bytes.load(Ordering::Relaxed) as f64 / 1e6,
        if rate.is_some() {
            "open".to_string()
        } else {
            window.to_string()
        }
    );
    let kind = if rate.is_some() { "latency" } else { "fanout" };
    let mut offered = rate.map_or(String::new(), |r| format!(",\"offered_msg_per_sec\":{r}"));
    if sse > 0 {
        offered.push_str(&format!(
            ",\"sse_readers\":{sse},\"sse_nice\":{},\"sse_bytes\":{},\"rss_kib_before_readers\":{rss_online},\
             \"rss_kib_with_readers\":{rss_readers},\"rss_kib_end\":{rss_end},\"kib_per_reader\":{:.2}",
            readers.nice,
            sse_bytes.load(Ordering::Relaxed),
            rss_readers.saturating_sub(rss_online) as f64 / sse as f64
        ));
    }
    println!(
        "{{\"bench\":\"{kind}\",\"members\":{members},\"messages\":{messages}{offered},\
         \"delivered_per_sec\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\
         \"rss_kib\":{rss},\"rss_kib_per_member\":{:.2},\
         \"rss_anon_kib\":{anon},\"rss_anon_kib_per_member\":{:.2},\
         \"rss_idle_kib\":{idle},\"rss_kib_per_member_above_idle\":{:.2}}}",
        copies as f64 / secs,
        pct(0.50),
        pct(0.99),
        rss as f64 / members as f64,
        anon as f64 / members as f64,
        rss.saturating_sub(idle) as f64 / members as f64
    );
}

fn progress(sh: &Shared, sent: usize) -> String {
    format!(
        "sent {sent}, complete {}, copies read {}",
        sh.done_msgs.load(Ordering::Relaxed),
        sh.copies.load(Ordering::Relaxed)
    )
}

/// Start-up with `members` in the database: from spawning the process to
/// the first probe read (and to the last of the `members` probes).
fn startup(bin: &Path, members: usize) {
    eprintln!("startup: {members} members in the database");
    let s = setup(bin, "", members);
    let sh = Shared::new(0, 1);
    let t0 = Instant::now();
    let mut child = Guard::new(spawn(bin, &s));
    let pid = child.id();
    let sock = accept_component(&s.listener);
    let handshake_ms = t0.elapsed().as_secs_f64() * 1e3;
    let (tx, _rx) = mpsc::channel();
    let rsock = sock.try_clone().unwrap();
    let rsh = sh.clone();
    let reader_thread = thread::spawn(move || reader(rsock, rsh, tx));
    let deadline = Instant::now() + STALL;
    while sh.probes.load(Ordering::Relaxed) < members as u64 {
        assert!(
            Instant::now() < deadline,
            "only {} probes",
            sh.probes.load(Ordering::Relaxed)
        );
        thread::sleep(Duration::from_millis(1));
    }
    // `sh.t0` was taken just before `t0`; correct for the difference.
    let offset = t0.duration_since(sh.t0).as_nanos() as f64;
    let first = (sh.first_probe_ns.load(Ordering::Relaxed) as f64 - offset) / 1e6;
    let last = (sh.last_probe_ns.load(Ordering::Relaxed) as f64 - offset) / 1e6;
    let rss = rss_kib(pid);
    eprintln!("  handshake done at {handshake_ms:.1} ms");
    println!(
        "{{\"bench\":\"startup\",\"members\":{members},\"first_probe_ms\":{first:.1},\
         \"all_probes_ms\":{last:.1},\"rss_kib\":{rss},\"rss_kib_per_member\":{:.2}}}",
        rss as f64 / members as f64
    );
    child.stop();
    let _ = sock.shutdown(Shutdown::Both);
    let _ = reader_thread.join();

    // Memory of the loaded members alone: a second start, measured while
    // the component waits for our stream header (database loaded, core
    // built, no stanza generated yet).
    let mut child = Guard::new(spawn(bin, &s));
    let pid = child.id();
    let mut loaded = 0;
    let sock = accept_component_then(&s.listener, || {
        // Let the RSS settle.
        let mut last = u64::MAX;
        for _ in 0..50 {
            loaded = rss_kib(pid);
            if loaded == last {
                break;
            }
            last = loaded;
            thread::sleep(Duration::from_millis(100));
        }
    });
    eprintln!("  RSS with the members loaded, before the handshake: {loaded} KiB");
    println!(
        "{{\"bench\":\"startup_rss\",\"members\":{members},\"rss_kib_loaded\":{loaded},\
         \"rss_kib_per_member_loaded\":{:.2}}}",
        loaded as f64 / members as f64
    );
    child.stop();
    let _ = sock.shutdown(Shutdown::Both);
}
