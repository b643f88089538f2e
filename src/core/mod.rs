//! The pure core: membership, commands and relay rules as a state machine.
//!
//! `Core::handle(now, input, out)` takes one event — a stanza from the
//! server, a timer tick, a (re)connection, shutdown — and appends outputs:
//! stanzas to send and store writes. It never touches the clock, sockets,
//! the database or randomness; time comes in as `now`. The app applies the
//! store writes of a batch in one transaction *before* sending its stanzas,
//! so nothing is announced that was not saved.
//!
//! Modules: `model` (rows shared with the store), `names` (validation),
//! `stanza` (element helpers), `presence` (joining, leaving, online
//! tracking, the group's own presence), `relay` (rebroadcast rules,
//! history edits, catch-up), `command` (`//` commands), `iq` (disco,
//! version, ping, vCard), `group` (a group, its members and the
//! membership operations), `avatar` (the group's picture), `route` (HTTP
//! routes: commands, posts in, the outbox), `webhook` (route wire formats).

pub mod adhoc;
pub mod api;
pub mod avatar;
pub mod bridge;
pub mod command;
mod group;
pub mod i18n;
pub mod iq;
pub mod model;
mod moderate;
pub mod muc;
pub mod multicast;
pub mod names;
pub mod openapi;
pub mod platform;
pub mod presence;
pub mod relay;
pub mod route;
pub mod settings;
pub mod stanza;
pub mod text;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use minidom::Element;

pub(crate) use group::{Flood, Group, Member};
use i18n::t;
use model::{HistoryRecord, Millis, Snapshot, StoreOp};
use route::{Delivery, HttpSend, PostReply, Route, RoutePost, RouteStats};
pub use settings::{BridgeSettings, CoreConfig, GroupSettings, MucSettings, OfflineMode};
use stanza::ErrorType;

/// How many history rows each group keeps in memory (for `//history`,
/// catch-up and rewriting message references). `//history` shows at most
/// 200.
pub const RING: usize = 1000;

/// How often old history, received route ids and rate-limit state are pruned.
const PRUNE_EVERY_MS: Millis = 3_600_000;

/// How long a group's status waits for a change to settle.
pub(crate) const STATUS_SETTLE_MS: Millis = 500;

/// The least time between two status pushes of a group.
pub(crate) const STATUS_GAP_MS: Millis = 3_000;

/// [`Member::shown`] of a member who has no status of the group: new, or
/// every session went offline since.
pub(crate) const UNSHOWN: (u32, u32) = (u32::MAX, 0);

/// The resource of the full JID the groups' presences come from.
pub const GROUP_RESOURCE: &str = "talkgroups";

/// Non-members get at most one text reply per this long (per group).
pub const STRANGER_GAP_MS: Millis = 60_000;

/// An event for the core.
#[derive(Debug)]
pub enum Input {
    /// The stream to the server is (re)established.
    Connected,
    /// The stream to the server is lost (stanzas wait until it is back).
    Disconnected,
    /// A stanza from the server.
    Stanza(Element),
    /// Periodic timer (the app ticks about once a second).
    Tick,
    /// The process is stopping: say goodbye.
    Shutdown,
    /// A POST to a receive route (answered with `Output::Reply`).
    RoutePost(RoutePost),
    /// A call to `/bridges/{group}/{name}`; answer with `Output::Reply`.
    BridgeCall(bridge::BridgeCall),
    /// An authenticated request to `/api/v1`; answer with `Output::Reply`.
    Api(api::ApiCall),
    /// How a delivery on a send route went.
    Delivery(Delivery),
    /// The API tokens as committed, after another process (the `token`
    /// command line) changed them.
    Tokens(Vec<model::TokenRecord>),
    /// The row the app read for [`Core::recall_for`] of the input that
    /// follows (`None`: the store has none).
    Recalled(model::Recall, Option<HistoryRecord>),
}

/// What the core asks the adapters to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Send(Element),
    /// The same stanza to many recipients (see [`stanza::Fanout`]).
    Fanout(stanza::Fanout),
    Store(StoreOp),
    /// POST this for a send route; answer with `Input::Delivery`.
    Http(HttpSend),
    /// The answer to an `Input::RoutePost`.
    Reply(PostReply),
    /// Something the operator should know: the app logs it.
    Notice(Notice),
    /// For the API's event streams, after the commit.
    Event(api::ApiEvent),
}

