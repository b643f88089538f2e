//! The HTTP listener (axum): `POST /routes/{group}/{name}` for receive
//! routes, `/bridges/…` for the platforms, the operations API under
//! `/api/v1`, the web admin page under `/admin/`, `GET /healthz` and
//! Prometheus `GET /metrics`. A thin adapter:
//! it checks size and content type, hands the post to the core's task and
//! waits for its answer, which comes only after the effects are committed.
//!
//! [`serve`] runs the listener with hyper's HTTP/1.1 server under the
//! `[http]` limits: a cap on open connections, in all and per client
//! address (past either, a new connection is closed at once and counted),
//! hyper's header read timeout (which also ends idle keep-alive
//! connections), a timeout on reading a post's body, and a longest life
//! for any connection (a client that never reads its answers blocks
//! hyper's writes, where no other timer runs).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::HttpConfig;
use crate::core::bridge::{BridgeCall, BridgeStats};
use crate::core::platform::Method;
use crate::core::route::{PostReply, RoutePost};
use crate::core::webhook::{MAX_BODY, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// A post waiting for the core's answer.
pub struct PostRequest {
    pub post: Post,
    pub reply: oneshot::Sender<PostReply>,
}

/// What came in: a post to a receive route, or a platform's call to a
/// bridge.
pub enum Post {
    Route(RoutePost),
    Bridge(BridgeCall),
    Api(crate::core::api::ApiCall),
}

impl Post {
    /// The core's input, answered with `Output::Reply` carrying `token`.
    pub fn into_input(self, token: u64) -> crate::core::Input {
        match self {
            Post::Route(mut p) => {
                p.token = token;
                crate::core::Input::RoutePost(p)
            }
            Post::Bridge(mut c) => {
                c.token = token;
                crate::core::Input::BridgeCall(c)
            }
            Post::Api(mut c) => {
                c.token = token;
                crate::core::Input::Api(c)
            }
        }
    }
}

/// Numbers for `/metrics` and `/healthz`, written by the app loop.
#[derive(Debug, Default)]
pub struct Metrics {
    pub groups: AtomicU64,
    pub members: AtomicU64,
    pub online: AtomicU64,
    pub relayed: AtomicU64,
    pub route_received: AtomicU64,
    pub route_delivered: AtomicU64,
    pub route_failed: AtomicU64,
    pub route_refused: AtomicU64,
    pub route_given_up: AtomicU64,
    pub outbox_depth: AtomicU64,
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
    /// Stanzas handed to the XMPP connection (a fanout counts its copies).
    pub sent_stanzas: AtomicU64,
    /// HTTP connections open now.
    pub http_open: AtomicU64,
    /// The cap on open HTTP connections in force (after the descriptor
    /// budget).
    pub http_max: AtomicU64,
    /// HTTP connections closed at once because `http_max` were open.
    pub http_refused_total_cap: AtomicU64,
    /// HTTP connections closed at once because their address had
    /// `http.max_connections_per_ip` open.
    pub http_refused_per_ip: AtomicU64,
    /// Bridge counters (copied once a second when they changed).
    pub bridges: Mutex<BridgeStats>,
    /// Room bridges (copied once a second).
    pub rooms: Mutex<Vec<crate::core::muc::RoomStatus>>,
}

impl Metrics {
    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(&str, u64)]| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in lines {
                s.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        metric(
            "talkgroups_groups",
            "gauge",
            "Groups.",
            &[("", g(&self.groups))],
        );
        metric(
            "talkgroups_members",
            "gauge",
            "Members across all groups.",
            &[("", g(&self.members))],
        );
        metric(
            "talkgroups_online_members",
            "gauge",
            "Members with at least one online resource.",
            &[("", g(&self.online))],
        );
        metric(
            "talkgroups_relayed_messages_total",
            "counter",
            "Message copies sent to members.",
            &[("", g(&self.relayed))],
        );
        metric(
            "talkgroups_route_received_total",
            "counter",
            "Messages accepted on receive routes.",
            &[("", g(&self.route_received))],
        );
        metric(
            "talkgroups_route_sends_total",
            "counter",
            "Send-route delivery attempts by outcome.",
            &[
                ("{outcome=\"delivered\"}", g(&self.route_delivered)),
                ("{outcome=\"failed\"}", g(&self.route_failed)),
                ("{outcome=\"refused\"}", g(&self.route_refused)),
                ("{outcome=\"given_up\"}", g(&self.route_given_up)),
            ],
        );
        metric(
            "talkgroups_outbox_depth",
            "gauge",
            "Send-route deliveries waiting.",
            &[("", g(&self.outbox_depth))],
        );
        metric(
            "talkgroups_reconnects_total",
            "counter",
            "Connections to the XMPP server after the first.",
            &[("", g(&self.reconnects))],
        );
        metric(
            "talkgroups_connected",
            "gauge",
            "1 while the XMPP server connection is up.",
            &[("", u64::from(self.connected.load(Ordering::Relaxed)))],
        );
        metric(
            "talkgroups_sent_stanzas_total",
            "counter",
            "Stanzas handed to the XMPP connection (a fanout counts its copies).",
            &[("", g(&self.sent_stanzas))],
        );
        metric(
            "talkgroups_http_connections",
            "gauge",
            "HTTP connections open.",
            &[("", g(&self.http_open))],
        );
        metric(
            "talkgroups_http_max_connections",
            "gauge",
            "The cap on open HTTP connections in force.",
            &[("", g(&self.http_max))],
        );
        metric(
            "talkgroups_http_refused_connections_total",
            "counter",
            "HTTP connections closed on accept, by the cap that was reached.",
            &[
                ("{reason=\"total_cap\"}", g(&self.http_refused_total_cap)),
                ("{reason=\"per_ip_cap\"}", g(&self.http_refused_per_ip)),
            ],
        );
        if let Ok(b) = self.bridges.lock() {
            render_bridges(&mut s, &b);
        }
        if let Ok(r) = self.rooms.lock() {
            render_rooms(&mut s, &r);
        }
        s
    }
}

