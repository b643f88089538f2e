//! Bridges in the core (docs/bridges.md): calls from a platform to
//! `/bridges/{group}/{name}` — authenticity first, then the duplicate
//! window, then the relay into the group and on to its other routes and
//! bridges — and the platform's edits as corrections. The wire protocols
//! are `core::platform`; outbound posts go through the route outbox
//! (`core::route`), which merges queued messages under a platform's rate
//! limit.

use std::collections::BTreeMap;

use minidom::Element;

use super::i18n::Msg;
use super::model::{BridgeSpec, Millis, RouteKind, RouteMessage, RouteRecord, StoreOp};
use super::platform::{self, Call, Inbound, Method, Platform};
use super::relay::{copy_id, copy_n, receives};
use super::route::PostReply;
use super::route::Route;
use super::stanza::{self, Attr, NS_COMPONENT};
use super::text::format_line;
use super::webhook::Refusal;
use super::{Core, Output};

/// A call to `/bridges/{group}/{name}`, as the HTTP adapter read it.
#[derive(Debug, Clone)]
pub struct BridgeCall {
    /// Matches the `PostReply` to the waiting request.
    pub token: u64,
    pub group: String,
    pub bridge: String,
    pub method: Method,
    pub query: Vec<(String, String)>,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Bridge counters since start, by platform, for `/metrics` (never a
/// secret: platforms and outcomes only).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BridgeStats {
    /// Inbound calls by outcome: `relayed`, `edited`, `duplicate`,
    /// `ignored`, `verified` (a handshake answered), `rejected` (401),
    /// `malformed` (400 and other refusals).
    pub inbound: BTreeMap<(Platform, &'static str), u64>,
    /// Posts by outcome: `delivered`, `failed`, `refused`, `given_up`.
    pub outbound: BTreeMap<(Platform, &'static str), u64>,
    /// Posts that carried more than one message.
    pub merged_posts: BTreeMap<Platform, u64>,
    /// Messages that went out inside merged posts.
    pub merged_messages: BTreeMap<Platform, u64>,
}

impl BridgeStats {
    pub(crate) fn count_in(&mut self, p: Platform, outcome: &'static str) {
        *self.inbound.entry((p, outcome)).or_default() += 1;
    }
    pub(crate) fn count_out(&mut self, p: Platform, outcome: &'static str, n: u64) {
        *self.outbound.entry((p, outcome)).or_default() += n;
    }
}

fn reply(token: u64, status: u16, content_type: &'static str, body: String) -> Output {
    Output::Reply(PostReply {
        token,
        status,
        content_type,
        body,
    })
}

fn json_reply(token: u64, status: u16, body: serde_json::Value) -> Output {
    reply(token, status, "application/json", body.to_string())
}

fn refusal(token: u64, r: &Refusal) -> Output {
    json_reply(token, r.status, serde_json::json!({ "error": r.error }))
}

/// The duplicate-window key of a platform event (per group, beside the
/// route message ids).
fn seen_key(bridge: &str, event_id: &str) -> String {
    format!("bridge:{bridge}:{event_id}")
}

impl BridgeCall {
    /// The call as the platform parsers read it, at `now`.
    fn call(&self, now: Millis) -> Call<'_> {
        Call {
            method: self.method,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
            now_ms: now,
        }
    }
}

impl Core {
    /// A call from a platform: verify, de-duplicate, relay, answer (the
    /// answer goes out after the batch is committed).
    pub(crate) fn on_bridge_call(&mut self, now: Millis, c: BridgeCall, out: &mut Vec<Output>) {
        let token = c.token;
        let Some((platform, keys)) = self.groups.get(&c.group).and_then(|g| {
            g.routes.get(&c.bridge).and_then(|r| match &r.rec.kind {
                RouteKind::Bridge(b) => Some((b.platform, b.keys.clone())),
                _ => None,
            })
        }) else {
            out.push(json_reply(
                token,
                404,
                serde_json::json!({ "error": "no such group or bridge" }),
            ));
            return;
        };
        let call = c.call(now);
        let inbound = match platform::inbound(platform, &keys, &call) {
            Ok(i) => i,
            Err(r) => {
                let outcome = if r.status == 401 {
                    "rejected"
                } else {
                    "malformed"
                };
                self.bridge_stats.count_in(platform, outcome);
                out.push(refusal(token, &r));
                return;
            }
        };
        let m = match inbound {
            Inbound::Answer { content_type, body } => {
                self.bridge_stats.count_in(platform, "verified");
                out.push(reply(token, 200, content_type, body));
                return;
            }
            Inbound::Ignore(why) => {
                self.bridge_stats.count_in(platform, "ignored");
                out.push(json_reply(
                    token,
                    200,
                    serde_json::json!({ "status": "ignored", "reason": why }),
                ));
                return;
            }
            Inbound::Message(m) => m,
        };
        let key = seen_key(&c.bridge, &m.event_id);
        if self
            .groups
            .get(&c.group)
            .is_some_and(|g| g.seen.contains_key(&key))
        {
            self.bridge_stats.count_in(platform, "duplicate");
            out.push(json_reply(
                token,
                200,
                serde_json::json!({ "status": "duplicate" }),
            ));
            return;
        }
        if m.text.trim().is_empty() {
            self.bridge_stats.count_in(platform, "ignored");
            out.push(json_reply(
                token,
                200,
                serde_json::json!({ "status": "ignored", "reason": "empty text" }),
            ));
            return;
        }
        let text: String = if m.text.chars().count() > self.cfg.max_body {
            // The platform already accepted it; cut rather than lose it.
            let mut t: String = m.text.chars().take(self.cfg.max_body).collect();
            t.push('…');
            t
        } else {
            m.text.clone()
        };
        self.acknowledged = true;
        let original = m
            .message_ref
            .as_deref()
            .filter(|_| m.edit)
            .and_then(|r| self.bridge_ref(&c.group, &c.bridge, r));
        if let Some(row) = original {
            self.correct_from_bridge(now, &c.group, &c.bridge, row, &m.nick, &text, out);
            let g = self.groups.get_mut(&c.group);
            if let Some(g) = g {
                g.seen.insert(key.clone(), now);
                if let Some(r) = g.routes.get_mut(&c.bridge) {
                    r.last_received = Some(now);
                }
            }
            out.push(Output::Store(StoreOp::Seen {
                group: c.group.clone(),
                id: key,
                at: now,
            }));
            self.bridge_stats.count_in(platform, "edited");
            out.push(json_reply(
                token,
                200,
                serde_json::json!({ "status": "ok" }),
            ));
            return;
        }
        let body = if m.edit {
            format!("{text} (edited)")
        } else {
            text
        };
        let msg = RouteMessage {
            id: String::new(), // Given when relayed (a history id).
            origin: String::new(),
            nick: m.nick.clone(),
            body,
            sent_at: now,
            trail: Vec::new(),
        };
        let (id, seq) = self.relay_from_route(now, &c.group, &c.bridge, key, msg, false, out);
        if let (Some(r), false) = (m.message_ref, m.edit) {
            self.remember_ref(&c.group, &c.bridge, r, seq, out);
        }
        self.bridge_stats.count_in(platform, "relayed");
        out.push(json_reply(
            token,
            200,
            serde_json::json!({ "status": "ok", "id": id }),
        ));
    }

    /// The history row a platform message became, if held or recalled.
    fn bridge_ref(&self, group: &str, bridge: &str, message_ref: &str) -> Option<i64> {
        let g = self.groups.get(group)?;
        let row = *g.routes.get(bridge)?.refs.get(message_ref)?;
        g.row(row).is_some().then_some(row)
    }

    /// For a platform's edit of a message older than the rows held: the
    /// reference to read from the store first (see `Core::recall_for`).
    /// The call is verified and parsed here as it will be when handled;
    /// only full groups pay for that twice.
    pub(crate) fn bridge_recall(
        &self,
        now: Millis,
        c: &BridgeCall,
    ) -> Option<super::model::Recall> {
        let g = self.groups.get(&c.group)?;
        if g.history.len() < super::RING {
            return None;
        }
        let r = g.routes.get(&c.bridge)?;
        let RouteKind::Bridge(b) = &r.rec.kind else {
            return None;
        };
        let call = c.call(now);
        let Ok(Inbound::Message(m)) = platform::inbound(b.platform, &b.keys, &call) else {
            return None;
        };
        let key = m.message_ref.filter(|_| m.edit)?;
        (!r.refs.contains_key(&key)).then(|| super::model::Recall::Ref {
            group: c.group.clone(),
            route: c.bridge.clone(),
            key,
        })
    }

    pub(crate) fn remember_ref(
        &mut self,
        group: &str,
        bridge: &str,
        message_ref: String,
        row: i64,
        out: &mut Vec<Output>,
    ) {
        let Some(r) = self
            .groups
            .get_mut(group)
            .and_then(|g| g.routes.get_mut(bridge))
        else {
            return;
        };
        r.refs.insert(message_ref.clone(), row);
        out.push(Output::Store(StoreOp::BridgeRef {
            group: group.to_string(),
            bridge: bridge.to_string(),
            message_ref,
            history_id: row,
        }));
    }

    /// A platform edit of a message still in the history: every member
    /// who got a copy gets an XEP-0308 correction of their copy, and the
    /// history row takes the new text.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn correct_from_bridge(
        &mut self,
        now: Millis,
        group: &str,
        bridge: &str,
        row: i64,
        nick: &str,
        text: &str,
        out: &mut Vec<Output>,
    ) {
        let shared = self.cfg.shared_copy_ids;
        let mode = self.cfg.offline;
        let tag = self.sys_id();
        let Some(g) = self.groups.get(group) else {
            return;
        };
        // The speaker as the members saw them: an edit event may carry
        // less of the profile than the message did (Slack's does).
        let shown_nick = match g.history.iter().rev().find(|h| h.id == row) {
            Some(h) => h.nick.clone(),
            None => format!("{}@{bridge}", super::names::clean_remote_nick(nick)),
        };
        let line = format_line(&shown_nick, text);
        let sender = format!("route:{bridge}");
        let mut sent = 0u64;
        for m in g.members.values() {
            if !receives(m, &sender, now, mode) {
                continue;
            }
            let n = copy_n(shared, m);
            let e = Element::builder("message", NS_COMPONENT)
                .a("type", "chat")
                .a("from", g.jid.as_str())
                .a("to", &*m.rec.jid)
                .a("id", format!("{tag}-{n}"))
                .append(stanza::text_child("body", NS_COMPONENT, &line))
                .append(stanza::text_child("nick", stanza::NS_NICK, &shown_nick))
                .append(
                    Element::builder("replace", stanza::NS_CORRECT)
                        .a("id", copy_id(row, n))
                        .build(),
                )
                .build();
            out.push(Output::Send(e));
            sent += 1;
        }
        self.relayed += sent;
        self.edit_history(group, row, Some(text), now, out);
    }

    /// At start: the config's bridges replace those of the same name
    /// (keeping their queue), and config bridges no longer configured are
    /// deleted with their queues. A bridge whose group does not exist is
    /// reported and skipped.
    pub(crate) fn apply_config_bridges(&mut self, now: Millis, out: &mut Vec<Output>) {
        let wanted = self.cfg.bridges.clone();
        let listed: Vec<(String, String)> = (wanted.iter())
            .map(|w| (w.group.clone(), w.name.clone()))
            .collect();
        self.remove_stale_config_routes(
            |k| matches!(k, RouteKind::Bridge(b) if b.from_config),
            &listed,
            out,
        );
        for w in wanted {
            let Some(g) = self.groups.get_mut(&w.group) else {
                out.push(Output::Notice(super::Notice::BridgeWithoutGroup {
                    group: w.group.clone(),
                    bridge: w.name.clone(),
                }));
                continue;
            };
            let spec = BridgeSpec {
                platform: w.platform,
                keys: w.keys.clone(),
                from_config: true,
            };
            match g.routes.get_mut(&w.name) {
                Some(r) => {
                    r.rec.kind = RouteKind::Bridge(spec);
                    r.rec.password = None;
                    out.push(Output::Store(StoreOp::UpsertRoute(r.rec.clone())));
                }
                None => {
                    let rec = RouteRecord {
                        group: w.group.clone(),
                        name: w.name.clone(),
                        kind: RouteKind::Bridge(spec),
                        password: None,
                        created_at: now,
                        last_ok: None,
                        last_error: None,
                    };
                    out.push(Output::Store(StoreOp::UpsertRoute(rec.clone())));
                    g.routes.insert(w.name.clone(), Route::new(rec));
                }
            }
        }
    }

    /// Deletes the routes of a kind `from_config` picks (bridges or rooms
    /// an earlier config defined) that the config no longer lists as
    /// (group, name).
    pub(crate) fn remove_stale_config_routes(
        &mut self,
        from_config: impl Fn(&RouteKind) -> bool,
        listed: &[(String, String)],
        out: &mut Vec<Output>,
    ) {
        for g in self.groups.values_mut() {
            let stale: Vec<String> = g
                .routes
                .values()
                .filter(|r| from_config(&r.rec.kind))
                .filter(|r| {
                    !listed
                        .iter()
                        .any(|(lg, ln)| **lg == *g.name && *ln == r.rec.name)
                })
                .map(|r| r.rec.name.clone())
                .collect();
            for name in stale {
                g.routes.remove(&name);
                out.push(Output::Store(StoreOp::DeleteRoute {
                    group: g.name.to_string(),
                    name,
                }));
            }
        }
    }

    /// Forgets refs whose history rows the group no longer holds.
    pub(crate) fn prune_bridge_refs(&mut self) {
        for g in self.groups.values_mut() {
            let oldest = g.history.front().map_or(i64::MAX, |h| h.id);
            for r in g.routes.values_mut() {
                r.refs.retain(|_, row| *row >= oldest);
            }
        }
    }
}

/// Why a bridge definition is refused (config, command or API): one line
/// naming the key.
pub fn check_bridge(name: &str, platform: Platform, keys: &platform::Keys) -> Result<(), Msg> {
    if !super::names::is_valid_bridge_name(name) {
        return Err(Msg::new("bridge-bad-name", &[("name", name)]));
    }
    platform::validate(platform, keys)
}

/// A bridge's keys as `//bridges` shows them: secrets as `…`.
pub fn shown_keys(keys: &platform::Keys) -> String {
    keys.iter()
        .map(|(k, v)| {
            if platform::is_secret(k) {
                format!("{k}=…")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
