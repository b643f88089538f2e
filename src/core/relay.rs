//! Relaying: who gets a member's message, how it reads, flood
//! control, offline catch-up, and rewriting message references so each
//! recipient sees the ids it knows.

use minidom::Element;

use super::command;
use super::i18n::{self, t};
use super::model::RouteMessage;
use super::model::{HistoryRecord, MemberState, Millis, StoreOp};
use super::presence::Heard;
use super::stanza::{self, Attr, Fanout, NS_COMPONENT};
use super::text::{self, format_line};
use super::OfflineMode;
use super::{Core, Ctx, Group, Member, Output};

/// Payload namespaces a recipient can use; everything else the sender
/// attached (chat states, receipt requests, markers, …) was meant for the
/// group and is dropped.
const KEPT: &[&str] = &[
    stanza::NS_OOB,
    stanza::NS_REPLY,
    stanza::NS_CORRECT,
    stanza::NS_RETRACT,
    stanza::NS_RETRACT_0,
    stanza::NS_REACTIONS,
];

/// The id a recipient (member id `rid`) sees for history row `seq`.
pub(crate) fn copy_id(seq: i64, rid: i64) -> String {
    format!("{}{rid}", copy_id_prefix(seq))
}

/// `copy_id` without the member id (a fanout's `id_prefix`).
pub(crate) fn copy_id_prefix(seq: i64) -> String {
    format!("tgm-{seq}-")
}

/// The number in the copy id member `m` gets: their own, or 0 for all
/// when copies share one id (see `CoreConfig::shared_copy_ids`).
pub(crate) fn copy_n(shared: bool, m: &Member) -> i64 {
    if shared {
        0
    } else {
        m.rec.id
    }
}

/// The history row a copy id points at.
pub(crate) fn parse_copy_id(id: &str) -> Option<i64> {
    id.strip_prefix("tgm-")?.split('-').next()?.parse().ok()
}

/// Whether member `m` gets a message from `sender` (a bare JID, or
/// `route:NAME`) now: a member, not the sender, not blocking them, not
/// stopped, and online (or the server stores for offline members).
pub(crate) fn receives(m: &Member, sender: &str, now: Millis, mode: OfflineMode) -> bool {
    m.is_member()
        && *m.rec.jid != *sender
        && !m.blocks.contains(sender)
        && !m.stopped(now)
        && (m.online() || mode == OfflineMode::Server)
}

