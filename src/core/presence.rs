//! Presence: the subscription handshake that makes members,
//! leaving, and which members are online per resource.

use minidom::Element;

use super::i18n::{self, t, Lang};
use super::model::{JoinPolicy, MemberRecord, MemberState, Millis, StoreOp};
use super::names;
use super::stanza::{self, Copy as Recipient, ErrorType, Fanout};
use super::{Core, Ctx, Group, Output, Target, STATUS_GAP_MS, UNSHOWN};

impl Core {
    /// At start and after every reconnect: the group's presence and a probe
    /// to every member, so we learn who is online without waiting.
    pub(crate) fn on_connected(&mut self, now: Millis, out: &mut Vec<Output>) {
        let latest = self.last_history_id;
        let cfg = &self.cfg;
        for g in self.groups.values_mut() {
            let glang = i18n::group_lang(cfg, &g.name);
            // The status shows the counts from before the connection
            // dropped, the best guess until the probe answers tell the
            // truth again (a refresh then corrects it where it changed).
            let counts = (g.online_count(), g.member_count());
            // Presence seen before the connection dropped is stale.
            for m in g.members.values_mut().filter(|m| m.online()) {
                m.resources.clear();
                m.rec.offline_seq = Some(latest);
                m.rec.last_seen = now;
                out.push(Output::Store(StoreOp::UpsertMember(m.rec.clone())));
            }
            g.status_shown = counts;
            g.status_at = now;
            g.status_mixed = false;
            g.status_touch(now);
            // Two stanzas per member, each serialized once per group (and
            // language).
            let mut presence: [Vec<Recipient>; 2] = Default::default();
            let mut probe = Fanout::new(stanza::presence_template(&g.jid, Some("probe")), None);
            let shown = shown_counts(counts);
            for m in g.members.values_mut().filter(|m| m.is_member()) {
                presence[m.lang(glang) as usize].push(copy_to(&m.rec.jid));
                probe.push(m.rec.jid.clone(), 0);
                m.shown = shown;
            }
            if !probe.copies.is_empty() {
                push_status(g, counts, presence, out);
                out.push(Output::Fanout(probe));
            }
        }
    }

    /// Pushes the group's status line (`Lobby — 2 of 5 online`) to the
    /// online members who were last shown other counts. Rate-limited per
    /// group (at least 3 s apart, and 10 ms per online member, so a big
    /// group costs at most about 100 presences a second); offline members
    /// get the current line when their server probes the group at their
    /// next login.
    pub(crate) fn refresh_status(&mut self, now: Millis, out: &mut Vec<Output>) {
        let cfg = &self.cfg;
        for g in self.groups.values_mut().filter(|g| g.status_dirty) {
            if now < g.status_next {
                continue; // Still settling.
            }
            let online = g.online_count();
            let counts = (online, g.member_count());
            if counts == g.status_shown && !g.status_mixed {
                g.status_dirty = false;
                continue;
            }
            let gap = (online as Millis * 10).max(STATUS_GAP_MS);
            if now - g.status_at < gap {
                g.status_next = g.status_at + gap;
                continue;
            }
            g.status_shown = counts;
            g.status_at = now;
            g.status_mixed = false;
            g.status_dirty = false;
            let glang = i18n::group_lang(cfg, &g.name);
            let mut presence: [Vec<Recipient>; 2] = Default::default();
            let shown = shown_counts(counts);
            for m in g.members.values_mut() {
                if m.is_member() && m.online() && m.shown != shown {
                    presence[m.lang(glang) as usize].push(copy_to(&m.rec.jid));
                    m.shown = shown;
                }
            }
            push_status(g, counts, presence, out);
        }
    }

    pub(crate) fn on_shutdown(&mut self, out: &mut Vec<Output>) {
        self.leave_all_rooms(out);
        for g in self.groups.values() {
            let mut gone = Fanout::new(
                stanza::presence_template(&g.presence_jid, Some("unavailable")),
                None,
            );
            for m in g.members.values().filter(|m| m.is_member()) {
                gone.push(m.rec.jid.clone(), 0);
            }
            if !gone.copies.is_empty() {
                out.push(Output::Fanout(gone));
            }
        }
    }