/// What the core tells the operator (through the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The multicast service answered disco#info.
    MulticastDiscovered { service: String, compact: bool },
    /// The first relay through the multicast service.
    MulticastInUse {
        service: String,
        copies: usize,
        stanzas: usize,
    },
    /// The service refused `recipients` addresses in one stanza: at most
    /// `batch` from now on.
    MulticastBatchLowered {
        service: String,
        recipients: usize,
        batch: usize,
    },
    /// Another chunk refused at a size already lowered: resent one by one.
    MulticastResent { recipients: usize },
    /// A refusal the component cannot adapt to: no multicast until restart.
    MulticastOff {
        service: String,
        condition: String,
        resent: usize,
    },
    /// A refusal that did not carry the stanza: those copies are lost.
    MulticastCopiesLost,
    /// A `[[bridge]]` names a group that does not exist: skipped.
    BridgeWithoutGroup { group: String, bridge: String },
}

/// The state machine. See the module documentation.
pub struct Core {
    pub(crate) cfg: CoreConfig,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) service_admins: HashSet<String>,
    /// Last history id used (global across groups).
    pub(crate) last_history_id: i64,
    pub(crate) last_member_id: i64,
    /// Counter for ids of stanzas the group originates.
    sys_counter: u64,
    /// Distinguishes this run's system stanza ids from earlier runs'.
    boot: Millis,
    last_prune: Millis,
    /// Total messages relayed since start (for metrics and benchmarks).
    pub relayed: u64,
    /// Route counters since start (for metrics).
    pub route_stats: RouteStats,
    /// Bridge counters since start (for metrics).
    pub bridge_stats: bridge::BridgeStats,
    /// This installation's id, for route trails.
    pub(crate) instance_id: String,
    pub(crate) last_outbox_id: i64,
    /// When each (group or domain, JID) of a non-member was last answered.
    strangers: HashMap<(String, String), Millis>,
    /// Recent commands from JIDs who are not members of their target (a
    /// group, or the domain), for [`Core::may_answer_command`].
    askers: HashMap<(String, String), Flood>,
    /// (group, member JID) of members with inferred sessions, which are
    /// pinged (see [`Resources`]).
    pub(crate) unconfirmed: std::collections::BTreeSet<(String, String)>,
    /// Since the last `take_acknowledged`: something was confirmed to
    /// someone (see there).
    acknowledged: bool,
    /// The XEP-0033 service policy, with `component.multicast`.
    pub(crate) multicast: Option<multicast::Multicast>,
    /// The stream to the server is up (rooms are joined only then).
    pub(crate) connected: bool,
    /// API tokens (hashes only), from the database and `//token new`.
    pub(crate) tokens: Vec<model::TokenRecord>,
    /// Randomness for `//token new`, given by the app at start (the core
    /// draws none itself), and how many tokens it has made from it.
    token_seed: [u8; 32],
    token_counter: u64,
    /// Someone listens to the API's events (see `Core::set_events`).
    pub(crate) events: bool,
}

