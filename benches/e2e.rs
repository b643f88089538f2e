//! End-to-end benchmark (issue 4, part 2): talkgroups side by side with
//! the server's own MUC, through one real Prosody (or ejabberd).
//!
//! Starts a private Prosody on free loopback ports with its own temporary
//! directory (c2s, the `groups.localhost` component for talkgroups and a
//! `conference.localhost` MUC component), starts the release talkgroups
//! binary against it, logs N real client connections in over c2s (SASL
//! PLAIN, resource binding, initial presence), joins every client to a
//! talkgroups group and to a MUC room, then sends the same message stream
//! (random senders, at most a few thousand copies in flight) through each
//! and reads every copy on every connection.
//!
//! Set-up shortcuts, so 200 accounts take no time: accounts are written as
//! Prosody `internal_plain` account files (the launchers are the testkit's,
//! testkit/, shared with the integration tests), each user's roster already holds
//! `lobby@groups.localhost` with subscription `both`, and the talkgroups
//! database already holds the members (as in benches/fanout.rs). Logging
//! in then sends each user's presence to the group, as a real login does.
//! Flood control of talkgroups is set out of the way (`relay.burst`).
//!
//! A third phase is a reference, not a contender: the bench itself connects
//! to Prosody as a second component (`raw.localhost`) and writes, per
//! message, the N - 1 copies talkgroups would write (same shape and size,
//! pre-formatted, no work at all per copy). It shows what Prosody allows any
//! component to deliver, i.e. how much of the gap to the MUC is the
//! component's and how much the server's. A fourth phase does the same with
//! minimal copies (no id, no `<nick/>`: marker `zb<seq>q`).
//!
//! Counting: a copy is recognised by a marker in its body (`zt<seq>q` for
//! talkgroups, `zm<seq>q` for the MUC, `zr<seq>q` for the raw component). MUC reflects each message to its
//! sender too; that echo is waited for (it is part of the MUC's work) but
//! not counted: both rates are copies delivered to the *other* members per
//! second. Latency: from writing the message on the sender's socket to the
//! last copy read.
//!
//! `--server ejabberd` runs the same against a private ejabberd (own config
//! dir, spool, logs and Erlang distribution port; started through
//! `ejabberdctl foreground`, stopped by signalling that VM only). There the
//! accounts are registered through `mod_http_api` and each client
//! joins the talkgroups group as a user does (presence `subscribe`, then
//! approving the group's `subscribe`); lines are `e2e_ejabberd…`.
//!
//! `--multicast` runs talkgroups with `component.multicast` (XEP-0033: one
//! stanza per message, every other member a `bcc` address) through the
//! server's multicast service: ejabberd's mod_multicast, or on Prosody
//! contrib/prosody's mod_talkgroups_multicast (loaded from this source
//! tree); lines are `e2e_xep0033` / `e2e_ejabberd_xep0033`, and the
//! reference phases are skipped. Without it, a last reference phase has the
//! bench itself send one multicast stanza per message (`…_raw_multicast`).
//!
//! `--rate R` sends the talkgroups and MUC streams open loop instead, R
//! messages a second evenly spaced whatever the system does (the default
//! closed loop sends the next message as soon as one is complete, which
//! lets the MUC's messages travel in bunches; BENCHMARKS.md, session 6).
//! Its lines (`…_fixed_rate`) give each system's delivered rate, p99 and
//! the server's CPU share at that one offered load; no reference phases.
//!
//! The closed loop runs `--rounds K` rounds (default 3) of M messages
//! through each system, alternating which goes first: the line's rates and
//! `ratio` are over all rounds, `round_ratios` each round's paired ratio.
//! Before the rounds the bench waits until no client has read a presence
//! for 4 s (the login burst's presence traffic is over), then runs
//! `--warmup W` unmeasured rounds of M/2 messages through each system
//! (default 1 in the closed loop, 0 with `--rate`).
//!
//! Usage: `cargo bench --bench e2e -- [--server prosody|ejabberd|both]
//! [--members N] [--messages M] [--rounds K] [--warmup W] [--multicast]
//! [--rate R]`
//! (default: Prosody, N = 50 and 200). One JSON line per N; CPU use of the
//! server and talkgroups during each phase on stderr. Needs `prosody` (`PROSODY_BIN`) or `ejabberdctl`
//! (`EJABBERDCTL_BIN`) in PATH.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::RangeInclusive;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{cpu_secs, find, parse_num, read_until, talkgroups_bin, Guard, Rng};
use talkgroups_testkit::{wire, Kind, Options, Server, XmppServer};