    pub(crate) fn on_presence(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        target: Target,
        el: &Element,
        out: &mut Vec<Output>,
    ) {
        let ptype = el.attr("type");
        let known = matches!(
            ptype,
            None | Some("unavailable")
                | Some("subscribe")
                | Some("subscribed")
                | Some("unsubscribe")
                | Some("unsubscribed")
                | Some("probe")
                | Some("error")
        );
        if !known {
            out.push(Output::Send(self.refusal(
                el,
                None,
                &ctx.from_bare,
                ErrorType::Modify,
                "bad-request",
                "err-presence-type",
            )));
            return;
        }
        if ptype == Some("error") {
            return;
        }
        let name = match target {
            Target::Group(n) => n,
            Target::Service => {
                match ptype {
                    Some("probe") => {
                        let from = format!("{}/{}", self.cfg.domain, super::GROUP_RESOURCE);
                        send_presence(out, &from, &ctx.from, None);
                    }
                    Some("subscribe") => {
                        let domain = self.cfg.domain.clone();
                        send_presence(out, &domain, &ctx.from_bare, Some("unsubscribed"));
                    }
                    _ => {}
                }
                return;
            }
            Target::Unknown => {
                if matches!(ptype, Some("subscribe") | Some("probe")) {
                    out.push(Output::Send(self.refusal(
                        el,
                        None,
                        &ctx.from_bare,
                        ErrorType::Cancel,
                        "item-not-found",
                        "err-no-group",
                    )));
                }
                return;
            }
        };
        match ptype {
            None => self.member_available(now, ctx, &name, Heard::Presence, out),
            Some("unavailable") => {
                self.member_unavailable(now, &name, &ctx.from_bare, ctx.from_res.as_deref(), out)
            }
            Some("subscribe") => self.on_subscribe(now, &ctx.from_bare, &name, out),
            Some("subscribed") => self.on_subscribed(now, &ctx.from_bare, &name, out),
            Some("unsubscribe") | Some("unsubscribed") => {
                self.remove_member(now, &name, &ctx.from_bare, Leave::Left, out)
            }
            Some("probe") => {
                let glang = self.group_lang(&name);
                let Some(g) = self.groups.get_mut(&name) else {
                    return;
                };
                if g.members.get(&ctx.from_bare).is_some_and(|m| m.is_member()) {
                    // Always answered, and to the probing resource only:
                    // it is a new session that has no presence of the
                    // group yet, while the member's other sessions have.
                    let counts = counts_for_probe(g, now);
                    let lang = g
                        .members
                        .get(&ctx.from_bare)
                        .map_or(glang, |m| m.lang(glang));
                    out.push(Output::Send(group_presence(g, &ctx.from, counts, lang)));
                    note_shown(g, &ctx.from_bare, counts);
                    // A probe from a full JID is a login (the user's server
                    // probes its contacts for the new session). It is the
                    // only sign of life from members whose client never
                    // accepted the group's own subscription request, so
                    // count that resource as online, pinged until it goes.
                    if ctx.from_res.is_some() {
                        self.member_available(now, ctx, &name, Heard::Inferred, out);
                    }
                } else {
                    // RFC 6121 §4.3.2: no subscription, say so.
                    send_presence(out, &g.jid, &ctx.from_bare, Some("unsubscribed"));
                }
            }
            Some(_) => {}
        }
    }

