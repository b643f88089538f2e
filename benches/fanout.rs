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
//! [--members N] [--messages M] [--rate R]`. One JSON line per run on
//! stdout; progress on stderr. `TALKGROUPS_BIN` overrides the binary.

mod common;

use common::{cpu_secs, find, parse_num, read_until, rss_kib, talkgroups_bin, Guard, Rng};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const JID: &str = "groups.localhost";
const GROUP: &str = "lobby@groups.localhost";
const SECRET: &str = "bench-secret";
const STREAM_ID: &str = "bench-stream-1";
/// Giving up on a run after this long without progress.
const STALL: Duration = Duration::from_secs(60);

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
            ),
            None => {
                for &(n, m) in FANOUT_RUNS {
                    fanout(&bin, n, messages.unwrap_or(m), None, window);
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
        );
    }
    if what == "all" || what == "startup" {
        startup(&bin, members.unwrap_or(100_000));
    }
}

/// A temporary directory with a config and a migrated database holding one
/// open group `lobby` with `members` offline members `u1@localhost`…
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    listener: TcpListener,
}

fn setup(bin: &Path, members: usize) -> Setup {
    let dir = tempfile::Builder::new()
        .prefix("talkgroups-bench-")
        .tempdir()
        .expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let db = dir.path().join("talkgroups.sqlite3");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"# Written by benches/fanout.rs.
[component]
jid = "{JID}"
secret = "{SECRET}"
server = "127.0.0.1:{port}"
# The bench server does not route the self-ping; keep it from firing.
keepalive_secs = 3600

[storage]
database = "{db}"

[relay]
# Flood control out of the way: this measures fan-out, not the limiter.
burst = 4000000000
window_secs = 1

[[group]]
name = "lobby"
title = "Lobby"
join = "open"
"#,
            db = db.display()
        ),
    )
    .unwrap();
    common::prepare_database(bin, &config, &db, members);
    Setup {
        dir,
        config,
        listener,
    }
}

fn spawn(bin: &Path, s: &Setup) -> Child {
    let log = std::fs::File::create(s.dir.path().join("talkgroups.log")).unwrap();
    Command::new(bin)
        .arg("--config")
        .arg(&s.config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start talkgroups")
}

/// The server side of XEP-0114: read the stream header, answer with ours,
/// check the handshake digest, accept it.
fn accept_component(listener: &TcpListener) -> TcpStream {
    accept_component_then(listener, || {})
}

/// [`accept_component`], calling `on_header` once the component's stream
/// header has arrived and before answering it (the component has loaded its
/// database by then and waits for us).
fn accept_component_then(listener: &TcpListener, on_header: impl FnOnce()) -> TcpStream {
    listener.set_nonblocking(false).expect("blocking listener");
    let (mut sock, _) = listener.accept().expect("accept the component");
    sock.set_nodelay(true).unwrap();
    let mut buf = Vec::new();
    let header_end = read_until(&mut sock, &mut buf, |b| {
        let s = find(b, b"<stream:stream")?;
        find(&b[s..], b">").map(|e| s + e + 1)
    });
    let header = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    assert!(header.contains("jabber:component:accept"), "{header}");
    buf.drain(..header_end);
    on_header();
    sock.write_all(
        format!(
            "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
             xmlns='jabber:component:accept' id='{STREAM_ID}' from='{JID}'>"
        )
        .as_bytes(),
    )
    .unwrap();
    let hs_end = read_until(&mut sock, &mut buf, |b| {
        find(b, b"</handshake>").map(|e| e + "</handshake>".len())
    });
    let hs = String::from_utf8_lossy(&buf[..hs_end]).into_owned();
    let digest = hs
        .trim_end_matches("</handshake>")
        .rsplit('>')
        .next()
        .unwrap()
        .to_ascii_lowercase();
    let expected = xmpp_parsers::component::Handshake::from_stream_id_and_password(
        STREAM_ID.to_owned(),
        SECRET,
    )
    .data
    .unwrap();
    let expected: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(digest, expected, "wrong handshake digest");
    sock.write_all(b"<handshake/>").unwrap();
    sock
}

/// What the reader thread reports.
enum Ev {
    /// The `bench-sync-N` iq came back.
    Sync(u64),
    /// Every copy of message `seq` has been read.
    Done,
}

/// Shared between the writer (main thread) and the reader thread.
struct Shared {
    t0: Instant,
    /// Per history sequence number (1-based): when the message was written
    /// and when its last copy was read (ns since `t0`).
    sent_ns: Vec<AtomicU64>,
    done_ns: Vec<AtomicU64>,
    /// Copies expected per message (online members minus the sender).
    expected: u32,
    copies: AtomicU64,
    done_msgs: AtomicU64,
    probes: AtomicU64,
    first_probe_ns: AtomicU64,
    last_probe_ns: AtomicU64,
    /// Everything read, in bytes.
    bytes: AtomicU64,
}

impl Shared {
    fn new(messages: usize, expected: u32) -> Arc<Shared> {
        let v = |n| (0..=n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Arc::new(Shared {
            t0: Instant::now(),
            sent_ns: v(messages),
            done_ns: v(messages),
            expected,
            copies: AtomicU64::new(0),
            done_msgs: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            first_probe_ns: AtomicU64::new(0),
            last_probe_ns: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        })
    }

    fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }
}

/// Reads everything the component sends until EOF, looking only at
/// attributes: `id='tgm-SEQ-…'` (a relayed copy of message SEQ),
/// `id='bench-sync-N'` (our sync iq's answer) and `type='probe'`. No XML
/// parser: the bench must read faster than the component writes.
fn reader(mut sock: TcpStream, sh: Arc<Shared>, tx: mpsc::Sender<Ev>) {
    let mut counts = vec![0u32; sh.sent_ns.len()];
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        sh.bytes.fetch_add(n as u64, Ordering::Relaxed);
        buf.extend_from_slice(&chunk[..n]);
        let consumed = scan(&buf, &sh, &mut counts, &tx);
        buf.drain(..consumed);
    }
}

