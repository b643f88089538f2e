//! The XMPP transport: one XEP-0114 component connection, kept up forever.
//!
//! This is the only module that names `tokio_xmpp`. It deals in raw
//! [`minidom::Element`]s and never interprets a stanza beyond telling
//! stanzas from stream-level elements: parsing and answering `bad-request`
//! is the core's job. That is deliberate — tokio-xmpp's typed `Component`
//! ends the whole stream on one stanza xmpp-parsers refuses (e.g.
//! `<show>bogus</show>`), which would let any user knock the component off.
//!
//! What it owns, file by file:
//! - `mod.rs` (here): the public API — [`run`], [`XmppConfig`],
//!   [`XmppEvent`], [`Outbound`], [`INBOX_MAX`], the errors — and the
//!   reconnect loop of [`run`]: connect, drive a session, back off, retry;
//! - `open.rs`: opening a stream — TCP connect, stream header and the
//!   XEP-0114 handshake (`<handshake/>` or a `<stream:error>` whose
//!   condition is logged: `not-authorized` for a wrong secret, `conflict`
//!   when another instance holds the component), and the socket transport
//!   under the XML stream;
//! - `session.rs`: one connected session — reading and writing
//!   *concurrently* on one task (a server that bounces errors while we
//!   flood it must never deadlock us), each batch from `outbound`
//!   serialized a chunk at a time and written to the socket as it takes
//!   it; the keepalive ping (`keepalive_ping`) and dead-connection
//!   detection; a graceful close (queued stanzas, then the stream footer)
//!   on shutdown;
//! - `inbox.rs`: inbound events on their way to the app, and the
//!   backpressure: once `inbox_max` stanzas wait, the session stops
//!   reading the socket until the app catches up;
//! - `backoff.rs`: the capped, jittered exponential reconnect delay. Its
//!   own file rather than part of `open.rs` or `session.rs`: it is neither
//!   opening a stream nor a session but the wait between them, used only by
//!   the loop in [`run`];
//! - `fake_server.rs` (tests only): a scripted XMPP server on loopback and
//!   a harness around [`run`], shared by the tests of the files above.
//!
//! Outbound stanzas must be built in the `jabber:component:accept`
//! namespace ([`xmpp_parsers::ns::COMPONENT`]), the stream's default one.

mod backoff;
#[cfg(test)]
mod fake_server;
mod inbox;
mod open;
mod session;

use std::fmt;
use std::io;
use std::time::Duration;

use minidom::Element;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::xmlstream::Timeouts;
use tracing::{error, info, warn};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::ns;

use crate::wire::OutStanza;

use backoff::Backoff;
use inbox::Inbox;
use open::{open, HANDSHAKE_TIMEOUT};
use session::{End, Session};

/// Keepalive floor: a zero keepalive would ping in a tight loop.
const MIN_KEEPALIVE: Duration = Duration::from_millis(100);

/// Connection settings, validated by the config module.
#[derive(Clone)]
pub struct XmppConfig {
    /// The component's JID, a bare domain such as `groups.localhost`.
    pub jid: String,
    /// The shared secret of the component (XEP-0114 handshake). Never logged.
    pub secret: String,
    /// `host:port` of the server's component listener, e.g. `127.0.0.1:5347`.
    pub server: String,
    /// Ping the server after this long without receiving anything; give up
    /// on the connection when nothing arrives for another `keepalive`.
    pub keepalive: Duration,
    /// Cap of the reconnect backoff.
    pub reconnect_max: Duration,
    /// At most this many inbound stanzas wait for the app beyond its
    /// channel; past it the socket is not read (TCP backpressure: the server
    /// holds the rest) until the app catches up.
    pub inbox_max: usize,
}

/// The default `inbox_max`. Small on purpose: a parsed stanza takes about
/// 600 bytes, and at start thousands of members' presences arrive at once;
/// 2 048 here (and a channel of 1 024) made that burst 3 MB of the RSS at
/// 10 000 members, for no more throughput (BENCHMARKS.md, "memory").
pub const INBOX_MAX: usize = 256;

