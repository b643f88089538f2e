//! The XMPP transport: one XEP-0114 component connection, kept up forever.
//!
//! This is the only module that names `tokio_xmpp`. It deals in raw
//! [`minidom::Element`]s and never interprets a stanza beyond telling
//! stanzas from stream-level elements: parsing and answering `bad-request`
//! is the core's job. That is deliberate — tokio-xmpp's typed `Component`
//! ends the whole stream on one stanza xmpp-parsers refuses (e.g.
//! `<show>bogus</show>`), which would let any user knock the component off.
//!
//! What it owns:
//! - connecting and the XEP-0114 handshake (`<handshake/>` or a
//!   `<stream:error>` whose condition is logged: `not-authorized` for a wrong
//!   secret, `conflict` when another instance holds the component);
//! - reading and writing *concurrently* on one task (a server that bounces
//!   errors while we flood it must never deadlock us), batching writes as
//!   `feed`… then one `flush`;
//! - the keepalive (see [`keepalive_ping`]) and dead-connection detection;
//! - reconnecting with capped, jittered exponential backoff;
//! - a graceful close (queued stanzas, then the stream footer) on shutdown.
//!
//! Outbound stanzas must be built in the `jabber:component:accept`
//! namespace ([`xmpp_parsers::ns::COMPONENT`]), the stream's default one.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures::future::{poll_fn, BoxFuture};
use futures::{FutureExt, SinkExt, StreamExt};
use minidom::Element;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::OwnedPermit;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::xmlstream::{initiate_stream, ReadError, StreamHeader, Timeouts, XmlStream};
use tracing::{debug, error, info, trace, warn};
use xmpp_parsers::component::Handshake;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::ns;
use xmpp_parsers::ping::Ping;

use crate::wire::{self, OutStanza};

/// First reconnect delay; doubles per failed attempt up to `reconnect_max`.
const BACKOFF_START: Duration = Duration::from_secs(1);
/// Keepalive floor: a zero keepalive would ping in a tight loop.
const MIN_KEEPALIVE: Duration = Duration::from_millis(100);
/// TCP connect + stream header + handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for the graceful close (queued stanzas, footer, the server's
/// footer) so a wedged server cannot hold up process exit.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// `id` prefix of our keepalive pings; see [`keepalive_ping`].
const PING_ID_PREFIX: &str = "tg-ping-";
/// Stanzas are serialized into the socket buffer this much at a time.
const WRITE_CHUNK: usize = 64 * 1024;
/// Loop iterations of one `poll_io` before yielding to the runtime, so a
/// flood in either direction cannot starve the other tasks.
const POLL_BUDGET: usize = 64;

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

/// What the app asks the connection to do.
#[derive(Debug)]
pub enum Outbound {
    /// Write these stanzas, in order, then flush.
    Stanzas(Vec<OutStanza>),
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

type XmlConn = XmlStream<Transport, Element>;

/// The byte stream under the XML stream: a buffered TCP stream whose
/// `poll_shutdown` only flushes. `XmlStream::shutdown` sends our footer and
/// then shuts the transport down; a TCP half-close right behind the footer
/// makes Prosody 0.12 read EOF in the same breath and drop the connection
/// without writing its own footer (seen here: "invalid eof in text node").
/// So the socket stays open until the server's footer or EOF arrives, and
/// is closed when the stream is dropped.
struct Transport {
    read: BufReader<OwnedReadHalf>,
    write: Wire,
}

/// The socket's write half, shared by the XML stream (handshake, footer)
/// and the session's own byte writer (every stanza in between). Both run
/// on the connection's task, never at once, so the lock is uncontended.
type Wire = Arc<Mutex<OwnedWriteHalf>>;

fn lock(w: &Wire) -> MutexGuard<'_, OwnedWriteHalf> {
    w.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AsyncRead for Transport {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncBufRead for Transport {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().read).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.read).consume(amt)
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.write)).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.write)).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Flush only: see above, the socket closes when dropped.
        Pin::new(&mut *lock(&self.write)).poll_flush(cx)
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
/// stanzas wait in an unbounded local backlog rather than stop this task
/// from writing (that cycle — app blocked on `outbound`, us on `events` —
/// would deadlock both).
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