    /// A member's session is online: announced by its presence, or
    /// inferred from a probe or a message from its full JID.
    pub(crate) fn member_available(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        heard: Heard,
        out: &mut Vec<Output>,
    ) {
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let Some(m) = g.member_mut(&ctx.from_bare) else {
            return;
        };
        if !m.is_member() {
            return;
        }
        // Available presence from the bare JID (e.g. a delayed presence
        // after subscription approval) counts as one resource, the unknown
        // one (""), until a full JID names a real one: the unavailable
        // that ends that session comes from the full JID, and would leave
        // "" online for ever.
        let res = ctx.from_res.as_deref().unwrap_or_default();
        let came_online = !m.online();
        match heard {
            Heard::Presence => {
                if !res.is_empty() {
                    m.resources.remove("");
                } else if !came_online {
                    return; // Some resource is known online already.
                }
                m.resources.insert(res);
            }
            Heard::Inferred => {
                if res.is_empty() || !m.resources.infer(res, now) {
                    return;
                }
                let key = (name.to_string(), m.rec.jid.to_string());
                self.unconfirmed.insert(key);
            }
        }
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        if came_online {
            g.status_touch(now);
        }
        let Some(m) = g.members.get_mut(&ctx.from_bare) else {
            return;
        };
        // Back from offline with no status of the group: the next refresh
        // sends it, unless a probe answer does first. (Members who only
        // approved the group's request, without asking for its presence,
        // get no probe answer: their server sends none.)
        if came_online && m.shown == UNSHOWN {
            g.status_mixed = true;
        }
        if came_online {
            let since = m.rec.offline_seq.take();
            m.rec.last_seen = now;
            out.push(Output::Store(StoreOp::UpsertMember(m.rec.clone())));
            let jid = m.rec.jid.clone();
            let admin = m.rec.admin;
            if let Some(since) = since {
                self.catch_up(now, name, &jid, since, out);
            }
            if admin || self.is_service_admin(&jid) {
                self.remind_pending(name, &jid, out);
            }
        }
    }

    /// Pings the sessions known only from a probe or a message
    /// ([`Resources`]) that were not heard of for `ping_ms`: their servers
    /// answer with an error once they are gone.
    pub(crate) fn ping_unconfirmed(&mut self, now: Millis, out: &mut Vec<Output>) {
        let every = self.cfg.ping_ms;
        let mut done = Vec::new();
        let mut pings = Vec::new();
        for key in &self.unconfirmed {
            let Some((g, m)) = self
                .groups
                .get_mut(&key.0)
                .and_then(|g| g.members.get_mut(&key.1).map(|m| (&g.jid, m)))
            else {
                done.push(key.clone());
                continue;
            };
            if !m.resources.any_inferred() {
                done.push(key.clone());
                continue;
            }
            for res in m.resources.due(now, every) {
                pings.push((g.clone(), format!("{}/{res}", m.rec.jid)));
            }
        }
        for key in done {
            self.unconfirmed.remove(&key);
        }
        for (from, to) in pings {
            let id = format!("{PING_PREFIX}{}", self.sys_id());
            out.push(Output::Send(stanza::ping(&from, &to, &id)));
        }
    }

    /// The answer to one of those pings, from a member's full JID: an
    /// error means the session is gone (the server answers for it), a
    /// result that it is still there.
    pub(crate) fn on_ping_answer(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        error: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(res) = ctx.from_res.as_deref() else {
            return;
        };
        if error {
            self.member_unavailable(now, name, &ctx.from_bare, Some(res), out);
        } else if let Some(m) = self
            .groups
            .get_mut(name)
            .and_then(|g| g.member_mut(&ctx.from_bare))
        {
            m.resources.infer(res, now);
        }
    }

