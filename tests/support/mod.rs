//! Integration-test support: a private Prosody or ejabberd per test, and a
//! raw c2s client.
//!
//! Use from a test file with `mod support;`. The servers come from the
//! dev-only `talkgroups-testkit` crate (testkit/, shared with the benches)
//! and are re-exported here: every [`Prosody`] and every [`Ejabberd`] is a
//! separate server process with its own ports and data directory, so tests
//! may run in parallel. Nothing here mocks the XMPP server. [`Server`] is
//! either of them, for tests written once and run against both
//! ([`for_each_server!`]); the client and the talkgroups runner take anything
//! that implements [`XmppServer`].
//!
//! What stays here: the async [`TestClient`] (on tokio-xmpp's XML stream,
//! which the testkit must not depend on), the element helpers, and
//! [`Talkgroups`] (it runs `CARGO_BIN_EXE_talkgroups`).
//!
//! Environment knobs: see the testkit (`PROSODY_BIN`, `PROSODYCTL_BIN`,
//! `PROSODY_LOG_LEVEL`, `EJABBERDCTL_BIN`, `EJABBERD_LOG_LEVEL`,
//! `TALKGROUPS_EJABBERD_PARALLEL`).
//!
//! When a test panics while a [`Prosody`] or [`Ejabberd`] is alive, its log
//! tail is printed.
#![allow(dead_code)]

pub mod console;
pub mod platforms;
pub mod procfs;
pub mod sink;

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use minidom::rxml::NcName;
use minidom::Element;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::xmlstream::{self, ReadError, StreamHeader, Timeouts, XmlStream};

#[allow(unused_imports)]
pub use talkgroups_testkit::{
    base64, free_port, log_tail, port_accepts, read_from, Ejabberd, Kind, Options, Prosody, Server,
    XmppServer,
};

/// Namespaces used by the helpers.
pub mod ns {
    pub const CLIENT: &str = "jabber:client";
    pub const STREAM: &str = "http://etherx.jabber.org/streams";
    pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
    pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
    pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
    pub const PING: &str = "urn:xmpp:ping";
    pub const ROSTER: &str = "jabber:iq:roster";
    pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
    pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
}

/// Default timeout for protocol steps done by the client itself (login, iq).
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Generates, for each `async fn NAME(kind: Kind)` listed, the tests
/// `prosody::NAME` and `ejabberd::NAME` (filter with `cargo test ejabberd::`).
#[allow(unused_macros)]
macro_rules! for_each_server {
    ($($name:ident),* $(,)?) => {
        mod prosody {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Kind::Prosody).await
                }
            )*
        }
        mod ejabberd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Kind::Ejabberd).await
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_server;

// ---------------------------------------------------------------------------
// Element helpers (jabber:client)
// ---------------------------------------------------------------------------

fn nc(name: &str) -> NcName {
    NcName::try_from(name).unwrap_or_else(|e| panic!("invalid XML name {name:?}: {e}"))
}

/// An element builder with attributes given as `&str` pairs.
pub fn el(name: &str, ns: &str, attrs: &[(&str, &str)]) -> minidom::ElementBuilder {
    let mut b = Element::builder(name, ns);
    for (k, v) in attrs {
        b = b.attr(nc(k), *v);
    }
    b
}

/// Sets (or replaces) an attribute without a namespace.
pub fn set_attr(e: &mut Element, name: &str, value: &str) {
    e.set_attr(minidom::rxml::Namespace::NONE, nc(name), value);
}

/// A fresh, unique-enough stanza id.
pub fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{n}-{t:08x}")
}

/// `<message xmlns='jabber:client' to type id><body>…</body></message>`.
pub fn message(to: &str, type_: &str, body: &str) -> Element {
    el(
        "message",
        ns::CLIENT,
        &[("to", to), ("type", type_), ("id", &new_id("msg"))],
    )
    .append(el("body", ns::CLIENT, &[]).append(body))
    .build()
}

/// `<presence xmlns='jabber:client'/>` with optional `to` and `type`.
pub fn presence(to: Option<&str>, type_: Option<&str>) -> Element {
    let mut b = el("presence", ns::CLIENT, &[]);
    if let Some(to) = to {
        b = b.attr(nc("to"), to);
    }
    if let Some(t) = type_ {
        b = b.attr(nc("type"), t);
    }
    b.build()
}

