//! Repeated crashes under load, through the real binary and a real
//! Prosody: 30 rounds of `kill -9` of talkgroups at random moments, each
//! followed by a restart, while members talk (numbered messages), a send
//! route delivers everything said to a local sink, and signed posts
//! (numbered too) come in on a receive route. At the end:
//!
//! - the database passes `PRAGMA integrity_check`;
//! - nothing acknowledged is lost: every route post answered 200 is in the
//!   history exactly once, every `//nick` answered OK is in effect;
//! - every line the component relayed to a member is in the history;
//! - the sink got every history message, in history order, none missing
//!   (duplicates from a redelivery after a crash are counted, not failed,
//!   but may only repeat the last two deliveries before the crash).
//!
//! Knobs: `CHAOS_SEED` (printed on every run), `CHAOS_ROUNDS` (default 30).
//!
//! Also the soak run (`#[ignore]`, see `scripts/soak.sh`): 200 members, a
//! fixed message rate, members going offline and coming back (catch-up),
//! a send route to a sink; samples RSS, descriptors and outbox depth.

mod support;

use support::procfs::{fd_count, pid_of, rss_kb, sample};

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::sink::Sink;
use support::{
    body_of, free_port, is_from_bare, join, Kind, Server, Talkgroups, TestClient, COMPONENT, SECRET,
};

const LOBBY: &str = "lobby@groups.localhost";
const T: Duration = Duration::from_secs(10);
const TALKERS: [&str; 3] = ["bob", "carol", "dave"];
/// Pause between two messages of one talker, and between route posts.
const TALK_GAP: Duration = Duration::from_millis(90);
const POST_GAP: Duration = Duration::from_millis(120);
const HOOK_PASSWORD: &str = "hook-password";

/// splitmix64: small, seeded, good enough to pick delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(http: u16, extra_relay: &str) -> String {
    format!(
        "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[relay]\nburst = 100000\nwindow_secs = 1\n{extra_relay}\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n"
    )
}

/// Reads (and keeps) everything that arrives within `dur`.
async fn pump(c: &mut TestClient, dur: Duration, seen: &mut Vec<String>) {
    let deadline = Instant::now() + dur;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match c.recv(left).await {
            Some(e)
                if e.name() == "message"
                    && is_from_bare(&e, LOBBY)
                    && e.attr("type") != Some("error") =>
            {
                if let Some(b) = body_of(&e) {
                    seen.push(b);
                }
            }
            Some(_) => {}
            None if c.is_closed() => return,
            None => {}
        }
    }
}

/// The text of a relayed line `[nick] text`.
fn line_text(line: &str) -> Option<&str> {
    line.strip_prefix('[')?.split_once("] ").map(|(_, t)| t)
}

