//! The main loop: the core thread owns the `Core` and the database, feeds
//! the core stanzas, ticks and connection events, commits each batch's
//! store writes, and only then hands the batch's stanzas to the XMPP
//! adapter.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use minidom::Element;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{Config, HttpConfig};
use crate::core::model::{Millis, StoreOp};
use crate::core::route::{Delivery, HttpSend, PostReply};
use crate::core::stanza::{self, Attr};
use crate::core::{Core, CoreConfig, Input, Notice, Output, RING};
use crate::http::{self, HttpState, Metrics, PostRequest};
use crate::sender::Sender;
use crate::store::{Durability, Store, Writer};
use crate::wire::OutStanza;
use crate::xmpp::{self, Outbound, XmppConfig, XmppEvent};

/// Events the API's readers may be behind by before they are dropped.
const EVENTS_RING: usize = 1024;
/// At most this many inbound events are handled per batch (one commit).
const BATCH: usize = 512;

/// While this many copies handed to the XMPP connection are not yet written
/// to its socket, the loop reads nothing more from the server (a few
/// seconds of what a server writes to its clients): a server slower than
/// the relay holds what members send, instead of a backlog of minutes
/// growing here. Deliveries, posts and time go on meanwhile.
const MAX_IN_FLIGHT: usize = 50_000;

/// Stanzas produced while the server connection is down wait here, at most
/// this many; past it the oldest are dropped (with a warning), because a
/// stale flood is worse than a gap after a long outage.
pub const PENDING_MAX: usize = 10_000;

pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// File descriptors kept out of the HTTP listener's reach, so that HTTP
/// clients can never take the ones the rest needs: the standard streams
/// and the log, the two runtimes' own (epoll, wakers), the listener, the XMPP
/// connection and the one opened while reconnecting, SQLite (the
/// database, its WAL and shared-memory files, the checkpointer's second
/// connection, temporary files), the lock file, the avatars and DNS
/// look-ups, and the outbox's outbound connections (one delivery in
/// flight per send route, each keeping at most a pooled connection or
/// two): 256 leaves room for well over a hundred send routes.
pub const FD_RESERVE: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the limit
/// in force (and the soft limit found, if it was raised).
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
fn raise_fd_limit() -> std::io::Result<(u64, Option<u64>)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let soft = lim.rlim_cur as u64;
    if lim.rlim_cur == lim.rlim_max {
        return Ok((soft, None));
    }
    let wanted = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } != 0 {
        // macOS refuses more than OPEN_MAX; keep the soft limit then.
        return Ok((soft, None));
    }
    Ok((lim.rlim_max as u64, Some(soft)))
}

/// How much lower the HTTP runtime's threads are scheduled than the rest
/// of the process: their `nice` is the process's plus this. When
/// the cores are contended, as with a thousand event-stream readers on a
/// small machine, the kernel then runs the relay's threads (the core
/// thread and the XMPP connection's) first when they wake, and the HTTP
/// work in the time they leave; with nothing to contend for it changes
/// nothing. 10 still leaves HTTP about a tenth of a core against one busy
/// thread of the relay, so /healthz, route posts and bridge callbacks are
/// slowed under such load, never stopped.
pub const HTTP_NICE: i32 = 10;