    /// Tells an admin who just came online about requests that wait, since
    /// the notice at request time only reached admins online then.
    fn remind_pending(&mut self, name: &str, admin: &str, out: &mut Vec<Output>) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let pending: Vec<&str> = g.pending().collect();
        if pending.is_empty() {
            return;
        }
        let text = t!(
            self.lang_of(name, admin),
            "pending-reminder",
            n = pending.len(),
            title = g.title.as_str(),
            jids = pending.join(", ")
        );
        let gjid = g.jid.clone();
        self.say(&gjid, admin, &text, out);
    }

    /// A member's session `res` (all of them for `None`) went offline.
    pub(crate) fn member_unavailable(
        &mut self,
        now: Millis,
        name: &str,
        jid: &str,
        res: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        let latest = self.last_history_id;
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let Some(m) = g.member_mut(jid) else {
            return;
        };
        if !m.online() {
            return;
        }
        match res {
            Some(r) => {
                m.resources.remove(r);
            }
            // Unavailable from the bare JID: no resource is online.
            None => m.resources.clear(),
        }
        if !m.online() {
            m.rec.offline_seq = Some(latest);
            m.rec.last_seen = now;
            // No session keeps the status it was shown.
            m.shown = UNSHOWN;
            out.push(Output::Store(StoreOp::UpsertMember(m.rec.clone())));
        }
    }

    /// A user asks to join (adds the group as a contact).
    fn on_subscribe(&mut self, now: Millis, jid: &str, name: &str, out: &mut Vec<Output>) {
        let service_admin = self.is_service_admin(jid);
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let gjid = g.jid.clone();
        if g.blacklist.contains(jid) && !service_admin {
            send_presence(out, &gjid, jid, Some("unsubscribed"));
            return;
        }
        let config_admin = g.config_admins.contains(jid);
        match g.members.get(jid).map(|m| m.rec.state) {
            Some(MemberState::Member) => {
                // Already a member (e.g. re-added the contact): confirm again.
                send_presence(out, &gjid, jid, Some("subscribed"));
                self.welcome_presence(name, jid, out);
            }
            Some(MemberState::Invited) => self.admit(now, name, jid, false, out),
            Some(MemberState::Pending) if service_admin || config_admin => {
                self.admit(now, name, jid, true, out)
            }
            Some(MemberState::Pending) => {
                let text = t!(
                    self.lang_of(name, jid),
                    "join-still-waiting",
                    title = g.title.as_str()
                );
                self.say(&gjid, jid, &text, out);
            }
            None if service_admin || config_admin => self.admit(now, name, jid, true, out),
            None => match g.join {
                JoinPolicy::Open => self.admit(now, name, jid, false, out),
                JoinPolicy::Invite => {
                    send_presence(out, &gjid, jid, Some("unsubscribed"));
                    let text = t!(
                        self.group_lang(name),
                        "join-invite-only",
                        title = g.title.as_str()
                    );
                    self.say(&gjid, jid, &text, out);
                }
                JoinPolicy::Approve => {
                    let title = g.title.clone();
                    let rec = self.new_member_record(now, name, jid, MemberState::Pending, false);
                    out.push(Output::Store(StoreOp::UpsertMember(rec.clone())));
                    let Some(g) = self.groups.get_mut(name) else {
                        return;
                    };
                    g.put_member(rec);
                    self.event(
                        name,
                        "pending",
                        None,
                        || serde_json::json!({ "jid": jid }),
                        out,
                    );
                    let text = t!(
                        self.lang_of(name, jid),
                        "join-waiting",
                        title = title.as_str()
                    );
                    self.say(&gjid, jid, &text, out);
                    for admin in self.online_admins(name) {
                        let notice = t!(self.lang_of(name, &admin), "notice-asks", jid = jid);
                        self.say(&gjid, &admin, &notice, out);
                    }
                }
            },
        }
    }

    /// The user accepted the group's own subscription request.
    fn on_subscribed(&mut self, now: Millis, jid: &str, name: &str, out: &mut Vec<Output>) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        if g.members.get(jid).map(|m| m.rec.state) == Some(MemberState::Invited) {
            self.admit(now, name, jid, false, out);
        }
    }

    /// Makes `jid` a member: `subscribed`, our own `subscribe`, presence,
    /// welcome, and an announcement to the others.
    pub(crate) fn admit(
        &mut self,
        now: Millis,
        name: &str,
        jid: &str,
        admin: bool,
        out: &mut Vec<Output>,
    ) {
        self.acknowledged = true;
        let existing = self
            .groups
            .get(name)
            .and_then(|g| g.members.get(jid))
            .map(|m| m.rec.clone());
        let rec = match existing {
            Some(mut r) => {
                r.state = MemberState::Member;
                r.admin |= admin;
                r.joined_at = now;
                r.offline_seq = Some(self.last_history_id);
                r
            }
            None => self.new_member_record(now, name, jid, MemberState::Member, admin),
        };
        out.push(Output::Store(StoreOp::UpsertMember(rec.clone())));
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let nick = rec.nick.clone();
        let fid = rec.fid.clone();
        g.put_member(rec);
        let (ev_jid, ev_nick) = (jid.to_string(), nick.clone());
        self.event(
            name,
            "join",
            None,
            || serde_json::json!({ "jid": ev_jid, "nick": ev_nick }),
            out,
        );
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let gjid = g.jid.clone();
        let title = g.title.clone();
        let count = g.member_count();
        send_presence(out, &gjid, jid, Some("subscribed"));
        out.push(Output::Send(subscribe_with_title(&gjid, jid, &title)));
        self.welcome_presence(name, jid, out);
        let welcome = t!(
            self.lang_of(name, jid),
            "welcome",
            title = title.as_str(),
            count = count,
            nick = nick.as_str(),
            fid = fid.as_str()
        );
        self.say(&gjid, jid, &welcome, out);
        self.announce(
            now,
            name,
            Some(jid),
            &|l| t!(l, "notice-joined", nick = nick.as_str()),
            out,
        );
    }

    pub(crate) fn new_member_record(
        &mut self,
        now: Millis,
        group: &str,
        jid: &str,
        state: MemberState,
        admin: bool,
    ) -> MemberRecord {
        self.last_member_id += 1;
        let (nick, fid, group) = match self.groups.get(group) {
            Some(g) => {
                let (nick, fid) = g.default_names(jid);
                (nick, fid, g.name.clone())
            }
            None => (
                names::default_handle(jid),
                names::default_handle(jid),
                group.into(),
            ),
        };
        MemberRecord {
            id: self.last_member_id,
            group,
            jid: jid.into(),
            state,
            admin,
            nick,
            fid,
            fid_changed: false,
            muted: false,
            stop_until: None,
            joined_at: now,
            last_seen: now,
            offline_seq: Some(self.last_history_id),
            lang: None,
        }
    }

    /// Removes `jid` from the group (membership, pending or invitation),
    /// cancels both subscriptions and tells the others.
    pub(crate) fn remove_member(
        &mut self,
        now: Millis,
        name: &str,
        jid: &str,
        why: Leave,
        out: &mut Vec<Output>,
    ) {
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let Some(m) = g.take_member(jid) else {
            return;
        };
        // Membership changes are durable on power loss, told or not.
        self.acknowledged = true;
        let lang = m
            .rec
            .lang
            .or(m.client_lang)
            .unwrap_or(self.group_lang(name));
        let was = m.rec.state.as_str();
        self.event(
            name,
            "leave",
            None,
            || serde_json::json!({ "jid": jid, "was": was }),
            out,
        );
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let gjid = g.jid.clone();
        let title = g.title.clone();
        out.push(Output::Store(StoreOp::DeleteMember {
            group: name.to_string(),
            jid: jid.to_string(),
        }));
        send_presence(out, &gjid, jid, Some("unsubscribed"));
        send_presence(out, &gjid, jid, Some("unsubscribe"));
        let was_member = m.rec.state == MemberState::Member;
        match why {
            Leave::Left => {}
            Leave::LeftByCommand => {
                let text = t!(lang, "left", title = title.as_str());
                self.say(&gjid, jid, &text, out)
            }
            Leave::Kicked => {
                let text = t!(lang, "removed", title = title.as_str());
                self.say(&gjid, jid, &text, out)
            }
        }
        if was_member {
            let id = match why {
                Leave::Left | Leave::LeftByCommand => "notice-left",
                Leave::Kicked => "notice-removed",
            };
            let nick = m.rec.nick.as_str();
            self.announce(now, name, None, &|l| t!(l, id, nick = nick), out);
            if m.rec.admin {
                self.ensure_admin(name, out);
            }
        }
    }

    /// A group whose last admin went is not left unmanaged: its
    /// longest-standing member becomes admin and is told so.
    fn ensure_admin(&mut self, name: &str, out: &mut Vec<Output>) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let members = || g.members.values().filter(|m| m.is_member());
        if members().any(|m| m.rec.admin) {
            return;
        }
        let Some(heir) = members()
            .min_by_key(|m| (m.rec.joined_at, m.rec.id))
            .map(|m| m.rec.jid.clone())
        else {
            return;
        };
        let (gjid, title) = (g.jid.clone(), g.title.clone());
        self.update_member(name, &heir, out, |m| {
            m.admin = true;
            Some(())
        });
        let text = t!(
            self.lang_of(name, &heir),
            "new-admin",
            title = title.as_str()
        );
        self.say(&gjid, &heir, &text, out);
    }

    /// Online admins of the group (members with the admin flag, and service
    /// admins who are members).
    pub(crate) fn online_admins(&self, name: &str) -> Vec<String> {
        let Some(g) = self.groups.get(name) else {
            return Vec::new();
        };
        g.members
            .values()
            .filter(|m| {
                m.is_member() && m.online() && (m.rec.admin || self.is_service_admin(&m.rec.jid))
            })
            .map(|m| m.rec.jid.to_string())
            .collect()
    }

    /// A line from the group itself to every online, not stopped member
    /// except `except`, each in their language (`text` makes it in one).
    pub(crate) fn announce(
        &mut self,
        now: Millis,
        name: &str,
        except: Option<&str>,
        text: &dyn Fn(Lang) -> String,
        out: &mut Vec<Output>,
    ) {
        // One stanza per language serialized once, not an element per
        // member (a join into a group of 10 000 online members took 28 ms
        // that way).
        let id = self.sys_id();
        let default = self.group_lang(name);
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let mut fanouts: Vec<(Lang, Fanout)> = Vec::new();
        let to = g.members.values().filter(|m| {
            m.is_member() && m.online() && !m.stopped(now) && Some(&*m.rec.jid) != except
        });
        for (n, m) in to.enumerate() {
            let lang = m.rec.lang.or(m.client_lang).unwrap_or(default);
            let i = match fanouts.iter().position(|(l, _)| *l == lang) {
                Some(i) => i,
                None => {
                    let e = stanza::chat_template(&g.jid, &text(lang));
                    fanouts.push((lang, Fanout::new(e, Some(format!("{id}-")))));
                    fanouts.len() - 1
                }
            };
            fanouts[i].1.push(m.rec.jid.clone(), n as i64);
        }
        if fanouts.is_empty() {
            return;
        }
        self.acknowledged = true;
        out.extend(fanouts.into_iter().map(|(_, f)| Output::Fanout(f)));
    }
}