async fn metrics(http: u16) -> Option<String> {
    reqwest::get(format!("http://127.0.0.1:{http}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

fn sign(password: &str, ts: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(password.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts `route n` to the receive route until it is answered 200 (the
/// retry of a post whose answer was lost to a crash gets `duplicate`, also
/// an acknowledgment). Returns whether it was acknowledged.
async fn post_until_acked(
    client: &reqwest::Client,
    url: &str,
    n: u64,
    stop: &AtomicBool,
    outcomes: &mut HashMap<String, u64>,
) -> bool {
    let body = serde_json::json!({
        "id": format!("chaos-post-{n}"),
        "origin": "lobby@far.example",
        "nick": "poster",
        "body": format!("route {n}"),
        "trail": ["chaos-far-instance"],
    })
    .to_string();
    // Bounded: at most ~30 s per post (the component restarts in < 1 s).
    for attempt in 0..600 {
        if attempt > 0 && stop.load(Ordering::Relaxed) && attempt > 200 {
            return false;
        }
        let ts = (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs())
        .to_string();
        let r = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-talkgroups-timestamp", &ts)
            .header(
                "x-talkgroups-signature",
                sign(HOOK_PASSWORD, &ts, body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 200 => {
                let text = r.text().await.unwrap_or_default();
                let j: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                // A 200 is only sent after the commit, even if its body
                // is cut short by a kill.
                let status = j["status"].as_str().unwrap_or("200, body cut").to_string();
                assert!(
                    status == "ok" || status == "duplicate" || j.is_null(),
                    "route post {n}: 200 with {j}"
                );
                *outcomes.entry(status).or_default() += 1;
                return true;
            }
            Ok(r) => {
                let s = r.status().as_u16();
                assert!(
                    s == 503 || s >= 500,
                    "route post {n}: unexpected status {s}"
                );
                *outcomes.entry(format!("http {s}")).or_default() += 1;
            }
            Err(_) => *outcomes.entry("no answer".into()).or_default() += 1,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// History of `lobby`, oldest first: (sender, text).
fn history(db: &Path) -> Vec<(String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database read-only");
    let r: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(r, "ok", "PRAGMA integrity_check");
    let mut st = conn
        .prepare("SELECT sender, text FROM history WHERE group_name = 'lobby' ORDER BY id")
        .unwrap();
    let rows = st
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<(String, String)>>>()
        .unwrap();
    rows
}

/// The numbers of `prefix N` texts, in order.
fn numbers<'a>(texts: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<u64> {
    texts
        .filter_map(|t| t.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prosody_kill_9_thirty_times_under_load() {
    chaos(Kind::Prosody).await
}

/// Not run by default (ejabberd is optional here; run with `--ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn ejabberd_kill_9_thirty_times_under_load() {
    chaos(Kind::Ejabberd).await
}

async fn chaos(kind: Kind) {
    let begun = Instant::now();
    let seed: u64 = env_or(
        "CHAOS_SEED",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    let rounds: usize = env_or("CHAOS_ROUNDS", 30);
    eprintln!("chaos: {kind:?}, seed {seed} (CHAOS_SEED={seed} to repeat), {rounds} rounds");
    let mut rng = Rng(seed);

    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    let http = free_port();
    let mut tg = Talkgroups::start(&p, &config(http, ""));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut olga = join(&p, "olga", LOBBY).await;
    let mut talkers = Vec::new();
    for u in TALKERS {
        talkers.push(join(&p, u, LOBBY).await);
    }
    let mut junk = Vec::new();
    pump(&mut alice, Duration::from_millis(300), &mut junk).await;
    let sp = free_port();
    let sink = Sink::start(sp).await;
    for cmd in [
        format!("//addroutesend sink sink-password http://127.0.0.1:{sp}/in"),
        format!("//addrouterecv hook {HOOK_PASSWORD}"),
    ] {
        alice.send_message(LOBBY, &cmd).await;
        let r = alice.expect_body_from(LOBBY, T).await;
        assert!(r.starts_with("OK"), "{cmd} → {r}");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let said = Arc::new(AtomicU64::new(0));
    // Talkers: numbered messages, reading what comes back meanwhile.
    let mut tasks = Vec::new();
    for (name, mut c) in TALKERS.into_iter().zip(talkers) {
        let stop = stop.clone();
        let said = said.clone();
        tasks.push(tokio::spawn(async move {
            let mut junk = Vec::new();
            for n in 1..=5_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                c.send_message(LOBBY, &format!("{name} {n}")).await;
                said.fetch_add(1, Ordering::Relaxed);
                pump(&mut c, TALK_GAP, &mut junk).await;
                junk.clear();
            }
            c
        }));
    }
    // The observer: every line relayed to a member.
    let observed = Arc::new(Mutex::new(Vec::<String>::new()));
    let observer = {
        let stop = stop.clone();
        let observed = observed.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(300);
            while Instant::now() < deadline {
                let mut seen = Vec::new();
                pump(&mut olga, Duration::from_millis(200), &mut seen).await;
                let done = stop.load(Ordering::Relaxed) && seen.is_empty();
                observed.lock().unwrap().extend(seen);
                if done {
                    break;
                }
            }
            olga
        })
    };
    // The poster: numbered signed posts, each retried until answered 200.
    let poster = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap();
            let url = format!("http://127.0.0.1:{http}/routes/lobby/hook");
            let mut acked = Vec::new();
            let mut outcomes = HashMap::new();
            for n in 1..=5_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if post_until_acked(&client, &url, n, &stop, &mut outcomes).await {
                    acked.push(n);
                }
                tokio::time::sleep(POST_GAP).await;
            }
            (acked, outcomes)
        })
    };

    // The crashes. A nick change is sent at a random moment of each round:
    // it is acknowledged if its OK arrives (before or after the kill).
    let mut acked_nick: Option<String> = None;
    // The last acknowledged nick and every one sent after it: the final
    // nick must be one of these (a change may be stored yet its OK lost).
    let mut allowed_nicks: Vec<String> = vec!["alice (id".into()];
    let mut kills_at = Vec::new();
    for round in 1..=rounds {
        let d = rng.range(50, 400);
        let c = rng.range(0, d);
        tokio::time::sleep(Duration::from_millis(c)).await;
        let nick = format!("Nick{round:03}");
        alice.send_message(LOBBY, &format!("//nick {nick}")).await;
        tokio::time::sleep(Duration::from_millis(d - c)).await;
        tg.kill9();
        kills_at.push(d);
        let want = format!("OK, you are now {nick}.");
        let mut seen = Vec::new();
        pump(&mut alice, Duration::from_millis(100), &mut seen).await;
        if seen.contains(&want) {
            acked_nick = Some(nick.clone());
            allowed_nicks.clear();
        }
        allowed_nicks.push(nick);
        tokio::task::block_in_place(|| tg.restart());
    }
    let crashed = begun.elapsed();

    // Let it run once more, then stop the load and let the outbox drain.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("talker"));
    }
    let (acked_posts, outcomes) = poster.await.expect("poster");
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let n = sink.hits().len();
        let depth = metrics(http)
            .await
            .and_then(|m| sample(&m, "talkgroups_outbox_depth"));
        if depth == Some(0) && n == last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not drain: depth {depth:?}, {n} posts at the sink"
        );
        last = n;
    }
    let _olga = observer.await.expect("observer");

    // Every acknowledged command is in effect after the last restart.
    pump(&mut alice, Duration::from_millis(200), &mut Vec::new()).await;
    alice.send_message(LOBBY, "//showinfo alice").await;
    let info = alice
        .wait_for(T, |e| {
            is_from_bare(e, LOBBY) && body_of(e).is_some_and(|b| b.contains("(id alice)"))
        })
        .await;
    let info = body_of(&info).unwrap_or_default();
    assert!(
        allowed_nicks.iter().any(|n| info.contains(n.as_str())),
        "acknowledged nick {acked_nick:?} lost (allowed {allowed_nicks:?}): {info}"
    );

    assert_eq!(tg.stop(), Some(0), "clean stop after the last restart");
    let hist = history(&tg.db_path);
    let texts: Vec<&str> = hist.iter().map(|(_, t)| t.as_str()).collect();

    // Acknowledged route posts: each in the history exactly once, in order.
    let posts = numbers(texts.iter().copied(), "route");
    let mut sorted = posts.clone();
    sorted.dedup();
    assert_eq!(posts, sorted, "route posts twice in a row in the history");
    let mut uniq = posts.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        posts.len(),
        "a route post stored twice: {posts:?}"
    );
    assert!(
        posts.windows(2).all(|w| w[0] < w[1]),
        "route posts out of order in the history: {posts:?}"
    );
    let stored: HashSet<u64> = posts.iter().copied().collect();
    let lost: Vec<u64> = acked_posts
        .iter()
        .copied()
        .filter(|n| !stored.contains(n))
        .collect();
    assert!(lost.is_empty(), "acknowledged route posts lost: {lost:?}");
    // Each talker's messages keep their order (some are bounced while the
    // component is down, so gaps in the numbers are expected).
    for name in TALKERS {
        let ns = numbers(texts.iter().copied(), name);
        assert!(
            ns.windows(2).all(|w| w[0] < w[1]),
            "{name}'s messages out of order or twice in the history: {ns:?}"
        );
    }
    // Everything relayed to a member was stored.
    let in_history: HashSet<&str> = texts.iter().copied().collect();
    let observed = observed.lock().unwrap().clone();
    let relayed: Vec<&str> = observed
        .iter()
        .filter_map(|l| line_text(l))
        .filter(|t| t.starts_with("route ") || TALKERS.iter().any(|n| t.starts_with(n)))
        .collect();
    let missing: Vec<&&str> = relayed
        .iter()
        .filter(|t| !in_history.contains(**t))
        .collect();
    assert!(missing.is_empty(), "relayed but not stored: {missing:?}");

    // The sink: every stored message, in history order, none missing.
    let hits = sink.hits();
    let mut firsts: Vec<String> = Vec::new();
    let mut known: HashSet<String> = HashSet::new();
    let (mut dups, mut stale_dups) = (0, Vec::new());
    for h in &hits {
        assert_eq!(h.path, "/in");
        let body = h.json()["body"].as_str().unwrap_or_default().to_string();
        if known.insert(body.clone()) {
            firsts.push(body);
        } else {
            dups += 1;
            // A delivery starts before the previous one's dequeue is
            // committed, so a crash may repeat the last two posts.
            if !firsts.iter().rev().take(2).any(|f| *f == body) {
                stale_dups.push(body);
            }
        }
    }
    let want: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    if firsts != want {
        let pos = firsts
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(firsts.len().min(want.len()));
        panic!(
            "the sink's order differs from the history at {pos} (sink {} distinct, history {}):\n sink {:?}\n history {:?}",
            firsts.len(),
            want.len(),
            &firsts[pos.saturating_sub(2)..(pos + 3).min(firsts.len())],
            &want[pos.saturating_sub(2)..(pos + 3).min(want.len())],
        );
    }
    assert!(
        stale_dups.is_empty(),
        "a duplicate at the sink that is not one of the last two deliveries before a crash: {stale_dups:?}"
    );
    let kills = tg.log().matches("connected to the server").count() - 1;
    eprintln!(
        "chaos: {kind:?} seed {seed}: {rounds} kills (delays {kills_at:?} ms), {kills} restarts; \
         {} said by members, {} stored, {} relayed lines seen by the observer; \
         route posts acknowledged {} (outcomes {outcomes:?}); last acknowledged nick {acked_nick:?}; \
         sink {} posts, {} distinct, {dups} duplicates; crashes took {:.1} s, all {:.1} s",
        said.load(Ordering::Relaxed),
        hist.len(),
        relayed.len(),
        acked_posts.len(),
        hits.len(),
        firsts.len(),
        crashed.as_secs_f64(),
        begun.elapsed().as_secs_f64(),
    );
    assert!(hist.len() > 100, "too little got through: {}", hist.len());
    drop(clients);
}

// ---------------------------------------------------------------------------
// Soak (not in CI): `scripts/soak.sh`
// ---------------------------------------------------------------------------

/// A sink that only counts posts (a recording one would grow for an hour).
async fn counting_sink(port: u16) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let n = Arc::new(AtomicU64::new(0));
    let c = n.clone();
    let app = axum::Router::new().fallback(move || {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::Relaxed);
            "{}"
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind sink");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (n, task)
}

/// Counts what a member receives from the group, for `dur`.
async fn count_for(c: &mut TestClient, dur: Duration, received: &AtomicU64) {
    let deadline = Instant::now() + dur;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || c.is_closed() {
            return;
        }
        if let Some(e) = c.recv(left).await {
            if e.name() == "message" && is_from_bare(&e, LOBBY) && body_of(&e).is_some() {
                received.fetch_add(1, Ordering::Relaxed);
            }
            c.drain();
        }
    }
}