impl Core {
    pub(crate) fn on_group_message(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        el: &Element,
        out: &mut Vec<Output>,
    ) {
        // Anything a member sends from a session shows it is online: the
        // only sign of it from members who never accepted the group's
        // contact request (their server sends the group no presence).
        if ctx.from_res.is_some() {
            self.member_available(now, ctx, name, Heard::Inferred, out);
        }
        // Replies follow the language the member's client is set to
        // (unless they chose one with //lang; see `i18n::client_lang`).
        if i18n::stanza_lang(el).is_some() {
            let m = (self.groups.get_mut(name)).and_then(|g| g.members.get_mut(&ctx.from_bare));
            if let Some(m) = m {
                m.client_lang = i18n::client_lang(el);
            }
        }
        let body = stanza::body(el);
        // A command may come as a reply (`//delete` names what it answers).
        let reply = body
            .as_deref()
            .and_then(|b| super::moderate::reply_parts(el, b));
        let typed = reply.as_ref().map(|(_, b)| b.as_str()).or(body.as_deref());
        if let Some(cmd) = typed.and_then(command::command_text) {
            match &reply {
                Some((target, _)) if command::split(cmd).0 == "delete" => {
                    self.cmd_delete_reply(now, ctx, name, target, out)
                }
                _ => self.on_command(now, ctx, name, cmd, out),
            }
            self.answer_receipt(ctx, name, el, out);
            return;
        }
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let gjid = g.jid.clone();
        let state = g.members.get(&ctx.from_bare).map(|m| m.rec.state);
        if state != Some(MemberState::Member) {
            if body.is_none() {
                return; // Chat states and the like from strangers: ignore.
            }
            let title = g.title.clone();
            if !self.may_answer_stranger(now, name, &ctx.from_bare) {
                return;
            }
            // Their client's language, else the group's.
            let lang = i18n::client_lang(el).unwrap_or_else(|| self.lang_of(name, &ctx.from_bare));
            let text = match state {
                Some(MemberState::Pending) => t!(lang, "stranger-pending", title = title.as_str()),
                Some(MemberState::Invited) => t!(lang, "stranger-invited", title = title.as_str()),
                _ => t!(
                    lang,
                    "stranger",
                    title = title.as_str(),
                    gjid = gjid.as_str()
                ),
            };
            self.say(&gjid, &ctx.from, &text, out);
            return;
        }
        let has_payload = el.children().any(|c| KEPT.contains(&c.ns().as_str()));
        let blank = body.as_deref().is_none_or(|b| b.trim().is_empty());
        if blank && !has_payload {
            // Chat states, receipts, markers, empty bodies: nothing to say.
            return;
        }
        let has_body = body.is_some();
        let text = body.unwrap_or_default();
        // Checks that refuse.
        let Some(m) = g.members.get(&ctx.from_bare) else {
            return;
        };
        if m.rec.muted {
            self.say(
                &gjid,
                &ctx.from,
                &t!(self.lang_of(name, &ctx.from_bare), "muted"),
                out,
            );
            return;
        }
        let len = text.chars().count();
        if len > self.cfg.max_body {
            let max = self.cfg.max_body;
            self.say(
                &gjid,
                &ctx.from,
                &t!(
                    self.lang_of(name, &ctx.from_bare),
                    "too-long",
                    len = len,
                    max = max
                ),
                out,
            );
            return;
        }
        // Corrections and retractions: only of one's own messages.
        let replace_of =
            stanza::child(el, "replace", stanza::NS_CORRECT).and_then(|r| r.attr("id"));
        let retract = stanza::child(el, "retract", stanza::NS_RETRACT)
            .or_else(|| stanza::child(el, "retract", stanza::NS_RETRACT_0));
        let retract_of = retract.and_then(|r| r.attr("id"));
        for target in [replace_of, retract_of].into_iter().flatten() {
            if parse_copy_id(target).is_some() {
                self.say(
                    &gjid,
                    &ctx.from,
                    &t!(self.lang_of(name, &ctx.from_bare), "only-own"),
                    out,
                );
                return;
            }
        }
        // Which of the sender's own messages do they mean?
        let own = |id: &str| {
            (self.groups.get(name))
                .and_then(|g| g.own_row(&ctx.from_bare, id))
                .map(|h| h.id)
        };
        let retracts = retract_of.map(own);
        if retracts == Some(None) {
            self.say(
                &gjid,
                &ctx.from,
                &t!(self.lang_of(name, &ctx.from_bare), "retract-unknown"),
                out,
            );
            return;
        }
        // A correction of a message we do not know is relayed as a new one.
        let corrects = replace_of.map(own);
        let change = match (retracts, corrects) {
            (Some(Some(row)), _) => Change::Retract(row),
            (_, Some(Some(row))) => Change::Correct(row),
            (_, Some(None)) => Change::New { drop_replace: true },
            _ => Change::New {
                drop_replace: false,
            },
        };
        if !self.flood_ok(now, name, &ctx.from_bare, &gjid, &ctx.from, out) {
            return;
        }
        let shape = Shape {
            has_body,
            is_retraction: retract.is_some(),
        };
        self.relay(now, ctx, name, el, &text, shape, change, out);
        self.answer_receipt(ctx, name, el, out);
    }

