//! Blocking, byte-level c2s for benchmark clients: no XML parser, no async
//! runtime; a client reads its socket on a thread of its own and looks for
//! markers in the bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The opening of a c2s stream to `domain`.
pub fn client_stream_header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' version='1.0'>"
    )
}

/// Reads into `buf` until `done` finds what it wants (30 s at most);
/// returns what `done` returned. Panics on timeout or when the peer closes.
pub fn read_until(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> Option<usize>,
) -> usize {
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    loop {
        if let Some(n) = done(buf) {
            sock.set_read_timeout(None).unwrap();
            return n;
        }
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).expect("read from the peer");
        assert!(n > 0, "peer closed: {}", String::from_utf8_lossy(buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Writes `send`, then reads until `until` and returns what came up to
/// and including it (removed from `buf`; what followed stays there).
pub fn step(sock: &mut TcpStream, buf: &mut Vec<u8>, send: &str, until: &[u8]) -> String {
    sock.write_all(send.as_bytes()).unwrap();
    let end = read_until(sock, buf, |b| find(b, until).map(|p| p + until.len()));
    let got = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end);
    got
}

/// Logs `user@domain/resource` in on 127.0.0.1:`port`: stream, SASL PLAIN,
/// stream restart, resource binding. Sends no presence. Returns the socket
/// (Nagle off) and what was read past the bind result. Panics if the login
/// fails.
pub fn login(
    port: u16,
    domain: &str,
    user: &str,
    pass: &str,
    resource: &str,
) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("c2s connect");
    s.set_nodelay(true).unwrap();
    let mut buf = Vec::new();
    let header = client_stream_header(domain);
    step(&mut s, &mut buf, &header, b"</stream:features>");
    let r = step(
        &mut s,
        &mut buf,
        &crate::sasl_plain_auth(user, pass),
        b"xmpp-sasl",
    );
    assert!(!r.contains("failure"), "login of {user} failed: {r}");
    step(&mut s, &mut buf, &header, b"</stream:features>");
    step(
        &mut s,
        &mut buf,
        &format!(
            "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>{resource}</resource></bind></iq>"
        ),
        b"</jid>",
    );
    (s, buf)
}
