//! The main loop: one task owns the `Core`, feeds it stanzas, ticks and
//! connection events, commits each batch's store writes, and only then
//! hands the batch's stanzas to the XMPP adapter.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use minidom::Element;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;
use crate::core::model::{Millis, StoreOp};
use crate::core::stanza::{self, Attr, ErrorType};
use crate::core::{Core, CoreConfig, Input, Output, RING};
use crate::store::{Store, StoreHandle};
use crate::xmpp::{self, Outbound, XmppConfig, XmppEvent};

/// At most this many inbound events are handled per batch (one commit).
const BATCH: usize = 512;

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

/// Opens and migrates the database and loads the core's snapshot, off the
/// async threads.
async fn open_store(cfg: &Config) -> anyhow::Result<(StoreHandle, crate::core::model::Snapshot)> {
    let path = cfg.storage.database.clone();
    let (store, snap) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut store = Store::open(&path)?;
        store.settle_online_marks()?;
        let snap = store.load(RING)?;
        let instance = store.instance_id()?;
        tracing::info!(%instance, "database opened");
        Ok((store, snap))
    })
    .await
    .context("database task failed")??;
    Ok((StoreHandle::spawn(store)?, snap))
}

/// Runs the component until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (store, snap) = open_store(&cfg).await?;
    let mut out = Vec::new();
    let mut core = Core::new(CoreConfig::from_config(&cfg), snap, now_ms(), &mut out);
    let (members, _) = core.counts();
    tracing::info!(
        jid = %cfg.component.jid,
        groups = core.groups.len(),
        members,
        "talkgroups starting"
    );

    if let Some(addr) = cfg.http_listen {
        tracing::warn!(%addr, "http.listen is set, but this version has no HTTP routes yet: no listener started");
    }
    let (ev_tx, mut ev_rx) = mpsc::channel::<XmppEvent>(4096);
    let (ob_tx, ob_rx) = mpsc::channel::<Outbound>(256);
    let (sd_tx, sd_rx) = watch::channel(false);
    let xcfg = XmppConfig {
        jid: cfg.component.jid.clone(),
        secret: cfg.component.secret.clone(),
        server: cfg.component.server.clone(),
        keepalive: cfg.component.keepalive,
        reconnect_max: cfg.component.reconnect_max,
    };
    let xmpp_task = tokio::spawn(xmpp::run(xcfg, ev_tx, ob_rx, sd_rx));

    let core_cfg = CoreConfig::from_config(&cfg);
    let mut link = Link {
        store: store.clone(),
        ob_tx,
        connected: false,
        pending: VecDeque::new(),
        batch: Vec::new(),
    };
    link.commit_and_send(&mut out).await;

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            ev = ev_rx.recv() => {
                let Some(ev) = ev else { break };
                let now = now_ms();
                link.on_event(&mut core, now, ev, &mut out);
                // Batch whatever else is already waiting: one commit for all.
                for _ in 0..BATCH {
                    match ev_rx.try_recv() {
                        Ok(ev) => link.on_event(&mut core, now, ev, &mut out),
                        Err(_) => break,
                    }
                }
            }
            _ = tick.tick() => core.handle(now_ms(), Input::Tick, &mut out),
            _ = &mut shutdown => break,
        }
        if !link.commit_and_send(&mut out).await {
            link.recover(&mut core, &core_cfg, &mut out).await;
        }
    }

    tracing::info!("shutting down");
    core.handle(now_ms(), Input::Shutdown, &mut out);
    link.commit_and_send(&mut out).await;
    if link.connected {
        let (tx, rx) = oneshot::channel();
        if link.ob_tx.send(Outbound::Flush(tx)).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
        }
    }
    let _ = sd_tx.send(true);
    drop(link);
    if tokio::time::timeout(Duration::from_secs(2), xmpp_task)
        .await
        .is_err()
    {
        tracing::warn!("XMPP connection did not close in time");
    }
    store.close().await?;
    tracing::info!("stopped");
    Ok(())
}