/// The bridge counters, labelled by platform and outcome only (never a
/// bridge's name or keys).
fn render_bridges(s: &mut String, b: &BridgeStats) {
    let mut family = |name: &str, help: &str, lines: Vec<(String, u64)>| {
        s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for (labels, v) in lines {
            s.push_str(&format!("{name}{{{labels}}} {v}\n"));
        }
    };
    family(
        "talkgroups_bridge_inbound_total",
        "Calls from platforms to bridges, by outcome.",
        (b.inbound.iter())
            .map(|((p, o), v)| (format!("platform=\"{}\",outcome=\"{o}\"", p.as_str()), *v))
            .collect(),
    );
    family(
        "talkgroups_bridge_posts_total",
        "Posts to platforms, by outcome.",
        (b.outbound.iter())
            .map(|((p, o), v)| (format!("platform=\"{}\",outcome=\"{o}\"", p.as_str()), *v))
            .collect(),
    );
    family(
        "talkgroups_bridge_merged_posts_total",
        "Posts that carried several queued messages (a platform's rate limit).",
        (b.merged_posts.iter())
            .map(|(p, v)| (format!("platform=\"{}\"", p.as_str()), *v))
            .collect(),
    );
    family(
        "talkgroups_bridge_merged_messages_total",
        "Messages that went out inside merged posts.",
        (b.merged_messages.iter())
            .map(|(p, v)| (format!("platform=\"{}\"", p.as_str()), *v))
            .collect(),
    );
}

/// Room bridges by group and bridge name: the state, and the messages
/// each way.
fn render_rooms(s: &mut String, rooms: &[crate::core::muc::RoomStatus]) {
    if rooms.is_empty() {
        return;
    }
    s.push_str(
        "# HELP talkgroups_muc_state A room bridge's state (1 for the current one).\n\
         # TYPE talkgroups_muc_state gauge\n",
    );
    for r in rooms {
        s.push_str(&format!(
            "talkgroups_muc_state{{group=\"{}\",name=\"{}\",state=\"{}\"}} 1\n",
            r.group, r.name, r.state
        ));
    }
    s.push_str(
        "# HELP talkgroups_muc_messages_total Messages sent into rooms and relayed from them.\n\
         # TYPE talkgroups_muc_messages_total counter\n",
    );
    for r in rooms {
        for (dir, v) in [("to_room", r.sent), ("from_room", r.received)] {
            s.push_str(&format!(
                "talkgroups_muc_messages_total{{group=\"{}\",name=\"{}\",direction=\"{dir}\"}} {v}\n",
                r.group, r.name
            ));
        }
    }
}

/// Open connections, in all and by client address; the only place that
/// admits one.
struct Caps {
    max: usize,
    per_ip: usize,
    open: Mutex<Open>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
    /// The most open at once since the heap was last trimmed.
    peak: usize,
}

/// After this many connections at once, the heap is given back to the
/// system once they are down to a sixteenth of that peak (see
/// [`trim_heap`]): not at every close, and not only at zero, which steady
/// traffic may never reach.
const TRIM_AFTER: usize = 64;

/// Hands freed heap pages back to the system. Each connection's buffers
/// and task are small allocations spread over the heap; once a burst of
/// them is freed, glibc keeps most of those pages (it only trims the top
/// of the heap), so a process that once held a thousand connections would
/// keep their memory for good.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// One admitted connection: gives its place back when dropped.
struct Slot {
    caps: Arc<Caps>,
    ip: IpAddr,
}

/// The address a client is counted under: IPv4 (also IPv4-mapped IPv6) as
/// it is, IPv6 by its /64, which is what one host is usually given.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

impl Caps {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // Counting cannot panic halfway; a poisoned lock still holds
        // consistent numbers.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a connection from `ip`, or `None` (counted) when a cap
    /// is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let ip = client_key(ip);
        let mut open = self.lock();
        if open.total >= self.max {
            self.metrics
                .http_refused_total_cap
                .fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let n = open.by_ip.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            self.metrics
                .http_refused_per_ip
                .fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *n += 1;
        open.total += 1;
        open.peak = open.peak.max(open.total);
        self.metrics
            .http_open
            .store(open.total as u64, Ordering::Relaxed);
        Some(Slot {
            caps: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.caps.lock();
        if let Some(n) = open.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_ip.remove(&self.ip);
            }
        }
        open.total = open.total.saturating_sub(1);
        self.caps
            .metrics
            .http_open
            .store(open.total as u64, Ordering::Relaxed);
        let trim = open.peak >= TRIM_AFTER && open.total <= open.peak / 16;
        if trim {
            open.peak = open.total;
        }
        drop(open);
        if trim {
            trim_heap();
        }
    }
}

/// Accept errors that concern one connection only (it went away before
/// it was accepted): take the next one at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// The listen backlog: connections the kernel completes before the
/// accept loop takes them. When it is full the kernel drops new SYNs and
/// every client, legitimate or not, waits a second for its retransmit; a
/// flood outrunning the accept loop for a moment (a busy machine) must not
/// do that. 4096 is the kernel's usual cap (net.core.somaxconn); they cost
/// no descriptor until accepted.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds the HTTP listener with [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's and tokio's own bind do: a restart may take the port back
    // while the old connections sit in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How long a connection may take to finish its request once shutdown
