//! Test support for the files of this module: [`Peer`], the server side of
//! one component connection speaking raw text on loopback, and
//! [`Harness`], which runs [`super::run`] against it.

use std::time::Duration;

use minidom::Element;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use xmpp_parsers::component::Handshake;
use xmpp_parsers::ns;

use super::{run, Outbound, XmppConfig, XmppEvent, INBOX_MAX};

pub(super) const JID: &str = "groups.localhost";
pub(super) const SECRET: &str = "s3cret";
const STREAM_ID: &str = "fake-stream-id";
pub(super) const WAIT: Duration = Duration::from_secs(3);

pub(super) fn config(addr: std::net::SocketAddr, secret: &str, keepalive: Duration) -> XmppConfig {
    XmppConfig {
        jid: JID.to_owned(),
        secret: secret.to_owned(),
        server: addr.to_string(),
        keepalive,
        reconnect_max: Duration::from_secs(8),
        inbox_max: INBOX_MAX,
    }
}

pub(super) struct Harness {
    pub(super) events: mpsc::Receiver<XmppEvent>,
    pub(super) outbound: mpsc::Sender<Outbound>,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) task: JoinHandle<()>,
}

impl Harness {
    pub(super) fn start(cfg: XmppConfig, events_capacity: usize) -> Harness {
        let (events_tx, events) = mpsc::channel(events_capacity);
        let (outbound, outbound_rx) = mpsc::channel(4);
        let (shutdown, shutdown_rx) = watch::channel(false);
        // tokio::spawn also proves the future is Send.
        let task = tokio::spawn(run(cfg, events_tx, outbound_rx, shutdown_rx));
        Harness {
            events,
            outbound,
            shutdown,
            task,
        }
    }

    pub(super) async fn event(&mut self) -> XmppEvent {
        tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("no event in time")
            .expect("events closed")
    }

    pub(super) async fn stanza(&mut self) -> Element {
        match self.event().await {
            XmppEvent::Stanza(el) => el,
            other => panic!("expected a stanza, got {other:?}"),
        }
    }

    pub(super) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.outbound.send(Outbound::Flush(tx)).await.unwrap();
        tokio::time::timeout(WAIT, rx)
            .await
            .expect("flush timed out")
            .expect("flush dropped");
    }
}

/// The server side of one component connection, speaking raw text.
pub(super) struct Peer {
    sock: TcpStream,
    buf: String,
}

fn handshake_hex(secret: &str) -> String {
    let digest = Handshake::from_stream_id_and_password(STREAM_ID.to_owned(), secret)
        .data
        .unwrap();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Peer {
    /// Accepts a connection and reads the handshake; returns whether
    /// its digest matched `secret` (nothing is answered yet).
    pub(super) async fn accept_raw(listener: &TcpListener, secret: &str) -> (Peer, bool) {
        let (sock, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("no connection in time")
            .unwrap();
        let mut peer = Peer {
            sock,
            buf: String::new(),
        };
        let header = peer.read_until(">").await; // <?xml …?>
        let header = if header.starts_with("<?xml") {
            peer.read_until(">").await
        } else {
            header
        };
        assert!(header.contains("<stream:stream"), "{header}");
        assert!(header.contains("jabber:component:accept"), "{header}");
        assert!(header.contains(&format!("to='{JID}'")), "{header}");
        peer.send(&format!(
            "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
             xmlns='jabber:component:accept' id='{STREAM_ID}' from='{JID}'>"
        ))
        .await;
        let hs = peer.read_until("</handshake>").await;
        let digest = hs
            .trim_end_matches("</handshake>")
            .rsplit('>')
            .next()
            .unwrap()
            .to_owned();
        (peer, digest == handshake_hex(secret))
    }

    /// Accepts a connection with the right secret and completes it.
    pub(super) async fn accept(listener: &TcpListener) -> Peer {
        let (mut peer, ok) = Peer::accept_raw(listener, SECRET).await;
        assert!(ok, "wrong handshake digest");
        peer.send("<handshake/>").await;
        peer
    }

    pub(super) async fn send(&mut self, xml: &str) {
        self.sock.write_all(xml.as_bytes()).await.unwrap();
    }

    /// Reads until `needle`; returns (and consumes) the text up to and
    /// including it.
    pub(super) async fn read_until(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(pos) = self.buf.find(needle) {
                let rest = self.buf.split_off(pos + needle.len());
                return std::mem::replace(&mut self.buf, rest);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.sock.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}; got {:?}", self.buf))
                .unwrap();
            assert!(
                n > 0,
                "EOF while waiting for {needle:?}; got {:?}",
                self.buf
            );
            self.buf.push_str(std::str::from_utf8(&chunk[..n]).unwrap());
        }
    }

    /// Reads until the client closes, returning everything.
    pub(super) async fn read_to_end(&mut self) -> String {
        let mut rest = Vec::new();
        tokio::time::timeout(WAIT, self.sock.read_to_end(&mut rest))
            .await
            .expect("client did not close")
            .unwrap();
        self.buf.push_str(std::str::from_utf8(&rest).unwrap());
        std::mem::take(&mut self.buf)
    }
}

pub(super) fn message(id: &str, body: &str) -> Element {
    Element::builder("message", ns::COMPONENT)
        .attr("id".try_into().unwrap(), id)
        .attr("from".try_into().unwrap(), JID)
        .attr("to".try_into().unwrap(), "alice@localhost")
        .append(Element::builder("body", ns::COMPONENT).append(body).build())
        .build()
}

pub(super) async fn listener() -> (TcpListener, std::net::SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}
