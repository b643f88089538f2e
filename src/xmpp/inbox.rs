//! The inbox ([`Inbox`]): inbound events waiting for the app. The session
//! never awaits the app: events go into a local backlog delivered as the
//! channel has room; once the backlog reaches `inbox_max` the session stops
//! reading the socket (TCP backpressure: the server holds the rest) until
//! the app catches up.

use std::collections::VecDeque;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{poll_fn, BoxFuture};
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::OwnedPermit;
use tracing::warn;

use super::XmppEvent;

/// Events for the app, delivered without ever blocking the connection.
pub(super) struct Inbox {
    tx: mpsc::Sender<XmppEvent>,
    backlog: VecDeque<XmppEvent>,
    /// Waits for room in a full channel; wakes the task when there is.
    reserve: Option<BoxFuture<'static, Result<OwnedPermit<XmppEvent>, SendError<()>>>>,
    /// When we last warned that the app is behind (at most once a minute).
    warned: Option<tokio::time::Instant>,
    /// Reading pauses at this backlog length.
    max: usize,
}

pub(super) struct EventsClosed;

impl Inbox {
    pub(super) fn new(tx: mpsc::Sender<XmppEvent>, max: usize) -> Self {
        Inbox {
            tx,
            backlog: VecDeque::new(),
            reserve: None,
            warned: None,
            max,
        }
    }

    pub(super) fn push(&mut self, event: XmppEvent) {
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
    pub(super) fn full(&self) -> bool {
        self.backlog.len() >= self.max
    }

    /// Ready(Ok) once the backlog is empty; Pending while the channel is full.
    pub(super) fn poll_deliver(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), EventsClosed>> {
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
    pub(super) async fn deliver_until_closed(&mut self) {
        if poll_fn(|cx| self.poll_deliver(cx)).await.is_ok() {
            self.tx.closed().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::*;
    use super::*;

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
            "the component read everything while the app did not: reading did not pause at inbox_max"
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
}