/// has begun or it reached `http.max_connection_secs` (the app waits 2 s
/// for the whole listener at shutdown).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it here.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Serves `router` on `listener` under `limits` until `shutdown` turns
/// true; then lets requests in progress finish, closes idle connections
/// and returns when every connection is closed.
///
/// `limits.max_connections` must already fit the descriptor budget
/// (`app::run` lowers it). Each connection is one task running hyper's
/// HTTP/1.1 server: its header read timeout runs whenever hyper waits for
/// a request head, so it closes a connection that sends a partial head and
/// one that sits idle, new or kept alive, alike.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpConfig,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    metrics
        .http_max
        .store(limits.max_connections as u64, Ordering::Relaxed);
    let caps = Arc::new(Caps {
        max: limits.max_connections,
        per_ip: limits.max_connections_per_ip,
        open: Mutex::default(),
        metrics,
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    // Every connection task holds a clone; `recv` returns None once all
    // are gone.
    let (open_tx, mut all_closed) = mpsc::channel::<()>(1);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors or memory: the budget should
                    // prevent it; back off rather than spin.
                    tracing::warn!(error = %e, "HTTP accept error; pausing 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let Some(slot) = caps.admit(peer.ip()) else {
            // Closed now, not queued: a full server answers at once.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let mut stop = shutdown.clone();
        let open = open_tx.clone();
        let max_connection = limits.max_connection;
        tokio::spawn(async move {
            let _slot = slot;
            let _open = open;
            let mut conn = std::pin::pin!(conn);
            let ended = tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = stopped(&mut stop) => None,
                _ = tokio::time::sleep(max_connection) => None,
            };
            let result = match ended {
                Some(r) => r,
                None => {
                    // Let the request in progress finish, for a while:
                    // hyper waits for a head that has begun to arrive,
                    // and for the client to take its answer; one that
                    // does neither must not hold the connection (or the
                    // exit) any longer.
                    conn.as_mut().graceful_shutdown();
                    tokio::time::timeout(SHUTDOWN_GRACE, conn)
                        .await
                        .unwrap_or(Ok(()))
                }
            };
            if let Err(e) = result {
                // Timeouts and clients that went away: nothing to act on.
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        });
    }
    drop(listener);
    drop(open_tx);
    let _ = all_closed.recv().await;
}

#[derive(Clone)]
pub struct HttpState {
    pub posts: mpsc::Sender<PostRequest>,
    pub metrics: Arc<Metrics>,
    /// How long reading a post's body may take (`http.body_timeout_secs`).
    pub body_timeout: Duration,
    /// Where API tokens are checked (`None`: the API answers 401).
    pub tokens: Option<Arc<TokenGate>>,
    /// The core's events, for `GET /api/v1/groups/{g}/events`.
    pub events: Option<tokio::sync::broadcast::Sender<Arc<SseFrame>>>,
}

/// The API's token check: a read-only connection to the database, used
/// on a blocking thread (never on the runtime's workers).
pub struct TokenGate {
    path: std::path::PathBuf,
    reader: std::sync::Mutex<Option<crate::store::tokens::TokenReader>>,
}

impl TokenGate {
    pub fn new(path: std::path::PathBuf) -> TokenGate {
        TokenGate {
            path,
            reader: std::sync::Mutex::new(None),
        }
    }

    /// `f` on the reader (opened on first use, reopened after an error).
    fn with<T>(
        &self,
        f: impl FnOnce(&crate::store::tokens::TokenReader) -> Result<T, crate::store::StoreError>,
    ) -> Result<T, String> {
        let mut r = self
            .reader
            .lock()
            .map_err(|_| "reader poisoned".to_string())?;
        if r.is_none() {
            *r = Some(
                crate::store::tokens::TokenReader::open(&self.path).map_err(|e| e.to_string())?,
            );
        }
        let result = match r.as_ref() {
            Some(reader) => f(reader),
            None => return Err("no reader".into()),
        };
        result.map_err(|e| {
            *r = None;
            e.to_string()
        })
    }

    /// The scope of `token`, `Ok(None)` for an unknown one.
    fn scope_of(&self, token: &str) -> Result<Option<String>, String> {
        let hash = crate::store::tokens::token_hash(token);
        let mut r = self
            .reader
            .lock()
            .map_err(|_| "token reader poisoned".to_string())?;
        if r.is_none() {
            *r = Some(
                crate::store::tokens::TokenReader::open(&self.path).map_err(|e| e.to_string())?,
            );
        }
        let result = r.as_ref().map(|r| r.scope_of(&hash));
        match result {
            Some(Ok(s)) => Ok(s),
            Some(Err(e)) => {
                *r = None; // Reopen next time.
                Err(e.to_string())
            }
            None => Ok(None),
        }
    }
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/routes/{group}/{name}", post(post_route))
        .route(
            "/bridges/{group}/{name}",
            get(bridge_call_get).post(bridge_call_post),
        )
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/{*rest}", any(api_call))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::admin::routes())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, msg: &str) -> Response {
    json(status, serde_json::json!({ "error": msg }).to_string())
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn post_route(
    State(st): State<HttpState>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let signature = header_str(&headers, SIGNATURE_HEADER);
    let content_type = header_str(&headers, header::CONTENT_TYPE.as_str()).map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let form = match content_type.as_deref() {
        None | Some("application/json") => false,
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => false,
        Some("application/x-www-form-urlencoded") if signature.is_none() => true,
        Some(_) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/json (or a form-encoded outgoing webhook)",
            )
        }
    };
    // Size before reading or parsing anything (read_body checks the
    // declared length first).
    let body = match read_body(&st, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let post = RoutePost {
        token: 0, // Set by the app loop.
        group: group.to_lowercase(),
        route: name.to_lowercase(),
        body,
        form,
        timestamp: header_str(&headers, TIMESTAMP_HEADER),
        signature,
    };
    ask_core(&st, Post::Route(post)).await
}

/// Hands a post to the core and waits for its answer (given after the
/// effects are committed).
async fn ask_core(st: &HttpState, post: Post) -> Response {
    let (reply, rx) = oneshot::channel();
    if st.posts.send(PostRequest { post, reply }).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match rx.await {
        Ok(r) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, r.content_type)],
            r.body,
        )
            .into_response(),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

