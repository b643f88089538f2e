//! Faults with real parts: a full disk and a read-only file system (real
//! tmpfs mounts, so these need root — CI runs as root), kill -9 in the
//! middle of delivering a send route's queue, and SIGTERM while the server
//! has stopped reading with megabytes still to write to it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use minidom::Element;
use support::sink::Sink;
use support::{body_of, free_port, is_from_bare, join, Kind, Server, Talkgroups, TestClient};
use support::{COMPONENT, SECRET};

const T: Duration = Duration::from_secs(10);

// Each scenario runs against both servers: `prosody::NAME`, `ejabberd::NAME`.
support::for_each_server!(
    a_full_disk_gets_errors_not_oks_and_nothing_acknowledged_is_lost,
    a_read_only_database_is_refused_with_a_clear_error_and_kept_intact,
    kill_9_mid_delivery_resumes_the_outbox_without_losing_anything,
    sigterm_with_the_server_frozen_and_a_backlog_exits_within_seconds,
);
const LOBBY: &str = "lobby@groups.localhost";

fn group() -> String {
    "[relay]\nburst = 1000\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n".into()
}

/// A tmpfs of `size` mounted on a fresh temp dir; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with a note) when not root, unless CI is set: CI must run
    /// these.
    fn mount(size: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            assert!(
                std::env::var_os("CI").is_none(),
                "fault tests mount tmpfs file systems and need root in CI"
            );
            eprintln!("SKIPPED: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("tg-fs-")
            .tempdir()
            .expect("tempdir");
        mount(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            dir.path(),
        );
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) {
        mount(&["-o", &format!("remount,{mode}")], self.path());
    }
}

fn mount(args: &[&str], at: &Path) {
    let status = Command::new("mount")
        .args(args)
        .arg(at)
        .status()
        .expect("run mount");
    assert!(status.success(), "mount {args:?} {} failed", at.display());
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// The next message from the group: its body, or `None` for an error.
async fn answer(c: &mut TestClient) -> Option<String> {
    let e: Element = c
        .wait_for(T, |e| {
            e.name() == "message"
                && is_from_bare(e, LOBBY)
                && (e.attr("type") == Some("error") || body_of(e).is_some())
        })
        .await;
    if e.attr("type") == Some("error") {
        None
    } else {
        body_of(&e)
    }
}

fn integrity_ok(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let r: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(r, "ok");
}

async fn a_full_disk_gets_errors_not_oks_and_nothing_acknowledged_is_lost(kind: Kind) {
    let Some(fs) = Tmpfs::mount("8m") else {
        return;
    };
    let db: PathBuf = fs.path().join("talkgroups.sqlite3");
    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    let mut tg = Talkgroups::start_with_db(&p, &db, &group());
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.drain_for(Duration::from_millis(300)).await;

    // Fill the file system.
    let filler = fs.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    // Until the WAL's reusable space runs out some commits still succeed;
    // every OK must be a stored change, every failure an error, no silence.
    let mut acked = String::from("alice");
    let mut errors = 0;
    for i in 0..60 {
        let nick = format!("n{i}-{}", "x".repeat(20));
        alice.send_message(LOBBY, &format!("//nick {nick}")).await;
        match answer(&mut alice).await {
            Some(b) if b.starts_with("OK") => acked = nick,
            Some(b) => panic!("neither OK nor an error: {b}"),
            None => {
                errors += 1;
                if errors == 3 {
                    break;
                }
            }
        }
    }
    assert!(errors > 0, "the disk never filled up");
    // The refused changes did not happen: the nick is the last acknowledged.
    alice.send_message(LOBBY, "//showinfo alice").await;
    let info = answer(&mut alice).await.expect("showinfo stores nothing");
    assert!(info.contains(&acked), "{info} (acknowledged: {acked})");
    assert!(
        tg.log().contains("could not store changes"),
        "no log line says why:\n{}",
        tg.log()
    );

    // Space again: the component carries on by itself.
    std::fs::remove_file(&filler).expect("remove filler");
    let mut ok = false;
    for _ in 0..3 {
        alice.send_message(LOBBY, "//nick Recovered").await;
        if answer(&mut alice)
            .await
            .is_some_and(|b| b.starts_with("OK"))
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ok, "no OK after the disk had space again");
    alice.drain_for(Duration::from_millis(500)).await;
    bob.send_message(LOBBY, "still here?").await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "[bob] still here?",
        "members are relayed to again"
    );

    // What was acknowledged survives a restart, and the file is sound.
    let t0 = Instant::now();
    assert_eq!(tg.stop(), Some(0));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "SIGTERM took {:?}",
        t0.elapsed()
    );
    integrity_ok(&db);
    tg.restart();
    alice.drain_for(Duration::from_millis(500)).await;
    alice.send_message(LOBBY, "//showinfo alice").await;
    let info = alice.expect_body_from(LOBBY, T).await;
    assert!(info.contains("Recovered"), "{info}");
}