/// An hour (`SOAK_SECS`) at `SOAK_RATE` messages a second into
/// `SOAK_MEMBERS` members, a fifth of which go offline and come back
/// (catch-up), with a send route to a local sink; every `SOAK_SAMPLE_SECS`
/// prints the component's RSS, descriptors and outbox depth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn soak() {
    let secs: u64 = env_or("SOAK_SECS", 3600);
    let sample_secs: u64 = env_or("SOAK_SAMPLE_SECS", 60);
    let rate: u64 = env_or("SOAK_RATE", 50);
    let members: usize = env_or("SOAK_MEMBERS", 200);
    let seed: u64 = env_or("SOAK_SEED", 1);
    // 1: relayed messages go to Prosody's XEP-0033 service (contrib/prosody),
    // one stanza per message instead of one per member.
    let multicast = env_or("SOAK_MULTICAST", 0) == 1;
    const SENDERS: usize = 5;
    eprintln!(
        "soak: {secs} s at {rate} msg/s into {members} members, sampling every {sample_secs} s (seed {seed}, multicast {multicast})"
    );
    let p = Server::start_with(
        Kind::Prosody,
        &support::Options {
            multicast_max_addresses: None,
            ..support::Options::new(&[(COMPONENT, SECRET)])
        },
    );
    let http = free_port();
    let component = if multicast {
        "multicast = \"multicast.localhost\"\nmulticast_batch = 10000\n"
    } else {
        ""
    };
    let tg = Talkgroups::start_with_component(&p, component, &config(http, ""));
    let pid = pid_of(&tg.config_path);
    let mut alice = join(&p, "alice", LOBBY).await;
    let sp = free_port();
    let (delivered, _sink) = counting_sink(sp).await;
    alice
        .send_message(
            LOBBY,
            &format!("//addroutesend sink sink-password http://127.0.0.1:{sp}/in"),
        )
        .await;
    let r = alice.expect_body_from(LOBBY, T).await;
    assert!(r.starts_with("OK"), "{r}");
    // Join in batches (each is a login and a subscription handshake).
    let names: Vec<String> = (0..members.saturating_sub(1))
        .map(|i| format!("m{i:03}"))
        .collect();
    let mut clients = Vec::new();
    for batch in names.chunks(20) {
        let joined = futures::future::join_all(batch.iter().map(|u| join(&p, u, LOBBY))).await;
        clients.extend(batch.iter().cloned().zip(joined));
    }
    eprintln!("soak: {} members joined", clients.len() + 1);

    let deadline = Instant::now() + Duration::from_secs(secs);
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let reconnects = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let mut rng = Rng(seed);
    let p = Arc::new(p);
    for (i, (name, mut c)) in clients.into_iter().enumerate() {
        let (sent, received, reconnects) = (sent.clone(), received.clone(), reconnects.clone());
        let p = p.clone();
        let mut rng = Rng(rng.next());
        tasks.push(tokio::spawn(async move {
            if i < SENDERS {
                // Each sender: rate / SENDERS messages a second.
                let gap = Duration::from_micros(1_000_000 * SENDERS as u64 / rate.max(1));
                let mut n = 0u64;
                let mut next = Instant::now();
                while Instant::now() < deadline {
                    n += 1;
                    c.send_message(LOBBY, &format!("{name} {n} soak line of some length"))
                        .await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    next += gap;
                    count_for(
                        &mut c,
                        next.saturating_duration_since(Instant::now()),
                        &received,
                    )
                    .await;
                }
            } else if i % 5 == 0 {
                // A fifth of the members come and go: online 20-120 s,
                // offline 5-30 s, then catch-up on login.
                while Instant::now() < deadline {
                    let on = Duration::from_secs(rng.range(20, 120));
                    count_for(
                        &mut c,
                        on.min(deadline - Instant::now().min(deadline)),
                        &received,
                    )
                    .await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    c.close().await;
                    tokio::time::sleep(Duration::from_secs(rng.range(5, 30))).await;
                    c = TestClient::connect_online(&*p, &name, "pw", "r").await;
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
            } else {
                count_for(&mut c, deadline - Instant::now().min(deadline), &received).await;
            }
        }));
    }

    // The server's RSS too: when the component holds back (the in-flight
    // bound), what members send waits in the server.
    let server_pid = p.pid();
    println!(
        "{:>6} {:>10} {:>5} {:>8} {:>9} {:>10} {:>11} {:>6} {:>10}",
        "t_s", "rss_kb", "fds", "outbox", "sent", "delivered", "received", "relog", "server_kb"
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    let take = |rows: &mut Vec<String>, depth: Option<u64>| {
        let v = [
            started.elapsed().as_secs(),
            rss_kb(pid).unwrap_or(0),
            fd_count(pid).unwrap_or(0) as u64,
            depth.unwrap_or(u64::MAX),
            sent.load(Ordering::Relaxed),
            delivered.load(Ordering::Relaxed),
            received.load(Ordering::Relaxed),
            reconnects.load(Ordering::Relaxed),
            server_pid.and_then(rss_kb).unwrap_or(0),
        ];
        let row = serde_json::json!({
            "t_s": v[0], "rss_kb": v[1], "fds": v[2], "outbox_depth": depth,
            "sent": v[4], "delivered": v[5], "received": v[6], "reconnects": v[7],
            "server_rss_kb": v[8],
        });
        println!(
            "{:>6} {:>10} {:>5} {:>8} {:>9} {:>10} {:>11} {:>6} {:>10}",
            v[0], v[1], v[2], v[3] as i64, v[4], v[5], v[6], v[7], v[8]
        );
        println!("SOAK_JSON {row}");
        rows.push(row.to_string());
    };
    let depth = metrics(http)
        .await
        .and_then(|m| sample(&m, "talkgroups_outbox_depth"));
    take(&mut rows, depth);
    let mut next = Instant::now();
    while Instant::now() < deadline {
        next += Duration::from_secs(sample_secs);
        tokio::time::sleep(next.min(deadline).saturating_duration_since(Instant::now())).await;
        let depth = metrics(http)
            .await
            .and_then(|m| sample(&m, "talkgroups_outbox_depth"));
        take(&mut rows, depth);
    }
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
    }
    // The outbox drains once the load stops.
    let drain_deadline = Instant::now() + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let depth = metrics(http)
            .await
            .and_then(|m| sample(&m, "talkgroups_outbox_depth"));
        if depth == Some(0) || Instant::now() > drain_deadline {
            take(&mut rows, depth);
            break;
        }
    }
    let s = sent.load(Ordering::Relaxed);
    let d = delivered.load(Ordering::Relaxed);
    eprintln!("soak: done; {s} sent, {d} delivered to the sink");
    assert!(d >= s, "the sink got {d} of {s} messages");
    drop(tg);
}