/// `<iq xmlns='jabber:client' type id [to]>payload</iq>`; empty `to` = none.
pub fn iq(to: &str, type_: &str, id: &str, payload: Option<Element>) -> Element {
    let mut b = el("iq", ns::CLIENT, &[("type", type_), ("id", id)]);
    if !to.is_empty() {
        b = b.attr(nc("to"), to);
    }
    if let Some(p) = payload {
        b = b.append(p);
    }
    b.build()
}

/// The bare part of a JID (`a@b/c` → `a@b`).
pub fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

/// The `from` attribute, or "".
pub fn from_of(e: &Element) -> &str {
    e.attr("from").unwrap_or("")
}

/// Whether the stanza's `from` has this bare JID (any or no resource).
pub fn is_from_bare(e: &Element, from_bare: &str) -> bool {
    bare(from_of(e)) == from_bare
}

/// The text of `<body/>` of a message, if any.
pub fn body_of(e: &Element) -> Option<String> {
    if e.name() != "message" {
        return None;
    }
    e.get_child("body", ns::CLIENT).map(|b| b.text())
}

/// For `type='error'` stanzas: the defined condition (e.g.
/// `"service-unavailable"`) and the error `type` attribute.
pub fn error_condition(e: &Element) -> Option<(String, String)> {
    if e.attr("type") != Some("error") {
        return None;
    }
    let err = e.get_child("error", ns::CLIENT)?;
    let cond = err
        .children()
        .find(|c| c.ns() == ns::STANZAS && c.name() != "text")
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    Some((cond, err.attr("type").unwrap_or("").to_string()))
}

/// Serializes an element for messages (best effort).
pub fn xml(e: &Element) -> String {
    let mut out = Vec::new();
    match e.write_to(&mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(err) => format!("<unserializable {err}: {e:?}>"),
    }
}

// ---------------------------------------------------------------------------
// Raw c2s client
// ---------------------------------------------------------------------------

type Io = BufStream<TcpStream>;

/// A minimal XMPP client (c2s, plaintext, SASL PLAIN) over tokio-xmpp's
/// generic XML stream with `minidom::Element` items, so it is independent of
/// xmpp-parsers' default namespace (`jabber:component:accept` in this build).
///
/// Received stanzas that a `wait_for`-style call skips are kept in an inbox
/// (in arrival order) and are seen by later `recv`/`wait_for` calls; use
/// [`TestClient::drain`] to forget them. Server pings are answered and
/// swallowed; roster pushes are acknowledged and still delivered.
pub struct TestClient {
    /// Full JID as bound by the server.
    pub jid: String,
    /// Bare JID.
    pub bare: String,
    domain: String,
    stream: XmlStream<Io, Element>,
    inbox: VecDeque<Element>,
    closed: bool,
}

async fn read_element(
    stream: &mut XmlStream<Io, Element>,
    what: &str,
    timeout: Duration,
) -> Element {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("timeout waiting for {what}"),
            Ok(None) => panic!("stream ended while waiting for {what}"),
            Ok(Some(Ok(e))) => return e,
            Ok(Some(Err(ReadError::SoftTimeout))) => continue,
            Ok(Some(Err(e))) => panic!("error while waiting for {what}: {e}"),
        }
    }
}

impl TestClient {
    /// Connects to `p`'s c2s port, authenticates with SASL PLAIN and binds
    /// `resource`. Sends no presence and does not request the roster.
    pub async fn connect(
        p: &impl XmppServer,
        user: &str,
        pass: &str,
        resource: &str,
    ) -> TestClient {
        Self::try_connect(p, user, pass, resource)
            .await
            .unwrap_or_else(|e| panic!("login of {user}@{} failed: {e}", p.domain()))
    }