/// Reads a body of at most 64 KiB within the body timeout.
async fn read_body(st: &HttpState, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Response> {
    let declared = header_str(headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(error(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KiB"));
    }
    let read = tokio::time::timeout(st.body_timeout, axum::body::to_bytes(body, MAX_BODY));
    match read.await {
        Err(_) => Err(error(StatusCode::REQUEST_TIMEOUT, "the body took too long")),
        Ok(Ok(b)) => Ok(b.to_vec()),
        Ok(Err(e)) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if too_big {
                error(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KiB")
            } else {
                error(StatusCode::BAD_REQUEST, "could not read the body")
            })
        }
    }
}

async fn bridge_call_get(
    st: State<HttpState>,
    path: Path<(String, String)>,
    query: axum::extract::RawQuery,
    headers: HeaderMap,
) -> Response {
    bridge_call(st, path, query, headers, Method::Get, Body::empty()).await
}

async fn bridge_call_post(
    st: State<HttpState>,
    path: Path<(String, String)>,
    query: axum::extract::RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    bridge_call(st, path, query, headers, Method::Post, body).await
}

/// `/bridges/{group}/{name}`: the platform's own checks are the core's;
/// here only size, time and shape of the request.
async fn bridge_call(
    State(st): State<HttpState>,
    Path((group, name)): Path<(String, String)>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    method: Method,
    body: Body,
) -> Response {
    let body = match read_body(&st, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let query: Vec<(String, String)> = match query {
        None => Vec::new(),
        Some(q) => match serde_urlencoded::from_str(&q) {
            Ok(v) => v,
            Err(_) => return error(StatusCode::BAD_REQUEST, "malformed query string"),
        },
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let call = BridgeCall {
        token: 0, // Set by the app loop.
        group: group.to_lowercase(),
        bridge: name.to_lowercase(),
        method,
        query,
        headers,
        body,
    };
    ask_core(&st, Post::Bridge(call)).await
}

/// `GET /api/v1/openapi.json` (no token needed): made from the API's
/// route table.
async fn openapi() -> Response {
    json(
        StatusCode::OK,
        crate::core::api::openapi(env!("CARGO_PKG_VERSION")).to_string(),
    )
}

/// An API error in the API's shape.
fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        serde_json::json!({ "error": code, "message": message }).to_string(),
    )
}

/// `/api/v1/…`: the bearer token is checked here (401), everything else
/// in the core.
async fn api_call(
    State(st): State<HttpState>,
    Path(rest): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    method: axum::http::Method,
    body: Body,
) -> Response {
    use crate::core::api::{ApiCall, ApiMethod, Scope};
    let unauthorized = || {
        let mut r = api_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid token is required: Authorization: Bearer TOKEN.",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        r
    };
    let Some(token) = header_str(&headers, header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_string()))
        .filter(|t| !t.is_empty() && t.len() <= 200)
    else {
        return unauthorized();
    };
    let Some(gate) = st.tokens.clone() else {
        return unauthorized();
    };
    let scope = match tokio::task::spawn_blocking(move || gate.scope_of(&token)).await {
        Ok(Ok(Some(s))) => s,
        Ok(Ok(None)) => return unauthorized(),
        _ => {
            return api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Tokens cannot be checked right now; try again.",
            )
        }
    };
    let Some(scope) = Scope::parse(&scope) else {
        return unauthorized();
    };
    let method = match method {
        axum::http::Method::GET => ApiMethod::Get,
        axum::http::Method::POST => ApiMethod::Post,
        axum::http::Method::PUT => ApiMethod::Put,
        axum::http::Method::PATCH => ApiMethod::Patch,
        axum::http::Method::DELETE => ApiMethod::Delete,
        _ => {
            return api_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "That method is not available on this resource.",
            )
        }
    };
    let body = match read_body(&st, &headers, body).await {
        Ok(b) => b,
        Err(r) => {
            let status = r.status();
            let (code, msg) = if status == StatusCode::PAYLOAD_TOO_LARGE {
                ("too_large", "The body is over 64 KiB.")
            } else {
                ("bad_request", "The body could not be read.")
            };
            return api_error(status, code, msg);
        }
    };
    let query: Vec<(String, String)> = match query {
        None => Vec::new(),
        Some(q) => match serde_urlencoded::from_str(&q) {
            Ok(v) => v,
            Err(_) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "The query string is malformed.",
                )
            }
        },
    };
    let path = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect::<Option<Vec<String>>>();
    let Some(path) = path else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The path is not valid UTF-8.",
        );
    };
    if method == ApiMethod::Get && path.len() == 3 && path[0] == "groups" && path[2] == "events" {
        return events(&st, scope, path, &headers).await;
    }
    if method == ApiMethod::Get && path.len() == 3 && path[0] == "groups" && path[2] == "messages" {
        return messages(&st, scope, &path[1], &query).await;
    }
    ask_core(
        &st,
        Post::Api(ApiCall {
            token: 0, // Set by the app loop.
            scope,
            method,
            path,
            query,
            body,
        }),
    )
    .await
}

