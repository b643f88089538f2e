//! HTTP routes in the core: posts arriving on
//! receive routes, forwarding what is said to send routes, and the outbox
//! schedule — one delivery in flight per route, in order, retried with
//! backoff, given up after `routes.max_age_hours`. The HTTP server and
//! client are adapters: they turn requests into `Input::RoutePost` and
//! `Input::Delivery`, and carry out `Output::Reply` and `Output::Http`.

use std::collections::VecDeque;
use std::sync::Arc;

use super::model::{
    BridgeSpec, HistoryRecord, Millis, OutboxRecord, RouteFormat, RouteKind, RouteMessage,
    RouteRecord, StoreOp,
};
use super::names;
use super::platform::{self, Line};
use super::relay::copy_id_prefix;
use super::stanza::{self, Attr, Fanout, NS_COMPONENT};
use super::text::{self, format_line};
use super::webhook::{self, HttpRequest, Refusal, Verdict};
use super::{Core, Output};
use minidom::Element;

/// How long received message ids are remembered (duplicates dropped).
pub const SEEN_WINDOW_MS: Millis = 24 * 3_600_000;
/// Retry delays double from 1 s up to this.
pub const MAX_BACKOFF_MS: Millis = 10 * 60_000;
/// A route message older than this when it arrives gets a delay stamp.
const LATE_MS: Millis = 60_000;

/// A POST to `/routes/{group}/{route}`, as the HTTP adapter read it.
#[derive(Debug, Clone)]
pub struct RoutePost {
    /// Matches the `PostReply` to the waiting request.
    pub token: u64,
    pub group: String,
    pub route: String,
    pub body: Vec<u8>,
    /// `application/x-www-form-urlencoded` (outgoing webhooks may use it).
    pub form: bool,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

/// The answer to a `RoutePost`: a status and a small JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostReply {
    pub token: u64,
    pub status: u16,
    /// `application/json` but for a few platform handshakes.
    pub content_type: &'static str,
    pub body: String,
}

/// A delivery for the HTTP client to attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSend {
    /// The last outbox row this post carries.
    pub outbox_id: i64,
    /// The first: a bridge's post may merge several rows of its route.
    pub first_id: i64,
    pub group: String,
    pub route: String,
    pub req: HttpRequest,
}

/// How a delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub outbox_id: i64,
    pub group: String,
    pub route: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The far side answered.
    Response {
        status: u16,
        body: Vec<u8>,
        /// `Retry-After` in seconds, when given.
        retry_after: Option<u64>,
    },
    /// No answer: connection refused, timeout, TLS, DNS…
    Failed(String),
}

/// Counters for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouteStats {
    /// Messages accepted on receive routes and relayed.
    pub received: u64,
    /// Deliveries the far side accepted.
    pub delivered: u64,
    /// Attempts that failed and will be retried.
    pub failed: u64,
    /// Deliveries the far side refused as such (400, 413, 422): dropped.
    pub refused: u64,
    /// Deliveries dropped after `routes.max_age_hours`.
    pub given_up: u64,
}

/// A route with its delivery state.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub rec: RouteRecord,
    /// Send routes: deliveries waiting, oldest first.
    pub queue: VecDeque<OutboxRecord>,
    /// The (last) outbox id being attempted now.
    pub in_flight: Option<i64>,
    /// How many queued rows the attempt carries (bridges merge).
    pub in_flight_n: usize,
    /// Bridges: when recent posts went out (the rate window).
    pub posts: VecDeque<Millis>,
    /// Bridges: platform message ref → history id (for edits).
    pub refs: std::collections::HashMap<String, i64>,
    /// Not before this (backoff).
    pub next_at: Millis,
    /// Failures of the head delivery in a row.
    pub failures: u32,
    /// Receive routes: when the last message came in.
    pub last_received: Option<Millis>,
    /// Rooms: the occupancy (`core::muc`).
    pub muc: Option<Box<super::muc::Occupancy>>,
}

impl Route {
    pub fn new(rec: RouteRecord) -> Route {
        let muc = matches!(rec.kind, RouteKind::Muc(_)).then(Default::default);
        Route {
            rec,
            queue: VecDeque::new(),
            in_flight: None,
            in_flight_n: 0,
            posts: VecDeque::new(),
            refs: Default::default(),
            next_at: 0,
            failures: 0,
            last_received: None,
            muc,
        }
    }