    /// Like [`TestClient::connect`] but returns SASL failures (e.g. wrong
    /// password: `Err("not-authorized")`) instead of panicking.
    pub async fn try_connect(
        p: &impl XmppServer,
        user: &str,
        pass: &str,
        resource: &str,
    ) -> Result<TestClient, String> {
        let domain = p.domain().to_string();
        let port = p.c2s_port();
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect to c2s port {port}: {e}"))?;
        tcp.set_nodelay(true).ok();
        let header = || StreamHeader {
            to: Some(domain.clone().into()),
            from: None,
            id: None,
        };
        let timeouts = Timeouts {
            read_timeout: Duration::from_secs(60),
            response_timeout: Duration::from_secs(30),
        };

        // Stream 1: SASL.
        let pending = tokio::time::timeout(
            STEP_TIMEOUT,
            xmlstream::initiate_stream(BufStream::new(tcp), ns::CLIENT, header(), timeouts),
        )
        .await
        .map_err(|_| "timeout on stream header".to_string())?
        .map_err(|e| format!("stream header: {e}"))?;
        let (features, mut stream) = tokio::time::timeout(STEP_TIMEOUT, pending.recv_features())
            .await
            .map_err(|_| "timeout on stream features".to_string())?
            .map_err(|e| format!("stream features: {e}"))?;
        if !features.sasl_mechanisms.contains("PLAIN") {
            return Err(format!(
                "server does not offer SASL PLAIN (offers {:?})",
                features.sasl_mechanisms
            ));
        }
        let creds = talkgroups_testkit::sasl_plain(user, pass);
        let auth = el("auth", ns::SASL, &[("mechanism", "PLAIN")])
            .append(creds)
            .build();
        stream
            .send(&auth)
            .await
            .map_err(|e| format!("send auth: {e}"))?;
        let answer = read_element(&mut stream, "SASL answer", STEP_TIMEOUT).await;
        if !answer.is("success", ns::SASL) {
            let cond = answer
                .children()
                .find(|c| c.name() != "text")
                .map(|c| c.name().to_string())
                .unwrap_or_else(|| xml(&answer));
            return Err(cond);
        }

        // Stream 2 (after restart): bind.
        let pending =
            tokio::time::timeout(STEP_TIMEOUT, stream.initiate_reset().send_header(header()))
                .await
                .map_err(|_| "timeout on stream restart".to_string())?
                .map_err(|e| format!("stream restart: {e}"))?;
        let (features, mut stream) = tokio::time::timeout(STEP_TIMEOUT, pending.recv_features())
            .await
            .map_err(|_| "timeout on stream features after auth".to_string())?
            .map_err(|e| format!("stream features after auth: {e}"))?;
        if !features.can_bind() {
            return Err("server does not offer resource binding".into());
        }
        let bind_id = new_id("bind");
        let bind = iq(
            "",
            "set",
            &bind_id,
            Some(
                el("bind", ns::BIND, &[])
                    .append(el("resource", ns::BIND, &[]).append(resource))
                    .build(),
            ),
        );
        stream
            .send(&bind)
            .await
            .map_err(|e| format!("send bind: {e}"))?;
        let mut early = VecDeque::new();
        let jid = loop {
            let e = read_element(&mut stream, "bind result", STEP_TIMEOUT).await;
            if e.name() == "iq" && e.attr("id") == Some(bind_id.as_str()) {
                if e.attr("type") != Some("result") {
                    return Err(format!("bind failed: {}", xml(&e)));
                }
                break e
                    .get_child("bind", ns::BIND)
                    .and_then(|b| b.get_child("jid", ns::BIND))
                    .map(|j| j.text())
                    .ok_or_else(|| format!("bind result without jid: {}", xml(&e)))?;
            }
            early.push_back(e);
        };
        Ok(TestClient {
            bare: bare(&jid).to_string(),
            jid,
            domain,
            stream,
            inbox: early,
            closed: false,
        })
    }

    /// Logs in, fetches the roster (which makes Prosody send roster pushes
    /// and treat the session as "interested"), and sends initial available
    /// presence. Waits until the server reflected that presence back, so
    /// the presence has been fully processed (probes sent, etc.) on return.
    pub async fn connect_online(
        p: &impl XmppServer,
        user: &str,
        pass: &str,
        resource: &str,
    ) -> TestClient {
        let mut c = Self::connect(p, user, pass, resource).await;
        c.get_roster().await;
        c.send_presence(None, None).await;
        let me = c.jid.clone();
        c.wait_for(STEP_TIMEOUT, |e| {
            e.name() == "presence" && from_of(e) == me && e.attr("type").is_none()
        })
        .await;
        c
    }

    /// `iq get jabber:iq:roster`; returns the `<query/>` (roster items).
    pub async fn get_roster(&mut self) -> Element {
        let res = self
            .iq("", "get", el("query", ns::ROSTER, &[]).build())
            .await;
        assert_eq!(
            res.attr("type"),
            Some("result"),
            "roster get failed: {}",
            xml(&res)
        );
        res.get_child("query", ns::ROSTER)
            .cloned()
            .unwrap_or_else(|| el("query", ns::ROSTER, &[]).build())
    }