    /// Sliding-window flood control: true when the message may go.
    fn flood_ok(
        &mut self,
        now: Millis,
        name: &str,
        jid: &str,
        gjid: &str,
        from: &str,
        out: &mut Vec<Output>,
    ) -> bool {
        let (burst, window) = (self.cfg.burst, self.cfg.window_ms);
        let Some(m) = self.groups.get_mut(name).and_then(|g| g.member_mut(jid)) else {
            return false;
        };
        let f = m.flood.get_or_insert_default();
        while f.recent.front().is_some_and(|t| *t <= now - window) {
            f.recent.pop_front();
        }
        if f.recent.len() < burst {
            f.recent.push_back(now);
            return true;
        }
        let warn = f.warned_at.is_none_or(|t| now - t >= window);
        if warn {
            f.warned_at = Some(now);
            let secs = window / 1000;
            self.say(
                gjid,
                from,
                &t!(self.lang_of(name, jid), "flood", burst = burst, secs = secs),
                out,
            );
        }
        false
    }

    /// XEP-0184: the group confirms receipt itself; receipts are never fanned out.
    fn answer_receipt(&mut self, ctx: &Ctx, name: &str, el: &Element, out: &mut Vec<Output>) {
        if stanza::child(el, "request", stanza::NS_RECEIPTS).is_none() {
            return;
        }
        let Some(id) = el.attr("id") else {
            return;
        };
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let r = Element::builder("message", NS_COMPONENT)
            .a("from", g.jid.as_str())
            .a("to", ctx.from.as_str())
            .a("id", self.sys_id())
            .append(
                Element::builder("received", stanza::NS_RECEIPTS)
                    .a("id", id)
                    .build(),
            )
            .build();
        out.push(Output::Send(r));
    }

