//! The fake XMPP server of the component-alone benchmarks: it accepts the
//! XEP-0114 handshake of the real binary (checking the SHA-1 digest), and a
//! reader thread counts the relayed copies by looking only at attributes.
//! Nothing here links the component's code.
#![allow(dead_code)]

use super::{find, parse_num, read_until};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const JID: &str = "groups.localhost";
pub const GROUP: &str = "lobby@groups.localhost";
pub const SECRET: &str = "bench-secret";
pub const STREAM_ID: &str = "bench-stream-1";
/// Giving up on a run after this long without progress.
pub const STALL: Duration = Duration::from_secs(60);

/// A temporary directory with a config and a migrated database holding one
/// open group `lobby` with `members` offline members `u1@localhost`…
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub listener: TcpListener,
}

pub fn setup(bin: &Path, extra: &str, members: usize) -> Setup {
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
            r#"# Written by the talkgroups benchmarks.
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

{extra}
"#,
            db = db.display()
        ),
    )
    .unwrap();
    super::prepare_database(bin, &config, &db, members);
    Setup {
        dir,
        config,
        listener,
    }
}

pub fn spawn(bin: &Path, s: &Setup) -> Child {
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
pub fn accept_component(listener: &TcpListener) -> TcpStream {
    accept_component_then(listener, || {})
}

/// [`accept_component`], calling `on_header` once the component's stream
/// header has arrived and before answering it (the component has loaded its
/// database by then and waits for us).
pub fn accept_component_then(listener: &TcpListener, on_header: impl FnOnce()) -> TcpStream {
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
pub enum Ev {
    /// The `bench-sync-N` iq came back.
    Sync(u64),
    /// Every copy of message `seq` has been read.
    Done,
}

/// Shared between the writer (main thread) and the reader thread.
pub struct Shared {
    pub t0: Instant,
    /// Per history sequence number (1-based): when the message was written
    /// and when its last copy was read (ns since `t0`).
    pub sent_ns: Vec<AtomicU64>,
    pub done_ns: Vec<AtomicU64>,
    /// Copies expected per message (online members minus the sender).
    pub expected: u32,
    pub copies: AtomicU64,
    pub done_msgs: AtomicU64,
    pub probes: AtomicU64,
    pub first_probe_ns: AtomicU64,
    pub last_probe_ns: AtomicU64,
    /// Everything read, in bytes.
    pub bytes: AtomicU64,
}

impl Shared {
    pub fn new(messages: usize, expected: u32) -> Arc<Shared> {
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

    pub fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }
}

/// Reads everything the component sends until EOF, looking only at
/// attributes: `id='tgm-SEQ-…'` (a relayed copy of message SEQ),
/// `id='bench-sync-N'` (our sync iq's answer) and `type='probe'`. No XML
/// parser: the bench must read faster than the component writes.
pub fn reader(mut sock: TcpStream, sh: Arc<Shared>, tx: mpsc::Sender<Ev>) {
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
pub fn scan(buf: &[u8], sh: &Shared, counts: &mut [u32], tx: &mpsc::Sender<Ev>) -> usize {
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
pub fn sync(sock: &mut TcpStream, rx: &mpsc::Receiver<Ev>, n: u64) {
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