/// TCP connect, stream header, XEP-0114 handshake.
///
/// This is what tokio-xmpp's `TcpServerConnector` + `component_login` do,
/// except that `server` may name a host (the connector's `DnsConfig::addr`
/// takes only a literal `ip:port`), the socket gets `TCP_NODELAY`, and the
/// transport does not half-close on shutdown (see [`Transport`]).
async fn open(
    server: &str,
    jid: &Jid,
    secret: &str,
    timeouts: Timeouts,
) -> Result<(XmlConn, Wire), XmppError> {
    let tcp = TcpStream::connect(server)
        .await
        .map_err(XmppError::Connect)?;
    // We flush once per batch; Nagle would only add latency after that.
    tcp.set_nodelay(true).map_err(XmppError::Connect)?;
    let header = StreamHeader {
        to: Some(Cow::Borrowed(jid.domain().as_str())),
        from: None,
        id: None,
    };
    let (read, write) = tcp.into_split();
    let wire: Wire = Arc::new(Mutex::new(write));
    let transport = Transport {
        read: BufReader::new(read),
        write: wire.clone(),
    };
    let mut pending = initiate_stream(transport, ns::COMPONENT, header, timeouts)
        .await
        .map_err(XmppError::Connect)?;
    let stream_id = pending
        .take_header()
        .id
        .ok_or(XmppError::NoStreamId)?
        .into_owned();
    // XEP-0114 streams have no <stream:features/>.
    let mut stream: XmlConn = pending.skip_features();
    let handshake = Handshake::from_stream_id_and_password(stream_id, secret);
    stream.send(&handshake).await?;
    loop {
        match stream.next().await {
            Some(Ok(el)) if el.is("handshake", ns::COMPONENT) => return Ok((stream, wire)),
            Some(Ok(el)) if el.is("error", ns::STREAM) => {
                let info = StreamErrorInfo::from_element(&el);
                // Be polite: answer with our footer; the server closes anyway.
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
                return Err(XmppError::Stream(info));
            }
            Some(Ok(el)) => return Err(XmppError::UnexpectedElement(el.name().to_owned())),
            // The server is thinking; the hard timeout bounds the wait.
            Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(ReadError::ParseError(e))) => {
                warn!(error = %e, "skipping an unparsable element during the handshake")
            }
            Some(Err(ReadError::HardError(e))) => return Err(XmppError::Io(e)),
            Some(Err(ReadError::StreamFooterReceived)) | None => return Err(XmppError::Closed),
        }
    }
}

/// The keepalive, sent after `keepalive` without inbound data.
///
/// An IQ ping *from the component to itself*. Why this and not whitespace:
/// our own read timer only restarts on inbound data, and a whitespace
/// keepalive gets no answer, so it would keep the server (Prosody closes a
/// component silent for `read_timeout`, 14 min by default, unless it handles
/// the timeout — which 0.12 does by sending a space) but could not tell a
/// dead TCP connection from a quiet one. A ping to ourselves travels
/// through the server's router and comes back on this stream (observed with
/// Prosody 0.12.3 even with mod_ping enabled globally: components do not
/// inherit it; ejabberd routes a component's own domain to it as well, not
/// tried here), proving that the server reads, routes and writes. It needs
/// no knowledge of the server's own domain, which a component cannot learn.
/// If the server answered it itself (a ping module enabled on the
/// component host), the answer is traffic too. Every iq from our own JID
/// with our ping id prefix — the request and any answer or error — is
/// swallowed here, so the core never sees it and no reply can loop.
fn keepalive_ping(own: &Jid, n: u64) -> Element {
    Iq::from_get(format!("{PING_ID_PREFIX}{n}"), Ping)
        .with_from(own.clone())
        .with_to(own.clone())
        .into()
}

fn is_own_ping(el: &Element, own: &Jid) -> bool {
    el.is("iq", ns::COMPONENT)
        && el
            .attr("id")
            .is_some_and(|id| id.starts_with(PING_ID_PREFIX))
        && el.attr("from") == Some(own.as_str())
}

fn is_stanza(el: &Element) -> bool {
    el.ns() == ns::COMPONENT && matches!(el.name(), "message" | "presence" | "iq")
}

/// Why a session ended.
#[derive(Debug)]
enum End {
    Shutdown,
    OutboundClosed,
    EventsClosed,
    /// A closing session has written everything.
    Drained,
    Lost(XmppError),
}