impl fmt::Debug for XmppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmppConfig")
            .field("jid", &self.jid)
            .field("secret", &"<redacted>")
            .field("server", &self.server)
            .field("keepalive", &self.keepalive)
            .field("reconnect_max", &self.reconnect_max)
            .finish()
    }
}

/// What the connection tells the app.
#[derive(Debug)]
pub enum XmppEvent {
    /// A handshake succeeded (after every reconnect too): send presence and
    /// probes now. Whatever was queued in `outbound` while disconnected goes
    /// out first.
    Connected,
    /// The connection was lost; a reconnect is under way.
    Disconnected,
    /// A `<message/>`, `<presence/>` or `<iq/>`, exactly as received. It may
    /// be invalid for xmpp-parsers: the core answers `bad-request` itself.
    Stanza(Element),
}

/// The copies handed to the connection and not yet written to its socket.
/// The app stops reading the server while there are too many (so the
/// server holds what members send), and goes on meanwhile with what
/// needs no reading: deliveries, posts, time.
#[derive(Debug, Default)]
pub struct InFlight {
    copies: std::sync::atomic::AtomicUsize,
    freed: tokio::sync::Notify,
}

impl InFlight {
    /// Counts `n` copies in flight until the ticket is dropped.
    pub fn ticket(self: &std::sync::Arc<Self>, n: usize) -> Ticket {
        self.copies
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ticket {
            of: self.clone(),
            n,
        }
    }

    pub fn copies(&self) -> usize {
        self.copies.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Returns once copies were written since the last call (or at once
    /// if they were before it).
    pub async fn freed(&self) {
        self.freed.notified().await
    }
}

/// Copies in flight (see [`InFlight`]); dropping it counts them written.
#[derive(Debug)]
pub struct Ticket {
    of: std::sync::Arc<InFlight>,
    n: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        (self.of.copies).fetch_sub(self.n, std::sync::atomic::Ordering::Relaxed);
        self.of.freed.notify_one();
    }
}

/// What the app asks the connection to do.
#[derive(Debug)]
pub enum Outbound {
    /// Write these stanzas, in order, then flush.
    Stanzas(Vec<OutStanza>),
    /// The same, counted in flight until they are all written to the
    /// socket (or the connection drops them): see [`InFlight`].
    Held(Vec<OutStanza>, Ticket),
    /// Reply once everything sent before this has been flushed to the socket.
    /// While disconnected the request waits in the channel for the next
    /// connection; if the connection is lost or `run` ends before the flush
    /// completes, the sender is dropped. Either way: wait with a timeout.
    Flush(oneshot::Sender<()>),
}

/// Why a connection attempt failed or a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum XmppError {
    #[error("invalid component JID {jid:?}: {source}")]
    BadJid {
        jid: String,
        source: xmpp_parsers::jid::Error,
    },
    #[error("cannot open the stream: {0}")]
    Connect(#[source] io::Error),
    #[error("the server's stream header has no id")]
    NoStreamId,
    #[error("no handshake answer within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("unexpected <{0}/> instead of the handshake answer")]
    UnexpectedElement(String),
    #[error("the server sent a stream error: {0}")]
    Stream(StreamErrorInfo),
    #[error("the server closed the stream")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// The gist of a received `<stream:error/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamErrorInfo {
    /// The defined condition, e.g. `not-authorized`, `conflict`.
    pub condition: String,
    /// The server's human-readable `<text/>`, if any.
    pub text: Option<String>,
}

impl StreamErrorInfo {
    /// Reads any `<stream:error/>`, even one xmpp-parsers' typed
    /// `StreamError` would refuse (unknown condition, extra children).
    fn from_element(el: &Element) -> Self {
        let mut condition = None;
        let mut text = None;
        for child in el.children() {
            if child.ns() != ns::XMPP_STREAMS {
                continue;
            }
            if child.name() == "text" {
                text.get_or_insert_with(|| child.text());
            } else {
                condition.get_or_insert_with(|| child.name().to_owned());
            }
        }
        StreamErrorInfo {
            condition: condition.unwrap_or_else(|| "undefined-condition".to_owned()),
            text,
        }
    }