const COMPONENT: &str = "groups.localhost";
const RAW_COMPONENT: &str = "raw.localhost";
const GROUP: &str = "lobby@groups.localhost";
const ROOM: &str = "lobby@conference.localhost";
const SECRET: &str = "bench-e2e-secret";
const PASSWORD: &str = "bench-pass";
/// Copies in flight (messages = this / members, at least 2).
const WINDOW_COPIES: usize = 4_000;
const STALL: Duration = Duration::from_secs(60);

fn main() {
    if common::skip_unless_cargo_bench("e2e") {
        return;
    }
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut members: Option<usize> = None;
    let mut messages: Option<usize> = None;
    let mut kinds = vec![Kind::Prosody];
    let mut multicast = false;
    let mut rate: Option<usize> = None;
    let mut rounds: Option<usize> = None;
    let mut warmup: Option<usize> = None;
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--members" => members = Some(num("--members")),
            "--multicast" => multicast = true,
            "--messages" => messages = Some(num("--messages")),
            "--rate" => rate = Some(num("--rate")).filter(|&r| r > 0),
            "--rounds" => rounds = Some(num("--rounds").max(1)),
            "--warmup" => warmup = Some(num("--warmup")),
            "--server" => {
                kinds = match args.next().as_deref() {
                    Some("prosody") => vec![Kind::Prosody],
                    Some("ejabberd") => vec![Kind::Ejabberd],
                    Some("both") => vec![Kind::Prosody, Kind::Ejabberd],
                    other => panic!("--server prosody|ejabberd|both, not {other:?}"),
                }
            }
            other => panic!("unknown argument {other:?}"),
        }
    }
    let bin = talkgroups_bin();
    let runs: Vec<usize> = members.map_or(vec![50, 200], |n| vec![n]);
    for kind in kinds {
        for &n in &runs {
            // About 50 000 copies per system.
            let plan = Plan {
                members: n,
                messages: messages.unwrap_or((50_000 / (n - 1)).max(10)),
                multicast,
                rate,
                // Closed loop: three rounds by default (see `e2e`).
                rounds: rounds.unwrap_or(if rate.is_some() { 1 } else { 3 }),
                // Closed loop: one unmeasured round first (see `e2e`).
                warmup: warmup.unwrap_or(if rate.is_some() { 0 } else { 1 }),
            };
            e2e(&bin, kind, plan);
        }
    }
}

/// The run's private server, from the testkit (own temp dir, free loopback
/// ports): c2s, the talkgroups component `groups.localhost` and the raw
/// reference component `raw.localhost` (one listener on Prosody; ejabberd
/// routes every host of a listener to every connection on it, so one each
/// there), a MUC on `conference.localhost`, XEP-0033 on
/// `multicast.localhost` without an address limit, no rate limits or
/// shapers ([`Options::bench`]). The `members` accounts `u1`… are written
/// as Prosody account files with the group already on their rosters, or
/// registered through ejabberd's HTTP API.
fn start_server(kind: Kind, members: usize) -> Server {
    let options = Options::bench(&[(COMPONENT, SECRET), (RAW_COMPONENT, SECRET)])
        .with_muc("conference.localhost")
        .with_startup_timeout(Duration::from_secs(120));
    let server = Server::start_with(kind, &options);
    for i in 1..=members {
        let user = format!("u{i}");
        match &server {
            Server::Prosody(p) => {
                p.write_account(&user, PASSWORD);
                p.write_roster(&user, &[GROUP]);
            }
            Server::Ejabberd(e) => e.register(&user, PASSWORD),
        }
    }
    server
}