/// Events for the app, delivered without ever blocking the connection.
struct Inbox {
    tx: mpsc::Sender<XmppEvent>,
    backlog: VecDeque<XmppEvent>,
    /// Waits for room in a full channel; wakes the task when there is.
    reserve: Option<BoxFuture<'static, Result<OwnedPermit<XmppEvent>, SendError<()>>>>,
    /// When we last warned that the app is behind (at most once a minute).
    warned: Option<tokio::time::Instant>,
    /// Reading pauses at this backlog length.
    max: usize,
}

struct EventsClosed;

impl Inbox {
    fn new(tx: mpsc::Sender<XmppEvent>, max: usize) -> Self {
        Inbox {
            tx,
            backlog: VecDeque::new(),
            reserve: None,
            warned: None,
            max,
        }
    }

    fn push(&mut self, event: XmppEvent) {
        self.backlog.push_back(event);
        if self.full() {
            let now = tokio::time::Instant::now();
            if self
                .warned
                .is_none_or(|t| now - t >= Duration::from_secs(60))
            {
                self.warned = Some(now);
                warn!(
                    backlog = self.backlog.len(),
                    "the app is not keeping up with inbound stanzas; reading from the server pauses until it does"
                );
            }
        }
    }

    /// Whether reading should pause.
    fn full(&self) -> bool {
        self.backlog.len() >= self.max
    }

    /// Ready(Ok) once the backlog is empty; Pending while the channel is full.
    fn poll_deliver(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), EventsClosed>> {
        loop {
            if let Some(reserve) = self.reserve.as_mut() {
                match reserve.poll_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(_)) => return Poll::Ready(Err(EventsClosed)),
                    Poll::Ready(Ok(permit)) => {
                        self.reserve = None;
                        match self.backlog.pop_front() {
                            Some(event) => {
                                permit.send(event);
                            }
                            None => drop(permit),
                        }
                    }
                }
            }
            let Some(event) = self.backlog.pop_front() else {
                if self.backlog.capacity() > 4096 {
                    self.backlog.shrink_to(64);
                }
                return Poll::Ready(Ok(()));
            };
            match self.tx.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Closed(_)) => return Poll::Ready(Err(EventsClosed)),
                Err(TrySendError::Full(event)) => {
                    self.backlog.push_front(event);
                    self.reserve = Some(self.tx.clone().reserve_owned().boxed());
                }
            }
        }
    }

    /// Delivers the backlog, then waits until the receiver is dropped.
    async fn deliver_until_closed(&mut self) {
        if poll_fn(|cx| self.poll_deliver(cx)).await.is_ok() {
            self.tx.closed().await;
        }
    }
}

/// One established connection.
struct Session<'a> {
    stream: XmlConn,
    /// Where stanzas are written, as bytes (see [`crate::wire`]).
    wire: Wire,
    /// Accepted from `outbound`, serialized a chunk at a time.
    outgoing: wire::Outgoing,
    own: Jid,
    keepalive: Duration,
    inbox: &'a mut Inbox,
    /// Serialized stanzas not yet handed to the socket, from `sent` on.
    buf: Vec<u8>,
    sent: usize,
    /// Stanzas in `buf` (for the log when a connection is lost).
    in_buf: usize,
    /// `Flush` requests, answered when `buf` has been written.
    flush_waiters: Vec<oneshot::Sender<()>>,
    pings: u64,
    /// Shutting down: no more reads from `outbound`, inbound is dropped.
    closing: bool,
}

impl<'a> Session<'a> {
    fn new(
        stream: XmlConn,
        wire: Wire,
        own: Jid,
        keepalive: Duration,
        inbox: &'a mut Inbox,
    ) -> Self {
        Session {
            stream,
            wire,
            outgoing: wire::Outgoing::default(),
            own,
            keepalive,
            inbox,
            buf: Vec::new(),
            sent: 0,
            in_buf: 0,
            flush_waiters: Vec::new(),
            pings: 0,
            closing: false,
        }
    }