    /// Rebroadcasts a member's message to every member who should get it now.
    #[allow(clippy::too_many_arguments)]
    fn relay(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        el: &Element,
        text: &str,
        shape: Shape,
        change: Change,
        out: &mut Vec<Output>,
    ) {
        let Shape {
            has_body,
            is_retraction,
        } = shape;
        let drop_replace = change == Change::New { drop_replace: true };
        let offline_mode = self.cfg.offline;
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let Some(sender) = g.members.get(&ctx.from_bare) else {
            return;
        };
        let nick = sender.rec.nick.clone();
        let origin_id = el.attr("id").map(str::to_string);
        // A correction or retraction changes the row it refers to instead
        // of adding one: `//history` and catch-up show each message once.
        let is_new = matches!(change, Change::New { .. });
        let seq = if has_body && !is_retraction && is_new {
            self.last_history_id += 1;
            Some(self.last_history_id)
        } else {
            None
        };
        // Copies of body-less payloads (reactions, retractions) get ids of
        // their own: they are not history rows.
        let tag = self.sys_id();
        let shared = self.cfg.shared_copy_ids;
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let oob_url = stanza::child(el, "x", stanza::NS_OOB)
            .and_then(|x| stanza::child(x, "url", stanza::NS_OOB))
            .map(|u| u.text());
        let shares_file = oob_url.as_deref().is_some_and(|u| u.trim() == text.trim());
        let line = format_line(&nick, text);
        let payloads: Vec<&Element> = el
            .children()
            .filter(|c| KEPT.contains(&c.ns().as_str()))
            .filter(|c| !(drop_replace && c.name() == "replace" && c.ns() == stanza::NS_CORRECT))
            .collect();
        let id_prefix = match seq {
            Some(s) => copy_id_prefix(s),
            None => format!("{tag}-"),
        };
        let per_recipient = shares_file || payloads.iter().any(|p| is_ref(p));
        let mut sent = 0u64;
        if !per_recipient {
            // The common case: one stanza, serialized once, `to` and `id`
            // patched per copy.
            let mut b = Element::builder("message", NS_COMPONENT)
                .a("type", "chat")
                .a("from", g.jid.as_str());
            if has_body {
                b = b.append(stanza::text_child("body", NS_COMPONENT, &line));
            }
            b = b.append(stanza::text_child("nick", stanza::NS_NICK, &nick));
            for p in &payloads {
                b = b.append((*p).clone());
            }
            let mut f = Fanout::new(b.build(), Some(id_prefix.clone()));
            for m in g.members.values() {
                if receives(m, &ctx.from_bare, now, offline_mode) {
                    f.push(m.rec.jid.clone(), copy_n(shared, m));
                }
            }
            sent = f.copies.len() as u64;
            if sent > 0 {
                out.push(Output::Fanout(f));
            }
        }
        for m in g.members.values() {
            if !per_recipient || !receives(m, &ctx.from_bare, now, offline_mode) {
                continue;
            }
            let n = copy_n(shared, m);
            let id = format!("{id_prefix}{n}");
            let mut b = Element::builder("message", NS_COMPONENT)
                .a("type", "chat")
                .a("from", g.jid.as_str())
                .a("to", &*m.rec.jid)
                .a("id", id);
            if has_body {
                let shown = if shares_file { text } else { line.as_str() };
                b = b.append(stanza::text_child("body", NS_COMPONENT, shown));
            }
            b = b.append(stanza::text_child("nick", stanza::NS_NICK, &nick));
            for p in &payloads {
                b = b.append(rewrite_ref(g, p, &ctx.from_bare, n, &m.rec.jid));
            }
            if shares_file {
                // The nick line first, then the file with its exact URL body.
                let pre = stanza::chat(
                    &g.jid,
                    &m.rec.jid,
                    &format!("tgf-{}-{n}", seq.unwrap_or(0)),
                    &format!("[{nick}] shared a file:"),
                );
                out.push(Output::Send(pre));
            }
            out.push(Output::Send(b.build()));
            sent += 1;
        }
        self.relayed += sent;
        match change {
            Change::Correct(row) => {
                if self.has_send_routes(name) {
                    // Rooms get a correction of their copy; routes have
                    // none: the far side gets the corrected text as a
                    // message of its own.
                    let id = text::edit_id(&self.instance_id, row, now);
                    let msg = self.route_message(id, &g.jid, &nick, text, now);
                    self.correct_in_rooms(name, row, &nick, text, out);
                    self.queue_for_routes(now, name, &msg, None, out);
                }
                self.edit_history(name, row, Some(text), now, out);
                return;
            }
            Change::Retract(row) => {
                self.retract_in_rooms(name, row, out);
                self.edit_history(name, row, None, now, out);
                return;
            }
            Change::New { .. } => {}
        }
        if let Some(seq) = seq {
            if self.has_send_routes(name) {
                let id = text::message_id(&self.instance_id, seq);
                let msg = self.route_message(id, &g.jid, &nick, text, now);
                let speaker = g.members.get(&ctx.from_bare).map(|m| super::muc::Speaker {
                    fid: m.rec.fid.clone(),
                    nick: nick.clone(),
                });
                self.forward_as(now, name, &msg, None, speaker.as_ref(), out);
            }
            let rec = HistoryRecord {
                id: seq,
                group: name.to_string(),
                sender: ctx.from_bare.clone(),
                nick,
                text: text.to_string(),
                at: now,
                origin_id,
                edited_at: None,
                removed: false,
            };
            self.push_history(name, rec, out);
        }
    }

    /// What a member said, as send routes carry it (this instance first
    /// on its trail).
    pub(crate) fn route_message(
        &self,
        id: String,
        origin: &str,
        nick: &str,
        body: &str,
        now: Millis,
    ) -> RouteMessage {
        RouteMessage {
            id,
            origin: origin.to_string(),
            nick: nick.to_string(),
            body: body.to_string(),
            sent_at: now,
            trail: vec![self.instance_id.clone(), origin.to_string()],
        }
    }