/// How the group learned that a member's session is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    /// Its presence: the server will say when it goes.
    Presence,
    /// A probe or a message from its full JID: nobody will say when it
    /// goes, so it is pinged.
    Inferred,
}

/// The id prefix of the pings that check inferred sessions.
pub(crate) const PING_PREFIX: &str = "tgping-";

/// Why a member is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leave {
    /// Removed the contact (unsubscribe / unsubscribed).
    Left,
    /// `//leave`.
    LeftByCommand,
    /// `//kick` or `//blacklist`.
    Kicked,
}

/// Queues a presence stanza (`type_` `None` is available).
pub(crate) fn send_presence(out: &mut Vec<Output>, from: &str, to: &str, type_: Option<&str>) {
    out.push(Output::Send(stanza::presence(from, to, type_)));
}

/// The counts for a probe answer, at most a second old: at a login storm
/// every member's server probes the group, and counting a big group for
/// each answer made that quadratic (100 000 logins into a group of
/// 100 000: ~10¹⁰ member visits).
pub(crate) fn counts_for_probe(g: &Group, now: Millis) -> (usize, usize) {
    match g.counted.get() {
        Some((at, online, members)) if now - at < 1_000 && now >= at => (online, members),
        _ => {
            let counts = (g.online_count(), g.member_count());
            g.counted.set(Some((now, counts.0, counts.1)));
            counts
        }
    }
}