impl Core {
    /// Builds the core from the stored snapshot and ensures the configured
    /// groups exist (outputs the store writes for that).
    pub fn new(cfg: CoreConfig, snap: Snapshot, now: Millis, out: &mut Vec<Output>) -> Core {
        let snap_tokens = snap.tokens.clone();
        let service_admins: HashSet<String> = cfg.service_admins.iter().cloned().collect();
        let mut core = Core {
            groups: BTreeMap::new(),
            service_admins,
            last_history_id: snap.max_history_id,
            last_member_id: snap.max_member_id,
            sys_counter: 0,
            boot: now,
            last_prune: now,
            relayed: 0,
            route_stats: RouteStats::default(),
            bridge_stats: Default::default(),
            instance_id: snap.instance_id,
            last_outbox_id: snap.max_outbox_id,
            strangers: HashMap::new(),
            askers: HashMap::new(),
            unconfirmed: Default::default(),
            acknowledged: true,
            multicast: (cfg.multicast.clone()).map(|(s, b)| multicast::Multicast::new(s, b)),
            connected: false,
            tokens: Vec::new(),
            token_seed: snap.token_seed,
            token_counter: 0,
            events: false,
            cfg,
        };
        for g in snap.groups {
            let mut group = Group::new(&g.name, &core.cfg.domain, &g.title, g.join, g.created_at);
            group.status_at = 0;
            core.groups.insert(g.name, group);
        }
        // Built in bulk per group: `BTreeMap`'s `FromIterator` fills its
        // nodes, where one insert at a time leaves them about half empty
        // (≈ 250 bytes more per member). The records share their group's
        // name.
        let mut by_group: HashMap<Arc<str>, Vec<(String, Member)>> = HashMap::new();
        for mut m in snap.members {
            let Some(g) = core.groups.get(&*m.group) else {
                continue;
            };
            m.group = g.name.clone();
            let entry = (m.jid.to_string(), Member::new(m));
            by_group.entry(g.name.clone()).or_default().push(entry);
        }
        for (name, members) in by_group {
            if let Some(g) = core.groups.get_mut(&*name) {
                g.members = members.into_iter().collect();
            }
        }
        for (group, jid) in snap.blacklist {
            if let Some(g) = core.groups.get_mut(&group) {
                g.ban(&jid);
            }
        }
        for (group, jid, blocked) in snap.blocks {
            if let Some(m) = core.groups.get_mut(&group).and_then(|g| g.member_mut(&jid)) {
                m.blocks.insert(blocked);
            }
        }
        for h in snap.history {
            if let Some(g) = core.groups.get_mut(&h.group) {
                g.history.push_back(h);
                if g.history.len() > RING {
                    g.history.pop_front();
                }
            }
        }
        for r in snap.routes {
            if let Some(g) = core.groups.get_mut(&r.group) {
                g.routes.insert(r.name.clone(), Route::new(r));
            }
        }
        for o in snap.outbox {
            if let Some(r) = core
                .groups
                .get_mut(&o.group)
                .and_then(|g| g.routes.get_mut(&o.route))
            {
                r.queue.push_back(o);
            }
        }
        for (group, id, at) in snap.seen {
            if let Some(g) = core.groups.get_mut(&group) {
                g.seen.insert(id, at);
            }
        }
        for (group, bridge, message_ref, row) in snap.bridge_refs {
            if let Some(r) = core
                .groups
                .get_mut(&group)
                .and_then(|g| g.routes.get_mut(&bridge))
            {
                r.refs.insert(message_ref, row);
            }
        }
        core.prune_bridge_refs();
        core.tokens = snap_tokens;
        // Groups from the config: create missing ones, apply title/policy.
        for gc in core.cfg.groups.clone() {
            let domain = core.cfg.domain.clone();
            let g = core.groups.entry(gc.name.clone()).or_insert_with(|| {
                let mut g = Group::new(&gc.name, &domain, &gc.title, gc.join, now);
                g.status_at = 0;
                g
            });
            g.set_look(&gc.title, gc.avatar.as_ref());
            g.join = gc.join;
            g.config_admins = gc.admins.iter().cloned().collect();
            out.push(Output::Store(StoreOp::UpsertGroup(g.record())));
            // Config admins who are members are admins.
            for a in &gc.admins {
                if let Some(m) = g.member_mut(a) {
                    if m.is_member() && !m.rec.admin {
                        m.rec.admin = true;
                        out.push(Output::Store(StoreOp::UpsertMember(m.rec.clone())));
                    }
                }
            }
        }
        core.apply_config_bridges(now, out);
        core.apply_config_mucs(now, out);
        core
    }

    /// Handles one input, appending outputs.
    pub fn handle(&mut self, now: Millis, input: Input, out: &mut Vec<Output>) {
        let from = out.len();
        match input {
            Input::Connected => {
                if let Some(m) = &mut self.multicast {
                    m.connected(&self.cfg.domain, out);
                }
                self.on_connected(now, out);
                self.connected = true;
                self.mucs_connected(now, out);
            }
            Input::Disconnected => {
                self.connected = false;
                self.mucs_disconnected(now);
            }
            Input::Stanza(el) => {
                if let Some(m) = &mut self.multicast {
                    if m.on_stanza(&el, out) {
                        return;
                    }
                }
                self.on_stanza(now, el, out)
            }
            Input::Tick => self.on_tick(now, out),
            Input::Shutdown => self.on_shutdown(out),
            Input::RoutePost(p) => self.on_route_post(now, p, out),
            Input::BridgeCall(c) => self.on_bridge_call(now, c, out),
            Input::Api(c) => self.on_api_call(now, c, out),
            Input::Delivery(d) => self.on_delivery(now, d, out),
            // The core's own token changes are committed before the app
            // looks, so the database holds them too.
            Input::Tokens(t) => self.tokens = t,
            Input::Recalled(q, row) => self.recalled(q, row),
        }
        // Relays through the server's multicast service where it can.
        if let Some(m) = &mut self.multicast {
            m.route(out, from);
        }
    }

