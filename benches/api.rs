//! Operations API benchmark (issue 19): `GET /api/v1/groups/lobby/
//! messages?limit=1000` against a history of 1 000 000 rows, its p50 and
//! p99, with cursors spread over the whole history.
//!
//! The real release binary runs with its HTTP listener and no XMPP server
//! (it keeps trying to connect; the API answers all the same). The
//! database is made by `talkgroups check`, then filled directly; the token
//! comes from `talkgroups token add`.
//!
//! Usage: `cargo bench --bench api -- [--rows N] [--requests N]`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{percentile_ms, talkgroups_bin, Guard};

fn main() {
    if common::skip_unless_cargo_bench("api") {
        return;
    }
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut rows = 1_000_000usize;
    let mut requests = 500usize;
    while let Some(a) = args.next() {
        let n: usize = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--rows" => rows = n,
            "--requests" => requests = n,
            other => panic!("unknown argument {other:?}"),
        }
    }
    let bin = talkgroups_bin();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("api.sqlite3");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[component]\njid = \"groups.localhost\"\nsecret = \"s\"\nserver = \"127.0.0.1:9\"\n\
             [storage]\ndatabase = \"{}\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n",
            db.display()
        ),
    )
    .unwrap();
    common::prepare_database(&bin, &config, &db, 2);
    eprintln!("api: filling {rows} history rows");
    let t = Instant::now();
    {
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO history(id, group_name, sender, nick, text, at, origin_id)
                     VALUES (?1, 'lobby', 'u1@localhost', 'u1', ?2, ?1, NULL)",
                )
                .unwrap();
            for i in 1..=rows as i64 {
                ins.execute(rusqlite::params![
                    i,
                    format!("A chat line of about sixty bytes, number {i}, for the API bench.")
                ])
                .unwrap();
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('max_history_id', ?1)",
            [rows as i64],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    eprintln!("  filled in {:.1} s", t.elapsed().as_secs_f64());
    let out = Command::new(&bin)
        .args(["token", "add", "--scope", "group:lobby", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        token.starts_with("tg_"),
        "no token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::File::create(dir.path().join("talkgroups.log")).unwrap();
    let child = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Guard::new(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sock = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "the listener never came up");
        std::thread::sleep(Duration::from_millis(50));
    };
    sock.set_nodelay(true).unwrap();
    let mut times = Vec::with_capacity(requests);
    let mut bytes = 0usize;
    let mut rng = common::Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..requests + 20 {
        // Cursors spread over the whole history.
        let before = 1000 + rng.below(rows.saturating_sub(1000).max(1)) as i64;
        let req = format!(
            "GET /api/v1/groups/lobby/messages?limit=1000&before={before} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        let t = Instant::now();
        sock.write_all(req.as_bytes()).unwrap();
        let body = read_response(&mut sock);
        let ns = t.elapsed().as_nanos() as u64;
        if i >= 20 {
            times.push(ns);
            bytes += body;
        }
    }
    let rss = common::rss_kib(child.id());
    child.stop();
    times.sort_unstable();
    eprintln!(
        "  {requests} requests, {:.0} KB per answer",
        bytes as f64 / requests as f64 / 1000.0
    );
    println!(
        "{{\"bench\":\"api_messages\",\"rows\":{rows},\"limit\":1000,\"requests\":{requests},\
         \"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"rss_kib\":{rss}}}",
        percentile_ms(&times, 0.5),
        percentile_ms(&times, 0.99),
        percentile_ms(&times, 1.0)
    );
}

/// Reads one HTTP/1.1 answer with a Content-Length; its body's length.
fn read_response(sock: &mut TcpStream) -> usize {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(e) = common::find(&buf, b"\r\n\r\n") {
            break e + 4;
        }
        let n = sock.read(&mut chunk).unwrap();
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).unwrap();
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    len
}