/// "Lobby — 2 of 5 online".
pub(crate) fn status_text(g: &Group, (online, members): (usize, usize), lang: Lang) -> String {
    t!(
        lang,
        "status-line",
        title = g.title.as_str(),
        online = online,
        members = members
    )
}

/// The group's presence with the status line, one fanout per language
/// (indexed by `Lang as usize`); the recipients are added by the caller.
/// The status presence, one fanout per language that has recipients
/// (`copies`, by `Lang as usize`): a language nobody reads costs nothing.
fn push_status(
    g: &Group,
    counts: (usize, usize),
    copies: [Vec<Recipient>; 2],
    out: &mut Vec<Output>,
) {
    for (lang, copies) in Lang::ALL.into_iter().zip(copies) {
        if !copies.is_empty() {
            let mut f = Fanout::new(group_presence_template(g, counts, lang), None);
            f.copies = copies;
            out.push(Output::Fanout(f));
        }
    }
}

fn copy_to(jid: &std::sync::Arc<str>) -> Recipient {
    Recipient {
        to: jid.clone(),
        n: 0,
    }
}

/// Counts as a member records them (see [`Member::shown`]).
fn shown_counts((online, members): (usize, usize)) -> (u32, u32) {
    let c = |n: usize| u32::try_from(n).unwrap_or(u32::MAX - 1);
    (c(online), c(members))
}