    /// Whether messages said in the group go out on it.
    pub(crate) fn sends(&self) -> bool {
        matches!(self.rec.kind, RouteKind::Send { .. } | RouteKind::Bridge(_))
    }

    fn bridge(&self) -> Option<&BridgeSpec> {
        match &self.rec.kind {
            RouteKind::Bridge(b) => Some(b),
            _ => None,
        }
    }
}

/// Delay after `failures` failures in a row: 1 s, 2 s, 4 s … 10 min.
pub fn backoff(failures: u32) -> Millis {
    let exp = failures.saturating_sub(1).min(20);
    (1000i64 << exp).min(MAX_BACKOFF_MS)
}

fn reply(token: u64, status: u16, body: serde_json::Value) -> Output {
    Output::Reply(PostReply {
        token,
        status,
        content_type: "application/json",
        body: body.to_string(),
    })
}

fn refusal(token: u64, r: Refusal) -> Output {
    reply(token, r.status, serde_json::json!({ "error": r.error }))
}

/// The URL as `//routes` shows it: in full for formats with a password,
/// only scheme and host for webhook formats, whose URL is the secret.
pub(crate) fn shown_url(url: &str, format: RouteFormat) -> String {
    match format {
        RouteFormat::Talkgroups | RouteFormat::Matterbridge => url.to_string(),
        _ => match url::Url::parse(url) {
            Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
            Err(_) => "…".into(),
        },
    }
}

/// Checks a send route's URL: absolute http(s) with a host.
pub(crate) fn valid_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

impl Core {
    // ---- receiving -------------------------------------------------------

    /// A post to a receive route: authenticate, drop loops and duplicates,
    /// relay into the group, forward to the group's send routes, answer.
    pub(crate) fn on_route_post(&mut self, now: Millis, p: RoutePost, out: &mut Vec<Output>) {
        let token = p.token;
        match self.accept_post(now, &p) {
            Err(r) => out.push(refusal(token, r)),
            Ok(Accepted::Drop(reason)) => out.push(reply(
                token,
                200,
                serde_json::json!({ "status": "dropped", "reason": reason }),
            )),
            Ok(Accepted::Duplicate) => out.push(reply(
                token,
                200,
                serde_json::json!({ "status": "duplicate" }),
            )),
            Ok(Accepted::Relay { key, msg, native }) => {
                self.acknowledged = true;
                let (id, _) = self.relay_from_route(now, &p.group, &p.route, key, msg, native, out);
                out.push(reply(
                    token,
                    200,
                    serde_json::json!({ "status": "ok", "id": id }),
                ));
            }
        }
    }

    /// Everything about a post that refuses it or drops it.
    fn accept_post(&self, now: Millis, p: &RoutePost) -> Result<Accepted, Refusal> {
        let g = self
            .groups
            .get(&p.group)
            .ok_or_else(|| webhook::refuse(404, "no such group"))?;
        let route = g
            .routes
            .get(&p.route)
            .filter(|r| matches!(r.rec.kind, RouteKind::Recv { .. }))
            .ok_or_else(|| webhook::refuse(404, "no such receive route"))?;
        let password = route.rec.password.as_deref().unwrap_or_default();
        let (key, msg, native) = match &p.signature {
            Some(sig) => {
                let ts = p
                    .timestamp
                    .as_deref()
                    .ok_or_else(|| webhook::refuse(401, "missing X-Talkgroups-Timestamp"))?;
                if password.is_empty() || !webhook::verify(password, ts, &p.body, sig) {
                    return Err(webhook::refuse(401, "bad signature"));
                }
                let secs: i64 = ts
                    .trim()
                    .parse()
                    .map_err(|_| webhook::refuse(401, "bad X-Talkgroups-Timestamp"))?;
                if (now / 1000 - secs).abs() > webhook::MAX_SKEW_SECS {
                    return Err(webhook::refuse(
                        409,
                        "timestamp more than 5 minutes away from this server's clock",
                    ));
                }
                let msg = webhook::parse_native(&p.body, now)?;
                if webhook::is_loop(&msg.trail, &self.instance_id, &g.jid) {
                    return Ok(Accepted::Drop("loop: this group is in the trail"));
                }
                if webhook::trail_too_long(&msg.trail) {
                    return Ok(Accepted::Drop("trail longer than 8"));
                }
                if msg.body.trim().is_empty() {
                    return Err(webhook::refuse(400, "empty body"));
                }
                (msg.id.clone(), msg, true)
            }
            None => {
                let w = webhook::parse_webhook(&p.body, p.form)?;
                if password.is_empty() || !webhook::same_secret(&w.token, password) {
                    return Err(webhook::refuse(401, "bad token"));
                }
                if w.from_bot {
                    return Ok(Accepted::Drop("posted by a bot"));
                }
                if w.text.trim().is_empty() {
                    return Ok(Accepted::Drop("empty text"));
                }
                let msg = RouteMessage {
                    id: String::new(), // Given when relayed (a history id).
                    origin: g.jid.clone(),
                    nick: w.user_name,
                    body: w.text,
                    sent_at: now,
                    trail: Vec::new(),
                };
                (w.dedup_id, msg, false)
            }
        };
        if msg.body.chars().count() > self.cfg.max_body {
            return Err(webhook::refuse(
                413,
                format!("body longer than {} characters", self.cfg.max_body),
            ));
        }
        if g.seen.contains_key(&key) {
            return Ok(Accepted::Duplicate);
        }
        Ok(Accepted::Relay { key, msg, native })
    }