/// `GET /api/v1/groups/{g}/messages`, read from the database on a
/// blocking thread (all of the history, not only what the core holds).
async fn messages(
    st: &HttpState,
    scope: crate::core::api::Scope,
    group: &str,
    query: &[(String, String)],
) -> Response {
    use crate::core::api;
    let reaches = match &scope {
        api::Scope::Service => true,
        api::Scope::Group(g) => g == group,
    };
    if !reaches {
        return api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This token's scope does not reach that.",
        );
    }
    let q = match api::history_query(query) {
        Ok(q) => q,
        Err((s, code, msg)) => {
            return api_error(
                StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
                code,
                &msg,
            )
        }
    };
    let Some(gate) = st.tokens.clone() else {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "That group does not exist.",
        );
    };
    let group = group.to_string();
    let rows = tokio::task::spawn_blocking(move || gate.with(|r| r.history(&group, &q))).await;
    match rows {
        Ok(Ok(Some(rows))) => {
            let mut v: Vec<serde_json::Value> = rows.iter().map(api::message_json).collect();
            if q.desc {
                v.reverse();
            }
            json(StatusCode::OK, serde_json::Value::Array(v).to_string())
        }
        Ok(Ok(None)) => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "That group does not exist.",
        ),
        _ => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The history cannot be read right now; try again.",
        ),
    }
}

/// `GET /api/v1/groups/{g}/events`: Server-Sent Events. Subscribes
/// first, then asks the core what to replay (the messages after
/// `Last-Event-ID`, and whether the scope reaches the group), then streams
/// the live events of that group. A reader that falls a whole ring behind
/// is disconnected (it may reconnect with its last id); the relay never
/// waits for it.
async fn events(
    st: &HttpState,
    scope: crate::core::api::Scope,
    path: Vec<String>,
    headers: &HeaderMap,
) -> Response {
    use crate::core::api::{ApiCall, ApiMethod};
    let Some(tx) = st.events.clone() else {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Events are not available here.",
        );
    };
    let group = path[1].clone();
    let rx = tx.subscribe();
    let last = header_str(headers, "last-event-id").filter(|v| !v.trim().is_empty());
    let query = last
        .iter()
        .map(|l| ("after".to_string(), l.trim().to_string()))
        .collect();
    let (reply, rx_reply) = oneshot::channel();
    let call = Post::Api(ApiCall {
        token: 0,
        scope,
        method: ApiMethod::Get,
        path,
        query,
        body: Vec::new(),
    });
    if st
        .posts
        .send(PostRequest { post: call, reply })
        .await
        .is_err()
    {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Shutting down.",
        );
    }
    let Ok(r) = rx_reply.await else {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Shutting down.",
        );
    };
    if r.status != 200 {
        return (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, r.content_type)],
            r.body,
        )
            .into_response();
    }
    let replay: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap_or_default();
    let seen = replay
        .iter()
        .filter_map(|m| m["id"].as_i64())
        .max()
        .unwrap_or(0);
    let mut first = String::new();
    for m in &replay {
        first.push_str(&format!("event: message\nid: {}\ndata: {m}\n\n", m["id"]));
    }
    // Frames are made once per event (by the app) and shared; a reader
    // woken for one takes every other one already waiting in the same
    // write, and writes only in its own slots, one per gap (see
    // `SseSlots`, `SSE_WRITES_PER_SEC`): a reader costs at most 20 writes a
    // second, not one per event, all readers together at most 5 000, and
    // their writes come as a trickle, not as a burst on every event (the
    // relay shares the cores with them).
    let slots = SseSlots::next_reader();
    let start = (rx, group, seen, slots.epoch, SseReader::new());
    let live = futures::stream::unfold(
        start,
        move |(mut rx, group, mut seen, last, reader)| async move {
            let mut chunk: Vec<u8> = Vec::new();
            let take = |e: &SseFrame, chunk: &mut Vec<u8>, seen: &mut i64| {
                if e.group != group {
                    return;
                }
                if let Some(id) = e.id {
                    if id <= *seen {
                        return; // Already replayed.
                    }
                    *seen = id;
                }
                chunk.extend_from_slice(&e.frame);
            };
            let keepalive = tokio::time::sleep(Duration::from_secs(15));
            tokio::pin!(keepalive);
            loop {
                tokio::select! {
                    r = rx.recv() => match r {
                        Ok(e) => take(&e, &mut chunk, &mut seen),
                        // Too slow (a whole ring behind), or shutting down:
                        // the reader goes; it may come back with Last-Event-ID.
                        Err(_) => return None,
                    },
                    _ = &mut keepalive => {
                        let next = (rx, group, seen, last, reader);
                        return Some((Ok::<_, std::convert::Infallible>(Bytes::from_static(b":\n\n")), next));
                    }
                }
                if chunk.is_empty() {
                    continue; // Another group's event.
                }
                let now = tokio::time::Instant::now();
                let at = slots.next(now.max(last + Duration::from_nanos(1)), reader.gap());
                tokio::time::sleep_until(at).await;
                while chunk.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(e) => take(&e, &mut chunk, &mut seen),
                        Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                        Err(_) => return None,
                    }
                }
                return Some((Ok(Bytes::from(chunk)), (rx, group, seen, at, reader)));
            }
        },
    );
    let stream = futures::StreamExt::chain(
        futures::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(first))]),
        live,
    );
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The least time between two writes to one event-stream reader.
const SSE_GAP_MIN: Duration = Duration::from_millis(50);

/// The most writes a second that all event-stream readers together get:
/// past `SSE_GAP_MIN × SSE_WRITES_PER_SEC` (250) readers, the gap between
/// two writes to one reader grows with their number (200 ms for 1 000).
/// Each write is a syscall and, on the reader's side, a wake-up; at 20 000
/// a second (1 000 readers every 50 ms) they took enough of a 2-core
/// machine to move the relay's p99 by a quarter, at 5 000 not measurably
/// (BENCHMARKS.md, "event streams"). Bots reading a busy group get its
/// events in fewer, larger writes, a little later.
const SSE_WRITES_PER_SEC: u32 = 5_000;