    /// After a failed commit the app rebuilds the core from the database;
    /// what the database never holds comes from the old core: who is online
    /// (so nobody needs probing again — probing while the database refuses
    /// writes would only start a storm of presence answers), flood windows,
    /// the delivery state of send routes, counters.
    pub fn adopt_volatile(&mut self, old: &Core) {
        self.relayed = old.relayed;
        self.route_stats = old.route_stats;
        self.strangers = old.strangers.clone();
        self.askers = old.askers.clone();
        self.unconfirmed = old.unconfirmed.clone();
        self.multicast = old.multicast.clone();
        self.sys_counter = old.sys_counter;
        self.boot = old.boot;
        self.last_prune = old.last_prune;
        for (name, g) in self.groups.iter_mut() {
            let Some(og) = old.groups.get(name) else {
                continue;
            };
            g.status_shown = og.status_shown;
            g.status_at = og.status_at;
            g.status_mixed = og.status_mixed;
            g.status_dirty = og.status_dirty;
            g.status_next = og.status_next;
            for (jid, m) in g.members.iter_mut() {
                if let Some(om) = og.members.get(jid) {
                    m.resources = om.resources.clone();
                    m.flood = om.flood.clone();
                    m.shown = om.shown;
                }
            }
            for (rname, r) in g.routes.iter_mut() {
                if let Some(or) = og.routes.get(rname) {
                    r.in_flight = or.in_flight;
                    r.next_at = or.next_at;
                    r.failures = or.failures;
                    r.last_received = or.last_received;
                    // Room occupancies live in memory only.
                    if r.muc.is_some() {
                        r.muc.clone_from(&or.muc);
                    }
                }
            }
        }
        self.connected = old.connected;
        self.events = old.events;
        self.token_seed = old.token_seed;
        self.token_counter = old.token_counter;
    }

    /// A new token: `tg_` and 64 hex digits of HMAC-SHA256(seed, counter).
    pub(crate) fn next_token(&mut self) -> String {
        self.token_counter += 1;
        let tag = platform::crypto::hmac_sha256_tag(
            &self.token_seed,
            &[b"talkgroups token", &self.token_counter.to_be_bytes()],
        );
        format!("tg_{}", hex::encode(tag))
    }

    /// Members and online members across groups (for metrics).
    pub fn counts(&self) -> (usize, usize) {
        self.groups.values().fold((0, 0), |(m, o), g| {
            (m + g.member_count(), o + g.online_count())
        })
    }

    /// When the core next needs `Input::Tick`: the earliest of a status
    /// refresh a group waits for, a ping of an inferred session, a route
    /// delivery due, and the hourly pruning. Between inputs nothing else
    /// changes, so the app sleeps until then (a tick before it does no
    /// harm; one after it only delays).
    pub fn next_deadline(&self) -> Millis {
        let mut next = self.last_prune + PRUNE_EVERY_MS;
        for g in self.groups.values() {
            if g.status_dirty {
                next = next.min(g.status_next.max(g.status_at + STATUS_GAP_MS));
            }
            for r in g.routes.values() {
                if r.in_flight.is_none() && !r.queue.is_empty() {
                    next = next.min(r.next_at);
                }
            }
        }
        if let Some(t) = self.mucs_deadline() {
            next = next.min(t);
        }
        for (group, jid) in &self.unconfirmed {
            if let Some(t) = self
                .groups
                .get(group)
                .and_then(|g| g.members.get(jid))
                .and_then(|m| m.resources.next_ping(self.cfg.ping_ms))
            {
                next = next.min(t);
            }
        }
        next
    }