    /// Relays an accepted route (or bridge) message into the group as
    /// `[nick@ROUTE] text`, records it, and forwards it. Returns the
    /// message's id and its history row.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn relay_from_route(
        &mut self,
        now: Millis,
        name: &str,
        route: &str,
        key: String,
        mut msg: RouteMessage,
        native: bool,
        out: &mut Vec<Output>,
    ) -> (String, i64) {
        self.last_history_id += 1;
        let seq = self.last_history_id;
        let offline_mode = self.cfg.offline;
        let shared = self.cfg.shared_copy_ids;
        let instance = self.instance_id.clone();
        let Some(g) = self.groups.get_mut(name) else {
            return (String::new(), seq);
        };
        msg.nick = names::clean_remote_nick(&msg.nick);
        if native {
            webhook::extend_trail(&mut msg.trail, &instance, &g.jid);
        } else {
            msg.id = text::message_id(&instance, seq);
            msg.origin = g.jid.to_string();
            msg.trail = Vec::new();
            webhook::extend_trail(&mut msg.trail, &instance, &g.jid);
        }
        let shown_nick = format!("{}@{route}", msg.nick);
        let line = format_line(&shown_nick, &msg.body);
        let sender = format!("route:{route}");
        let late = now - msg.sent_at > LATE_MS;
        let mut e = Element::builder("message", NS_COMPONENT)
            .a("type", "chat")
            .a("from", g.jid.as_str())
            .append(stanza::text_child("body", NS_COMPONENT, &line))
            .append(stanza::text_child("nick", stanza::NS_NICK, &shown_nick));
        if late {
            e = e.append(
                Element::builder("delay", stanza::NS_DELAY)
                    .a("from", g.jid.as_str())
                    .a("stamp", stanza::xep0082(msg.sent_at))
                    .build(),
            );
        }
        let mut f = Fanout::new(e.build(), Some(copy_id_prefix(seq)));
        for m in g.members.values() {
            if super::relay::receives(m, &sender, now, offline_mode) {
                f.push(m.rec.jid.clone(), super::relay::copy_n(shared, m));
            }
        }
        self.relayed += f.copies.len() as u64;
        if !f.copies.is_empty() {
            out.push(Output::Fanout(f));
        }
        self.route_stats.received += 1;
        g.seen.insert(key.clone(), now);
        out.push(Output::Store(StoreOp::Seen {
            group: name.to_string(),
            id: key,
            at: now,
        }));
        if let Some(r) = g.routes.get_mut(route) {
            r.last_received = Some(now);
        }
        let rec = HistoryRecord {
            id: seq,
            group: name.to_string(),
            sender,
            nick: shown_nick,
            text: msg.body.clone(),
            at: now,
            origin_id: None,
            edited_at: None,
            removed: false,
        };
        self.push_history(name, rec, out);
        let id = msg.id.clone();
        if !webhook::trail_too_long(&msg.trail) {
            self.forward(now, name, &msg, Some(route), out);
        }
        (id, seq)
    }

    // ---- sending ---------------------------------------------------------

    /// Queues `msg` on every send route of the group, except the one the
    /// receive route `came_on` names as NOLOOP, and starts idle routes.
    pub(crate) fn forward(
        &mut self,
        now: Millis,
        name: &str,
        msg: &RouteMessage,
        came_on: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        self.forward_as(now, name, msg, came_on, None, out)
    }

    /// [`Core::forward`] of a member's own line: rooms with `puppets` get
    /// it from the member's occupant.
    pub(crate) fn forward_as(
        &mut self,
        now: Millis,
        name: &str,
        msg: &RouteMessage,
        came_on: Option<&str>,
        speaker: Option<&super::muc::Speaker>,
        out: &mut Vec<Output>,
    ) {
        // Rooms first: they go into the trail the routes carry.
        match self.send_to_rooms(now, name, msg, came_on, speaker, out) {
            Some(m) => self.queue_for_routes(now, name, &m, came_on, out),
            None => self.queue_for_routes(now, name, msg, came_on, out),
        }
    }

    /// The HTTP half of [`Core::forward`]: the outbox of every send route
    /// and bridge.
    pub(crate) fn queue_for_routes(
        &mut self,
        now: Millis,
        name: &str,
        msg: &RouteMessage,
        came_on: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        // Not back where it came from: a bridge is its own way back; a
        // receive route names its way back (NOLOOP).
        let back = came_on
            .and_then(|r| g.routes.get(r))
            .and_then(|r| match &r.rec.kind {
                RouteKind::Recv { noloop } => noloop.clone(),
                RouteKind::Bridge(_) | RouteKind::Muc(_) => Some(r.rec.name.clone()),
                RouteKind::Send { .. } => None,
            });
        // A text target (a bridge, a webhook format) shows the line as
        // members saw it, `[nick@ROUTE] text`, so people there can tell
        // where it came from; the native format keeps the nick, since the
        // receiving instance labels it with its own route's name.
        let targets: Vec<(String, bool)> = g
            .routes
            .values()
            .filter(|r| r.sends() && Some(&r.rec.name) != back.as_ref())
            .map(|r| {
                let native = matches!(
                    r.rec.kind,
                    RouteKind::Send {
                        format: RouteFormat::Talkgroups,
                        ..
                    }
                );
                (r.rec.name.clone(), native)
            })
            .collect();
        let labelled = came_on.map(|c| RouteMessage {
            nick: format!("{}@{c}", msg.nick),
            ..msg.clone()
        });
        for (route, native) in targets {
            self.acknowledged = true;
            self.last_outbox_id += 1;
            let msg = match &labelled {
                Some(l) if !native => l.clone(),
                _ => msg.clone(),
            };
            let rec = OutboxRecord {
                id: self.last_outbox_id,
                group: name.to_string(),
                route: route.clone(),
                msg,
                created_at: now,
            };
            out.push(Output::Store(StoreOp::Enqueue(rec.clone())));
            if let Some(r) = self
                .groups
                .get_mut(name)
                .and_then(|g| g.routes.get_mut(&route))
            {
                r.queue.push_back(rec);
            }
            self.dispatch_route(now, name, &route, out);
        }
    }

    /// Whether the group has any send route or room (cheap check on the
    /// hot path).
    pub(crate) fn has_send_routes(&self, name: &str) -> bool {
        self.groups
            .get(name)
            .is_some_and(|g| g.routes.values().any(|r| r.sends() || r.muc.is_some()))
    }

    /// Starts the head delivery of every idle, due route (timer).
    pub(crate) fn dispatch_all(&mut self, now: Millis, out: &mut Vec<Output>) {
        let due: Vec<(Arc<str>, String)> = self
            .groups
            .values()
            .flat_map(|g| {
                g.routes
                    .values()
                    .filter(|r| r.in_flight.is_none() && !r.queue.is_empty() && r.next_at <= now)
                    .map(|r| (g.name.clone(), r.rec.name.clone()))
            })
            .collect();
        for (group, route) in due {
            self.dispatch_route(now, &group, &route, out);
        }
    }

    /// Gives up expired head deliveries, then starts the head one if the
    /// route is idle and due.
    fn dispatch_route(&mut self, now: Millis, group: &str, route: &str, out: &mut Vec<Output>) {
        let max_age = self.cfg.route_max_age_ms;
        let Some(r) = self
            .groups
            .get_mut(group)
            .and_then(|g| g.routes.get_mut(route))
        else {
            return;
        };
        if r.in_flight.is_some() {
            return;
        }
        let mut given_up = 0u64;
        while r
            .queue
            .front()
            .is_some_and(|o| now - o.created_at > max_age)
        {
            if let Some(o) = r.queue.pop_front() {
                out.push(Output::Store(StoreOp::Dequeue { id: o.id }));
                given_up += 1;
                r.failures = 0;
            }
        }
        if given_up > 0 {
            if let Some(b) = r.bridge() {
                self.bridge_stats
                    .count_out(b.platform, "given_up", given_up);
            }
            tracing::warn!(
                group,
                route,
                count = given_up,
                "route deliveries given up after routes.max_age_hours"
            );
            self.route_stats.given_up += given_up;
        }
        if r.next_at > now {
            return;
        }
        let Some(head) = r.queue.front() else {
            return;
        };
        let (req, n) = match &r.rec.kind {
            RouteKind::Send { url, format } => (
                webhook::build_request(
                    *format,
                    url,
                    r.rec.password.as_deref(),
                    &r.rec.name,
                    &head.msg,
                    now / 1000,
                ),
                1,
            ),
            RouteKind::Bridge(b) => {
                let (count, window) = bridge_rate(b);
                // A little more than the window: the platform counts
                // arrivals, which come a little after our sends.
                let window = window + (window / 20).clamp(100, 2000);
                while r.posts.front().is_some_and(|t| now - *t >= window) {
                    r.posts.pop_front();
                }
                if r.posts.len() >= count as usize {
                    // Over the platform's rate: wait, and let the queue
                    // grow into one merged post.
                    r.next_at = r.posts.front().map_or(now, |t| t + window);
                    return;
                }
                r.posts.push_back(now);
                merged_post(b, &r.queue, now)
            }
            RouteKind::Recv { .. } | RouteKind::Muc(_) => return,
        };
        let first_id = head.id;
        let last_id = r.queue.get(n - 1).map_or(head.id, |o| o.id);
        r.in_flight = Some(last_id);
        r.in_flight_n = n;
        out.push(Output::Http(HttpSend {
            outbox_id: last_id,
            first_id,
            group: group.to_string(),
            route: route.to_string(),
            req,
        }));
    }

    /// The result of a delivery attempt.
    pub(crate) fn on_delivery(&mut self, now: Millis, d: Delivery, out: &mut Vec<Output>) {
        let Some(r) = self
            .groups
            .get_mut(&d.group)
            .and_then(|g| g.routes.get_mut(&d.route))
        else {
            return; // Route deleted meanwhile.
        };
        if r.in_flight != Some(d.outbox_id) {
            return; // Not what this route waits for (state was reloaded).
        }
        r.in_flight = None;
        let n = r.in_flight_n.max(1);
        let platform = r.bridge().map(|b| b.platform);
        let verdict = match (d.outcome, &r.rec.kind) {
            (
                Outcome::Response {
                    status,
                    body,
                    retry_after,
                },
                RouteKind::Send { format, .. },
            ) => webhook::judge(*format, status, &body, retry_after),
            (
                Outcome::Response {
                    status,
                    body,
                    retry_after,
                },
                RouteKind::Bridge(b),
            ) => platform::judge(b.platform, status, &body, retry_after),
            (_, RouteKind::Recv { .. } | RouteKind::Muc(_)) => return,
            (Outcome::Failed(e), _) => Verdict::Retry {
                error: e,
                after_secs: None,
            },
        };
        let bs = &mut self.bridge_stats;
        match verdict {
            Verdict::Delivered => {
                for o in r.queue.drain(..n.min(r.queue.len())) {
                    out.push(Output::Store(StoreOp::Dequeue { id: o.id }));
                }
                r.failures = 0;
                r.next_at = now;
                r.rec.last_ok = Some(now);
                match platform {
                    Some(p) => {
                        bs.count_out(p, "delivered", 1);
                        if n > 1 {
                            *bs.merged_posts.entry(p).or_default() += 1;
                            *bs.merged_messages.entry(p).or_default() += n as u64;
                        }
                    }
                    None => self.route_stats.delivered += 1,
                }
            }
            Verdict::Refused(error) => {
                tracing::warn!(group = %d.group, route = %d.route, %error, "far side refused a route message; dropped");
                for o in r.queue.drain(..n.min(r.queue.len())) {
                    out.push(Output::Store(StoreOp::Dequeue { id: o.id }));
                }
                r.failures = 0;
                r.next_at = now;
                r.rec.last_error = Some((now, error));
                match platform {
                    Some(p) => bs.count_out(p, "refused", 1),
                    None => self.route_stats.refused += 1,
                }
            }
            Verdict::Retry { error, after_secs } => {
                r.failures += 1;
                let wait = backoff(r.failures)
                    .max(after_secs.map_or(0, |s| (s.min(3600) * 1000) as Millis));
                r.next_at = now + wait;
                if r.failures == 1 || r.failures.is_power_of_two() {
                    tracing::warn!(group = %d.group, route = %d.route, %error, failures = r.failures, retry_in_ms = wait, "route delivery failed; will retry");
                }
                r.rec.last_error = Some((now, error));
                match platform {
                    Some(p) => bs.count_out(p, "failed", 1),
                    None => self.route_stats.failed += 1,
                }
            }
        }
        out.push(Output::Store(StoreOp::UpsertRoute(r.rec.clone())));
        let (group, route) = (d.group, d.route);
        self.dispatch_route(now, &group, &route, out);
    }

    /// Deliveries waiting across all routes.
    pub fn outbox_depth(&self) -> usize {
        self.groups
            .values()
            .flat_map(|g| g.routes.values())
            .map(|r| r.queue.len())
            .sum()
    }

    /// Forgets received ids older than the duplicate window.
    pub(crate) fn prune_seen(&mut self, now: Millis, out: &mut Vec<Output>) {
        let before = now - SEEN_WINDOW_MS;
        for g in self.groups.values_mut() {
            g.seen.retain(|_, at| *at >= before);
        }
        out.push(Output::Store(StoreOp::PruneSeen { before }));
    }

    // ---- commands --------------------------------------------------------
}

