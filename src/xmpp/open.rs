//! Opening a stream: TCP connect, stream header, XEP-0114 handshake (see
//! [`open`]), and the byte transport under the XML stream ([`Transport`],
//! shared with the session through [`Wire`]).

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use minidom::Element;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio_xmpp::xmlstream::{initiate_stream, ReadError, StreamHeader, Timeouts, XmlStream};
use tracing::warn;
use xmpp_parsers::component::Handshake;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::ns;

use super::{StreamErrorInfo, XmppError};

/// TCP connect + stream header + handshake must finish within this.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) type XmlConn = XmlStream<Transport, Element>;

/// The byte stream under the XML stream: a buffered TCP stream whose
/// `poll_shutdown` only flushes. `XmlStream::shutdown` sends our footer and
/// then shuts the transport down; a TCP half-close right behind the footer
/// makes Prosody 0.12 read EOF in the same breath and drop the connection
/// without writing its own footer (seen here: "invalid eof in text node").
/// So the socket stays open until the server's footer or EOF arrives, and
/// is closed when the stream is dropped.
pub(super) struct Transport {
    read: BufReader<OwnedReadHalf>,
    write: Wire,
}

/// The socket's write half, shared by the XML stream (handshake, footer)
/// and the session's own byte writer (every stanza in between). Both run
/// on the connection's task, never at once, so the lock is uncontended.
pub(super) type Wire = Arc<Mutex<OwnedWriteHalf>>;

pub(super) fn lock(w: &Wire) -> MutexGuard<'_, OwnedWriteHalf> {
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

/// TCP connect, stream header, XEP-0114 handshake.
///
/// This is what tokio-xmpp's `TcpServerConnector` + `component_login` do,
/// except that `server` may name a host (the connector's `DnsConfig::addr`
/// takes only a literal `ip:port`), the socket gets `TCP_NODELAY`, and the
/// transport does not half-close on shutdown (see [`Transport`]).
pub(super) async fn open(
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

#[cfg(test)]
mod tests {
    use super::super::fake_server::*;
    use std::time::{Duration, Instant};

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
}