/// The adapters around the core: the store and the XMPP connection.
struct Link {
    store: StoreHandle,
    ob_tx: mpsc::Sender<Outbound>,
    connected: bool,
    /// Stanzas produced while disconnected.
    pending: VecDeque<Element>,
    /// The messages and IQs of the current batch (attributes only), so
    /// their senders can be told if the batch cannot be stored.
    batch: Vec<Element>,
}

impl Link {
    fn on_event(&mut self, core: &mut Core, now: Millis, ev: XmppEvent, out: &mut Vec<Output>) {
        match ev {
            XmppEvent::Stanza(el) => {
                if let Some(h) = answerable_header(&el) {
                    self.batch.push(h);
                }
                core.handle(now, Input::Stanza(el), out)
            }
            XmppEvent::Connected => {
                tracing::info!("connected to the server");
                self.connected = true;
                core.handle(now, Input::Connected, out);
            }
            XmppEvent::Disconnected => {
                if self.connected {
                    tracing::warn!("lost the server connection; stanzas wait until it is back");
                }
                self.connected = false;
            }
        }
    }

    /// Commits the store writes in `out`, then sends its stanzas. If the
    /// commit fails, the stanzas are dropped (nothing is announced that was
    /// not stored) and it returns false.
    async fn commit_and_send(&mut self, out: &mut Vec<Output>) -> bool {
        let batch = std::mem::take(&mut self.batch);
        if out.is_empty() {
            return true;
        }
        let mut ops: Vec<StoreOp> = Vec::new();
        let mut stanzas: Vec<Element> = Vec::new();
        for o in out.drain(..) {
            match o {
                Output::Store(op) => ops.push(op),
                Output::Send(el) => stanzas.push(el),
            }
        }
        if !ops.is_empty() {
            if let Err(e) = self.store.apply(ops).await {
                tracing::error!(error = %e, dropped = stanzas.len(), "could not store changes; their replies are not sent");
                // Tell each sender their stanza was not acted on.
                let errors = batch.iter().map(|h| {
                    stanza::error_reply(
                        h,
                        ErrorType::Wait,
                        "internal-server-error",
                        Some("talkgroups could not save this; nothing was done. Try again later."),
                    )
                });
                self.send(errors.collect()).await;
                return false;
            }
        }
        self.send(stanzas).await;
        true
    }

    /// Sends now, or queues while disconnected.
    async fn send(&mut self, mut stanzas: Vec<Element>) {
        if !self.connected {
            self.pending.extend(stanzas);
            let over = self.pending.len().saturating_sub(PENDING_MAX);
            if over > 0 {
                self.pending.drain(..over);
                tracing::warn!(
                    dropped = over,
                    "disconnected too long: oldest queued stanzas dropped"
                );
            }
            return;
        }
        if !self.pending.is_empty() {
            let mut all: Vec<Element> = self.pending.drain(..).collect();
            all.extend(stanzas);
            stanzas = all;
        }
        if stanzas.is_empty() {
            return;
        }
        if self.ob_tx.send(Outbound::Stanzas(stanzas)).await.is_err() {
            tracing::error!("XMPP task has stopped");
        }
    }

    /// After a failed commit the core's memory is ahead of the database:
    /// rebuild it from what is committed and probe members again.
    async fn recover(&mut self, core: &mut Core, cfg: &CoreConfig, out: &mut Vec<Output>) {
        match self.store.load(RING).await {
            Ok(snap) => {
                out.clear();
                let now = now_ms();
                *core = Core::new(cfg.clone(), snap, now, out);
                if self.connected {
                    core.handle(now, Input::Connected, out);
                }
                tracing::warn!("state reloaded from the database after a failed write");
                if !self.commit_and_send(out).await {
                    out.clear();
                    tracing::error!("the database still refuses writes");
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