    /// A hint for the operator, for the conditions a component meets.
    fn hint(&self) -> &'static str {
        match self.condition.as_str() {
            "not-authorized" => " (wrong component secret?)",
            "conflict" => " (another connection already holds this component)",
            "host-unknown" => " (the server has no component of this name)",
            _ => "",
        }
    }
}

impl fmt::Display for StreamErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.condition)?;
        if let Some(text) = &self.text {
            write!(f, " ({text:?})")?;
        }
        f.write_str(self.hint())
    }
}

/// Runs forever: connect, handshake, then read stanzas (→ `events`) while
/// writing batches from `outbound`; on any connection loss send
/// [`XmppEvent::Disconnected`], back off (exponential from 1 s, capped at
/// `reconnect_max`, jittered to 50–100 %) and retry. A rejected handshake
/// (wrong secret, conflict) is logged as an error and retried with the same
/// backoff, never in a tight loop.
///
/// Returns when `shutdown` becomes `true` (or its sender is dropped), when
/// `outbound` is closed and drained, or when the `events` receiver is gone.
/// On shutdown it writes what is already queued in `outbound`, answers the
/// `Flush`es among it, sends the stream footer and closes. The caller sends
/// its final stanzas and a [`Outbound::Flush`] before triggering shutdown.
///
/// While disconnected `outbound` is not read: whatever the caller queues
/// waits in the channel (bounded: the caller feels the backpressure) and
/// goes out after the next handshake. A batch whose write fails mid-way is
/// dropped (the count is logged): after a reconnect the core re-announces
/// its presence, and delivery of messages is at-most-once anyway.
///
/// Events are never awaited while connected: if the app is slow, inbound
/// stanzas wait in a local backlog rather than stop this task from writing
/// (that cycle — app blocked on `outbound`, us on `events` — would deadlock
/// both). The backlog is bounded: once `inbox_max` stanzas wait in it, this
/// task stops reading the socket (TCP backpressure: the server holds the
/// rest) but goes on writing and delivering, and reads again once the app
/// has caught up.
pub async fn run(
    cfg: XmppConfig,
    events: mpsc::Sender<XmppEvent>,
    mut outbound: mpsc::Receiver<Outbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let jid = match Jid::new(&cfg.jid) {
        Ok(jid) => jid,
        Err(source) => {
            let err = XmppError::BadJid {
                jid: cfg.jid.clone(),
                source,
            };
            error!(error = %err, "not connecting");
            return;
        }
    };
    let keepalive = if cfg.keepalive < MIN_KEEPALIVE {
        warn!(keepalive = ?cfg.keepalive, min = ?MIN_KEEPALIVE, "keepalive too short, using the minimum");
        MIN_KEEPALIVE
    } else {
        cfg.keepalive
    };
    // No data for `keepalive` → ReadError::SoftTimeout (we ping); no data
    // for another `keepalive` after that → hard TimedOut error (reconnect).
    let timeouts = Timeouts {
        read_timeout: keepalive,
        response_timeout: keepalive,
    };
    let mut inbox = Inbox::new(events, cfg.inbox_max.max(1));
    let mut backoff = Backoff::new(cfg.reconnect_max);

    loop {
        if *shutdown.borrow() {
            return;
        }
        if outbound.is_closed() && outbound.is_empty() {
            info!("outbound channel closed, stopping the XMPP connection");
            return;
        }
        info!(server = %cfg.server, jid = %jid, "connecting to the XMPP server");
        let opened = tokio::select! {
            biased;
            () = wait_shutdown(&mut shutdown) => return,
            () = inbox.deliver_until_closed() => return,
            opened = tokio::time::timeout(HANDSHAKE_TIMEOUT, open(&cfg.server, &jid, &cfg.secret, timeouts)) => {
                opened.unwrap_or(Err(XmppError::HandshakeTimeout(HANDSHAKE_TIMEOUT)))
            }
        };
        match opened {
            Ok((stream, wire)) => {
                info!(jid = %jid, "connected to the XMPP server");
                backoff.reset();
                inbox.push(XmppEvent::Connected);
                let mut session = Session::new(stream, wire, jid.clone(), keepalive, &mut inbox);
                match session.drive(&mut outbound, &mut shutdown).await {
                    End::Shutdown => {
                        info!("shutting down the XMPP connection");
                        session.close(&mut outbound).await;
                        return;
                    }
                    End::OutboundClosed => {
                        info!("outbound channel closed, stopping the XMPP connection");
                        session.close(&mut outbound).await;
                        return;
                    }
                    End::EventsClosed => {
                        info!("event receiver gone, stopping the XMPP connection");
                        session.close(&mut outbound).await;
                        return;
                    }
                    End::Drained => unreachable!("only a closing session drains"),
                    End::Lost(err) => {
                        warn!(error = %err, "lost the XMPP connection");
                        session.abandon(&err).await;
                        inbox.push(XmppEvent::Disconnected);
                    }
                }
            }
            Err(err) => log_connect_failure(&err),
        }
        let delay = backoff.next_delay();
        info!(
            delay_ms = delay.as_millis() as u64,
            "reconnecting after a delay"
        );
        tokio::select! {
            biased;
            () = wait_shutdown(&mut shutdown) => return,
            () = inbox.deliver_until_closed() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

fn log_connect_failure(err: &XmppError) {
    match err {
        XmppError::Stream(_) | XmppError::BadJid { .. } | XmppError::UnexpectedElement(_) => {
            error!(error = %err, "the XMPP server refused the component")
        }
        _ => warn!(error = %err, "cannot connect to the XMPP server"),
    }
}

/// Resolves when shutdown is requested, or when nobody can request it any
/// more (the sender is gone).
async fn wait_shutdown(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::fake_server::*;
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn server_close_means_disconnected_then_reconnect() {
        let (listener, addr) = listener().await;
        let mut h = Harness::start(config(addr, SECRET, Duration::from_secs(5)), 16);
        let mut peer = Peer::accept(&listener).await;
        assert!(matches!(h.event().await, XmppEvent::Connected));
        peer.send("</stream:stream>").await;
        assert!(peer.read_to_end().await.contains("</stream:stream>"));
        drop(peer);
        assert!(matches!(h.event().await, XmppEvent::Disconnected));
        let started = Instant::now();
        let mut peer = Peer::accept(&listener).await;
        assert!(started.elapsed() >= Duration::from_millis(450));
        assert!(matches!(h.event().await, XmppEvent::Connected));
        peer.send("<message id='again'/>").await;
        assert_eq!(h.stanza().await.attr("id"), Some("again"));

        // A stream error mid-session: same path, logged with its condition.
        peer.send(
            "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        )
        .await;
        assert!(matches!(h.event().await, XmppEvent::Disconnected));
        h.task.abort();
    }

    #[test]
    fn stream_error_condition_and_text() {
        let el: Element = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>\
            <conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
            <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Component already connected</text>\
            </stream:error>"
            .parse()
            .unwrap();
        let info = StreamErrorInfo::from_element(&el);
        assert_eq!(info.condition, "conflict");
        assert_eq!(info.text.as_deref(), Some("Component already connected"));
        assert!(info.to_string().contains("another connection"));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let cfg = config(
            "127.0.0.1:5347".parse().unwrap(),
            SECRET,
            Duration::from_secs(60),
        );
        assert!(!format!("{cfg:?}").contains(SECRET));
    }
}