/// Records that `jid` was sent the status with `counts`.
fn note_shown(g: &mut Group, jid: &str, counts: (usize, usize)) {
    if let Some(m) = g.member_mut(jid) {
        m.shown = shown_counts(counts);
    }
    if counts != g.status_shown {
        g.status_mixed = true;
    }
}

/// The group's available presence to `to`, from its full JID, with the
/// status line and the avatar's hash.
pub(crate) fn group_presence(g: &Group, to: &str, counts: (usize, usize), lang: Lang) -> Element {
    let mut p = group_presence_template(g, counts, lang);
    stanza::set_attr(&mut p, "to", to);
    p
}

/// The same without `to`, for a fanout.
fn group_presence_template(g: &Group, counts: (usize, usize), lang: Lang) -> Element {
    let mut p = stanza::presence_template(&g.presence_jid, None);
    p.append_child(stanza::text_child(
        "status",
        stanza::NS_COMPONENT,
        &status_text(g, counts, lang),
    ));
    // XEP-0153: the hash of the vCard PHOTO, so clients fetch the picture.
    p.append_child(
        Element::builder("x", stanza::NS_VCARD_UPDATE)
            .append(stanza::text_child(
                "photo",
                stanza::NS_VCARD_UPDATE,
                &g.avatar.hash,
            ))
            .build(),
    );
    p
}

/// The group's subscription request, with its title as XEP-0172
/// `<nick/>`: clients suggest the new contact's name from it.
pub(crate) fn subscribe_with_title(from: &str, to: &str, title: &str) -> Element {
    let mut p = stanza::presence(from, to, Some("subscribe"));
    p.append_child(stanza::text_child("nick", stanza::NS_NICK, title));
    p
}

impl Core {
    /// The group's presence to a member it just confirmed, counting them
    /// as online: they are (they just asked), though their own presence
    /// has not arrived yet.
    fn welcome_presence(&mut self, name: &str, jid: &str, out: &mut Vec<Output>) {
        let glang = self.group_lang(name);
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let Some(m) = g.members.get(jid) else {
            return;
        };
        let counts = (
            g.online_count() + usize::from(!m.online()),
            g.member_count(),
        );
        // A client that asks again (Dino sends `subscribe` after accepting
        // the group's request) already has this status: presence to the
        // bare JID reaches every online session.
        if m.online() && m.shown == shown_counts(counts) {
            return;
        }
        out.push(Output::Send(group_presence(g, jid, counts, m.lang(glang))));
        note_shown(g, jid, counts);
    }
}
