//! The dev-only harness of talkgroups' integration tests (`tests/support`)
//! and benchmarks (`benches/`): private XMPP servers on loopback, free
//! ports, process guards and the raw bytes of a c2s login.
//!
//! - [`Prosody`] and [`Ejabberd`]: a private server per instance, with its own
//!   temp dir, config and free loopback ports, stopped on drop; [`Server`] is
//!   either, chosen by [`Kind`]. [`Options`] says what to configure besides the
//!   one virtual host `localhost`: components, a MUC service, the XEP-0033
//!   address limit, and the benches' lean set-up (no shapers, few modules,
//!   plain accounts that can be written as files).
//! - [`Guard`] and [`terminate`]: stop a process we started, by its own PID
//!   only, never by name.
//! - [`wire`]: a blocking c2s login over `std::net::TcpStream` (stream header,
//!   SASL PLAIN, resource binding) and the byte-level reading helpers the
//!   benches' clients use.
//!
//! What stays outside: the async `TestClient` of `tests/support` is built on
//! tokio-xmpp's XML stream, and this crate depends on neither tokio-xmpp nor
//! xmpp-parsers (xmpp-parsers' `component` feature changes the default
//! namespace for the whole build graph, and the benches' sync clients need
//! no tokio at all). The talkgroups process wrappers stay with their users
//! too: the tests' `Talkgroups` needs `CARGO_BIN_EXE_talkgroups`, which only
//! the talkgroups package's own targets get.
//!
//! Environment knobs: `PROSODY_BIN`, `PROSODYCTL_BIN`, `PROSODY_LOG_LEVEL`
//! (see [`Prosody`]); `EJABBERDCTL_BIN`, `EJABBERD_LOG_LEVEL`,
//! `TALKGROUPS_EJABBERD_PARALLEL` (see [`Ejabberd`]).

mod ejabberd;
mod guard;
mod prosody;
mod server;
pub mod wire;

pub use ejabberd::Ejabberd;
pub use guard::{descendants, terminate, Guard};
pub use prosody::Prosody;
pub use server::{Kind, Options, Server, XmppServer};

use std::fs;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// `n` distinct ports that were free a moment ago.
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::with_capacity(n);
    while ports.len() < n {
        let p = free_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    ports
}

/// Whether 127.0.0.1:`port` accepts a TCP connection (within 200 ms).
pub fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Standard base64 (with padding); enough for SASL PLAIN.
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// The SASL PLAIN initial response for `user` / `pass` (no authzid), in
/// base64: the text of `<auth mechanism='PLAIN'>`.
pub fn sasl_plain(user: &str, pass: &str) -> String {
    base64(format!("\0{user}\0{pass}").as_bytes())
}

/// The whole `<auth/>` element of a SASL PLAIN login.
pub fn sasl_plain_auth(user: &str, pass: &str) -> String {
    format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        sasl_plain(user, pass)
    )
}

/// The last `n` lines of a log file, with a header line.
pub fn log_tail(path: &Path, n: usize) -> String {
    let log = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(n);
    format!(
        "--- last {} lines of {} ---\n{}",
        lines.len() - start,
        path.display(),
        lines[start..].join("\n")
    )
}

/// What was appended to `path` after byte `offset` (empty if unreadable).
pub fn read_from(path: &Path, offset: u64) -> String {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.read_to_string(&mut s);
        }
    }
    s
}

/// `$env`, else `name` in `$PATH` (then in `extra` dirs); panics with `hint`.
fn find_binary(env: &str, name: &str, extra: &[&str], hint: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(extra.iter().map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` not found in PATH: {hint} (or set {env}).");
}

/// The source tree's `contrib/` (Prosody plugins, ejabberd examples).
fn contrib_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives in the talkgroups source tree")
        .join("contrib")
}

/// Another process took one of our ports between probing and binding.
enum StartError {
    PortInUse(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(sasl_plain("u1", "pw"), "AHUxAHB3");
    }
}