fn start_talkgroups(bin: &Path, dir: &Path, p: &Server, members: usize, multicast: bool) -> Guard {
    let db = dir.join("talkgroups.sqlite3");
    let config = dir.join("talkgroups.toml");
    std::fs::write(
        &config,
        format!(
            r#"# Written by benches/e2e.rs.
[component]
jid = "{COMPONENT}"
secret = "{SECRET}"
server = "127.0.0.1:{port}"
{multicast}
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
            port = p.component_port_for(COMPONENT),
            db = db.display(),
            // The bench's servers let a component name any number of
            // recipients (ejabberd: mod_multicast limits: remote: message:
            // infinite; Prosody: multicast_max_addresses = 100000).
            multicast = if multicast {
                "multicast = \"multicast.localhost\"\nmulticast_batch = 10000\n"
            } else {
                ""
            }
        ),
    )
    .unwrap();
    common::prepare_database(bin, &config, &db, members);
    let log_path = dir.join("talkgroups.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Guard::new(
        Command::new(bin)
            .arg("--config")
            .arg(&config)
            .env(
                "RUST_LOG",
                std::env::var("E2E_TALKGROUPS_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start talkgroups"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains("connected to the server")
    {
        assert!(
            Instant::now() < deadline,
            "talkgroups did not connect: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Logs `u{i}@localhost/bench` in, sends initial presence and joins the MUC
/// room; returns the socket once the room confirmed the join. On ejabberd
/// it joins the talkgroups group the way a user does: presence
/// `subscribe`, then approving the group's own `subscribe`.
fn login(kind: Kind, port: u16, i: usize) -> TcpStream {
    let (mut s, mut buf) = wire::login(port, "localhost", &format!("u{i}"), PASSWORD, "bench");
    // Initial presence (goes to the talkgroups group, a roster contact),
    // then the MUC join without history; wait for our own occupant presence.
    s.write_all(b"<presence/>").unwrap();
    if kind == Kind::Ejabberd {
        s.write_all(format!("<presence type='subscribe' to='{GROUP}'/>").as_bytes())
            .unwrap();
        read_until(&mut s, &mut buf, |b| {
            find(b, b"type='subscribe'").map(|p| p + 16)
        });
        s.write_all(format!("<presence type='subscribed' to='{GROUP}'/>").as_bytes())
            .unwrap();
    }
    s.write_all(
        format!(
            "<presence to='{ROOM}/u{i}'><x xmlns='http://jabber.org/protocol/muc'>\
             <history maxstanzas='0'/></x></presence>"
        )
        .as_bytes(),
    )
    .unwrap();
    read_until(&mut s, &mut buf, |b| {
        find(b, b"code='110'")
            .or_else(|| find(b, b"code=\"110\""))
            .map(|p| p + 10)
    });
    s
}

/// Copy counters of one system (talkgroups or MUC), per message seq.
struct Track {
    t0: Instant,
    counts: Vec<AtomicU32>,
    sent_ns: Vec<AtomicU64>,
    done_ns: Vec<AtomicU64>,
    /// Copies read per message before it counts as complete.
    expected: u32,
    done_msgs: AtomicU64,
}

impl Track {
    fn new(t0: Instant, messages: usize, expected: u32) -> Track {
        let v = |n| (0..=n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Track {
            t0,
            counts: (0..=messages).map(|_| AtomicU32::new(0)).collect(),
            sent_ns: v(messages),
            done_ns: v(messages),
            expected,
            done_msgs: AtomicU64::new(0),
        }
    }

    /// Latencies of messages `seqs` (all complete), sorted.
    fn latencies(&self, seqs: RangeInclusive<usize>) -> Vec<u64> {
        let mut lat: Vec<u64> = seqs
            .map(|s| {
                self.done_ns[s].load(Ordering::Relaxed) - self.sent_ns[s].load(Ordering::Relaxed)
            })
            .collect();
        lat.sort_unstable();
        lat
    }

    fn copy(&self, seq: usize) {
        let Some(c) = self.counts.get(seq) else {
            return;
        };
        // Seq 0 is the warm-up: counted, never "complete".
        if c.fetch_add(1, Ordering::AcqRel) + 1 == self.expected && seq > 0 {
            self.done_ns[seq].store(self.t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
            self.done_msgs.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The three systems' counters: talkgroups, MUC, raw component.
struct Tracks {
    tg: Track,
    muc: Track,
    raw: Track,
    raw_bare: Track,
    raw_multicast: Track,
    /// Until the measured phases start: when a client last read a presence
    /// (ns since `tg.t0`), to wait for the login burst's presence traffic
    /// to end (see `settle`).
    watch_presence: AtomicBool,
    last_presence_ns: AtomicU64,
}

/// Reads one client connection until EOF, counting `zt<seq>q`, `zm<seq>q`
/// and `zr<seq>q`.
fn reader(mut sock: TcpStream, tracks: Arc<Tracks>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if tracks.watch_presence.load(Ordering::Relaxed)
            && chunk[..n].windows(9).any(|w| w == b"<presence")
        {
            let ns = tracks.tg.t0.elapsed().as_nanos() as u64;
            tracks.last_presence_ns.fetch_max(ns, Ordering::Relaxed);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut i = 0;
        let consumed = loop {
            let Some(off) = buf[i..].iter().position(|&b| b == b'z') else {
                break buf.len();
            };
            let p = i + off;
            let digits = buf[(p + 2).min(buf.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let end = p + 2 + digits;
            if end >= buf.len() {
                break p; // maybe incomplete: keep for the next read
            }
            let kind = buf[p + 1];
            let track = match kind {
                b't' => Some(&tracks.tg),
                b'm' => Some(&tracks.muc),
                b'r' => Some(&tracks.raw),
                b'b' => Some(&tracks.raw_bare),
                b'c' => Some(&tracks.raw_multicast),
                _ => None,
            };
            if let (Some(track), true) = (track, digits > 0 && buf[end] == b'q') {
                track.copy(parse_num(&buf[p + 2..end]) as usize);
                i = end + 1;
            } else {
                i = p + 1;
            }
        };
        buf.drain(..consumed);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum System {
    Talkgroups,
    Muc,
    /// The bench as a component, writing the copies itself to `raw`.
    Raw,
    /// Same, with minimal copies: no id, no `<nick/>`.
    RawBare,
    /// The bench as a component, one XEP-0033 stanza per message to
    /// the server's multicast service (all other members as `bcc`).
    RawMulticast,
}

/// What one phase measured.
struct Measured {
    /// Copies delivered to the other members per second.
    rate: f64,
    p99_ms: f64,
    /// CPU time of the server (`procs[0]`) over the phase's wall time.
    server_cpu: f64,
    /// Copies delivered to others, and the seconds from the first message
    /// written to the last copy read (`rate` = `copies` / `secs`).
    copies: f64,
    secs: f64,
    /// The server's CPU seconds, and the wall seconds they were taken over.
    cpu_secs: f64,
    wall: f64,
}

impl Measured {
    /// Several rounds of one system as one measurement: copies over time
    /// summed, p99 over all of their messages (`lat`).
    fn sum(rounds: &[Measured], lat: &[u64]) -> Measured {
        let total = |f: fn(&Measured) -> f64| rounds.iter().map(f).sum::<f64>();
        let (copies, secs) = (total(|m| m.copies), total(|m| m.secs));
        let (cpu_secs, wall) = (total(|m| m.cpu_secs), total(|m| m.wall));
        Measured {
            rate: copies / secs,
            p99_ms: common::percentile_ms(lat, 0.99),
            server_cpu: cpu_secs / wall,
            copies,
            secs,
            cpu_secs,
            wall,
        }
    }
}

/// How a phase paces its messages.
#[derive(Clone, Copy)]
enum Pace {
    /// The next message as soon as fewer than this many are incomplete.
    Window(usize),
    /// Messages per second, evenly spaced, whatever is in flight.
    Rate(usize),
}

/// Sends messages `seqs` from random clients through one system, paced
/// by `pace`. A track's earlier messages are complete before it starts.
#[allow(clippy::too_many_arguments)]
fn phase(
    writers: &mut [TcpStream],
    raw: &mut TcpStream,
    track: &Track,
    system: System,
    seqs: RangeInclusive<usize>,
    pace: Pace,
    procs: &[(&str, u32)],
) -> Measured {
    let n = writers.len();
    let first = *seqs.start();
    let messages = seqs.clone().count();
    let done_before = track.done_msgs.load(Ordering::Acquire);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ first as u64);
    callgrind_dump(procs[0].1);
    let syscalls = Syscalls::start(procs[0].1);
    let cpu0: Vec<(f64, f64)> = procs.iter().map(|(_, pid)| cpu_secs(*pid)).collect();
    let start = Instant::now();
    let start_ns = track.t0.elapsed().as_nanos() as u64;
    let mut last_progress = (0, Instant::now());
    let window = match pace {
        Pace::Window(w) => w as u64,
        Pace::Rate(_) => u64::MAX,
    };
    for seq in seqs.clone() {
        if let Pace::Rate(r) = pace {
            let due = start + Duration::from_secs_f64((seq - first) as f64 / r as f64);
            thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        while (seq - first) as u64 - (track.done_msgs.load(Ordering::Acquire) - done_before)
            >= window
        {
            thread::sleep(Duration::from_micros(200));
            let d = track.done_msgs.load(Ordering::Acquire);
            if d != last_progress.0 {
                last_progress = (d, Instant::now());
            }
            assert!(
                last_progress.1.elapsed() < STALL,
                "stalled at {seq}: {d} complete"
            );
        }
        let from = rng.below(n);
        let text = "The quick brown fox jumps over the lazy dog; a typical chat line";
        let xml = match system {
            System::Muc => format!(
                "<message to='{ROOM}' type='groupchat' id='m{seq}'><body>{text} zm{seq}q</body></message>"
            ),
            System::Talkgroups => format!(
                "<message to='{GROUP}' type='chat' id='t{seq}'><body>{text} zt{seq}q</body></message>"
            ),
            // What talkgroups would write for it, copy by copy.
            System::Raw => {
                let mut all = String::with_capacity(n * 320);
                for k in (1..=n).filter(|&k| k != from + 1) {
                    all.push_str(&format!(
                        "<message type='chat' from='lobby@raw.localhost' to='u{k}@localhost' \
                         id='tgm-{seq}-{k}'><body>[u{f}] {text} zr{seq}q</body>\
                         <nick xmlns='http://jabber.org/protocol/nick'>u{f}</nick></message>",
                        f = from + 1
                    ));
                }
                all
            }
            System::RawMulticast => {
                let mut all = String::with_capacity(n * 60 + 400);
                all.push_str(&format!(
                    "<message type='chat' from='lobby@raw.localhost' to='multicast.localhost' \
                     id='tgm-{seq}'><addresses xmlns='http://jabber.org/protocol/address'>"
                ));
                for k in (1..=n).filter(|&k| k != from + 1) {
                    all.push_str(&format!("<address type='bcc' jid='u{k}@localhost'/>"));
                }
                all.push_str(&format!(
                    "</addresses><body>[u{f}] {text} zc{seq}q</body>\
                     <nick xmlns='http://jabber.org/protocol/nick'>u{f}</nick></message>",
                    f = from + 1
                ));
                all
            }
            System::RawBare => {
                let mut all = String::with_capacity(n * 200);
                for k in (1..=n).filter(|&k| k != from + 1) {
                    all.push_str(&format!(
                        "<message type='chat' from='lobby@raw.localhost' to='u{k}@localhost'>\
                         <body>[u{f}] {text} zb{seq}q</body></message>",
                        f = from + 1
                    ));
                }
                all
            }
        };
        track.sent_ns[seq].store(track.t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match system {
            System::Raw | System::RawBare | System::RawMulticast => {
                raw.write_all(xml.as_bytes()).unwrap()
            }
            _ => writers[from].write_all(xml.as_bytes()).unwrap(),
        }
    }
    let mut last = (track.done_msgs.load(Ordering::Acquire), Instant::now());
    while track.done_msgs.load(Ordering::Acquire) < done_before + messages as u64 {
        thread::sleep(Duration::from_millis(1));
        let d = track.done_msgs.load(Ordering::Acquire);
        if d != last.0 {
            last = (d, Instant::now());
        }
        assert!(
            last.1.elapsed() < STALL,
            "stalled: {d} of {messages} complete"
        );
    }
    let wall = start.elapsed().as_secs_f64();
    callgrind_dump(procs[0].1);
    let syscalls = syscalls.per_copy((messages * (n - 1)) as f64);
    let end_ns = seqs
        .clone()
        .map(|s| track.done_ns[s].load(Ordering::Relaxed))
        .max()
        .unwrap();
    let secs = (end_ns - start_ns) as f64 / 1e9;
    let lat = track.latencies(seqs);
    let rate = (messages * (n - 1)) as f64 / secs;
    let shares: Vec<f64> = procs
        .iter()
        .zip(cpu0)
        .map(|((_, pid), (u0, s0))| {
            let (u1, s1) = cpu_secs(*pid);
            (u1 + s1 - u0 - s0) / wall
        })
        .collect();
    let cpu: Vec<String> = procs
        .iter()
        .zip(&shares)
        .map(|((name, _), share)| format!("{name} {:.0}%", share * 100.0))
        .collect();
    eprintln!(
        "  {}: {messages} messages, {:.0} copies/s to others, p50 {:.1} ms, p99 {:.1} ms; CPU: {}",
        match system {
            System::Talkgroups => "talkgroups",
            System::Muc => "MUC",
            System::Raw => "raw component",
            System::RawBare => "raw component, minimal copies",
            System::RawMulticast => "raw component, one XEP-0033 stanza per message",
        },
        rate,
        common::percentile_ms(&lat, 0.5),
        common::percentile_ms(&lat, 0.99),
        cpu.join(", ")
    );
    if let Some(line) = syscalls {
        eprintln!("    {}'s system calls per copy: {line}", procs[0].0);
    }
    Measured {
        rate,
        p99_ms: common::percentile_ms(&lat, 0.99),
        server_cpu: shares[0],
        copies: (messages * (n - 1)) as f64,
        secs,
        cpu_secs: shares[0] * wall,
        wall,
    }
}

/// With `E2E_SYSCALLS=1`, the server's system calls during a phase,
/// counted by `perf stat` on the syscall tracepoints (how many copies
/// share a write shows there: see BENCHMARKS.md, session 6).
struct Syscalls(Option<std::process::Child>);

const SYSCALLS: [&str; 6] = [
    "sendto",
    "writev",
    "recvfrom",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
];

impl Syscalls {
    fn start(pid: u32) -> Syscalls {
        if std::env::var_os("E2E_SYSCALLS").is_none() {
            return Syscalls(None);
        }
        let events: Vec<String> = SYSCALLS
            .iter()
            .map(|c| format!("syscalls:sys_enter_{c}"))
            .collect();
        let child = Command::new("perf")
            .args(["stat", "-x", ",", "-e", &events.join(","), "-p"])
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| eprintln!("    E2E_SYSCALLS: cannot run perf: {e}"))
            .ok();
        thread::sleep(Duration::from_millis(100)); // attached before the phase
        Syscalls(child)
    }

    /// Stops counting; "sendto 1.02, epoll_ctl 2.04, …" per delivered copy.
    fn per_copy(self, copies: f64) -> Option<String> {
        let child = self.0?;
        // SAFETY: signals our own child, which has not been waited for.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        let out = child.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&out.stderr);
        let counts: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split(',');
                let n: f64 = f.next()?.parse().ok()?;
                let name = f.nth(1)?.strip_prefix("syscalls:sys_enter_")?;
                (n > 0.0).then(|| format!("{name} {:.3}", n / copies))
            })
            .collect();
        Some(counts.join(", "))
    }
}

/// Connects the bench itself as the component `raw.localhost` (XEP-0114,
/// client side) and drains whatever Prosody sends it on a thread.
fn raw_component(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("component connect");
    s.set_nodelay(true).unwrap();
    s.write_all(
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
          xmlns:stream='http://etherx.jabber.org/streams' to='raw.localhost'>",
    )
    .unwrap();
    let mut buf = Vec::new();
    let end = read_until(&mut s, &mut buf, |b| {
        let st = find(b, b"<stream:stream")?;
        find(&b[st..], b">").map(|e| st + e + 1)
    });
    let header = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end);
    let id = header
        .split("id=")
        .nth(1)
        .and_then(|rest| {
            let q = rest.chars().next()?;
            rest[1..].split(q).next()
        })
        .expect("stream id")
        .to_owned();
    let digest = xmpp_parsers::component::Handshake::from_stream_id_and_password(id, SECRET)
        .data
        .unwrap();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    s.write_all(format!("<handshake>{hex}</handshake>").as_bytes())
        .unwrap();
    read_until(&mut s, &mut buf, |b| {
        find(b, b"<handshake").map(|p| p + "<handshake".len())
    });
    let mut drain = s.try_clone().unwrap();
    thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        while matches!(drain.read(&mut chunk), Ok(n) if n > 0) {}
    });
    s
}

/// With `E2E_CALLGRIND_DUMP=1` (Prosody run under callgrind through
/// `PROSODY_BIN`), dumps and zeroes Prosody's counters, so each phase's
/// instruction count lands in a file of its own.
fn callgrind_dump(pid: u32) {
    if std::env::var_os("E2E_CALLGRIND_DUMP").is_some() {
        let _ = Command::new("callgrind_control")
            .arg("-d")
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .status();
    }
}

/// Waits until no client has read a presence for `QUIET`: the login
/// burst's presence traffic is over (the MUC's join presences, talkgroups'
/// probe answers and its status line pushed to all members, at most every
/// 3 s and 10 ms per member), so that the first measured phase does not
/// share the server with it. Without this the first phase (talkgroups')
/// carried ≈ 2 status pushes, 400 presences at 200 members.
fn settle(tracks: &Tracks) {
    const QUIET: Duration = Duration::from_secs(4);
    let start = Instant::now();
    loop {
        let last = Duration::from_nanos(tracks.last_presence_ns.load(Ordering::Relaxed));
        let idle = tracks.tg.t0.elapsed().saturating_sub(last);
        if idle >= QUIET {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            eprintln!("  presences still arriving after 120 s; measuring anyway");
            break;
        }
        thread::sleep(QUIET - idle);
    }
    tracks.watch_presence.store(false, Ordering::Relaxed);
    eprintln!(
        "  presence traffic over after {:.1} s more",
        start.elapsed().as_secs_f64()
    );
}

/// One end-to-end run's parameters (see the command line in the header).
struct Plan {
    members: usize,
    /// Per system and round.
    messages: usize,
    multicast: bool,
    /// Open loop at this many messages a second.
    rate: Option<usize>,
    rounds: usize,
    warmup: usize,
}

fn e2e(bin: &Path, kind: Kind, plan: Plan) {
    let Plan {
        members,
        messages,
        multicast,
        rate,
        rounds,
        warmup,
    } = plan;
    let name = match kind {
        Kind::Prosody => "prosody",
        Kind::Ejabberd => "ejabberd",
    };
    eprintln!(
        "e2e ({name}): {members} clients, {rounds} round(s) of {messages} messages per system"
    );
    let dir = tempfile::Builder::new()
        .prefix("talkgroups-e2e-")
        .tempdir()
        .expect("temp dir");
    let server = start_server(kind, members);
    // On ejabberd the clients join the group over XMPP; on Prosody they are
    // written into the database (and the rosters) beforehand.
    let preset = if kind == Kind::Prosody { members } else { 0 };
    let tg_proc = start_talkgroups(bin, dir.path(), &server, preset, multicast);
    let t0 = Instant::now();
    // Warm-up rounds (half as many messages each) take the first sequence
    // numbers; the measured rounds follow from `base + 1`.
    let warm_msgs = (messages / 2).max(1);
    let base = warmup * warm_msgs;
    let tracks = Arc::new(Tracks {
        tg: Track::new(t0, base + messages * rounds, (members - 1) as u32),
        // MUC reflects to the sender too: wait for that echo as well.
        muc: Track::new(t0, base + messages * rounds, members as u32),
        raw: Track::new(t0, messages, (members - 1) as u32),
        raw_bare: Track::new(t0, messages, (members - 1) as u32),
        raw_multicast: Track::new(t0, messages, (members - 1) as u32),
        watch_presence: AtomicBool::new(true),
        last_presence_ns: AtomicU64::new(0),
    });
    let tg = &tracks.tg;
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    let login_t = Instant::now();
    for i in 1..=members {
        let s = login(kind, server.c2s_port(), i);
        writers.push(s.try_clone().unwrap());
        let tracks = tracks.clone();
        readers.push(thread::spawn(move || reader(s, tracks)));
    }
    eprintln!(
        "  {members} clients logged in and in the room in {:.1} s",
        login_t.elapsed().as_secs_f64()
    );
    // Warm-up: message 0 through talkgroups until every member has it (a
    // member whose presence arrives late gets it by catch-up).
    writers[0]
        .write_all(
            format!(
                "<message to='{GROUP}' type='chat' id='w0'><body>warm-up zt0q</body></message>"
            )
            .as_bytes(),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tg.counts[0].load(Ordering::Acquire) < (members - 1) as u32 {
        assert!(
            Instant::now() < deadline,
            "talkgroups warm-up reached only {} of {} members",
            tg.counts[0].load(Ordering::Acquire),
            members - 1
        );
        thread::sleep(Duration::from_millis(5));
    }
    settle(&tracks);
    let pace = rate.map_or(Pace::Window((WINDOW_COPIES / members).max(2)), Pace::Rate);
    let procs = [
        (name, server.pid().expect("the server runs")),
        ("talkgroups", tg_proc.id()),
        ("bench clients", std::process::id()),
    ];
    let mut raw = raw_component(server.component_port_for(RAW_COMPONENT));
    let mut run = |track: &Track, system, seqs| {
        phase(&mut writers, &mut raw, track, system, seqs, pace, &procs)
    };
    // Warm-up: after a login burst both systems' first phase ran up to 30 %
    // slower than later ones (Prosody's heap and buffers growing), and
    // talkgroups' more often, as it went first. Measured, not counted.
    for w in 0..warmup {
        eprintln!("  warm-up round {} (not counted):", w + 1);
        let seqs = w * warm_msgs + 1..=(w + 1) * warm_msgs;
        run(&tracks.tg, System::Talkgroups, seqs.clone());
        run(&tracks.muc, System::Muc, seqs);
    }
    // Round k sends messages base + k·M + 1 ..= base + (k + 1)·M through each system,
    // the MUC first in every other round: the two are measured side by side
    // however the machine's speed drifts (this VM's moves ±20–50 % within
    // minutes), and each round's ratio is a paired comparison.
    let mut tg_rounds = Vec::new();
    let mut muc_rounds = Vec::new();
    for k in 0..rounds {
        let seqs = base + k * messages + 1..=base + (k + 1) * messages;
        if k % 2 == 0 {
            tg_rounds.push(run(&tracks.tg, System::Talkgroups, seqs.clone()));
            muc_rounds.push(run(&tracks.muc, System::Muc, seqs));
        } else {
            muc_rounds.push(run(&tracks.muc, System::Muc, seqs.clone()));
            tg_rounds.push(run(&tracks.tg, System::Talkgroups, seqs));
        }
    }
    let all = base + 1..=base + messages * rounds;
    let tg = Measured::sum(&tg_rounds, &tracks.tg.latencies(all.clone()));
    let muc = Measured::sum(&muc_rounds, &tracks.muc.latencies(all));
    let mut round_ratios: Vec<f64> = tg_rounds
        .iter()
        .zip(&muc_rounds)
        .map(|(t, m)| t.rate / m.rate)
        .collect();
    let ratios = round_ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(",");
    round_ratios.sort_by(f64::total_cmp);
    let median_ratio = round_ratios[round_ratios.len() / 2];
    let bench = match (kind, multicast) {
        (Kind::Prosody, false) => "e2e",
        // talkgroups with component.multicast through contrib/prosody's
        // mod_talkgroups_multicast: one stanza per message.
        (Kind::Prosody, true) => "e2e_xep0033",
        (Kind::Ejabberd, false) => "e2e_ejabberd",
        // talkgroups with component.multicast: one stanza per message.
        (Kind::Ejabberd, true) => "e2e_ejabberd_xep0033",
    };
    let (tg_rate, muc_rate) = (tg.rate, muc.rate);
    let (tg_p99, muc_p99) = (tg.p99_ms, muc.p99_ms);
    if let Some(r) = rate {
        // Open loop: both should deliver what is offered; the server's CPU
        // share is what each costs it at this load.
        println!(
            "{{\"bench\":\"{bench}_fixed_rate\",\"members\":{members},\
             \"offered_msg_per_sec\":{r},\"offered_copies_per_sec\":{},\
             \"talkgroups_per_sec\":{tg_rate:.0},\"muc_per_sec\":{muc_rate:.0},\
             \"talkgroups_p99_ms\":{tg_p99:.1},\"muc_p99_ms\":{muc_p99:.1},\
             \"server_cpu_talkgroups\":{:.2},\"server_cpu_muc\":{:.2}}}",
            r * (members - 1),
            tg.server_cpu,
            muc.server_cpu
        );
    } else {
        println!(
            "{{\"bench\":\"{bench}\",\"members\":{members},\"talkgroups_per_sec\":{tg_rate:.0},\
             \"muc_per_sec\":{muc_rate:.0},\"ratio\":{:.2},\"talkgroups_p99_ms\":{tg_p99:.1},\
             \"muc_p99_ms\":{muc_p99:.1},\"rounds\":{rounds},\"round_ratios\":[{ratios}],\
             \"median_round_ratio\":{median_ratio:.2}}}",
            tg_rate / muc_rate
        );
    }
    if !multicast && rate.is_none() {
        // The references (they do not depend on talkgroups' settings).
        let Measured {
            rate: raw_rate,
            p99_ms: raw_p99,
            ..
        } = run(&tracks.raw, System::Raw, 1..=messages);
        let bare_rate = run(&tracks.raw_bare, System::RawBare, 1..=messages).rate;
        println!(
            "{{\"bench\":\"{bench}_raw_component\",\"members\":{members},\"raw_per_sec\":{raw_rate:.0},\
             \"raw_p99_ms\":{raw_p99:.1},\"talkgroups_share_of_raw\":{:.2},\
             \"raw_minimal_per_sec\":{bare_rate:.0}}}",
            tg_rate / raw_rate
        );
        {
            let Measured {
                rate: mc_rate,
                p99_ms: mc_p99,
                ..
            } = run(&tracks.raw_multicast, System::RawMulticast, 1..=messages);
            println!(
                "{{\"bench\":\"{bench}_raw_multicast\",\"members\":{members},\
                 \"raw_multicast_per_sec\":{mc_rate:.0},\"raw_multicast_p99_ms\":{mc_p99:.1},\
                 \"raw_multicast_vs_muc\":{:.2},\"raw_multicast_vs_raw\":{:.2}}}",
                mc_rate / muc_rate,
                mc_rate / raw_rate
            );
        }
    }
    let _ = raw.shutdown(Shutdown::Both);
    for w in &writers {
        let _ = w.shutdown(Shutdown::Both);
    }
    drop(tg_proc);
    drop(server);
    for r in readers {
        let _ = r.join();
    }
}