/// A bridge's rate: its `rate` key, else the platform's own limit.
fn bridge_rate(b: &BridgeSpec) -> (u32, Millis) {
    b.keys
        .get("rate")
        .and_then(|r| platform::parse_rate(r))
        .unwrap_or_else(|| platform::default_rate(b.platform))
}

/// The post for the head of a bridge's queue: as many queued messages as
/// fit the platform's size limit, one `[nick] text` line each (at least
/// the head, cut to fit). Returns the request and how many rows it
/// carries.
fn merged_post(
    b: &BridgeSpec,
    queue: &VecDeque<OutboxRecord>,
    now: Millis,
) -> (super::webhook::HttpRequest, usize) {
    let max = platform::max_bytes(b.platform);
    let mut used = 0usize;
    let mut n = 0usize;
    for o in queue {
        let len = format_line(&o.msg.nick, &o.msg.body).len() + 1;
        if n > 0 && used + len > max {
            break;
        }
        used += len;
        n += 1;
    }
    let head_text;
    let lines: Vec<Line<'_>> = if n == 1 && used > max {
        let head = &queue[0];
        let room = max.saturating_sub(format_line(&head.msg.nick, "").len() + 4);
        head_text = text::cut_bytes(&head.msg.body, room);
        vec![Line {
            nick: &head.msg.nick,
            text: &head_text,
        }]
    } else {
        queue
            .iter()
            .take(n)
            .map(|o| Line {
                nick: &o.msg.nick,
                text: &o.msg.body,
            })
            .collect()
    };
    (
        platform::outbound(b.platform, &b.keys, &lines, now),
        n.max(1),
    )
}

