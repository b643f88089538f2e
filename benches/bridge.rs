//! Inbound bridge benchmark (issue 17): events per second through one
//! bridge, and the p99 of the HTTP answer.
//!
//! The fake XMPP server of `fanout` (benches/common/fakeserver.rs) plays
//! the server for the real release binary; 100 members come online. Then
//! `--clients` threads, each on its own keep-alive connection from
//! 127.0.0.1, post the platform's own signed (and, for Feishu and WeCom,
//! encrypted) event callbacks to `/bridges/lobby/b`, as fast as the answers
//! come. The calls are built beforehand by the test suite's platform
//! emulators (tests/support/platforms.rs), so the client's signing is not
//! timed. Every event costs the component what a real one does:
//! verification, decryption, the 24 h duplicate check, the commit (the 200
//! is sent only after it) and the fan-out to every member. The run ends
//! when every member's copy of every event has been read.
//!
//! One JSON line per platform: `events_per_sec` (accepted events over the
//! time from the first request to the last answer), `p50_ms` / `p99_ms` /
//! `max_ms` of the answer time, `fanout_done_ms` (until the last copy was
//! read) and the component's CPU seconds.
//!
//! Usage: `cargo bench --bench bridge -- [all|slack|feishu|wecom|dingtalk|
//! telegram] [--events N] [--clients C] [--members M]`.

mod common;
#[path = "../tests/support/platforms.rs"]
#[allow(dead_code)]
mod platforms;

use common::fakeserver::{accept_component, reader, setup, spawn, sync, Shared, GROUP, STALL};
use common::{cpu_secs, find, percentile_ms, rss_kib, talkgroups_bin, Guard};
use platforms::{Call, Dingtalk, Feishu, Slack, Telegram, Wecom};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A valid 43-character EncodingAESKey (WeCom's own sample key).
const WECOM_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const PLATFORMS: &[&str] = &["slack", "feishu", "wecom", "dingtalk", "telegram"];
/// Events sent (and answered) before the timed ones: connections, caches
/// and the SQLite page cache warm.
const WARMUP: usize = 500;
const BODY: &str = "The quick brown fox jumps over the lazy dog; a chat line of about eighty bytes";

fn main() {
    if common::skip_unless_cargo_bench("bridge") {
        return;
    }
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut which: Vec<&str> = PLATFORMS.to_vec();
    let mut events = 20_000usize;
    let mut clients = 16usize;
    let mut members = 100usize;
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--events" => events = num("--events"),
            "--clients" => clients = num("--clients").max(1),
            "--members" => members = num("--members").max(1),
            "all" => which = PLATFORMS.to_vec(),
            p => match PLATFORMS.iter().find(|&&q| q == p) {
                Some(&q) => which = vec![q],
                None => panic!("unknown argument {p:?}"),
            },
        }
    }
    let bin = talkgroups_bin();
    eprintln!("talkgroups binary: {}", bin.display());
    for p in which {
        run(&bin, p, events, clients, members);
    }
}

/// The `[[bridge]]` table (outbound URLs point at a closed port: nothing
/// goes out, since an inbound event is never posted back to its bridge).
fn bridge_config(platform: &str) -> String {
    let keys = match platform {
        "slack" => "signing_secret = \"8f742231b10e8888abcd99yyyzzz85a5\"\nwebhook = \"http://127.0.0.1:9/hook\"".to_string(),
        "feishu" => "verification_token = \"bench-token\"\nencrypt_key = \"bench-encrypt-key\"\nwebhook = \"http://127.0.0.1:9/hook\"".to_string(),
        "wecom" => format!("token = \"bench-token\"\nencoding_aes_key = \"{WECOM_KEY}\"\nwebhook = \"http://127.0.0.1:9/hook\""),
        "dingtalk" => "app_secret = \"bench-app-secret\"\nwebhook = \"http://127.0.0.1:9/robot/send?access_token=x\"".to_string(),
        "telegram" => "bot_token = \"1:bench\"\nchat_id = \"-100200300\"\nsecret_token = \"bench-secret-token\"\napi = \"http://127.0.0.1:9\"".to_string(),
        other => panic!("no config for {other}"),
    };
    format!("[[bridge]]\ngroup = \"lobby\"\nname = \"b\"\nplatform = \"{platform}\"\n{keys}\n")
}

/// `n` distinct message events, signed and encrypted as `platform` does.
fn calls(platform: &str, n: usize, offset: usize) -> Vec<Call> {
    let slack = Slack::new("8f742231b10e8888abcd99yyyzzz85a5");
    let feishu = Feishu::new("bench-token", Some("bench-encrypt-key"));
    let wecom = Wecom::new("bench-token", WECOM_KEY, "");
    let dingtalk = Dingtalk::new("bench-app-secret");
    let telegram = Telegram::new("bench-secret-token", -100_200_300);
    (offset..offset + n)
        .map(|i| {
            let user = format!("user{}", i % 50);
            let text = format!("{BODY} #{i}");
            match platform {
                "slack" => slack.message(&format!("Ev{i:08}"), &user, &text),
                "feishu" => feishu.message(&format!("ev-{i}"), &user, &text),
                "wecom" => wecom.message(&format!("msg{i}"), &user, &text),
                "dingtalk" => dingtalk.message(&format!("msg{i}"), &user, &text),
                "telegram" => telegram.message(i as i64 + 1, &user, &text),
                other => panic!("no calls for {other}"),
            }
        })
        .collect()
}