/// Processes complete attributes in `buf`; returns how many bytes are done.
fn scan(buf: &[u8], sh: &Shared, counts: &mut [u32], tx: &mpsc::Sender<Ev>) -> usize {
    let mut i = 0;
    let mut copies = 0u64;
    let keep = |i: usize, p: usize| i.max(p.saturating_sub(8));
    let consumed = loop {
        let Some(off) = buf[i..].iter().position(|&b| b == b'=') else {
            break keep(i, buf.len());
        };
        let p = i + off;
        let Some(&q) = buf.get(p + 1) else {
            break keep(i, p);
        };
        if q != b'"' && q != b'\'' {
            i = p + 1;
            continue;
        }
        let Some(len) = buf[p + 2..].iter().position(|&b| b == q) else {
            break keep(i, p);
        };
        let value = &buf[p + 2..p + 2 + len];
        let name = &buf[..p];
        if name.ends_with(b" id") {
            if let Some(rest) = value.strip_prefix(b"tgm-") {
                copies += 1;
                let seq = parse_num(rest) as usize;
                if seq < counts.len() {
                    counts[seq] += 1;
                    if counts[seq] == sh.expected {
                        sh.done_ns[seq].store(sh.now_ns(), Ordering::Relaxed);
                        sh.done_msgs.fetch_add(1, Ordering::Release);
                        let _ = tx.send(Ev::Done);
                    }
                }
            } else if let Some(rest) = value.strip_prefix(b"bench-sync-") {
                let _ = tx.send(Ev::Sync(parse_num(rest)));
            }
        } else if name.ends_with(b" type") && value == b"probe" {
            let now = sh.now_ns();
            if sh.probes.fetch_add(1, Ordering::Relaxed) == 0 {
                sh.first_probe_ns.store(now, Ordering::Relaxed);
            }
            sh.last_probe_ns.store(now, Ordering::Relaxed);
        }
        i = p + 3 + len;
    };
    if copies > 0 {
        sh.copies.fetch_add(copies, Ordering::Relaxed);
    }
    consumed
}

/// Sends an iq ping to the group and waits for its answer: everything
/// written before has been handled (and committed) by then.
fn sync(sock: &mut TcpStream, rx: &mpsc::Receiver<Ev>, n: u64) {
    sock.write_all(
        format!(
            "<iq type='get' id='bench-sync-{n}' from='u1@localhost/bench' to='{GROUP}'>\
             <ping xmlns='urn:xmpp:ping'/></iq>"
        )
        .as_bytes(),
    )
    .unwrap();
    loop {
        match rx.recv_timeout(STALL) {
            Ok(Ev::Sync(got)) if got == n => return,
            Ok(_) => {}
            Err(e) => panic!("no answer to sync ping {n}: {e}"),
        }
    }
}

/// The RSS of a talkgroups process with a group of two members, both
/// online, and nothing relayed: what any process costs before it holds
/// members (code pages, runtime, SQLite), the base for
/// `rss_kib_per_member_above_idle`.
fn idle_rss(bin: &Path) -> u64 {
    let s = setup(bin, 2);
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

/// One fan-out run. `rate`: fixed offered load (msg/s, open loop); `None`:
/// as fast as it goes, with at most `window` messages in flight.
fn fanout(bin: &Path, members: usize, messages: usize, rate: Option<f64>, window: Option<usize>) {
    assert!(members >= 2, "need at least two members");
    eprintln!(
        "fanout: {members} members, {messages} messages, {}",
        rate.map_or("max rate".to_string(), |r| format!("{r} msg/s offered"))
    );
    let s = setup(bin, members);
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
    child.stop();
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
    let offered = rate.map_or(String::new(), |r| format!(",\"offered_msg_per_sec\":{r}"));
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
    let s = setup(bin, members);
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