/// What to do with a post that passed the checks.
enum Accepted {
    /// Not relayed, but answered 200 so the sender does not retry.
    Drop(&'static str),
    Duplicate,
    Relay {
        /// The id the duplicate window remembers.
        key: String,
        msg: RouteMessage,
        /// Came in the native format (keeps its id and trail).
        native: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_ten_minutes() {
        assert_eq!(backoff(1), 1000);
        assert_eq!(backoff(2), 2000);
        assert_eq!(backoff(5), 16_000);
        assert_eq!(backoff(10), 512_000);
        assert_eq!(backoff(11), MAX_BACKOFF_MS);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF_MS);
    }

    #[test]
    fn urls() {
        assert!(valid_url("http://127.0.0.1:8470/routes/lobby/a"));
        assert!(valid_url("https://hooks.slack.com/services/T/B/X"));
        assert!(!valid_url("ftp://x/y"));
        assert!(!valid_url("http://"));
        assert!(!valid_url("https://:80/x"));
        assert!(!valid_url("lobby"));
        assert_eq!(
            shown_url("https://hooks.slack.com/services/T/B/X", RouteFormat::Slack),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown_url("http://b:1/routes/l/a", RouteFormat::Talkgroups),
            "http://b:1/routes/l/a"
        );
    }
}