    /// Corrects (`text`) or removes (`None`) history row `row`, in memory
    /// and in the store.
    pub(crate) fn edit_history(
        &mut self,
        name: &str,
        row: i64,
        text: Option<&str>,
        now: Millis,
        out: &mut Vec<Output>,
    ) {
        if let Some(h) = self.groups.get_mut(name).and_then(|g| g.row_mut(row)) {
            match text {
                Some(t) => {
                    h.text = t.to_string();
                    h.edited_at = Some(now);
                }
                None => {
                    h.text.clear();
                    h.removed = true;
                }
            }
        }
        out.push(Output::Store(match text {
            Some(t) => StoreOp::EditHistory {
                id: row,
                text: t.to_string(),
                at: now,
            },
            None => StoreOp::RemoveHistory { id: row },
        }));
    }

    /// Sends `jid` what was said in the group since history id `since`
    /// (excluding their own messages, blocked senders, and what was said
    /// while they had stopped the group), newest `catchup_max` of it,
    /// oldest first, with delay stamps.
    pub(crate) fn catch_up(
        &mut self,
        now: Millis,
        name: &str,
        jid: &str,
        since: i64,
        out: &mut Vec<Output>,
    ) {
        if self.cfg.offline != OfflineMode::Catchup {
            return;
        }
        let max = self.cfg.catchup_max;
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let Some(m) = g.members.get(jid) else {
            return;
        };
        let stop_until = m.rec.stop_until.unwrap_or(i64::MIN);
        if m.stopped(now) {
            return;
        }
        let missed: Vec<&HistoryRecord> = g
            .history
            .iter()
            .filter(|h| {
                h.id > since
                    && !h.removed
                    && h.sender != jid
                    && !m.blocks.contains(&h.sender)
                    && h.at >= stop_until
            })
            .collect();
        if missed.is_empty() {
            return;
        }
        let skipped = missed.len().saturating_sub(max);
        let mut msgs = Vec::new();
        for h in &missed[skipped..] {
            let mut e = stanza::chat(
                &g.jid,
                jid,
                &copy_id(h.id, copy_n(self.cfg.shared_copy_ids, m)),
                &format_line(&h.nick, &h.text),
            );
            e.append_child(stanza::text_child("nick", stanza::NS_NICK, &h.nick));
            e.append_child(
                Element::builder("delay", stanza::NS_DELAY)
                    .a("from", g.jid.as_str())
                    .a("stamp", stanza::xep0082(h.at))
                    .build(),
            );
            msgs.push(e);
        }
        let gjid = g.jid.clone();
        out.extend(msgs.into_iter().map(Output::Send));
        if skipped > 0 {
            let n = (skipped + max).min(200);
            self.say(
                &gjid,
                jid,
                &t!(
                    self.lang_of(name, jid),
                    "catchup-more",
                    skipped = skipped,
                    n = n
                ),
                out,
            );
        }
    }

    /// Messages to the bare service domain: commands (service commands for
    /// service admins); for anything else, the groups one can join.
    pub(crate) fn on_service_message(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        el: &Element,
        out: &mut Vec<Output>,
    ) {
        let Some(body) = stanza::body(el) else {
            return;
        };
        // The bare domain has no members: the message's language, else
        // the service's.
        let lang = i18n::client_lang(el).unwrap_or(self.cfg.lang);
        if let Some(cmd) = command::command_text(&body) {
            self.on_service_command(now, ctx, cmd, lang, out);
            return;
        }
        let domain = self.cfg.domain.clone();
        if !self.is_service_admin(&ctx.from_bare)
            && !self.may_answer_stranger(now, &domain, &ctx.from_bare)
        {
            return;
        }
        let text = self.groups_for(&ctx.from_bare, lang);
        self.say(&domain, &ctx.from, &text, out);
    }