async fn a_read_only_database_is_refused_with_a_clear_error_and_kept_intact(kind: Kind) {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let db: PathBuf = fs.path().join("talkgroups.sqlite3");
    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    let mut tg = Talkgroups::start_with_db(&p, &db, &group());
    let mut alice = join(&p, "alice", LOBBY).await;
    alice.send_message(LOBBY, "//nick Keeper").await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "OK, you are now Keeper."
    );
    assert_eq!(tg.stop(), Some(0));

    fs.remount("ro");
    let out = Command::new(env!("CARGO_BIN_EXE_talkgroups"))
        .arg("--config")
        .arg(&tg.config_path)
        .output()
        .expect("run talkgroups");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a read-only database");
    assert!(
        stderr.contains("read-only") && stderr.contains("talkgroups.sqlite3"),
        "unclear error: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    fs.remount("rw");
    integrity_ok(&db);
    tg.restart();
    alice.drain_for(Duration::from_millis(500)).await;
    alice.send_message(LOBBY, "//online").await;
    let online = alice.expect_body_from(LOBBY, T).await;
    assert!(online.contains("Keeper (alice)"), "{online}");
}

async fn kill_9_mid_delivery_resumes_the_outbox_without_losing_anything(kind: Kind) {
    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    let mut tg = Talkgroups::start(&p, &group());
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.drain_for(Duration::from_millis(300)).await;
    let port = free_port();
    // Each post takes 300 ms to answer: the kill lands mid-delivery.
    let sink = Sink::start_slow(port, Duration::from_millis(300)).await;
    alice
        .send_message(
            LOBBY,
            &format!("//addroutesend far password1 http://127.0.0.1:{port}/in"),
        )
        .await;
    assert!(alice.expect_body_from(LOBBY, T).await.starts_with("OK"));
    const N: usize = 12;
    for i in 1..=N {
        bob.send_message(LOBBY, &format!("m{i}")).await;
    }
    sink.wait_for(3, T).await;
    tg.kill9();
    let before = sink.hits().len();
    assert!(before < N, "everything was delivered before the kill");
    tg.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut firsts: Vec<String> = Vec::new();
    let mut total = 0;
    while Instant::now() < deadline {
        let hits = sink.hits();
        total = hits.len();
        firsts.clear();
        for h in &hits {
            let body = h.json()["body"].as_str().unwrap_or_default().to_string();
            if !firsts.contains(&body) {
                firsts.push(body);
            }
        }
        if firsts.len() == N {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let want: Vec<String> = (1..=N).map(|i| format!("m{i}")).collect();
    assert_eq!(firsts, want, "in order, all of them");
    // At most the one in flight at the kill is posted twice (same id, so
    // the far side drops it).
    assert!(total <= N + 1, "{total} posts for {N} messages");
}

/// A process we started, stopped with SIGSTOP until this is dropped
/// (SIGCONT), so a failing assertion never leaves it frozen.
struct Frozen(u32);

impl Frozen {
    fn new(pid: u32) -> Frozen {
        signal("-STOP", pid);
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(sig: &str, pid: u32) {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// The server stops reading (SIGSTOP: the socket stays open, nothing is
/// read, no footer ever comes) while the component has far more copies to
/// write than the kernel's buffers hold. Stopping must still take seconds,
/// not hang on the writes or on the server's goodbye, and must not lose
/// what was acknowledged.
async fn sigterm_with_the_server_frozen_and_a_backlog_exits_within_seconds(kind: Kind) {
    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    let http = free_port();
    let mut tg = Talkgroups::start(
        &p,
        &format!("[http]\nlisten = \"127.0.0.1:{http}\"\n\n{}", group()),
    );
    let mut members = Vec::new();
    for u in ["alice", "bob", "carol"] {
        members.push(join(&p, u, LOBBY).await);
    }
    for c in &mut members {
        c.drain_for(Duration::from_millis(300)).await;
    }
    let (ok, token, err) = tg.token(&["add", "--scope", "group:lobby"]);
    assert!(ok, "{err}");
    let frozen = Frozen::new(p.pid().expect("server pid"));
    // 300 posts of 8 000 characters to 3 members: about 7 MB of copies,
    // more than loopback's socket buffers take without a reader.
    let c = reqwest::Client::new();
    let filler = "x".repeat(8_000);
    const POSTS: usize = 300;
    for i in 0..POSTS {
        let r = c
            .post(format!(
                "http://127.0.0.1:{http}/api/v1/groups/lobby/messages"
            ))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(serde_json::json!({"body": format!("{i} {filler}")}).to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 202, "post {i}");
    }
    let t0 = Instant::now();
    assert_eq!(tg.stop(), Some(0), "a clean exit:\n{}", tg.log());
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(8), "SIGTERM took {took:?}");
    eprintln!("SIGTERM with the server frozen: stopped in {took:?}");
    drop(frozen);
    // The history holds every acknowledged post, after a restart.
    tg.restart();
    let (ok, token, err) = tg.token(&["add", "--scope", "group:lobby"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = c
        .get(format!(
            "http://127.0.0.1:{http}/api/v1/groups/lobby/messages?limit=1000"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("history")
        .text()
        .await
        .expect("history")
        .parse()
        .expect("history JSON");
    let posted = v.as_array().map_or(0, |a| {
        a.iter()
            .filter(|m| m["body"].as_str().is_some_and(|b| b.ends_with(&filler)))
            .count()
    });
    assert_eq!(posted, POSTS, "every acknowledged post is in the history");
    // And the group relays again.
    let (a, rest) = members.split_at_mut(1);
    for c in rest.iter_mut() {
        c.drain_for(Duration::from_millis(200)).await;
    }
    a[0].send_message(LOBBY, "after the thaw").await;
    let mut relayed = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !relayed {
        for e in rest[0].drain_for(Duration::from_millis(500)).await {
            relayed |= is_from_bare(&e, LOBBY)
                && body_of(&e).is_some_and(|b| b.ends_with("after the thaw"));
        }
    }
    assert!(relayed, "bob never got the message after the restart");
}