    async fn drive(
        &mut self,
        outbound: &mut mpsc::Receiver<Outbound>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> End {
        // `poll_io` keeps its state in `self`, so dropping its future when
        // shutdown wins loses nothing.
        tokio::select! {
            biased;
            () = wait_shutdown(shutdown) => End::Shutdown,
            end = poll_fn(|cx| self.poll_io(cx, outbound)) => end,
        }
    }

    /// One step of the connection: deliver events, write, read — each side
    /// progresses whenever it can, none waits for another.
    fn poll_io(
        &mut self,
        cx: &mut Context<'_>,
        outbound: &mut mpsc::Receiver<Outbound>,
    ) -> Poll<End> {
        for _ in 0..POLL_BUDGET {
            let mut progress = false;
            if !self.closing {
                if let Poll::Ready(Err(EventsClosed)) = self.inbox.poll_deliver(cx) {
                    return Poll::Ready(End::EventsClosed);
                }
            }
            match self.poll_write(cx, outbound) {
                Ok(wrote) => progress |= wrote,
                Err(end) => return Poll::Ready(end),
            }
            if self.closing && self.sent == self.buf.len() && self.outgoing.is_empty() {
                return Poll::Ready(End::Drained);
            }
            // A full inbox stops reading; delivering wakes us again.
            if self.inbox.full() && !self.closing {
                if !progress {
                    return Poll::Pending;
                }
                continue;
            }
            if let Poll::Ready(item) = self.stream.poll_next_unpin(cx) {
                progress = true;
                if let Some(end) = self.on_read(item) {
                    return Poll::Ready(end);
                }
            }
            if !progress {
                // Every side returned Pending and registered the waker.
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Writes the buffered bytes, then takes and serializes the next batch
    /// from `outbound` (one per call, so reading gets its turn). Returns
    /// whether anything moved.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        outbound: &mut mpsc::Receiver<Outbound>,
    ) -> Result<bool, End> {
        let mut progress = false;
        let mut took_batch = false;
        loop {
            while self.sent < self.buf.len() {
                let polled =
                    Pin::new(&mut *lock(&self.wire)).poll_write(cx, &self.buf[self.sent..]);
                match polled {
                    Poll::Ready(Ok(0)) => {
                        return Err(End::Lost(XmppError::Io(io::ErrorKind::WriteZero.into())))
                    }
                    Poll::Ready(Ok(n)) => {
                        self.sent += n;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Err(End::Lost(XmppError::Io(e))),
                    Poll::Pending => return Ok(progress),
                }
            }
            if !self.buf.is_empty() {
                trace!(stanzas = self.in_buf, bytes = self.buf.len(), "written");
                self.buf.clear();
                self.sent = 0;
                self.in_buf = 0;
            }
            if !self.outgoing.is_empty() {
                self.in_buf = self.outgoing.fill(&mut self.buf, WRITE_CHUNK);
                continue;
            }
            // TCP_NODELAY and no user-space buffer: written is flushed.
            for waiter in self.flush_waiters.drain(..) {
                let _ = waiter.send(());
            }
            if self.closing || took_batch {
                return Ok(progress);
            }
            match outbound.poll_recv(cx) {
                Poll::Ready(Some(item)) => {
                    self.accept(item);
                    took_batch = true;
                    progress = true;
                }
                Poll::Ready(None) => return Err(End::OutboundClosed),
                Poll::Pending => return Ok(progress),
            }
        }
    }

    fn accept(&mut self, item: Outbound) {
        match item {
            Outbound::Stanzas(batch) => {
                for s in batch {
                    self.outgoing.push(s);
                }
            }
            Outbound::Flush(waiter) => self.flush_waiters.push(waiter),
        }
    }

    /// Queues one element we made ourselves (the keepalive ping).
    fn queue_element(&mut self, el: Element) {
        self.outgoing.push(OutStanza::One(el));
    }

    /// Handles one read result; `Some` ends the session.
    fn on_read(&mut self, item: Option<Result<Element, ReadError>>) -> Option<End> {
        match item {
            Some(Ok(el)) => {
                if el.is("error", ns::STREAM) {
                    let info = StreamErrorInfo::from_element(&el);
                    return Some(End::Lost(XmppError::Stream(info)));
                }
                if self.closing {
                    debug!(
                        element = el.name(),
                        "dropping an inbound element while closing"
                    );
                } else if is_own_ping(&el, &self.own) {
                    trace!(
                        id = el.attr("id"),
                        kind = el.attr("type"),
                        "keepalive ping came back"
                    );
                } else if is_stanza(&el) {
                    self.inbox.push(XmppEvent::Stanza(el));
                } else {
                    warn!(
                        element = el.name(),
                        ns = el.ns(),
                        "ignoring a non-stanza element"
                    );
                }
                None
            }
            Some(Err(ReadError::SoftTimeout)) => {
                if !self.closing {
                    self.pings += 1;
                    debug!(idle = ?self.keepalive, "idle connection, sending a keepalive ping");
                    let ping = keepalive_ping(&self.own, self.pings);
                    self.queue_element(ping);
                }
                None
            }
            // Cannot happen for minidom::Element (it accepts any element),
            // but skipping is the right answer if it ever does.
            Some(Err(ReadError::ParseError(e))) => {
                warn!(error = %e, "skipping an unparsable element");
                None
            }
            Some(Err(ReadError::HardError(e))) => Some(End::Lost(XmppError::Io(e))),
            Some(Err(ReadError::StreamFooterReceived)) | None => Some(End::Lost(XmppError::Closed)),
        }
    }

    /// Graceful close: write what the caller queued before asking us to
    /// stop, answer its `Flush`es, send the footer, await the server's.
    async fn close(mut self, outbound: &mut mpsc::Receiver<Outbound>) {
        self.closing = true;
        while let Ok(item) = outbound.try_recv() {
            self.accept(item);
        }
        let closed = tokio::time::timeout(CLOSE_TIMEOUT, async {
            match poll_fn(|cx| self.poll_io(cx, outbound)).await {
                End::Drained => {}
                End::Lost(err) => return Err(err),
                other => unreachable!("a closing session ended with {other:?}"),
            }
            self.stream.shutdown().await?;
            // Wait for the server's footer (or EOF) so nothing sent just
            // before it is lost to a reset connection.
            loop {
                match self.stream.next().await {
                    Some(Ok(el)) => debug!(
                        element = el.name(),
                        "dropping an inbound element while closing"
                    ),
                    Some(Err(ReadError::SoftTimeout | ReadError::ParseError(_))) => {}
                    Some(Err(ReadError::HardError(e))) => return Err(e.into()),
                    Some(Err(ReadError::StreamFooterReceived)) | None => return Ok(()),
                }
            }
        })
        .await;
        match closed {
            Ok(Ok(())) => info!("XMPP stream closed"),
            Ok(Err(err)) => warn!(error = %err, "the XMPP stream did not close cleanly"),
            Err(_) => {
                warn!(timeout = ?CLOSE_TIMEOUT, "gave up waiting for the XMPP stream to close")
            }
        }
        self.log_dropped();
    }

    /// After a loss: log what is dropped and, if the server is still there
    /// (it ended the stream itself), answer with our footer.
    async fn abandon(mut self, why: &XmppError) {
        self.log_dropped();
        if matches!(why, XmppError::Stream(_) | XmppError::Closed) {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.stream.shutdown()).await;
        }
    }

    fn log_dropped(&self) {
        let dropped = self.in_buf + self.outgoing.count();
        if dropped > 0 {
            warn!(
                dropped,
                "outbound stanzas dropped with the connection (possibly not delivered)"
            );
        }
    }
}

/// Exponential backoff with jitter and no `rand`: the randomness comes from
/// `RandomState`'s per-instance keys mixed with the clock.
struct Backoff {
    attempt: u32,
    cap: Duration,
}

impl Backoff {
    fn new(reconnect_max: Duration) -> Self {
        Backoff {
            attempt: 0,
            // Never below the first step: a zero cap would be a tight loop.
            cap: reconnect_max.max(BACKOFF_START),
        }
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }

    /// 1 s, 2 s, 4 s, … up to the cap, each scaled by a random 50–100 %.
    fn next_delay(&mut self) -> Duration {
        let step = BACKOFF_START.saturating_mul(1u32 << self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        step.min(self.cap).mul_f64(0.5 + 0.5 * unit_random())
    }
}

/// A number in `[0, 1)`, good enough to spread reconnects.
fn unit_random() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    const JID: &str = "groups.localhost";
    const SECRET: &str = "s3cret";
    const STREAM_ID: &str = "fake-stream-id";
    const WAIT: Duration = Duration::from_secs(3);

    fn config(addr: std::net::SocketAddr, secret: &str, keepalive: Duration) -> XmppConfig {
        XmppConfig {
            jid: JID.to_owned(),
            secret: secret.to_owned(),
            server: addr.to_string(),
            keepalive,
            reconnect_max: Duration::from_secs(8),
            inbox_max: INBOX_MAX,
        }
    }

    struct Harness {
        events: mpsc::Receiver<XmppEvent>,
        outbound: mpsc::Sender<Outbound>,
        shutdown: watch::Sender<bool>,
        task: JoinHandle<()>,
    }

    impl Harness {
        fn start(cfg: XmppConfig, events_capacity: usize) -> Harness {
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

        async fn event(&mut self) -> XmppEvent {
            tokio::time::timeout(WAIT, self.events.recv())
                .await
                .expect("no event in time")
                .expect("events closed")
        }

        async fn stanza(&mut self) -> Element {
            match self.event().await {
                XmppEvent::Stanza(el) => el,
                other => panic!("expected a stanza, got {other:?}"),
            }
        }

        async fn flush(&self) {
            let (tx, rx) = oneshot::channel();
            self.outbound.send(Outbound::Flush(tx)).await.unwrap();
            tokio::time::timeout(WAIT, rx)
                .await
                .expect("flush timed out")
                .expect("flush dropped");
        }
    }

    /// The server side of one component connection, speaking raw text.
    struct Peer {
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
        async fn accept_raw(listener: &TcpListener, secret: &str) -> (Peer, bool) {
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
        async fn accept(listener: &TcpListener) -> Peer {
            let (mut peer, ok) = Peer::accept_raw(listener, SECRET).await;
            assert!(ok, "wrong handshake digest");
            peer.send("<handshake/>").await;
            peer
        }

        async fn send(&mut self, xml: &str) {
            self.sock.write_all(xml.as_bytes()).await.unwrap();
        }

        /// Reads until `needle`; returns (and consumes) the text up to and
        /// including it.
        async fn read_until(&mut self, needle: &str) -> String {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                if let Some(pos) = self.buf.find(needle) {
                    let rest = self.buf.split_off(pos + needle.len());
                    return std::mem::replace(&mut self.buf, rest);
                }
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout_at(deadline, self.sock.read(&mut chunk))
                    .await
                    .unwrap_or_else(|_| {
                        panic!("timed out waiting for {needle:?}; got {:?}", self.buf)
                    })
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
        async fn read_to_end(&mut self) -> String {
            let mut rest = Vec::new();
            tokio::time::timeout(WAIT, self.sock.read_to_end(&mut rest))
                .await
                .expect("client did not close")
                .unwrap();
            self.buf.push_str(std::str::from_utf8(&rest).unwrap());
            std::mem::take(&mut self.buf)
        }
    }

    fn message(id: &str, body: &str) -> Element {
        Element::builder("message", ns::COMPONENT)
            .attr("id".try_into().unwrap(), id)
            .attr("from".try_into().unwrap(), JID)
            .attr("to".try_into().unwrap(), "alice@localhost")
            .append(Element::builder("body", ns::COMPONENT).append(body).build())
            .build()
    }

    async fn listener() -> (TcpListener, std::net::SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }

    #[tokio::test]
    async fn connects_and_exchanges_stanzas_including_malformed_ones() {
        let (listener, addr) = listener().await;
        let mut h = Harness::start(config(addr, SECRET, Duration::from_secs(5)), 16);
        let mut peer = Peer::accept(&listener).await;
        assert!(matches!(h.event().await, XmppEvent::Connected));

        // Inbound: a normal stanza, one xmpp-parsers refuses, then another.
        peer.send("<message from='alice@localhost/pc' to='groups.localhost' id='m1'><body>hi</body></message>").await;
        peer.send("<presence from='alice@localhost/pc' to='groups.localhost'><show>bogus</show></presence>").await;
        peer.send(
            "<presence type='bogus' to='groups.localhost'><priority>300</priority></presence>",
        )
        .await;
        peer.send("<message id='m2'><body>still here</body></message>")
            .await;
        let m1 = h.stanza().await;
        assert!(m1.is("message", ns::COMPONENT));
        assert_eq!(m1.attr("id"), Some("m1"));
        assert_eq!(m1.get_child("body", ns::COMPONENT).unwrap().text(), "hi");
        let bogus = h.stanza().await;
        assert_eq!(bogus.name(), "presence");
        assert_eq!(
            bogus.get_child("show", ns::COMPONENT).unwrap().text(),
            "bogus"
        );
        assert_eq!(h.stanza().await.attr("type"), Some("bogus"));
        assert_eq!(h.stanza().await.attr("id"), Some("m2"));

        // Outbound, with an unserialisable stanza in the middle of the batch:
        // it is dropped alone, the stream stays up.
        h.outbound
            .send(Outbound::Stanzas(vec![
                OutStanza::One(message("o1", "one")),
                OutStanza::One(message("bad", "control \u{1} char")),
                OutStanza::One(message("o2", "two")),
            ]))
            .await
            .unwrap();
        h.flush().await;
        let got = peer.read_until("</message>").await;
        assert!(
            got.contains("id='o1'") || got.contains("id=\"o1\""),
            "{got}"
        );
        assert!(got.contains("<body>one</body>"), "{got}");
        let got = peer.read_until("</message>").await;
        assert!(got.contains("o2") && !got.contains("bad"), "{got}");

        // Not a stanza: logged and skipped.
        peer.send("<foo xmlns='urn:example'/><message id='m3'/>")
            .await;
        assert_eq!(h.stanza().await.attr("id"), Some("m3"));
        assert!(h.events.try_recv().is_err(), "nothing else expected");
        h.task.abort();
    }

    #[tokio::test]
    async fn wrong_secret_is_retried_with_backoff() {
        let (listener, addr) = listener().await;
        let mut h = Harness::start(config(addr, "wrong", Duration::from_secs(5)), 16);
        let mut attempts = Vec::new();
        for _ in 0..2 {
            let (mut peer, ok) = Peer::accept_raw(&listener, SECRET).await;
            attempts.push(Instant::now());
            assert!(!ok, "the digest must not match the server's secret");
            peer.send(
                "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
                 <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Authentication failure</text>\
                 </stream:error></stream:stream>",
            )
            .await;
            // The client answers with its footer before hanging up.
            assert!(peer.read_to_end().await.contains("</stream:stream>"));
        }
        let gap = attempts[1] - attempts[0];
        assert!(
            gap >= Duration::from_millis(450),
            "retried too fast: {gap:?}"
        );
        assert!(
            gap <= Duration::from_millis(1500),
            "retried too slowly: {gap:?}"
        );
        assert!(
            h.events.try_recv().is_err(),
            "no Connected for a refused handshake"
        );
        h.task.abort();
    }

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

    #[tokio::test]
    async fn keepalive_pings_when_idle_and_detects_a_dead_server() {
        let (listener, addr) = listener().await;
        let keepalive = Duration::from_millis(200);
        let mut h = Harness::start(config(addr, SECRET, keepalive), 16);
        let mut peer = Peer::accept(&listener).await;
        assert!(matches!(h.event().await, XmppEvent::Connected));

        for round in 1..=2 {
            let started = Instant::now();
            let ping = peer.read_until("</iq>").await;
            let idle = started.elapsed();
            assert!(
                idle >= Duration::from_millis(150),
                "pinged too early: {idle:?}"
            );
            assert!(ping.contains("urn:xmpp:ping"), "{ping}");
            assert!(
                ping.contains("type='get'") || ping.contains("type=\"get\""),
                "{ping}"
            );
            let id = format!("{PING_ID_PREFIX}{round}");
            assert!(ping.contains(&id), "{ping}");
            // What Prosody does: route the component's iq to itself back.
            peer.send(&format!(
                "<iq type='get' id='{id}' from='{JID}' to='{JID}'><ping xmlns='urn:xmpp:ping'/></iq>"
            ))
            .await;
        }
        // The echoed pings never reach the app.
        assert!(h.events.try_recv().is_err());

        // Now the server goes silent: soft timeout (ping), then after
        // another keepalive the connection is declared dead.
        let started = Instant::now();
        peer.read_until("</iq>").await;
        assert!(matches!(h.event().await, XmppEvent::Disconnected));
        let dead_after = started.elapsed();
        assert!(dead_after <= Duration::from_millis(900), "{dead_after:?}");
        h.task.abort();
    }

    #[tokio::test]
    async fn shutdown_flushes_queued_stanzas_then_closes_the_stream() {
        let (listener, addr) = listener().await;
        let mut h = Harness::start(config(addr, SECRET, Duration::from_secs(5)), 16);
        let mut peer = Peer::accept(&listener).await;
        assert!(matches!(h.event().await, XmppEvent::Connected));

        h.outbound
            .send(Outbound::Stanzas(vec![OutStanza::One(message(
                "final1", "bye",
            ))]))
            .await
            .unwrap();
        h.flush().await;
        // Queued but not flushed by the caller: still written on shutdown.
        h.outbound
            .send(Outbound::Stanzas(vec![OutStanza::One(message(
                "final2", "bye",
            ))]))
            .await
            .unwrap();
        h.shutdown.send(true).unwrap();
        let upto_footer = peer.read_until("</stream:stream>").await;
        assert!(upto_footer.contains("final1"), "{upto_footer}");
        assert!(upto_footer.contains("final2"), "{upto_footer}");
        peer.send("</stream:stream>").await;
        assert_eq!(peer.read_to_end().await, "");
        tokio::time::timeout(WAIT, h.task)
            .await
            .expect("run did not return")
            .unwrap();
    }

    #[tokio::test]
    async fn slow_app_does_not_stop_writes_and_closed_outbound_ends_run() {
        let (listener, addr) = listener().await;
        // Capacity 1 and nobody reading events while we write.
        let mut h = Harness::start(config(addr, SECRET, Duration::from_secs(5)), 1);
        let mut peer = Peer::accept(&listener).await;
        for i in 0..200 {
            peer.send(&format!("<message id='in{i}'><body>flood</body></message>"))
                .await;
        }
        for i in 0..50 {
            h.outbound
                .send(Outbound::Stanzas(vec![OutStanza::One(message(
                    &format!("out{i}"),
                    "x",
                ))]))
                .await
                .unwrap();
        }
        h.flush().await;
        peer.read_until("out49").await;
        assert!(matches!(h.event().await, XmppEvent::Connected));
        for i in 0..200 {
            assert_eq!(h.stanza().await.attr("id"), Some(format!("in{i}").as_str()));
        }
        let Harness { outbound, task, .. } = h;
        drop(outbound);
        // Our footer, then the socket stays open for the server's footer.
        peer.read_until("</stream:stream>").await;
        peer.send("</stream:stream>").await;
        assert_eq!(peer.read_to_end().await, "");
        tokio::time::timeout(WAIT, task)
            .await
            .expect("run did not return")
            .unwrap();
    }

    #[tokio::test]
    async fn a_full_inbox_stops_reading_until_the_app_catches_up() {
        let (listener, addr) = listener().await;
        let mut cfg = config(addr, SECRET, Duration::from_secs(5));
        cfg.inbox_max = 10;
        let mut h = Harness::start(cfg, 1);
        let peer = Peer::accept(&listener).await;
        assert!(matches!(h.event().await, XmppEvent::Connected));
        // Far more than the socket buffers hold: the writer must block
        // while nobody reads events, and finish once the app reads them.
        // 8 MB in 1 KiB stanzas: beyond what loopback socket buffers take
        // from a reader that stopped, little for one that reads.
        const N: usize = 8_000;
        let padding = "x".repeat(1000);
        let writer = tokio::spawn(async move {
            let mut peer = peer;
            let mut chunk = String::new();
            for i in 0..N {
                chunk.push_str(&format!(
                    "<message id='m{i}'><body>{padding}</body></message>"
                ));
                if chunk.len() > 64 * 1024 {
                    peer.send(&chunk).await;
                    chunk.clear();
                }
            }
            peer.send(&chunk).await;
            peer
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            !writer.is_finished(),
            "the component read everything while the app did not: the inbox is unbounded"
        );
        for i in 0..N {
            let el = tokio::time::timeout(WAIT, h.events.recv())
                .await
                .expect("stalled")
                .expect("closed");
            match el {
                XmppEvent::Stanza(el) => {
                    assert_eq!(el.attr("id"), Some(format!("m{i}").as_str()))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let _peer = tokio::time::timeout(WAIT, writer)
            .await
            .expect("writer still blocked")
            .unwrap();
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let mut b = Backoff::new(Duration::from_secs(10));
        let expected = [1, 2, 4, 8, 10, 10, 10];
        for secs in expected {
            let d = b.next_delay();
            let step = Duration::from_secs(secs);
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} not within 50–100 % of {step:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= BACKOFF_START);
        // A zero cap must not become a tight loop.
        let mut b = Backoff::new(Duration::ZERO);
        assert!(b.next_delay() >= BACKOFF_START / 2);
        // Jitter actually varies.
        let samples: std::collections::HashSet<u64> =
            (0..20).map(|_| (unit_random() * 1e9) as u64).collect();
        assert!(samples.len() > 10);
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
    fn own_ping_detection() {
        let own = Jid::new(JID).unwrap();
        let ping = keepalive_ping(&own, 7);
        assert!(is_own_ping(&ping, &own));
        assert_eq!(ping.attr("id"), Some("tg-ping-7"));
        assert_eq!(ping.attr("to"), Some(JID));
        assert!(ping.has_child("ping", ns::PING));
        // Someone else's iq with the same id prefix is a normal stanza.
        let mut other = ping.clone();
        other.set_attr(
            minidom::rxml::Namespace::NONE,
            "from".try_into().unwrap(),
            "mallory@localhost",
        );
        assert!(!is_own_ping(&other, &own));
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