/// The gap never grows past this, however many readers.
const SSE_GAP_MAX: Duration = Duration::from_secs(1);

/// Event-stream readers connected now, in every group.
static SSE_READERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The gap between two writes to one reader when `readers` are connected.
fn sse_gap(readers: usize) -> Duration {
    let share = Duration::from_secs(1) / SSE_WRITES_PER_SEC;
    share
        .saturating_mul(u32::try_from(readers).unwrap_or(u32::MAX))
        .clamp(SSE_GAP_MIN, SSE_GAP_MAX)
}

/// One connected reader, counted in `SSE_READERS` while it lives.
struct SseReader;

impl SseReader {
    fn new() -> SseReader {
        SSE_READERS.fetch_add(1, Ordering::Relaxed);
        SseReader
    }

    /// The gap for every reader now.
    fn gap(&self) -> Duration {
        sse_gap(SSE_READERS.load(Ordering::Relaxed))
    }
}

impl Drop for SseReader {
    fn drop(&mut self) {
        SSE_READERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When one event-stream reader may be written to: the instants
/// `epoch + frac × gap + k × gap`. Every reader shares the epoch (the
/// first reader's arrival) and gets its own phase `frac`, golden-ratio
/// steps through the gap, so however many readers a group has and
/// whenever its events come, their writes are spread evenly over each gap.
/// With one shared deadline instead ("the first event at once, then every
/// 50 ms"), all of them woke on the same event and a thousand socket
/// writes took a core in one go, while a member's relayed message waited
/// for it. An event waits at most one gap for its reader's slot.
#[derive(Clone, Copy, Debug)]
struct SseSlots {
    epoch: tokio::time::Instant,
    /// The phase, as a fraction of the gap, in [0, 1).
    frac: f64,
}

impl SseSlots {
    fn next_reader() -> SseSlots {
        static EPOCH: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
        static READERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = READERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SseSlots::nth(*EPOCH.get_or_init(tokio::time::Instant::now), n)
    }

    /// The `n`th reader's slots: phase `frac(n × 0.618…)`, so any run of
    /// consecutive readers is nearly evenly spread.
    fn nth(epoch: tokio::time::Instant, n: u64) -> SseSlots {
        SseSlots {
            epoch,
            frac: (n as f64 * 0.618_033_988_749_895).fract(),
        }
    }

    /// The first slot at or after `t` when the gap is `gap`.
    fn next(&self, t: tokio::time::Instant, gap: Duration) -> tokio::time::Instant {
        let base = self.epoch + gap.mul_f64(self.frac);
        if t <= base {
            return base;
        }
        let gap = gap.as_nanos().max(1);
        let k = (t - base).as_nanos().div_ceil(gap);
        base + Duration::from_nanos(u64::try_from(k * gap).unwrap_or(u64::MAX))
    }
}

/// One event as the readers get it: the group (to filter), the history id
/// (to skip what was replayed) and the bytes, made once.
pub struct SseFrame {
    pub group: String,
    pub id: Option<i64>,
    pub frame: Bytes,
}

impl From<crate::core::api::ApiEvent> for SseFrame {
    fn from(e: crate::core::api::ApiEvent) -> SseFrame {
        SseFrame {
            frame: Bytes::from(e.frame()),
            group: e.group,
            id: e.id,
        }
    }
}

/// `%XX` sequences decoded (a JID's `@` may come encoded); `None` when
/// the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

async fn healthz(State(st): State<HttpState>) -> Response {
    let connected = st.metrics.connected.load(Ordering::Relaxed);
    json(
        StatusCode::OK,
        serde_json::json!({
            "status": "ok",
            "xmpp": if connected { "connected" } else { "disconnected" },
            "version": env!("CARGO_PKG_VERSION"),
        })
        .to_string(),
    )
}

async fn metrics(State(st): State<HttpState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::core::model::{GroupRecord, JoinPolicy, RouteKind, RouteRecord, Snapshot};
    use crate::core::webhook;
    use crate::core::{Core, Output};
    use axum::http::Request;
    use tower::ServiceExt;

    #[test]
    fn event_stream_slots_spread_the_readers_and_keep_the_gap() {
        let epoch = tokio::time::Instant::now();
        // A thousand readers: every tenth of the gap holds about a tenth.
        let mut tenths = [0u32; 10];
        for n in 0..1000 {
            let s = SseSlots::nth(epoch, n);
            assert!((0.0..1.0).contains(&s.frac));
            tenths[(s.frac * 10.0) as usize] += 1;
        }
        assert!(
            tenths.iter().all(|&c| (95..=105).contains(&c)),
            "{tenths:?}"
        );
        // One reader's slots, for a small and a large gap: at or after the
        // asked time, less than a gap later, on its own phase, and never
        // two within a gap.
        for gap in [SSE_GAP_MIN, Duration::from_millis(200)] {
            let s = SseSlots::nth(epoch, 7);
            let base = epoch + gap.mul_f64(s.frac);
            assert_eq!(s.next(epoch, gap), base);
            let mut last = base;
            for ms in [1u64, 49, 50, 51, 120, 199, 201, 10_000, 86_400_000] {
                let asked = (base + Duration::from_millis(ms)).max(last + Duration::from_nanos(1));
                let at = s.next(asked, gap);
                assert!(at >= asked && at - asked < gap, "{gap:?} {ms} ms");
                assert_eq!((at - base).as_nanos() % gap.as_nanos(), 0, "{ms} ms");
                assert!(at - last >= gap, "{gap:?} {ms} ms");
                last = at;
            }
        }
    }

    #[test]
    fn the_event_stream_gap_grows_with_the_readers() {
        let ms = |n| sse_gap(n).as_millis();
        assert_eq!(ms(0), 50);
        assert_eq!(ms(1), 50);
        assert_eq!(ms(250), 50);
        assert_eq!(ms(500), 100);
        assert_eq!(ms(1000), 200);
        assert_eq!(ms(5000), 1000);
        assert_eq!(ms(usize::MAX), 1000);
        // The count follows the readers' lives.
        let before = SSE_READERS.load(Ordering::Relaxed);
        let readers: Vec<_> = (0..1000).map(|_| SseReader::new()).collect();
        assert!(readers[0].gap() >= Duration::from_millis(200));
        drop(readers);
        assert!(SSE_READERS.load(Ordering::Relaxed) <= before + 100);
    }

    /// A router whose posts are answered by a real core holding group
    /// `lobby` with the receive route `froma` (password `password2`).
    fn app() -> (Router, Arc<Metrics>) {
        app_with(None)
    }

    fn app_with(tokens: Option<Arc<TokenGate>>) -> (Router, Arc<Metrics>) {
        let cfg = Config::parse(
            "[component]\njid = \"groups.localhost\"\nsecret = \"s\"\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\n",
        )
        .unwrap();
        let snap = Snapshot {
            groups: vec![GroupRecord {
                name: "lobby".into(),
                title: "Lobby".into(),
                join: JoinPolicy::Open,
                created_at: 0,
            }],
            routes: vec![RouteRecord {
                group: "lobby".into(),
                name: "froma".into(),
                kind: RouteKind::Recv { noloop: None },
                password: Some("password2".into()),
                created_at: 0,
                last_ok: None,
                last_error: None,
            }],
            instance_id: "inst-b".into(),
            ..Snapshot::default()
        };
        let mut out = Vec::new();
        let mut core = Core::new(cfg.core(), snap, crate::app::now_ms(), &mut out);
        let (posts, mut rx) = mpsc::channel::<PostRequest>(8);
        tokio::spawn(async move {
            let mut token = 0;
            while let Some(PostRequest { post, reply }) = rx.recv().await {
                token += 1;
                let mut out = Vec::new();
                core.handle(crate::app::now_ms(), post.into_input(token), &mut out);
                if let Some(r) = out.into_iter().find_map(|o| match o {
                    Output::Reply(r) => Some(r),
                    _ => None,
                }) {
                    let _ = reply.send(r);
                }
            }
        });
        let metrics = Arc::new(Metrics::default());
        (
            router(HttpState {
                posts,
                metrics: metrics.clone(),
                body_timeout: Duration::from_secs(10),
                tokens,
                events: None,
            }),
            metrics,
        )
    }

    #[tokio::test]
    async fn api_tokens_decide_401_and_the_core_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.sqlite3");
        let mut store = crate::store::Store::open(&db).unwrap();
        let (group, _) = store.add_token("group:lobby", "", 1).unwrap();
        let (service, _) = store.add_token("service", "", 1).unwrap();
        let (r, _) = app_with(Some(Arc::new(TokenGate::new(db))));
        let get = |path: &str, token: Option<&str>| {
            let mut b = Request::get(path);
            if let Some(t) = token {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            b.body(Body::empty()).unwrap()
        };
        for (req, status) in [
            (get("/api/v1/groups", None), StatusCode::UNAUTHORIZED),
            (
                get("/api/v1/groups", Some("tg_nope")),
                StatusCode::UNAUTHORIZED,
            ),
            (get("/api/v1/groups", Some(&group)), StatusCode::OK),
            (get("/api/v1/groups/lobby", Some(&group)), StatusCode::OK),
            (
                get("/api/v1/groups/other", Some(&group)),
                StatusCode::FORBIDDEN,
            ),
            (
                get("/api/v1/groups/other", Some(&service)),
                StatusCode::NOT_FOUND,
            ),
            (
                get("/api/v1/groups/lobby/members/bad%20jid", Some(&service)),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                get("/api/v1/nothing", Some(&service)),
                StatusCode::NOT_FOUND,
            ),
        ] {
            let path = req.uri().to_string();
            let (s, body) = call(&r, req).await;
            assert_eq!(s, status, "{path}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if s != StatusCode::OK {
                assert!(
                    v["error"].is_string() && v["message"].is_string(),
                    "{path}: {body}"
                );
            }
        }
        let (s, body) = call(&r, get("/api/v1/openapi.json", None)).await;
        assert_eq!(s, StatusCode::OK, "no token needed");
        let doc: openapiv3::OpenAPI = serde_json::from_str(&body).unwrap();
        assert!(doc.paths.paths.contains_key("/groups/{g}/messages"));
        let big = Request::post("/api/v1/groups/lobby/messages")
            .header("authorization", format!("Bearer {service}"))
            .header("content-length", "100000")
            .body(Body::from(vec![b'x'; 100_000]))
            .unwrap();
        let (s, body) = call(&r, big).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        let bad = Request::post("/api/v1/groups/lobby/messages")
            .header("authorization", format!("Bearer {service}"))
            .body(Body::from("{not json"))
            .unwrap();
        let (s, body) = call(&r, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("malformed_json"), "{body}");
    }

    async fn call(router: &Router, req: Request<Body>) -> (StatusCode, String) {
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn post(path: &str, ctype: Option<&str>) -> axum::http::request::Builder {
        let mut b = Request::post(path);
        if let Some(t) = ctype {
            b = b.header("content-type", t);
        }
        b
    }

    fn signed(path: &str, body: &str, password: &str) -> Request<Body> {
        let ts = (crate::app::now_ms() / 1000).to_string();
        let sig = webhook::sign(password, &ts, body.as_bytes());
        Request::post(path)
            .header("content-type", "application/json")
            .header("x-talkgroups-timestamp", ts)
            .header("x-talkgroups-signature", sig)
            .body(Body::from(body.to_string()))
            .unwrap()
    }

    const GOOD: &str = r#"{"id":"u1","origin":"lobby@a","nick":"dave","body":"hello","sent_at":"2026-01-01T00:00:00Z","trail":["inst-a"]}"#;

    #[tokio::test]
    async fn signed_happy_path_then_duplicate() {
        let (r, _) = app();
        let (s, b) = call(&r, signed("/routes/lobby/froma", GOOD, "password2")).await;
        assert_eq!((s, b.contains("\"ok\"")), (StatusCode::OK, true), "{b}");
        let (s, b) = call(&r, signed("/routes/Lobby/FromA", GOOD, "password2")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("duplicate"), "{b}");
    }

    #[tokio::test]
    async fn error_statuses_with_json_bodies() {
        let (r, _) = app();
        let cases: Vec<(Request<Body>, StatusCode)> = vec![
            (
                signed("/routes/nosuch/froma", GOOD, "password2"),
                StatusCode::NOT_FOUND,
            ),
            (
                signed("/routes/lobby/nosuch", GOOD, "password2"),
                StatusCode::NOT_FOUND,
            ),
            (
                signed("/routes/lobby/froma", GOOD, "wrong-password"),
                StatusCode::UNAUTHORIZED,
            ),
            (
                signed("/routes/lobby/froma", "{\"id\": oops", "password2"),
                StatusCode::BAD_REQUEST,
            ),
            (
                post("/routes/lobby/froma", Some("application/json"))
                    .body(Body::from(GOOD))
                    .unwrap(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                post("/routes/lobby/froma", Some("text/plain"))
                    .body(Body::from(GOOD))
                    .unwrap(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                post("/routes/lobby/froma", Some("application/json"))
                    .header("content-length", "70000")
                    .body(Body::from(GOOD))
                    .unwrap(),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                // No length given: the limit applies while reading.
                post("/routes/lobby/froma", Some("application/json"))
                    .body(Body::from_stream(futures::stream::iter(
                        (0..70).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
                    )))
                    .unwrap(),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                post("/nowhere", None).body(Body::empty()).unwrap(),
                StatusCode::NOT_FOUND,
            ),
        ];
        for (req, want) in cases {
            let what = format!("{} {}", req.method(), req.uri());
            let (s, b) = call(&r, req).await;
            assert_eq!(s, want, "{what}: {b}");
            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
            assert!(v["error"].is_string(), "{what}: {b}");
        }
        // Timestamp too far away (signed correctly).
        let ts = (crate::app::now_ms() / 1000 - 600).to_string();
        let sig = webhook::sign("password2", &ts, GOOD.as_bytes());
        let req = Request::post("/routes/lobby/froma")
            .header("content-type", "application/json; charset=utf-8")
            .header("x-talkgroups-timestamp", ts)
            .header("x-talkgroups-signature", sig)
            .body(Body::from(GOOD))
            .unwrap();
        assert_eq!(call(&r, req).await.0, StatusCode::CONFLICT);
        let req = Request::get("/routes/lobby/froma")
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&r, req).await.0, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn caps_refuse_past_either_limit_and_slots_give_their_place_back() {
        let metrics = Arc::new(Metrics::default());
        let caps = Arc::new(Caps {
            max: 3,
            per_ip: 2,
            open: Mutex::default(),
            metrics: metrics.clone(),
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "::ffff:127.0.0.3".parse().unwrap();
        let a1 = caps.admit(a).unwrap();
        let a2 = caps.admit(a).unwrap();
        assert!(caps.admit(a).is_none());
        assert_eq!(metrics.http_refused_per_ip.load(Ordering::Relaxed), 1);
        let b1 = caps.admit(b).unwrap();
        assert_eq!(metrics.http_open.load(Ordering::Relaxed), 3);
        // Full: the total cap comes first, whoever asks.
        assert!(caps.admit("127.0.0.4".parse().unwrap()).is_none());
        assert_eq!(metrics.http_refused_total_cap.load(Ordering::Relaxed), 1);
        drop(a1);
        assert_eq!(metrics.http_open.load(Ordering::Relaxed), 2);
        let a3 = caps.admit(a).unwrap();
        drop((a2, a3, b1));
        assert_eq!(metrics.http_open.load(Ordering::Relaxed), 0);
        assert!(caps.lock().by_ip.is_empty());
        let text = metrics.render();
        assert!(
            text.contains("talkgroups_http_refused_connections_total{reason=\"per_ip_cap\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn clients_are_counted_by_ipv4_address_or_ipv6_64() {
        let k = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(k("::ffff:10.0.0.1"), k("10.0.0.1"));
        assert_ne!(k("10.0.0.1"), k("10.0.0.2"));
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
    }

    #[tokio::test]
    async fn health_and_metrics() {
        let (r, m) = app();
        m.members.store(3, Ordering::Relaxed);
        m.route_delivered.store(2, Ordering::Relaxed);
        let (s, b) = call(&r, Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("\"xmpp\":\"disconnected\""), "{b}");
        let (s, b) = call(&r, Request::get("/metrics").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("talkgroups_members 3\n"), "{b}");
        assert!(
            b.contains("talkgroups_route_sends_total{outcome=\"delivered\"} 2\n"),
            "{b}"
        );
        assert!(b.contains("# TYPE talkgroups_outbox_depth gauge"), "{b}");
    }
}