    /// The groups `jid` is in, waits for, and can join (open and approve
    /// groups they are not in; invite-only groups stay unlisted).
    pub(crate) fn groups_for(&self, jid: &str, lang: i18n::Lang) -> String {
        let state = |g: &Group| g.members.get(jid).map(|m| m.rec.state);
        let line = |g: &Group| format!("{} — {}", g.jid, g.title);
        let mut sections = Vec::new();
        let mine: Vec<String> = (self.groups.values())
            .filter(|g| state(g) == Some(MemberState::Member))
            .map(line)
            .collect();
        if !mine.is_empty() {
            sections.push(format!("{}\n{}", t!(lang, "groups-mine"), mine.join("\n")));
        }
        let waiting: Vec<String> = (self.groups.values())
            .filter(|g| state(g) == Some(MemberState::Pending))
            .map(line)
            .collect();
        if !waiting.is_empty() {
            sections.push(format!(
                "{}\n{}",
                t!(lang, "groups-waiting"),
                waiting.join("\n")
            ));
        }
        let joinable: Vec<String> = (self.groups.values())
            .filter(|g| g.join != super::model::JoinPolicy::Invite && state(g).is_none())
            .map(|g| {
                t!(
                    lang,
                    "groups-joinable-line",
                    jid = g.jid.as_str(),
                    title = g.title.as_str(),
                    join = t!(lang, &format!("join-{}", g.join.as_str())),
                    members = g.member_count()
                )
            })
            .collect();
        if joinable.is_empty() {
            sections.push(t!(lang, "groups-none-open"));
        } else {
            sections.push(format!(
                "{}\n{}",
                t!(lang, "groups-joinable"),
                joinable.join("\n")
            ));
        }
        sections.join("\n\n")
    }
}

/// What the message carries, as `on_group_message` found it (not looked
/// up again on the relay's path).
#[derive(Debug, Clone, Copy)]
struct Shape {
    has_body: bool,
    is_retraction: bool,
}

/// What a member's message does to the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// A new message (a row of its own). `drop_replace`: it claims to
    /// correct a message that is unknown here, so it goes out as new.
    New { drop_replace: bool },
    /// Corrects the sender's own row.
    Correct(i64),
    /// Retracts the sender's own row.
    Retract(i64),
}

/// Whether a payload references a message by id (and so reads differently
/// for each recipient).
pub(crate) fn is_ref(p: &Element) -> bool {
    let ns = p.ns();
    p.attr("id").is_some()
        && (ns == stanza::NS_REPLY
            || ns == stanza::NS_CORRECT
            || ns == stanza::NS_RETRACT
            || ns == stanza::NS_RETRACT_0
            || ns == stanza::NS_REACTIONS)
}

/// Rewrites a payload that references a message by id (reply, correction,
/// retraction, reaction) to the id recipient `rid` knows. Other payloads
/// are copied as they are.
fn rewrite_ref(g: &Group, p: &Element, sender: &str, rid: i64, rjid: &str) -> Element {
    let mut p = p.clone();
    let ns = p.ns();
    if !is_ref(&p) {
        return p;
    }
    let Some(id) = p.attr("id").map(str::to_string) else {
        return p;
    };
    // Which history row does the sender mean?
    let own_only = ns != stanza::NS_REPLY && ns != stanza::NS_REACTIONS;
    let seq = match parse_copy_id(&id) {
        Some(s) if !own_only => Some(s),
        Some(_) => None,
        None => g.own_row(sender, &id).map(|h| h.id),
    };
    let Some(seq) = seq else {
        return p;
    };
    let author = g.row(seq);
    let new_id = match author {
        Some(h) if h.sender == rjid => h.origin_id.clone().unwrap_or_else(|| copy_id(seq, rid)),
        _ => copy_id(seq, rid),
    };
    stanza::set_attr(&mut p, "id", new_id);
    if ns == stanza::NS_REPLY {
        stanza::set_attr(&mut p, "to", g.jid.as_str());
    }
    p
}