/// One HTTP/1.1 request on a keep-alive connection; returns the status.
fn request(sock: &mut TcpStream, buf: &mut Vec<u8>, call: &Call) -> u16 {
    let mut req = format!(
        "{} /bridges/lobby/b{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        call.method,
        call.path_and_query,
        call.body.len()
    );
    for (k, v) in &call.headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&call.body);
    sock.write_all(&bytes).expect("write request");
    // Read the head, then Content-Length bytes of body.
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(e) = find(buf, b"\r\n\r\n") {
            break e + 4;
        }
        let n = sock.read(&mut chunk).expect("read answer");
        assert!(n > 0, "the component closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).expect("read body");
        assert!(n > 0, "the component closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..head_end + len);
    status
}

/// Sends `calls` over `clients` connections; returns every answer time (ns)
/// and the wall time from the first request to the last answer.
fn blast(port: u16, calls: Vec<Call>, clients: usize) -> (Vec<u64>, Duration) {
    let mut per: Vec<Vec<Call>> = (0..clients).map(|_| Vec::new()).collect();
    for (i, c) in calls.into_iter().enumerate() {
        per[i % clients].push(c);
    }
    let start = Instant::now();
    let handles: Vec<_> = per
        .into_iter()
        .map(|mine| {
            thread::spawn(move || {
                let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                sock.set_nodelay(true).unwrap();
                let mut buf = Vec::new();
                let mut times = Vec::with_capacity(mine.len());
                for c in &mine {
                    let t = Instant::now();
                    let status = request(&mut sock, &mut buf, c);
                    times.push(t.elapsed().as_nanos() as u64);
                    assert_eq!(status, 200, "an event was not accepted");
                }
                times
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().expect("client thread"));
    }
    (all, start.elapsed())
}

fn run(bin: &Path, platform: &str, events: usize, clients: usize, members: usize) {
    eprintln!("bridge: {platform}, {members} members, {events} events, {clients} clients");
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = http.local_addr().unwrap().port();
    drop(http);
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n\n{}",
        bridge_config(platform)
    );
    let s = setup(bin, &extra, members);
    let total = WARMUP + events;
    let sh = Shared::new(total, members as u32);
    let mut child = Guard::new(spawn(bin, &s));
    let pid = child.id();
    let mut sock = accept_component(&s.listener);
    let (tx, rx) = mpsc::channel();
    let rsock = sock.try_clone().unwrap();
    let rsh = sh.clone();
    let reader_thread = thread::spawn(move || reader(rsock, rsh, tx));
    let mut batch = String::new();
    for i in 1..=members {
        batch.push_str(&format!(
            "<presence from='u{i}@localhost/bench' to='{GROUP}'/>"
        ));
    }
    sock.write_all(batch.as_bytes()).unwrap();
    sync(&mut sock, &rx, 1);

    let warm = calls(platform, WARMUP, 0);
    let timed = calls(platform, events, WARMUP);
    let deadline = Instant::now() + STALL;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the HTTP listener never came up");
        thread::sleep(Duration::from_millis(20));
    }
    blast(port, warm, clients);
    let (cpu_u0, cpu_s0) = cpu_secs(pid);
    let t0 = sh.now_ns();
    let (mut times, wall) = blast(port, timed, clients);
    // Every member's copy of every event.
    let mut last = Instant::now();
    let mut seen = sh.done_msgs.load(Ordering::Acquire);
    while sh.done_msgs.load(Ordering::Acquire) < total as u64 {
        let _ = rx.recv_timeout(Duration::from_millis(100));
        let d = sh.done_msgs.load(Ordering::Acquire);
        if d != seen {
            seen = d;
            last = Instant::now();
        }
        assert!(
            last.elapsed() < STALL,
            "stalled: {d} of {total} events fanned out"
        );
    }
    let done_ms = (sh.now_ns() - t0) as f64 / 1e6;
    let (cpu_u1, cpu_s1) = cpu_secs(pid);
    let rss = rss_kib(pid);
    let copies = sh.copies.load(Ordering::Relaxed);
    child.stop();
    let _ = sock.shutdown(Shutdown::Both);
    let _ = reader_thread.join();
    assert_eq!(
        copies,
        (total * members) as u64,
        "each event reaches each member exactly once"
    );
    times.sort_unstable();
    let pct = |p: f64| percentile_ms(&times, p);
    let secs = wall.as_secs_f64();
    eprintln!(
        "  {events} events in {secs:.2} s, all {} copies read after {done_ms:.0} ms; \
         CPU {:.2} s user, {:.2} s sys",
        events * members,
        cpu_u1 - cpu_u0,
        cpu_s1 - cpu_s0
    );
    println!(
        "{{\"bench\":\"bridge_inbound\",\"platform\":\"{platform}\",\"members\":{members},\
         \"events\":{events},\"clients\":{clients},\"events_per_sec\":{:.0},\
         \"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"fanout_done_ms\":{done_ms:.0},\
         \"cpu_user_s\":{:.2},\"cpu_sys_s\":{:.2},\"rss_kib\":{rss}}}",
        events as f64 / secs,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        cpu_u1 - cpu_u0,
        cpu_s1 - cpu_s0
    );
}