/// Lowers the calling thread's priority by [`HTTP_NICE`] (to at most 19,
/// the lowest). Linux keeps a nice value per thread, so this touches only
/// the HTTP runtime's own threads (it runs as their start hook), never the
/// rest of the process.
#[cfg(target_os = "linux")]
fn lower_http_thread_priority() {
    // SAFETY: gettid has no preconditions; errno is this thread's own;
    // getpriority and setpriority read and change only the priority of
    // this thread.
    let r = unsafe {
        let tid = libc::gettid() as libc::id_t;
        // -1 is a valid priority: only errno tells it from an error.
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now == -1 && *libc::__errno_location() != 0 {
            -1
        } else {
            libc::setpriority(libc::PRIO_PROCESS, tid, (now + HTTP_NICE).min(19))
        }
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        tracing::debug!(error = %e, "could not lower the HTTP thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_http_thread_priority() {}

#[cfg(not(unix))]
fn raise_fd_limit() -> std::io::Result<(u64, Option<u64>)> {
    Ok((u64::MAX, None))
}

/// What is left for HTTP connections out of a descriptor limit.
pub fn fd_budget(limit: u64) -> u64 {
    limit.saturating_sub(FD_RESERVE)
}

/// Lowers `http.max_connections` (and the per-address cap with it) to
/// what descriptor limit `limit` leaves beside [`FD_RESERVE`]; returns
/// the configured figure if it was lowered.
fn fit_http_to_fd_limit(h: &mut HttpConfig, limit: u64) -> anyhow::Result<Option<usize>> {
    let budget = fd_budget(limit);
    if budget == 0 {
        anyhow::bail!(
            "the file-descriptor limit is {limit}, and talkgroups keeps {FD_RESERVE} for itself: \
             raise it (ulimit -n, systemd LimitNOFILE=) or remove the [http] table"
        );
    }
    if (h.max_connections as u64) <= budget {
        return Ok(None);
    }
    let configured = h.max_connections;
    h.max_connections = budget as usize;
    h.max_connections_per_ip = h.max_connections_per_ip.min(h.max_connections);
    Ok(Some(configured))
}

/// Raises the descriptor limit, logs it and fits the HTTP caps to it.
fn apply_fd_budget(cfg: &mut Config) -> anyhow::Result<()> {
    let (limit, raised_from) = raise_fd_limit().context("cannot read RLIMIT_NOFILE")?;
    match raised_from {
        Some(from) => tracing::info!(
            limit,
            raised_from = from,
            reserve = FD_RESERVE,
            "file-descriptor limit raised to the hard limit"
        ),
        None => tracing::info!(limit, reserve = FD_RESERVE, "file-descriptor limit"),
    }
    if cfg.http_listen.is_none() {
        return Ok(());
    }
    if let Some(configured) = fit_http_to_fd_limit(&mut cfg.http, limit)? {
        tracing::warn!(
            configured,
            effective = cfg.http.max_connections,
            limit,
            reserve = FD_RESERVE,
            "http.max_connections lowered to fit the file-descriptor limit"
        );
    }
    Ok(())
}

/// Opens and migrates the database and loads the core's snapshot.
fn open_store(cfg: &Config) -> anyhow::Result<(Store, crate::core::model::Snapshot)> {
    let mut store = Store::open(&cfg.storage.database)?;
    store.settle_online_marks()?;
    let mut snap = store.load(RING)?;
    snap.token_seed = store.random_seed()?;
    let instance = store.instance_id()?;
    tracing::info!(%instance, "database opened");
    Ok((store, snap))
}

/// Runs the component until `shutdown` resolves.
///
/// The calling thread becomes the core thread: it owns the `Core` and the
/// database and runs the main loop, while a multi-threaded tokio runtime
/// runs the adapters (XMPP, HTTP, deliveries). SQLite is called directly
/// on this thread, which runs no async task but the loop itself: a stanza
/// crosses two threads (socket → core → socket) instead of four, and no
/// runtime worker ever waits for the disk. (`Runtime::block_on` panics if
/// called from inside a runtime, so this cannot end up on a worker.)
///
/// The runtime has one worker thread, whatever the number of cores: the
/// adapters it runs (the XMPP connection, HTTP, deliveries) wait on
/// sockets, not on the CPU, and everything they carry goes through the
/// one core thread anyway. A second worker only added wake-ups between
/// threads to each stanza's path: at 100 members and 1 000 msg/s the p99
/// was 0.60–2.11 ms with two workers (5 runs of 15 over 1 ms) and
/// 0.58–0.87 ms with one (21 runs), at the same throughput
/// (BENCHMARKS.md, "one runtime worker").
///
/// The HTTP listener has a runtime of its own, also of one worker: its
/// connections (event streams to a thousand readers, a flood of route
/// posts, an attacker's idle sockets) must not delay the XMPP writes that
/// carry the relay. It reaches the core through the same channels. Its
/// threads run at a lower priority ([`HTTP_NICE`]) for the same reason.
///
/// The database's lock (`DB.lock`, see `store::lock_database`) is taken
/// first and held until this returns: a second process on the same
/// database stops here.
pub fn run(mut cfg: Config, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let _lock = crate::store::lock_database(&cfg.storage.database)?;
    apply_fd_budget(&mut cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let http_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("talkgroups-http")
        .on_thread_start(lower_http_thread_priority)
        .enable_all()
        .build()?;
    let (store, snap) = open_store(&cfg)?;
    rt.block_on(main_loop(
        cfg,
        Writer::new(store),
        snap,
        http_rt.handle().clone(),
        shutdown,
    ))
}

async fn main_loop(
    cfg: Config,
    store: Writer,
    snap: crate::core::model::Snapshot,
    http_rt: tokio::runtime::Handle,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let mut core = Core::new(cfg.core(), snap, now_ms(), &mut out);
    let (members, _) = core.counts();
    tracing::info!(
        jid = %cfg.component.jid,
        groups = core.groups.len(),
        members,
        "talkgroups starting"
    );

    let metrics = Arc::new(Metrics::default());
    let (post_tx, mut post_rx) = mpsc::channel::<PostRequest>(1024);
    // The API's event streams: a bounded ring shared by every reader; a
    // reader that falls a whole ring behind is dropped, the relay never
    // waits for one.
    let (events_tx, _) = tokio::sync::broadcast::channel(EVENTS_RING);
    let (sd_tx, sd_rx) = watch::channel(false);
    let http_task = match cfg.http_listen {
        Some(addr) => {
            // Bound inside the HTTP runtime, so that its own worker, not
            // the adapters', polls the listener and every connection.
            let listener = {
                let _in_http = http_rt.enter();
                http::bind(addr)
            }
            .with_context(|| format!("cannot listen on http.listen = {addr}"))?;
            let limits = cfg.http.clone();
            tracing::info!(
                %addr,
                max_connections = limits.max_connections,
                max_connections_per_ip = limits.max_connections_per_ip,
                header_timeout_secs = limits.header_timeout.as_secs(),
                body_timeout_secs = limits.body_timeout.as_secs(),
                max_connection_secs = limits.max_connection.as_secs(),
                "HTTP listening (routes, /healthz, /metrics)"
            );
            let router = http::router(HttpState {
                posts: post_tx.clone(),
                metrics: metrics.clone(),
                body_timeout: limits.body_timeout,
                tokens: Some(Arc::new(http::TokenGate::new(cfg.storage.database.clone()))),
                events: Some(events_tx.clone()),
            });
            Some(http_rt.spawn(http::serve(
                listener,
                router,
                limits,
                metrics.clone(),
                sd_rx.clone(),
            )))
        }
        None => None,
    };
    drop(post_tx);
    let (del_tx, mut del_rx) = mpsc::channel::<Delivery>(1024);
    let sender = Sender::new(del_tx);

    let (ev_tx, mut ev_rx) = mpsc::channel::<XmppEvent>(256);
    let (ob_tx, ob_rx) = mpsc::channel::<Outbound>(256);
    let xcfg = XmppConfig {
        jid: cfg.component.jid.clone(),
        secret: cfg.component.secret.clone(),
        server: cfg.component.server.clone(),
        keepalive: cfg.component.keepalive,
        reconnect_max: cfg.component.reconnect_max,
        inbox_max: xmpp::INBOX_MAX,
    };
    let xmpp_task = tokio::spawn(xmpp::run(xcfg, ev_tx, ob_rx, sd_rx));

    let core_cfg = cfg.core();
    let mut link = Link {
        store,
        ob_tx,
        sender,
        metrics: metrics.clone(),
        connected: false,
        connects: 0,
        pending: VecDeque::new(),
        pending_count: 0,
        batch: Vec::new(),
        replies: HashMap::new(),
        next_token: 0,
        events: events_tx,
        in_flight: Arc::new(xmpp::InFlight::default()),
        closing: false,
    };
    link.commit_and_send(&core, &mut out, Durability::PowerLoss)
        .await;
    link.publish(&core, true);

    tokio::pin!(shutdown);
    // The core says when it next needs the time to pass (`next_deadline`);
    // the loop sleeps until then instead of ticking every second.
    let mut last_tick = tokio::time::Instant::now();
    // The member counts in /metrics cost a walk of every group: at most
    // once a second, and once more a second after the last change.
    let mut counts_due: Option<tokio::time::Instant> = None;
    loop {
        let mut counts = false;
        core.set_events(link.events.receiver_count() > 0);
        let wake = wake_at(core.next_deadline(), now_ms(), last_tick);
        // Too much not yet written: the server's stanzas wait (see
        // `MAX_IN_FLIGHT`).
        let full = link.in_flight.copies() >= MAX_IN_FLIGHT;
        let first = tokio::select! {
            ev = ev_rx.recv(), if !full => {
                let Some(ev) = ev else { break };
                Some(Event::Xmpp(ev))
            }
            _ = link.in_flight.freed(), if full => None,
            Some(p) = post_rx.recv() => Some(Event::Post(p)),
            Some(d) = del_rx.recv() => Some(Event::Delivery(d)),
            _ = tokio::time::sleep_until(wake) => {
                last_tick = tokio::time::Instant::now();
                core.handle(now_ms(), Input::Tick, &mut out);
                None
            }
            _ = at(counts_due) => {
                counts_due = None;
                counts = true;
                None
            }
            _ = &mut shutdown => break,
        };
        // Tokens made or revoked on the command line meanwhile, before
        // what came in (a `//token list` lists them).
        if let Some(t) = link.store.tokens_if_changed() {
            core.handle(now_ms(), Input::Tokens(t), &mut out);
        }
        if let Some(ev) = first {
            link.on_event(&mut core, now_ms(), ev, &mut out);
        }
        // Batch whatever else is already waiting: one commit for all.
        let now = now_ms();
        for _ in 0..BATCH {
            let room = link.in_flight.copies() < MAX_IN_FLIGHT;
            let ev = if let Some(ev) = room.then(|| ev_rx.try_recv().ok()).flatten() {
                Event::Xmpp(ev)
            } else if let Ok(p) = post_rx.try_recv() {
                Event::Post(p)
            } else if let Ok(d) = del_rx.try_recv() {
                Event::Delivery(d)
            } else {
                break;
            };
            link.on_event(&mut core, now, ev, &mut out);
        }
        let durability = if core.take_acknowledged() {
            Durability::PowerLoss
        } else {
            Durability::Crash
        };
        if !link.commit_and_send(&core, &mut out, durability).await {
            link.recover(&mut core, &core_cfg, &mut out).await;
        }
        link.store.between_batches();
        link.publish(&core, counts);
        if !counts && counts_due.is_none() {
            counts_due = Some(tokio::time::Instant::now() + Duration::from_secs(1));
        }
    }

    tracing::info!("shutting down");
    link.closing = true;
    core.handle(now_ms(), Input::Shutdown, &mut out);
    link.commit_and_send(&core, &mut out, Durability::PowerLoss)
        .await;
    if link.connected {
        let (tx, rx) = oneshot::channel();
        let flushed = async {
            if link.ob_tx.send(Outbound::Flush(tx)).await.is_ok() {
                let _ = rx.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), flushed).await;
    }
    let _ = sd_tx.send(true);
    link.fail_replies(503, "shutting down");
    let Link { store, .. } = link;
    if let Some(task) = http_task {
        if tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
        {
            tracing::warn!("HTTP server did not stop in time");
        }
    }
    if tokio::time::timeout(Duration::from_secs(2), xmpp_task)
        .await
        .is_err()
    {
        tracing::warn!("XMPP connection did not close in time");
    }
    store.close()?;
    tracing::info!("stopped");
    Ok(())
}

/// Something for the core from one of the adapters.
enum Event {
    Xmpp(XmppEvent),
    Post(PostRequest),
    Delivery(Delivery),
}

/// The adapters around the core: the store, the XMPP connection and HTTP.
struct Link {
    store: Writer,
    ob_tx: mpsc::Sender<Outbound>,
    sender: Sender,
    metrics: Arc<Metrics>,
    connected: bool,
    /// Successful connections so far.
    connects: u64,
    /// Stanzas produced while disconnected.
    pending: VecDeque<OutStanza>,
    /// Stanzas in `pending` (a fanout counts its copies).
    pending_count: usize,
    /// The messages and IQs of the current batch (attributes only), so
    /// their senders can be told if the batch cannot be stored.
    batch: Vec<Element>,
    /// HTTP posts waiting for the core's answer, by token.
    replies: HashMap<u64, oneshot::Sender<PostReply>>,
    next_token: u64,
    /// The API's event streams (see `EVENTS_RING`).
    events: tokio::sync::broadcast::Sender<Arc<http::SseFrame>>,
    /// Copies handed to the connection and not yet written to its socket
    /// (see `MAX_IN_FLIGHT`).
    in_flight: Arc<xmpp::InFlight>,
    /// Shutting down: handing stanzas to the connection waits at most 2 s.
    closing: bool,
}

impl Link {
    /// Hands `input` to the core, first with the old history row it
    /// refers to if the core asks for one (read here, on the core's
    /// thread, from the writer's connection: an indexed lookup).
    fn handle(&mut self, core: &mut Core, now: Millis, input: Input, out: &mut Vec<Output>) {
        if let Some(q) = core.recall_for(now, &input) {
            let row = self.store.recall(&q);
            core.handle(now, Input::Recalled(q, row), out);
        }
        core.handle(now, input, out);
    }

    fn on_event(&mut self, core: &mut Core, now: Millis, ev: Event, out: &mut Vec<Output>) {
        // A reader may have subscribed since the last event.
        core.set_events(self.events.receiver_count() > 0);
        let ev = match ev {
            Event::Xmpp(ev) => ev,
            Event::Post(PostRequest { post, reply }) => {
                self.next_token += 1;
                let token = self.next_token;
                self.replies.insert(token, reply);
                return self.handle(core, now, post.into_input(token), out);
            }
            Event::Delivery(d) => return core.handle(now, Input::Delivery(d), out),
        };
        match ev {
            XmppEvent::Stanza(el) => {
                if let Some(h) = answerable_header(&el) {
                    self.batch.push(h);
                }
                self.handle(core, now, Input::Stanza(el), out)
            }
            XmppEvent::Connected => {
                tracing::info!("connected to the server");
                self.connected = true;
                self.connects += 1;
                core.handle(now, Input::Connected, out);
            }
            XmppEvent::Disconnected => {
                if self.connected {
                    tracing::warn!("lost the server connection; stanzas wait until it is back");
                }
                self.connected = false;
                core.handle(now, Input::Disconnected, out);
            }
        }
    }

    /// Commits the store writes in `out`, then sends its stanzas. If the
    /// commit fails, the stanzas are dropped (nothing is announced that was
    /// not stored) and it returns false.
    async fn commit_and_send(
        &mut self,
        core: &Core,
        out: &mut Vec<Output>,
        durability: Durability,
    ) -> bool {
        let batch = std::mem::take(&mut self.batch);
        if out.is_empty() {
            return true;
        }
        let mut ops: Vec<StoreOp> = Vec::new();
        let mut stanzas: Vec<OutStanza> = Vec::new();
        let mut http = Vec::new();
        let mut replies = Vec::new();
        let mut events = Vec::new();
        for o in out.drain(..) {
            match o {
                Output::Store(op) => ops.push(op),
                Output::Send(el) => stanzas.push(OutStanza::One(el)),
                Output::Fanout(f) => stanzas.push(OutStanza::Many(f)),
                Output::Notice(n) => log_notice(&n),
                Output::Http(h) => http.push(h),
                Output::Reply(r) => replies.push(r),
                Output::Event(e) => events.push(e),
            }
        }
        // A delivery whose outbox row was committed by an earlier batch
        // need not wait for this one's commit (often an fsync): starting
        // it now keeps a busy route at one round trip per message rather
        // than one commit per message. What this batch still holds — the
        // previous delivery's dequeue — may then be repeated after a
        // crash: at most the last two posts arrive twice, never one lost.
        let (early, late): (Vec<_>, Vec<_>) = http.into_iter().partition(|h: &HttpSend| {
            !ops.iter().any(|op| {
                matches!(op, StoreOp::Enqueue(o)
                    if (h.first_id..=h.outbox_id).contains(&o.id) && o.route == h.route && o.group == h.group)
            })
        });
        for h in early {
            self.sender.send(h);
        }
        if !ops.is_empty() {
            if let Err(e) = self.store.apply(&ops, durability) {
                tracing::error!(error = %e, dropped = stanzas.len(), "could not store changes; their replies are not sent");
                // Tell each sender their stanza was not acted on.
                let errors = batch.iter().map(|h| core.unsaved_error(h));
                self.send(errors.map(OutStanza::One).collect()).await;
                self.fail_replies(
                    503,
                    "could not store this; nothing was done; try again later",
                );
                return false;
            }
        }
        self.send(stanzas).await;
        for h in late {
            self.sender.send(h);
        }
        for r in replies {
            if let Some(tx) = self.replies.remove(&r.token) {
                let _ = tx.send(r);
            }
        }
        for e in events {
            // No reader: nothing to do (the core stops making them).
            let _ = self.events.send(Arc::new(http::SseFrame::from(e)));
        }
        true
    }

    /// Answers every waiting HTTP post with an error.
    fn fail_replies(&mut self, status: u16, error: &str) {
        let body = serde_json::json!({ "error": error }).to_string();
        for (token, tx) in self.replies.drain() {
            let _ = tx.send(PostReply {
                token,
                status,
                content_type: "application/json",
                body: body.clone(),
            });
        }
    }

    /// Copies the core's numbers to the metrics; member counts and the
    /// outbox depth (scans) only when `counts` (once a second).
    fn publish(&self, core: &Core, counts: bool) {
        let m = &self.metrics;
        let set = |a: &std::sync::atomic::AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        if counts {
            let (members, online) = core.counts();
            set(&m.members, members as u64);
            set(&m.online, online as u64);
            set(&m.groups, core.groups.len() as u64);
            set(&m.outbox_depth, core.outbox_depth() as u64);
            if let Ok(mut b) = m.bridges.lock() {
                if *b != core.bridge_stats {
                    b.clone_from(&core.bridge_stats);
                }
            }
            if let Ok(mut r) = m.rooms.lock() {
                *r = core.room_status();
            }
        }
        let r = core.route_stats;
        set(&m.relayed, core.relayed);
        set(&m.route_received, r.received);
        set(&m.route_delivered, r.delivered);
        set(&m.route_failed, r.failed);
        set(&m.route_refused, r.refused);
        set(&m.route_given_up, r.given_up);
        set(&m.reconnects, self.connects.saturating_sub(1));
        m.connected.store(self.connected, Ordering::Relaxed);
    }

    /// Sends now, or queues while disconnected.
    async fn send(&mut self, mut stanzas: Vec<OutStanza>) {
        if !self.connected {
            for st in stanzas {
                self.pending_count += st.count();
                self.pending.push_back(st);
            }
            let mut dropped = 0;
            while self.pending_count > PENDING_MAX {
                let Some(st) = self.pending.pop_front() else {
                    break;
                };
                self.pending_count -= st.count();
                dropped += st.count();
            }
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "disconnected too long: oldest queued stanzas dropped"
                );
            }
            return;
        }
        if !self.pending.is_empty() {
            let mut all: Vec<OutStanza> = self.pending.drain(..).collect();
            self.pending_count = 0;
            all.extend(stanzas);
            stanzas = all;
        }
        if stanzas.is_empty() {
            return;
        }
        let count: usize = stanzas.iter().map(OutStanza::count).sum();
        // Counted in flight until written (the loop stops reading the
        // server while there are too many); when stopping, handing them
        // over waits no more than 2 s.
        let ticket = self.in_flight.ticket(count);
        let handed = async {
            self.ob_tx
                .send(Outbound::Held(stanzas, ticket))
                .await
                .is_ok()
        };
        let handed = match self.closing {
            false => handed.await,
            true => match tokio::time::timeout(Duration::from_secs(2), handed).await {
                Ok(h) => h,
                Err(_) => {
                    tracing::warn!(
                        count,
                        "stopping: stanzas the connection did not take are dropped"
                    );
                    return;
                }
            },
        };
        if !handed {
            tracing::error!("XMPP task has stopped");
            return;
        }
        self.metrics
            .sent_stanzas
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    /// After a failed commit the core's memory is ahead of the database:
    /// rebuild it from what is committed, keeping what the database never
    /// holds (who is online, …; see [`Core::adopt_volatile`]).
    async fn recover(&mut self, core: &mut Core, cfg: &CoreConfig, out: &mut Vec<Output>) {
        match self.store.load(RING) {
            Ok(snap) => {
                out.clear();
                let mut fresh = Core::new(cfg.clone(), snap, now_ms(), out);
                fresh.adopt_volatile(core);
                *core = fresh;
                tracing::warn!("state reloaded from the database after a failed write");
                // Core::new's own writes (the configured groups and admins)
                // were committed at start; if they fail now, the next
                // recovery tries again.
                if !self.commit_and_send(core, out, Durability::PowerLoss).await {
                    out.clear();
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot reload state from the database"),
        }
    }
}

/// The attributes of an inbound message or IQ that deserves an error reply
/// if its effects cannot be stored (never for errors, results or presence).
fn answerable_header(el: &Element) -> Option<Element> {
    let answerable = match el.name() {
        "message" => el.attr("type") != Some("error"),
        "iq" => matches!(el.attr("type"), Some("get") | Some("set")),
        _ => false,
    };
    if !answerable {
        return None;
    }
    let mut h = Element::builder(el.name(), stanza::NS_COMPONENT);
    for attr in ["from", "to", "id", "type"] {
        if let Some(v) = el.attr(attr) {
            h = h.a(attr, v);
        }
    }
    Some(h.build())
}

/// Logs what the core tells the operator.
fn log_notice(n: &Notice) {
    match n {
        Notice::MulticastDiscovered { service, compact } => tracing::info!(
            %service,
            compact,
            "multicast service discovered: recipients go {}",
            if *compact {
                "as one compact list (urn:talkgroups:bcc:0)"
            } else {
                "as XEP-0033 addresses"
            }
        ),
        Notice::MulticastInUse {
            service,
            copies,
            stanzas,
        } => tracing::info!(
            %service,
            copies,
            stanzas,
            "relaying through the XEP-0033 multicast service"
        ),
        Notice::MulticastBatchLowered {
            service,
            recipients,
            batch,
        } => tracing::warn!(
            service = %service,
            recipients,
            multicast_batch = batch,
            "the multicast service refused that many recipients in one stanza: \
             sent them one by one, and from now on at most multicast_batch per \
             stanza (raise mod_multicast's limits, remote: message, and set \
             component.multicast_batch to match)"
        ),
        Notice::MulticastResent { recipients } => {
            tracing::debug!(recipients, "refused multicast resent one by one")
        }
        Notice::MulticastOff {
            service,
            condition,
            resent,
        } => tracing::error!(
            service = %service,
            condition = %condition,
            resent,
            "the multicast service refused a relayed message; relaying one stanza \
             per member until restart (check component.multicast)"
        ),
        Notice::MulticastCopiesLost => {
            tracing::error!("the refusal did not return the addresses: those copies are lost")
        }
        Notice::BridgeWithoutGroup { group, bridge } => tracing::error!(
            group = %group,
            bridge = %bridge,
            "a [[bridge]] names a group that does not exist; skipped (create the group first)"
        ),
    }
}

/// When the loop wakes the core: at its deadline (wall-clock ms), but not
/// more than an hour ahead (the clock may jump) and at least 50 ms after
/// the last tick, so a deadline that a tick did not consume cannot spin.
fn wake_at(deadline: Millis, now: Millis, last_tick: tokio::time::Instant) -> tokio::time::Instant {
    let wait = Duration::from_millis(u64::try_from(deadline - now).unwrap_or(0).min(3_600_000));
    (tokio::time::Instant::now() + wait).max(last_tick + Duration::from_millis(50))
}

/// Sleeps until `t`, or for ever.
async fn at(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod fd_tests {
    use super::*;

    #[test]
    fn http_gets_what_the_reserve_leaves() {
        assert_eq!(fd_budget(20_000), 20_000 - FD_RESERVE);
        assert_eq!(fd_budget(1024), 1024 - FD_RESERVE);
        assert_eq!(fd_budget(FD_RESERVE), 0);
        assert_eq!(fd_budget(10), 0);
    }

    #[test]
    fn caps_are_lowered_to_fit_the_limit_and_said_so() {
        let mut h = HttpConfig::default();
        assert_eq!(fit_http_to_fd_limit(&mut h, 20_000).unwrap(), None);
        assert_eq!(h, HttpConfig::default());
        assert_eq!(fit_http_to_fd_limit(&mut h, 1024).unwrap(), Some(1024));
        assert_eq!(h.max_connections as u64, 1024 - FD_RESERVE);
        assert_eq!(h.max_connections_per_ip, 64);
        let mut h = HttpConfig::default();
        assert_eq!(
            fit_http_to_fd_limit(&mut h, FD_RESERVE + 10).unwrap(),
            Some(1024)
        );
        assert_eq!((h.max_connections, h.max_connections_per_ip), (10, 10));
        let e = fit_http_to_fd_limit(&mut h, FD_RESERVE).unwrap_err();
        assert!(
            e.to_string().contains("file-descriptor limit is 256"),
            "{e}"
        );
    }
}
