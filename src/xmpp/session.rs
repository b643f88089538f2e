//! One connected session ([`Session`]): the read/write loop that serves
//! both directions at once, the keepalive pings ([`keepalive_ping`]) and
//! dead-connection detection, flushing, and the graceful close. It ends
//! with an [`End`] telling [`super::run`] what to do next.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::poll_fn;
use futures::StreamExt;
use minidom::Element;
use tokio::io::AsyncWrite;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::xmlstream::ReadError;
use tracing::{debug, info, trace, warn};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::ns;
use xmpp_parsers::ping::Ping;

use crate::wire::{self, OutStanza};

use super::inbox::{EventsClosed, Inbox};
use super::open::{lock, Wire, XmlConn};
use super::{wait_shutdown, Outbound, StreamErrorInfo, XmppError, XmppEvent};

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
pub(super) enum End {
    Shutdown,
    OutboundClosed,
    EventsClosed,
    /// A closing session has written everything.
    Drained,
    Lost(XmppError),
}

/// One established connection.
pub(super) struct Session<'a> {
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
    /// The batch being written, counted in flight until it is all
    /// written.
    held: Option<super::Ticket>,
    pings: u64,
    /// Shutting down: no more reads from `outbound`, inbound is dropped.
    closing: bool,
}

impl<'a> Session<'a> {
    pub(super) fn new(
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
            held: None,
            pings: 0,
            closing: false,
        }
    }

    pub(super) async fn drive(
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
            self.held = None;
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
            Outbound::Held(batch, ticket) => {
                for s in batch {
                    self.outgoing.push(s);
                }
                self.held = Some(ticket);
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
    pub(super) async fn close(mut self, outbound: &mut mpsc::Receiver<Outbound>) {
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
    pub(super) async fn abandon(mut self, why: &XmppError) {
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

#[cfg(test)]
mod tests {
    use super::super::fake_server::*;
    use super::*;
    use std::time::Instant;

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

    /// A held batch counts in flight until it is written, and its
    /// writing wakes whoever waits for room.
    #[tokio::test]
    async fn a_held_batch_counts_in_flight_until_written() {
        let (listener, addr) = listener().await;
        let mut h = Harness::start(config(addr, SECRET, Duration::from_secs(5)), 16);
        let mut peer = Peer::accept(&listener).await;
        assert!(matches!(h.event().await, XmppEvent::Connected));
        let in_flight = std::sync::Arc::new(super::super::InFlight::default());
        let ticket = in_flight.ticket(2);
        assert_eq!(in_flight.copies(), 2);
        h.outbound
            .send(Outbound::Held(
                vec![
                    OutStanza::One(message("h1", "one")),
                    OutStanza::One(message("h2", "two")),
                ],
                ticket,
            ))
            .await
            .unwrap();
        tokio::time::timeout(WAIT, in_flight.freed())
            .await
            .expect("woken once written");
        h.flush().await;
        let got = peer.read_until("h2").await;
        assert!(got.contains("h1"), "{got}");
        assert_eq!(in_flight.copies(), 0, "counted out once written");
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
}