    /// Sends one element (stanza) and flushes.
    pub async fn send(&mut self, el: Element) {
        self.stream
            .send(&el)
            .await
            .unwrap_or_else(|e| panic!("{}: send failed: {e}", self.jid));
    }

    /// Writes `xml` verbatim to the socket (after everything sent before).
    /// Unprefixed elements are in `jabber:client` (the stream's default
    /// namespace), e.g. `<presence><show>bogus</show></presence>`. It must be
    /// well-formed, or Prosody closes the stream.
    pub async fn send_raw(&mut self, xml: &str) {
        // The XmlStream flushes on every send, so its buffers are empty and
        // writing to the socket directly keeps the order.
        let tcp = self.stream.get_stream().get_ref();
        let mut buf = xml.as_bytes();
        while !buf.is_empty() {
            tcp.writable()
                .await
                .unwrap_or_else(|e| panic!("{}: send_raw: {e}", self.jid));
            match tcp.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{}: send_raw: {e}", self.jid),
            }
        }
    }

    /// Sends `<message type='chat'>` with a body and a fresh id.
    pub async fn send_message(&mut self, to: &str, body: &str) {
        self.send(message(to, "chat", body)).await;
    }

    /// Sends `<presence/>` with optional `to` and `type`.
    pub async fn send_presence(&mut self, to: Option<&str>, type_: Option<&str>) {
        self.send(presence(to, type_)).await;
    }

    /// Next stanza (or other top-level element, e.g. `<stream:error/>`):
    /// first from the inbox, then from the socket. `None` on timeout or if
    /// the stream is closed (see [`TestClient::is_closed`]).
    pub async fn recv(&mut self, timeout: Duration) -> Option<Element> {
        if let Some(e) = self.inbox.pop_front() {
            return Some(e);
        }
        self.read_socket(tokio::time::Instant::now() + timeout)
            .await
    }

    /// Reads one element from the socket, answering pings. `None` on
    /// deadline or stream end.
    async fn read_socket(&mut self, deadline: tokio::time::Instant) -> Option<Element> {
        loop {
            if self.closed {
                return None;
            }
            let item = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(item) => item,
            };
            match item {
                None | Some(Err(ReadError::StreamFooterReceived)) => {
                    self.closed = true;
                    return None;
                }
                Some(Err(ReadError::HardError(e))) => {
                    eprintln!("{}: stream error: {e}", self.jid);
                    self.closed = true;
                    return None;
                }
                Some(Err(ReadError::SoftTimeout)) => {
                    // Keep the server talking to us.
                    let ping = iq(
                        &self.domain,
                        "get",
                        &new_id("keepalive"),
                        Some(el("ping", ns::PING, &[]).build()),
                    );
                    self.send(ping).await;
                }
                Some(Err(ReadError::ParseError(e))) => {
                    eprintln!("{}: unparsable element skipped: {e}", self.jid);
                }
                Some(Ok(e)) => {
                    if e.name() == "iq" {
                        if let Some(e) = self.auto_answer(e).await {
                            return Some(e);
                        }
                        continue;
                    }
                    return Some(e);
                }
            }
        }
    }

    /// Answers server pings (swallowed) and roster pushes (delivered);
    /// swallows results of our keepalive pings.
    async fn auto_answer(&mut self, e: Element) -> Option<Element> {
        let from = from_of(&e);
        let from_server = from.is_empty() || from == self.domain || from == self.bare;
        let id = e.attr("id").unwrap_or("").to_string();
        match e.attr("type") {
            Some("get") if e.has_child("ping", ns::PING) && from_server => {
                let reply = iq(from, "result", &id, None);
                self.send(reply).await;
                None
            }
            Some("set") if e.has_child("query", ns::ROSTER) && from_server => {
                let reply = iq(from, "result", &id, None);
                self.send(reply).await;
                Some(e)
            }
            Some("result") | Some("error") if id.starts_with("keepalive-") => None,
            _ => Some(e),
        }
    }

    /// Returns the first stanza matching `pred` (inbox first, then socket).
    /// Non-matching stanzas stay in the inbox. Panics on timeout (or stream
    /// end) with the list of stanzas seen.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Element) -> bool,
    ) -> Element {
        match self.try_wait_for(timeout, pred).await {
            Some(e) => e,
            None => panic!(
                "{}: no matching stanza within {timeout:?}{}; unconsumed stanzas:\n{}",
                self.jid,
                if self.closed { " (stream closed)" } else { "" },
                self.dump_inbox()
            ),
        }
    }

    /// Like [`TestClient::wait_for`] but returns `None` on timeout.
    pub async fn try_wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Element) -> bool,
    ) -> Option<Element> {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return self.inbox.remove(i);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let e = self.read_socket(deadline).await?;
            if pred(&e) {
                return Some(e);
            }
            self.inbox.push_back(e);
        }
    }

    /// The body of the next `<message/>` with a `<body/>` from `from_bare`
    /// (any resource; any type except `error`). Panics on timeout.
    pub async fn expect_body_from(&mut self, from_bare: &str, timeout: Duration) -> String {
        let m = self
            .wait_for(timeout, |e| {
                is_from_bare(e, from_bare)
                    && e.attr("type") != Some("error")
                    && body_of(e).is_some()
            })
            .await;
        body_of(&m).unwrap_or_default()
    }

    /// Asserts that no `<message/>` with a body from `from_bare` arrives
    /// within `within` (nor is already waiting in the inbox).
    pub async fn expect_no_body_from(&mut self, from_bare: &str, within: Duration) {
        if let Some(m) = self
            .try_wait_for(within, |e| {
                is_from_bare(e, from_bare) && body_of(e).is_some()
            })
            .await
        {
            panic!(
                "{}: expected no message from {from_bare}, got: {}",
                self.jid,
                xml(&m)
            );
        }
    }

    /// Sends `<iq type=type_ to=to>payload</iq>` (empty `to`: to our own
    /// account/server) and returns the `result` or `error` iq with the same
    /// id. Panics after 10 s.
    pub async fn iq(&mut self, to: &str, type_: &str, payload: Element) -> Element {
        let id = new_id("iq");
        self.send(iq(to, type_, &id, Some(payload))).await;
        self.wait_for(STEP_TIMEOUT, |e| {
            e.name() == "iq"
                && e.attr("id") == Some(id.as_str())
                && matches!(e.attr("type"), Some("result") | Some("error"))
        })
        .await
    }

    /// Takes all unconsumed stanzas (inbox), without reading the socket.
    pub fn drain(&mut self) -> Vec<Element> {
        self.inbox.drain(..).collect()
    }

    /// Reads everything that arrives within `quiet` into the inbox, then
    /// returns and clears the whole inbox.
    pub async fn drain_for(&mut self, quiet: Duration) -> Vec<Element> {
        let deadline = tokio::time::Instant::now() + quiet;
        while let Some(e) = self.read_socket(deadline).await {
            self.inbox.push_back(e);
        }
        self.drain()
    }

    /// Whether the server closed the stream (or the connection broke).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn dump_inbox(&self) -> String {
        if self.inbox.is_empty() {
            return "  (none)".into();
        }
        self.inbox
            .iter()
            .map(|e| format!("  {}", xml(e)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Closes the stream (`</stream:stream>`) and waits briefly for the
    /// server to close its side, so the logout has been processed.
    pub async fn close(mut self) {
        if self.closed {
            return;
        }
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while !self.closed {
            if tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()
                .and_then(|item| item)
                .is_none_or(|item| item.is_err())
            {
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The talkgroups binary
// ---------------------------------------------------------------------------

/// The real talkgroups binary, run against a [`Prosody`] with its own config
/// and database in a temp dir. Killed on drop.
pub struct Talkgroups {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub db_path: PathBuf,
    pub log_path: PathBuf,
}

/// The component domain and secret every test uses.
pub const COMPONENT: &str = "groups.localhost";
pub const SECRET: &str = "component-secret";

impl Talkgroups {
    /// Writes a config (component on `p`, database in a temp dir, plus
    /// `extra` TOML) and starts the binary; waits until it is connected.
    pub fn start(p: &impl XmppServer, extra: &str) -> Talkgroups {
        Talkgroups::start_as(p, COMPONENT, extra)
    }

    /// As `start`, for the component domain `jid` (registered with `p`
    /// under `SECRET`).
    pub fn start_as(p: &impl XmppServer, jid: &str, extra: &str) -> Talkgroups {
        Talkgroups::start_full(p, jid, None, "", extra)
    }

    /// As `start`, with more keys in the `[component]` table.
    pub fn start_with_component(p: &impl XmppServer, component: &str, extra: &str) -> Talkgroups {
        Talkgroups::start_full(p, COMPONENT, None, component, extra)
    }

    /// As `start`, with the database at `db` (e.g. on a file system the
    /// test controls).
    pub fn start_with_db(p: &impl XmppServer, db: &Path, extra: &str) -> Talkgroups {
        Talkgroups::start_full(p, COMPONENT, Some(db), "", extra)
    }

    fn start_full(
        p: &impl XmppServer,
        jid: &str,
        db: Option<&Path>,
        component: &str,
        extra: &str,
    ) -> Talkgroups {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = db.map_or_else(|| dir.path().join("talkgroups.sqlite3"), Path::to_path_buf);
        let config_path = dir.path().join("talkgroups.toml");
        let log_path = dir.path().join("talkgroups.log");
        let cfg = format!(
            "[component]\njid = \"{jid}\"\nsecret = \"{SECRET}\"\nserver = \"{}\"\nkeepalive_secs = 5\nreconnect_max_secs = 2\n{component}\n[storage]\ndatabase = \"{}\"\n\n{extra}\n",
            p.component_addr_for(jid),
            db_path.display()
        );
        fs::write(&config_path, cfg).expect("write config");
        let mut t = Talkgroups {
            child: None,
            dir,
            config_path,
            db_path,
            log_path,
        };
        t.spawn();
        t
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open log");
        let before = fs::read_to_string(&self.log_path)
            .map(|s| s.matches("connected to the server").count())
            .unwrap_or(0);
        let child = Command::new(env!("CARGO_BIN_EXE_talkgroups"))
            .arg("--config")
            .arg(&self.config_path)
            .env("RUST_LOG", "info,talkgroups=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("start talkgroups");
        self.child = Some(child);
        self.wait_log_count(
            "connected to the server",
            before + 1,
            Duration::from_secs(20),
        );
    }

    /// Waits until `needle` occurs at least `n` times in the log.
    pub fn wait_log_count(&mut self, needle: &str, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = fs::read_to_string(&self.log_path).unwrap_or_default();
            if log.matches(needle).count() >= n {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("talkgroups exited ({status}) before {needle:?}:\n{log}");
                }
            }
            if Instant::now() > deadline {
                panic!("timeout waiting for {needle:?} in the talkgroups log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `talkgroups token ARGS…` on this instance's config, as an operator
    /// runs it while the component runs: (succeeded, stdout, stderr).
    pub fn token(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_talkgroups"))
            .arg("token")
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run talkgroups token");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// SIGTERM and wait (at most 10 s); returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "talkgroups did not stop within 10 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the binary again on the same config and database.
    pub fn restart(&mut self) {
        self.spawn();
    }
}

impl Drop for Talkgroups {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- talkgroups log ----\n{}", self.log());
        }
        self.kill9();
    }
}

/// Logs `user` in (registering the account) and joins `group` through the
/// real subscription handshake: subscribe, the group's `subscribed` and
/// `subscribe`, our `subscribed`; returns once the welcome arrived.
pub async fn join(p: &impl XmppServer, user: &str, group: &str) -> TestClient {
    p.register(user, "pw");
    let mut c = TestClient::connect_online(p, user, "pw", "r").await;
    join_client(&mut c, group).await;
    c
}

/// Logs `user` in and asks to join `group`, whose policy is `approve`;
/// returns once the group said the request waits for an admin.
pub async fn ask_to_join(p: &impl XmppServer, user: &str, group: &str) -> TestClient {
    p.register(user, "pw");
    let mut c = TestClient::connect_online(p, user, "pw", "r").await;
    c.send_presence(Some(group), Some("subscribe")).await;
    let said = c
        .wait_for(Duration::from_secs(10), |e| {
            is_from_bare(e, group) && body_of(e).is_some()
        })
        .await;
    assert!(
        body_of(&said).is_some_and(|b| b.contains("waits for an admin")),
        "{}",
        xml(&said)
    );
    c
}

/// The subscription handshake for an already connected client.
pub async fn join_client(c: &mut TestClient, group: &str) {
    c.send_presence(Some(group), Some("subscribe")).await;
    let t = Duration::from_secs(10);
    c.wait_for(t, |e| {
        e.name() == "presence" && is_from_bare(e, group) && e.attr("type") == Some("subscribe")
    })
    .await;
    c.send_presence(Some(group), Some("subscribed")).await;
    let w = c
        .wait_for(t, |e| {
            is_from_bare(e, group) && body_of(e).is_some_and(|b| b.starts_with("Welcome"))
        })
        .await;
    let _ = w;
    // A round trip to the server: it has handled the `subscribed` (so the
    // roster item is stored) before a test may stop or restart it.
    c.get_roster().await;
}