    fn on_tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.refresh_status(now, out);
        self.ping_unconfirmed(now, out);
        self.dispatch_all(now, out);
        self.mucs_tick(now, out);
        const HOUR: Millis = PRUNE_EVERY_MS;
        if now - self.last_prune < HOUR {
            return;
        }
        self.last_prune = now;
        self.prune_seen(now, out);
        self.strangers.retain(|_, t| now - *t < STRANGER_GAP_MS);
        let window = self.cfg.window_ms;
        (self.askers).retain(|_, f| f.recent.back().is_some_and(|t| now - *t < window));
        let before = now - i64::from(self.cfg.history_days) * 24 * HOUR;
        for g in self.groups.values_mut() {
            while g.history.front().is_some_and(|h| h.at < before) {
                g.history.pop_front();
            }
        }
        out.push(Output::Store(StoreOp::PruneHistory {
            before,
            keep_max: self.cfg.history_max,
        }));
    }

    /// Appends a row to the group's history (memory and store).
    pub(crate) fn push_history(&mut self, name: &str, rec: HistoryRecord, out: &mut Vec<Output>) {
        let id = rec.id;
        self.event(name, "message", Some(id), || api::message_json(&rec), out);
        if let Some(g) = self.groups.get_mut(name) {
            g.history.push_back(rec.clone());
            if g.history.len() > RING {
                g.history.pop_front();
            }
        }
        out.push(Output::Store(StoreOp::AppendHistory(rec)));
    }

    /// Whether a non-member's message to `target` may be answered with a
    /// text reply now: at most one per `STRANGER_GAP_MS` per JID and target,
    /// so the group cannot be used to flood someone (errors the protocol
    /// requires are not limited).
    pub(crate) fn may_answer_stranger(&mut self, now: Millis, target: &str, jid: &str) -> bool {
        let key = (target.to_string(), jid.to_string());
        match self.strangers.get(&key) {
            Some(t) if now - *t < STRANGER_GAP_MS => false,
            _ => {
                self.strangers.insert(key, now);
                true
            }
        }
    }

    /// Whether a command from a JID that is not a member of `target` may be
    /// answered now. Commands are explicit requests, so they get the relay's
    /// allowance (`relay.burst` per `relay.window_secs`) rather than the one
    /// reply a minute that chatter from strangers gets.
    pub(crate) fn may_answer_command(&mut self, now: Millis, target: &str, jid: &str) -> bool {
        let (burst, window) = (self.cfg.burst, self.cfg.window_ms);
        let f = (self.askers)
            .entry((target.to_string(), jid.to_string()))
            .or_default();
        while f.recent.front().is_some_and(|t| *t <= now - window) {
            f.recent.pop_front();
        }
        if f.recent.len() >= burst {
            return false;
        }
        f.recent.push_back(now);
        true
    }

    /// A fresh id for a stanza the component originates.
    pub(crate) fn sys_id(&mut self) -> String {
        self.sys_counter += 1;
        format!("tgs-{:x}-{}", self.boot, self.sys_counter)
    }

    pub(crate) fn is_service_admin(&self, jid: &str) -> bool {
        self.service_admins.contains(jid)
    }

    /// Whether `jid` may run admin commands in `group`.
    pub(crate) fn is_admin(&self, group: &Group, jid: &str) -> bool {
        self.is_service_admin(jid)
            || group
                .members
                .get(jid)
                .is_some_and(|m| m.is_member() && m.rec.admin)
    }

    /// Whether the outputs since the last call confirm something to
    /// someone — a command's reply, a welcome, a route post's 200, a
    /// delivery queued on a send route — and so must survive power loss
    /// before they go out. Relays, presence and online marks alone need
    /// only survive the process being killed; the app commits
    /// those without an fsync, which is what keeps relay latency low.
    pub fn take_acknowledged(&mut self) -> bool {
        std::mem::take(&mut self.acknowledged)
    }

    /// Sends a chat message from `from` to `to`.
    pub(crate) fn say(&mut self, from: &str, to: &str, text: &str, out: &mut Vec<Output>) {
        self.acknowledged = true;
        let id = self.sys_id();
        out.push(Output::Send(stanza::chat(from, to, &id, text)));
    }

    /// What the JID `to` names here: the service, a group, or a group
    /// that does not exist; `None` when it is not on our domain.
    fn target(&self, to: &str) -> Option<Target> {
        let (to_bare, _) = names::split_jid(to);
        if to_bare == self.cfg.domain {
            return Some(Target::Service);
        }
        let local = to_bare.strip_suffix(&self.cfg.domain)?.strip_suffix('@')?;
        Some(match self.groups.contains_key(local) {
            true => Target::Group(local.to_string()),
            false => Target::Unknown,
        })
    }

    /// The error a sender gets when what their stanza changed could not be
    /// stored (`header`: its attributes, see the app's batch), in their
    /// language.
    pub fn unsaved_error(&self, header: &Element) -> Element {
        let from = names::split_jid(header.attr("from").unwrap_or_default()).0;
        let group = match header.attr("to").and_then(|t| self.target(t)) {
            Some(Target::Group(g)) => Some(g),
            _ => None,
        };
        self.refusal(
            header,
            group.as_deref(),
            &from,
            ErrorType::Wait,
            "internal-server-error",
            "err-unsaved",
        )
    }

    /// Error `condition` for stanza `el` from `jid`, with message `id` as
    /// its text, in their language.
    pub(crate) fn refusal(
        &self,
        el: &Element,
        group: Option<&str>,
        jid: &str,
        etype: ErrorType,
        condition: &str,
        id: &str,
    ) -> Element {
        let lang = self.answer_lang(group, jid, el);
        stanza::error_reply(el, etype, condition, Some((lang, &t!(lang, id))))
    }

    fn on_stanza(&mut self, now: Millis, el: Element, out: &mut Vec<Output>) {
        let (Some(from), Some(to)) = (el.attr("from"), el.attr("to")) else {
            return; // Nobody to answer; the server never sends these.
        };
        let (from_bare, from_res) = names::split_jid(from);
        let from_res = from_res.map(str::to_string);
        // Loop guard: nothing from our own domain is processed.
        let from_domain = from_bare.rsplit('@').next().unwrap_or(&from_bare);
        if from_domain == self.cfg.domain {
            return;
        }
        let Some(target) = self.target(to) else {
            return; // Not addressed to us.
        };
        let ctx = Ctx {
            from: from.to_string(),
            from_bare,
            from_res,
        };
        // The rooms a group is bridged with speak to it first.
        if let Target::Group(name) = &target {
            if let Some(muc) = self.muc_of(name, &ctx.from_bare) {
                let name = name.clone();
                if self.on_muc_stanza(now, &name, &muc, &el, out) {
                    return;
                }
            }
        }
        // A presence may change who is in or online: the status line is
        // checked again. (So may a command, and a session learned from a
        // message: see `on_command` and `member_available`.)
        if let (Target::Group(name), "presence") = (&target, el.name()) {
            if let Some(g) = self.groups.get_mut(name) {
                g.status_touch(now);
            }
        }
        match el.name() {
            "message" => self.on_message(now, &ctx, target, &el, out),
            "presence" => self.on_presence(now, &ctx, target, &el, out),
            "iq" => self.on_iq(now, &ctx, target, &el, out),
            _ => {}
        }
    }

    fn on_message(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        target: Target,
        el: &Element,
        out: &mut Vec<Output>,
    ) {
        match el.attr("type") {
            Some("error") => return, // Never answer errors: no loops.
            None | Some("chat") | Some("normal") => {}
            Some("groupchat") | Some("headline") => {
                let group = match &target {
                    Target::Group(g) => Some(g.as_str()),
                    _ => None,
                };
                out.push(Output::Send(self.refusal(
                    el,
                    group,
                    &ctx.from_bare,
                    ErrorType::Cancel,
                    "not-acceptable",
                    "err-not-a-room",
                )));
                return;
            }
            Some(_) => {
                out.push(Output::Send(self.refusal(
                    el,
                    None,
                    &ctx.from_bare,
                    ErrorType::Modify,
                    "bad-request",
                    "err-message-type",
                )));
                return;
            }
        }
        match target {
            Target::Unknown => out.push(Output::Send(self.refusal(
                el,
                None,
                &ctx.from_bare,
                ErrorType::Cancel,
                "item-not-found",
                "err-no-group",
            ))),
            Target::Service => self.on_service_message(now, ctx, el, out),
            Target::Group(name) => self.on_group_message(now, ctx, &name, el, out),
        }
    }
}

/// Who sent the stanza being handled.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Full `from` as sent.
    pub from: String,
    pub from_bare: String,
    pub from_res: Option<String>,
}

/// What a stanza is addressed to.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Service,
    Group(String),
    Unknown,
}
