//! Rooms in the core (XEP-0045; docs/behaviour.md "Rooms"): a group joins
//! each room it is bridged with as one occupant, from the full JID
//! `group@domain/NAME`, and both become one conversation. The occupancy is
//! a small state machine driven by stanzas from the room, the connection
//! and the clock: waiting (with a backoff) → joining → joined, or failed
//! for good (banned, destroyed, members-only, wrong password). A
//! self-ping (XEP-0410) after five minutes of silence finds an occupancy
//! the room lost without telling.
//!
//! Loops: every message the group sends into a room carries its stable id
//! as `<origin-id/>` (XEP-0359), and that id is marked seen in the group,
//! so the room's reflection (or the same message coming back by any other
//! way) is dropped. The room's JID goes into the message's trail before it
//! is forwarded to routes, so a group elsewhere that bridges the same room
//! does not post it there a second time.

use std::collections::{HashMap, VecDeque};

use minidom::Element;

use super::i18n::{t, Lang, Msg};
use super::model::{Millis, MucSpec, RouteKind, RouteMessage, RouteRecord, StoreOp};
use super::names;
use super::route::Route;
use super::stanza::{self, Attr, NS_COMPONENT, NS_STANZAS};
use super::text::{self, format_line};
use super::{Core, Output};

pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
pub const NS_SID: &str = "urn:xmpp:sid:0";
const NS_DATA: &str = "jabber:x:data";

/// A join the room has not answered by then is given up and retried.
pub const JOIN_TIMEOUT_MS: Millis = 60_000;
/// Room silence after which the occupancy is checked (XEP-0410).
pub const IDLE_PING_MS: Millis = 5 * 60_000;
/// A self-ping not answered by then means the occupancy is lost.
pub const PING_TIMEOUT_MS: Millis = 60_000;
/// Nicks tried on conflicts: NICK, NICK2 … NICK9.
const NICK_TRIES: u32 = 9;
/// Messages kept for a room that is not joined (sent once it is).
const PENDING_MAX: usize = 50;
const PENDING_AGE_MS: Millis = 5 * 60_000;
/// One reply per occupant who writes privately, per hour.
const PM_REPLY_GAP_MS: Millis = 60 * 60_000;
/// Retry delays after a kick or an unanswered join: 5 s, doubling, to 10 min.
const BACKOFF_FIRST_MS: Millis = 5_000;
const BACKOFF_MAX_MS: Millis = 10 * 60_000;
/// A puppet leaves the room after this long without a word from its member.
pub const PUPPET_IDLE_MS: Millis = 60 * 60_000;
/// Puppets per room; past it, members speak through the bridge's occupant.
pub const MAX_PUPPETS: usize = 100;

/// One member's own occupant in a room (`puppets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puppet {
    /// The nick asked for (the member's nick, then NICK2 … on conflicts).
    pub nick: String,
    pub joined: bool,
    /// When the join went out, and which try it is.
    pub since: Millis,
    pub tries: u32,
    pub last_spoke: Millis,
    /// What the member said before the puppet was in: (id, text).
    pub pending: Vec<(String, String)>,
}

/// The member whose line is being sent (for `puppets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    pub fid: String,
    pub nick: String,
}

/// Where an occupancy stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not in the room; the next join goes out at `at` (when connected).
    Waiting {
        at: Millis,
    },
    /// A join went out at `since` as `nick` (the `tries`-th nick).
    Joining {
        since: Millis,
        nick: String,
        tries: u32,
    },
    Joined {
        nick: String,
    },
    /// Not retried: the admin has to act (or talkgroups to restart).
    Failed,
}

/// Why a room is not joined: in our words, with the room's own (the
/// `<reason/>` of a kick or ban) after them, as the room said them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub what: Msg,
    pub said: Option<String>,
}

impl Reason {
    fn of(id: &'static str) -> Reason {
        Reason {
            what: Msg::new(id, &[]),
            said: None,
        }
    }

    fn with(id: &'static str, condition: &str) -> Reason {
        Reason {
            what: Msg::new(id, &[("condition", condition)]),
            said: None,
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        let what = self.what.text(lang);
        match &self.said {
            Some(s) => t!(lang, "muc-reason-said", what = what, said = s.as_str()),
            None => what,
        }
    }
}

/// The live side of a room bridge (never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Occupancy {
    pub phase: Phase,
    /// Why the room is not (or was last not) joined, for `//mucs`.
    pub reason: Option<Reason>,
    /// Retries since the last successful join (the backoff).
    pub failures: u32,
    /// The admins were told about the current failure.
    pub notified: bool,
    /// The last stanza from the room.
    pub last_traffic: Millis,
    /// The self-ping in flight: its id and when it went.
    pub ping: Option<(String, Millis)>,
    /// Messages for the room while it is not joined, oldest first.
    pub pending: VecDeque<(Millis, Element)>,
    /// Occupants answered for a private message, and when.
    pub pm_replied: HashMap<String, Millis>,
    /// Messages sent into the room / relayed from it, since start.
    pub sent: u64,
    pub received: u64,
    /// `puppets`: by member FID.
    pub puppets: std::collections::BTreeMap<String, Puppet>,
    /// Members whose puppet the room banned: they speak through the bridge.
    pub puppets_refused: std::collections::HashSet<String>,
}

impl Occupancy {
    pub fn new() -> Occupancy {
        Occupancy {
            phase: Phase::Waiting { at: 0 },
            reason: None,
            failures: 0,
            notified: false,
            last_traffic: 0,
            ping: None,
            pending: VecDeque::new(),
            pm_replied: HashMap::new(),
            sent: 0,
            received: 0,
            puppets: Default::default(),
            puppets_refused: Default::default(),
        }
    }

    /// The state `//mucs` and `/metrics` show.
    pub fn state(&self) -> &'static str {
        match (&self.phase, &self.reason) {
            (Phase::Joined { .. }, _) => "joined",
            (Phase::Joining { .. }, _) => "joining",
            (Phase::Failed, _) => "error",
            (Phase::Waiting { .. }, Some(_)) => "error",
            (Phase::Waiting { .. }, None) => "joining",
        }
    }

    /// When the core next needs a tick for this room.
    pub fn deadline(&self) -> Option<Millis> {
        let own = self.own_deadline();
        let puppets = self
            .puppets
            .values()
            .map(|p| match p.joined {
                true => p.last_spoke + PUPPET_IDLE_MS,
                false => p.since + JOIN_TIMEOUT_MS,
            })
            .min();
        match (own, puppets) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The bridge occupant's own next deadline.
    fn own_deadline(&self) -> Option<Millis> {
        match &self.phase {
            Phase::Waiting { at } => Some(*at),
            Phase::Joining { since, .. } => Some(since + JOIN_TIMEOUT_MS),
            Phase::Joined { .. } => Some(match &self.ping {
                Some((_, sent)) => sent + PING_TIMEOUT_MS,
                None => self.last_traffic + IDLE_PING_MS,
            }),
            Phase::Failed => None,
        }
    }

    fn backoff(&mut self) -> Millis {
        let shift = self.failures.min(7);
        self.failures += 1;
        (BACKOFF_FIRST_MS << shift).min(BACKOFF_MAX_MS)
    }
}

impl Default for Occupancy {
    fn default() -> Self {
        Occupancy::new()
    }
}

/// One room bridge for `/metrics` (names only: never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStatus {
    pub group: String,
    pub name: String,
    /// `joined`, `joining` or `error`.
    pub state: &'static str,
    pub sent: u64,
    pub received: u64,
}

/// The nick of the `tries`-th attempt: NICK, NICK2, NICK3 …
fn nth_nick(base: &str, tries: u32) -> String {
    if tries <= 1 {
        base.to_string()
    } else {
        format!("{base}{tries}")
    }
}

/// The join presence (no history, the password if any).
pub fn join_presence(from: &str, room: &str, nick: &str, password: Option<&str>) -> Element {
    let mut x = Element::builder("x", NS_MUC).append(
        Element::builder("history", NS_MUC)
            .a("maxstanzas", "0")
            .build(),
    );
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        x = x.append(stanza::text_child("password", NS_MUC, pw));
    }
    let mut p = stanza::presence(from, &format!("{room}/{nick}"), None);
    p.append_child(x.build());
    p
}

/// The status codes of a room presence (`<x xmlns=muc#user><status/>`).
fn status_codes(el: &Element) -> Vec<u32> {
    stanza::child(el, "x", NS_MUC_USER)
        .into_iter()
        .flat_map(Element::children)
        .filter(|c| c.name() == "status")
        .filter_map(|c| c.attr("code")?.parse().ok())
        .collect()
}

/// The defined condition of an error stanza.
fn error_condition(el: &Element) -> Option<String> {
    el.children()
        .find(|c| c.name() == "error")?
        .children()
        .find(|c| c.ns() == NS_STANZAS && c.name() != "text")
        .map(|c| c.name().to_string())
}

/// The `<reason/>` a kick or ban came with, if any.
fn item_reason(el: &Element) -> Option<String> {
    let x = stanza::child(el, "x", NS_MUC_USER)?;
    let r = x
        .children()
        .filter(|c| c.name() == "item" || c.name() == "destroy")
        .find_map(|i| i.children().find(|c| c.name() == "reason"))?
        .text();
    let r = r.trim();
    (!r.is_empty()).then(|| text::cut_bytes(r, 200))
}

/// What a room's answer to our presence means for the occupancy.
enum Outcome {
    Joined {
        nick: String,
        created: bool,
    },
    /// Retry with the next nick.
    Conflict,
    /// Retry after a backoff, for this reason.
    Retry(Reason),
    /// Do not retry.
    Fail(Reason),
    /// Someone else's presence, or nothing that changes our state.
    Nothing,
}

fn judge_presence(el: &Element, from_res: Option<&str>, own_nick: Option<&str>) -> Outcome {
    let codes = status_codes(el);
    let is_self = codes.contains(&110) || (from_res.is_some() && from_res == own_nick);
    match el.attr("type") {
        Some("error") => match error_condition(el).as_deref() {
            Some("conflict") => Outcome::Conflict,
            Some("not-authorized") => Outcome::Fail(Reason::of("muc-why-password")),
            Some("registration-required") => Outcome::Fail(Reason::of("muc-why-members-only")),
            Some("forbidden") => Outcome::Fail(Reason::of("muc-why-banned")),
            Some("item-not-found") => Outcome::Fail(Reason::of("muc-why-no-room")),
            Some("not-allowed") => Outcome::Fail(Reason::of("muc-why-not-created")),
            Some("service-unavailable") => Outcome::Retry(Reason::of("muc-why-full")),
            Some(c @ ("remote-server-not-found" | "remote-server-timeout")) => {
                Outcome::Retry(Reason::with("muc-why-unreachable", c))
            }
            Some(c) => Outcome::Retry(Reason::with("muc-why-refused-as", c)),
            None => Outcome::Retry(Reason::of("muc-why-refused")),
        },
        // A nick change (ours): the new nick's presence follows.
        Some("unavailable") if is_self && codes.contains(&303) => Outcome::Nothing,
        Some("unavailable") if is_self => {
            let why = |id| Reason {
                what: Msg::new(id, &[]),
                said: item_reason(el),
            };
            if stanza::child(el, "x", NS_MUC_USER)
                .is_some_and(|x| x.children().any(|c| c.name() == "destroy"))
            {
                Outcome::Fail(why("muc-why-destroyed"))
            } else if codes.contains(&301) {
                Outcome::Fail(why("muc-why-banned"))
            } else if codes.contains(&307) {
                Outcome::Retry(why("muc-why-kicked"))
            } else if codes.contains(&321) {
                Outcome::Fail(why("muc-why-affiliation"))
            } else if codes.contains(&322) {
                Outcome::Fail(why("muc-why-now-members-only"))
            } else if codes.contains(&332) {
                Outcome::Retry(why("muc-why-shutdown"))
            } else {
                Outcome::Retry(why("muc-why-left"))
            }
        }
        None if is_self => Outcome::Joined {
            nick: from_res.unwrap_or_default().to_string(),
            created: codes.contains(&201),
        },
        _ => Outcome::Nothing,
    }
}

/// The key a room message is remembered by, for corrections.
pub(crate) fn ref_key(occupant: &str, id: &str) -> String {
    format!("{occupant}\n{id}")
}

impl Core {
    /// The room bridge of group `group` whose room is `bare`, if any.
    pub(crate) fn muc_of(&self, group: &str, bare: &str) -> Option<String> {
        let g = self.groups.get(group)?;
        g.routes
            .values()
            .find(|r| matches!(&r.rec.kind, RouteKind::Muc(m) if m.room == bare))
            .map(|r| r.rec.name.clone())
    }

    fn occupancy(&mut self, group: &str, name: &str) -> Option<&mut Occupancy> {
        self.groups
            .get_mut(group)?
            .routes
            .get_mut(name)?
            .muc
            .as_deref_mut()
    }

    fn muc_spec(&self, group: &str, name: &str) -> Option<(MucSpec, Option<String>, String)> {
        let g = self.groups.get(group)?;
        let r = g.routes.get(name)?;
        match &r.rec.kind {
            RouteKind::Muc(m) => Some((
                m.clone(),
                r.rec.password.clone(),
                format!("{}/{name}", g.jid),
            )),
            _ => None,
        }
    }

    /// Sends the join (the `tries`-th nick).
    fn send_join(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        tries: u32,
        out: &mut Vec<Output>,
    ) {
        let Some((spec, password, from)) = self.muc_spec(group, name) else {
            return;
        };
        let nick = nth_nick(&spec.nick, tries);
        out.push(Output::Send(join_presence(
            &from,
            &spec.room,
            &nick,
            password.as_deref(),
        )));
        if let Some(o) = self.occupancy(group, name) {
            o.phase = Phase::Joining {
                since: now,
                nick,
                tries,
            };
            o.ping = None;
        }
    }

    /// Joins every room not given up (after a reconnection, or at start).
    pub(crate) fn mucs_connected(&mut self, now: Millis, out: &mut Vec<Output>) {
        let all: Vec<(String, String)> = self
            .groups
            .values()
            .flat_map(|g| {
                g.routes
                    .values()
                    .filter(|r| r.muc.as_ref().is_some_and(|o| o.phase != Phase::Failed))
                    .map(|r| (g.name.to_string(), r.rec.name.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (group, name) in all {
            self.send_join(now, &group, &name, 1, out);
        }
    }

    /// The connection dropped: no room is joined any more.
    pub(crate) fn mucs_disconnected(&mut self, now: Millis) {
        for g in self.groups.values_mut() {
            for r in g.routes.values_mut() {
                if let Some(o) = r.muc.as_deref_mut() {
                    if o.phase != Phase::Failed {
                        o.phase = Phase::Waiting { at: now };
                        o.ping = None;
                    }
                    // Puppets rejoin when their members next speak.
                    o.puppets.clear();
                }
            }
        }
    }

    /// Joins, join timeouts and self-pings that are due.
    pub(crate) fn mucs_tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        if !self.connected {
            return;
        }
        self.puppets_tick(now, out);
        // (group, bridge, phase, ping in flight)
        type Due = (String, String, Phase, Option<(String, Millis)>);
        let mut due: Vec<Due> = Vec::new();
        for g in self.groups.values_mut() {
            for r in g.routes.values_mut() {
                if let Some(o) = r.muc.as_deref_mut() {
                    o.pending.retain(|(t, _)| now - t < PENDING_AGE_MS);
                    if o.own_deadline().is_some_and(|d| d <= now) {
                        due.push((
                            g.name.to_string(),
                            r.rec.name.clone(),
                            o.phase.clone(),
                            o.ping.clone(),
                        ));
                    }
                }
            }
        }
        for (group, name, phase, ping) in due {
            match phase {
                Phase::Waiting { .. } => self.send_join(now, &group, &name, 1, out),
                Phase::Joining { .. } => {
                    self.muc_retry(now, &group, &name, Reason::of("muc-why-no-answer"), out)
                }
                Phase::Joined { nick } => match ping {
                    Some(_) => {
                        self.muc_retry_now(now, &group, &name, Reason::of("muc-why-ping"));
                        self.send_join(now, &group, &name, 1, out);
                    }
                    None => {
                        let Some((spec, _, from)) = self.muc_spec(&group, &name) else {
                            continue;
                        };
                        let id = format!("tg-muc-ping-{}", self.sys_id());
                        out.push(Output::Send(stanza::ping(
                            &from,
                            &format!("{}/{nick}", spec.room),
                            &id,
                        )));
                        if let Some(o) = self.occupancy(&group, &name) {
                            o.ping = Some((id, now));
                        }
                    }
                },
                Phase::Failed => {}
            }
        }
    }

    /// Every room bridge's state and counters, for `/metrics`.
    pub fn room_status(&self) -> Vec<RoomStatus> {
        self.groups
            .values()
            .flat_map(|g| {
                g.routes.values().filter_map(|r| {
                    let o = r.muc.as_deref()?;
                    Some(RoomStatus {
                        group: g.name.to_string(),
                        name: r.rec.name.clone(),
                        state: o.state(),
                        sent: o.sent,
                        received: o.received,
                    })
                })
            })
            .collect()
    }

    /// The earliest room deadline (for `Core::next_deadline`).
    pub(crate) fn mucs_deadline(&self) -> Option<Millis> {
        if !self.connected {
            return None;
        }
        self.groups
            .values()
            .flat_map(|g| g.routes.values())
            .filter_map(|r| r.muc.as_ref()?.deadline())
            .min()
    }

    /// Not joined, for `reason`; tried again after the backoff. The
    /// admins are told once.
    fn muc_retry(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        reason: Reason,
        out: &mut Vec<Output>,
    ) {
        let Some(o) = self.occupancy(group, name) else {
            return;
        };
        let wait = o.backoff();
        o.phase = Phase::Waiting { at: now + wait };
        o.ping = None;
        let tell = !o.notified;
        o.notified = true;
        o.reason = Some(reason.clone());
        if tell {
            let secs = wait / 1000;
            self.tell_admins(
                group,
                &|l| {
                    let why = reason.text(l);
                    t!(l, "muc-notice-retry", name = name, why = why, secs = secs)
                },
                out,
            );
        }
    }

    /// Lost without a word from the room: join again at once, quietly.
    fn muc_retry_now(&mut self, now: Millis, group: &str, name: &str, reason: Reason) {
        if let Some(o) = self.occupancy(group, name) {
            o.phase = Phase::Waiting { at: now };
            o.ping = None;
            o.reason = Some(reason);
        }
    }

    fn muc_fail(&mut self, group: &str, name: &str, reason: Reason, out: &mut Vec<Output>) {
        let Some(o) = self.occupancy(group, name) else {
            return;
        };
        o.phase = Phase::Failed;
        o.ping = None;
        o.pending.clear();
        o.reason = Some(reason.clone());
        let tell = !o.notified;
        o.notified = true;
        if tell {
            self.tell_admins(
                group,
                &|l| t!(l, "muc-notice-failed", name = name, why = reason.text(l)),
                out,
            );
        }
    }

    /// A chat message from the group to each of its admins, in each
    /// one's language.
    fn tell_admins(&mut self, group: &str, body: &dyn Fn(Lang) -> String, out: &mut Vec<Output>) {
        let Some(g) = self.groups.get(group) else {
            return;
        };
        let admins: Vec<String> = g
            .members
            .values()
            .filter(|m| m.rec.admin || g.config_admins.contains(&*m.rec.jid))
            .map(|m| m.rec.jid.to_string())
            .collect();
        let from = g.jid.clone();
        for a in admins {
            let id = self.sys_id();
            let text = body(self.lang_of(group, &a));
            out.push(Output::Send(stanza::chat(&from, &a, &id, &text)));
        }
    }

    /// A stanza from the room of bridge `name`. Returns false for what
    /// the ordinary handlers should see (IQ requests from occupants).
    pub(crate) fn on_muc_stanza(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        el: &Element,
        out: &mut Vec<Output>,
    ) -> bool {
        let from = el.attr("from").unwrap_or_default();
        let (_, from_res) = names::split_jid(from);
        let from_res = from_res.map(str::to_string);
        if let Some(o) = self.occupancy(group, name) {
            o.last_traffic = now;
        }
        match el.name() {
            "presence" => self.on_muc_presence(now, group, name, el, from_res.as_deref(), out),
            "message" => self.on_muc_message(now, group, name, el, from_res.as_deref(), out),
            "iq" => return self.on_muc_iq(now, group, name, el, out),
            _ => {}
        }
        true
    }

    fn on_muc_presence(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        el: &Element,
        from_res: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        // Only what is addressed to the bridge's own occupant.
        let to_res = el
            .attr("to")
            .map(names::split_jid)
            .and_then(|(_, r)| r.map(str::to_string));
        if let Some(fid) = to_res
            .as_deref()
            .and_then(|r| r.strip_prefix(name))
            .and_then(|r| r.strip_prefix('~'))
        {
            let fid = fid.to_string();
            self.on_puppet_presence(now, group, name, &fid, el, from_res, out);
            return;
        }
        if to_res.as_deref() != Some(name) {
            return;
        }
        let Some(o) = self.occupancy(group, name) else {
            return;
        };
        let (own, tries) = match &o.phase {
            Phase::Joining { nick, tries, .. } => (Some(nick.clone()), *tries),
            Phase::Joined { nick } => (Some(nick.clone()), 0),
            _ => (None, 0),
        };
        let joined = matches!(o.phase, Phase::Joined { .. });
        if joined && el.attr("type") == Some("error") {
            // Not an answer to a join: only "you are not in the room" matters.
            if matches!(
                error_condition(el).as_deref(),
                Some("not-acceptable" | "item-not-found")
            ) {
                self.muc_retry_now(now, group, name, Reason::of("muc-why-gone"));
                self.mucs_tick(now, out);
            }
            return;
        }
        match judge_presence(el, from_res, own.as_deref()) {
            Outcome::Nothing => {}
            Outcome::Joined { nick, created } => {
                let was_joined = matches!(o.phase, Phase::Joined { .. });
                o.phase = Phase::Joined { nick };
                o.reason = None;
                o.failures = 0;
                o.notified = false;
                let pending: Vec<Element> = o.pending.drain(..).map(|(_, e)| e).collect();
                o.sent += pending.len() as u64;
                if created && !was_joined {
                    // A room made by this join is locked until configured:
                    // accept the service's defaults (an instant room).
                    let room = el.attr("from").map(names::split_jid).map(|(b, _)| b);
                    if let (Some(room), Some((_, _, from))) = (room, self.muc_spec(group, name)) {
                        let id = format!("tg-muc-cfg-{}", self.sys_id());
                        out.push(Output::Send(
                            Element::builder("iq", NS_COMPONENT)
                                .a("type", "set")
                                .a("from", from)
                                .a("to", room)
                                .a("id", id)
                                .append(
                                    Element::builder("query", NS_MUC_OWNER)
                                        .append(
                                            Element::builder("x", NS_DATA)
                                                .a("type", "submit")
                                                .build(),
                                        )
                                        .build(),
                                )
                                .build(),
                        ));
                    }
                }
                out.extend(pending.into_iter().map(Output::Send));
            }
            Outcome::Conflict if matches!(o.phase, Phase::Joining { .. }) && tries < NICK_TRIES => {
                self.send_join(now, group, name, tries + 1, out);
            }
            Outcome::Conflict => self.muc_fail(group, name, Reason::of("muc-why-nicks-taken"), out),
            Outcome::Retry(reason) => self.muc_retry(now, group, name, reason, out),
            Outcome::Fail(reason) => self.muc_fail(group, name, reason, out),
        }
    }

    fn on_muc_message(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        el: &Element,
        from_res: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        match el.attr("type") {
            Some("error") => {
                // Our message bounced: not an occupant any more.
                if error_condition(el).as_deref() == Some("not-acceptable") {
                    self.muc_retry_now(now, group, name, Reason::of("muc-why-gone"));
                    self.mucs_tick(now, out);
                }
            }
            Some("groupchat") => {
                // Every occupant gets the room's messages; the puppets'
                // copies are the same messages again.
                let to_res = el.attr("to").map(names::split_jid).and_then(|(_, r)| r);
                if to_res == Some(name) {
                    self.on_groupchat(now, group, name, el, from_res, out);
                }
            }
            _ => {
                // A private message from an occupant (not the room's own
                // messages, such as invitations): one reply an hour.
                let (Some(occupant), Some(_)) = (from_res, stanza::body(el)) else {
                    return;
                };
                let Some(o) = self.occupancy(group, name) else {
                    return;
                };
                if o.pm_replied
                    .get(occupant)
                    .is_some_and(|t| now - t < PM_REPLY_GAP_MS)
                {
                    return;
                }
                o.pm_replied.retain(|_, t| now - *t < PM_REPLY_GAP_MS);
                o.pm_replied.insert(occupant.to_string(), now);
                let (Some(to), Some(from)) = (el.attr("from"), el.attr("to")) else {
                    return;
                };
                let (to, from) = (to.to_string(), from.to_string());
                let id = self.sys_id();
                let text = t!(self.group_lang(group), "muc-pm-answer");
                out.push(Output::Send(stanza::chat(&from, &to, &id, &text)));
            }
        }
    }

    fn on_groupchat(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        el: &Element,
        from_res: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        // The room's own messages, subjects and history are not relayed.
        let Some(occupant) = from_res.filter(|o| !o.trim().is_empty()) else {
            return;
        };
        if stanza::child(el, "subject", NS_COMPONENT).is_some()
            || stanza::child(el, "delay", stanza::NS_DELAY).is_some()
        {
            return;
        }
        // An occupant retracts a line of theirs (XEP-0424): each member's
        // copy is retracted too, when the line is still in the history.
        if let Some(of) =
            stanza::child(el, "retract", stanza::NS_RETRACT).and_then(|r| r.attr("id"))
        {
            let key = ref_key(occupant, of);
            let row = self.groups.get(group).and_then(|g| {
                g.routes
                    .get(name)
                    .and_then(|r| r.refs.get(&key))
                    .copied()
                    .filter(|row| g.row(*row).is_some_and(|h| !h.removed))
            });
            if let Some(row) = row {
                self.retract_from_room(now, group, name, row, out);
            }
            return;
        }
        let Some(body) = stanza::body(el).filter(|b| !b.trim().is_empty()) else {
            return;
        };
        let Some(o) = self.occupancy(group, name) else {
            return;
        };
        // The reflection of what the bridge itself (or a puppet) said.
        if matches!(&o.phase, Phase::Joined { nick } if nick == occupant)
            || o.puppets.values().any(|p| p.joined && p.nick == occupant)
        {
            return;
        }
        let origin_id = stanza::child(el, "origin-id", NS_SID)
            .and_then(|e| e.attr("id"))
            .filter(|id| !id.is_empty() && id.len() <= 128)
            .map(str::to_string);
        let room = names::split_jid(el.attr("from").unwrap_or_default()).0;
        let own_id = el.attr("id").filter(|i| !i.is_empty()).map(str::to_string);
        // The message's id: the sender's origin-id, else one every bridge
        // of this room derives alike from the stanza id the room passes on
        // (so the same message by two ways is seen as one), else new.
        let id = match (&origin_id, &own_id) {
            (Some(o), _) => o.clone(),
            (None, Some(i)) => text::room_message_id(&room, occupant, i),
            (None, None) => text::message_id(&self.instance_id, self.last_history_id + 1),
        };
        let Some(g) = self.groups.get(group) else {
            return;
        };
        if g.seen.contains_key(&id) {
            return; // Ours, or already here by another way.
        }
        let max = self.cfg.max_body;
        let body = if body.chars().count() > max {
            let mut b: String = body.chars().take(max.saturating_sub(1)).collect();
            b.push('…');
            b
        } else {
            body
        };
        // A correction of a message members got: corrections of their copies.
        if let Some(of) =
            stanza::child(el, "replace", stanza::NS_CORRECT).and_then(|r| r.attr("id"))
        {
            let key = ref_key(occupant, of);
            let row = g.routes.get(name).and_then(|r| r.refs.get(&key)).copied();
            if let Some(row) = row.filter(|row| g.row(*row).is_some()) {
                self.correct_from_bridge(now, group, name, row, occupant, &body, out);
                if let Some(o) = self.occupancy(group, name) {
                    o.received += 1;
                }
                return;
            }
        }
        let edited = stanza::child(el, "replace", stanza::NS_CORRECT).is_some();
        let msg = RouteMessage {
            id: id.clone(),
            origin: room.clone(),
            nick: occupant.to_string(),
            body: if edited {
                format!("{body} (edited)")
            } else {
                body
            },
            sent_at: now,
            trail: vec![room],
        };
        let (_, seq) = self.relay_from_route(now, group, name, id, msg, true, out);
        if let Some(o) = self.occupancy(group, name) {
            o.received += 1;
        }
        if let Some(own) = own_id {
            self.remember_ref(group, name, ref_key(occupant, &own), seq, out);
        }
    }

    fn on_muc_iq(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        el: &Element,
        out: &mut Vec<Output>,
    ) -> bool {
        let id = el.attr("id").unwrap_or_default();
        match el.attr("type") {
            Some("result") | Some("error") => {}
            _ => return false,
        }
        let Some(o) = self.occupancy(group, name) else {
            return true;
        };
        if o.ping.as_ref().is_none_or(|(p, _)| p != id) {
            return true; // The instant-room answer, or a stale ping.
        }
        o.ping = None;
        if el.attr("type") == Some("result") {
            return true;
        }
        // XEP-0410: these errors still mean joined; others mean not.
        match error_condition(el).as_deref() {
            Some(
                "service-unavailable"
                | "feature-not-implemented"
                | "item-not-found"
                | "remote-server-not-found"
                | "remote-server-timeout",
            ) => {}
            _ => {
                self.muc_retry_now(now, group, name, Reason::of("muc-why-unknown-occupant"));
                self.mucs_tick(now, out);
            }
        }
        true
    }

    /// Sends `msg` (said in the group, or come in on route/bridge/room
    /// `came_on`) into every room of the group it has not been in, and
    /// returns it with those rooms added to its trail.
    pub(crate) fn send_to_rooms(
        &mut self,
        now: Millis,
        name: &str,
        msg: &RouteMessage,
        came_on: Option<&str>,
        speaker: Option<&Speaker>,
        out: &mut Vec<Output>,
    ) -> Option<RouteMessage> {
        let g = self.groups.get_mut(name)?;
        let rooms: Vec<String> = g
            .routes
            .values()
            .filter(|r| Some(r.rec.name.as_str()) != came_on)
            .filter_map(|r| match &r.rec.kind {
                RouteKind::Muc(m) if !msg.trail.contains(&m.room) && r.muc.is_some() => {
                    Some(r.rec.name.clone())
                }
                _ => None,
            })
            .collect();
        if rooms.is_empty() {
            return None;
        }
        let nick = match came_on {
            Some(c) => format!("{}@{c}", msg.nick),
            None => msg.nick.clone(),
        };
        let line = format_line(&nick, &msg.body);
        let mut trail = msg.trail.clone();
        let from_base = g.jid.clone();
        for room_name in rooms {
            let Some(r) = g.routes.get_mut(&room_name) else {
                continue;
            };
            let (RouteKind::Muc(spec), Some(o)) = (&r.rec.kind, r.muc.as_deref_mut()) else {
                continue;
            };
            if o.phase == Phase::Failed {
                continue;
            }
            trail.push(spec.room.clone());
            // `puppets`: a member speaks as their own occupant.
            if let Some(s) = speaker.filter(|_| spec.puppets) {
                if matches!(o.phase, Phase::Joined { .. }) && !o.puppets_refused.contains(&s.fid) {
                    let jid = format!("{from_base}/{room_name}~{}", s.fid);
                    if let Some(p) = o.puppets.get_mut(&s.fid) {
                        p.last_spoke = now;
                        if p.joined {
                            if p.nick != s.nick {
                                // Renamed in the group: renamed in the room.
                                p.nick = s.nick.clone();
                                out.push(Output::Send(stanza::presence(
                                    &jid,
                                    &format!("{}/{}", spec.room, s.nick),
                                    None,
                                )));
                            }
                            o.sent += 1;
                            out.push(Output::Send(groupchat(
                                &jid, &spec.room, &msg.id, &msg.body,
                            )));
                        } else {
                            p.pending.push((msg.id.clone(), msg.body.clone()));
                        }
                        continue;
                    }
                    if o.puppets.len() < MAX_PUPPETS {
                        out.push(Output::Send(join_presence(
                            &jid,
                            &spec.room,
                            &s.nick,
                            r.rec.password.as_deref(),
                        )));
                        o.puppets.insert(
                            s.fid.clone(),
                            Puppet {
                                nick: s.nick.clone(),
                                joined: false,
                                since: now,
                                tries: 1,
                                last_spoke: now,
                                pending: vec![(msg.id.clone(), msg.body.clone())],
                            },
                        );
                        continue;
                    }
                }
            }
            let e = Element::builder("message", NS_COMPONENT)
                .a("type", "groupchat")
                .a("from", format!("{from_base}/{room_name}"))
                .a("to", spec.room.as_str())
                .a("id", msg.id.as_str())
                .append(stanza::text_child("body", NS_COMPONENT, &line))
                .append(
                    Element::builder("origin-id", NS_SID)
                        .a("id", msg.id.as_str())
                        .build(),
                )
                .build();
            if matches!(o.phase, Phase::Joined { .. }) {
                o.sent += 1;
                out.push(Output::Send(e));
            } else {
                if o.pending.len() >= PENDING_MAX {
                    o.pending.pop_front();
                }
                o.pending.push_back((now, e));
            }
        }
        // Whatever comes back with this id (the room's reflection, or the
        // message by another way) is a duplicate.
        if !g.seen.contains_key(&msg.id) {
            g.seen.insert(msg.id.clone(), now);
            out.push(Output::Store(StoreOp::Seen {
                group: name.to_string(),
                id: msg.id.clone(),
                at: now,
            }));
        }
        Some(RouteMessage {
            trail,
            ..msg.clone()
        })
    }

    /// A member's correction of history row `row`: an XEP-0308
    /// correction of the copy each joined room got.
    pub(crate) fn correct_in_rooms(
        &mut self,
        name: &str,
        row: i64,
        nick: &str,
        text: &str,
        out: &mut Vec<Output>,
    ) {
        let original = text::message_id(&self.instance_id, row);
        let tag = self.sys_id();
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let line = format_line(nick, text);
        for r in g.routes.values_mut() {
            let (RouteKind::Muc(spec), Some(o)) = (&r.rec.kind, r.muc.as_deref_mut()) else {
                continue;
            };
            if !matches!(o.phase, Phase::Joined { .. }) {
                continue;
            }
            let id = format!("{tag}-{}", r.rec.name);
            o.sent += 1;
            out.push(Output::Send(
                Element::builder("message", NS_COMPONENT)
                    .a("type", "groupchat")
                    .a("from", format!("{}/{}", g.jid, r.rec.name))
                    .a("to", spec.room.as_str())
                    .a("id", id.as_str())
                    .append(stanza::text_child("body", NS_COMPONENT, &line))
                    .append(
                        Element::builder("replace", stanza::NS_CORRECT)
                            .a("id", original.as_str())
                            .build(),
                    )
                    .append(
                        Element::builder("origin-id", NS_SID)
                            .a("id", id.as_str())
                            .build(),
                    )
                    .build(),
            ));
        }
    }

    /// Leaves the room of bridge `name` (deleted, or shutting down).
    pub(crate) fn leave_room(&self, group: &str, name: &str, out: &mut Vec<Output>) {
        let Some((spec, _, from)) = self.muc_spec(group, name) else {
            return;
        };
        let nick = match self
            .groups
            .get(group)
            .and_then(|g| g.routes.get(name))
            .and_then(|r| r.muc.as_ref())
            .map(|o| &o.phase)
        {
            Some(Phase::Joined { nick }) | Some(Phase::Joining { nick, .. }) => nick.clone(),
            _ => return,
        };
        out.push(Output::Send(stanza::presence(
            &from,
            &format!("{}/{nick}", spec.room),
            Some("unavailable"),
        )));
        let puppets = self
            .groups
            .get(group)
            .and_then(|g| g.routes.get(name))
            .and_then(|r| r.muc.as_ref())
            .map(|o| o.puppets.iter().filter(|(_, p)| p.joined));
        for (fid, p) in puppets.into_iter().flatten() {
            out.push(Output::Send(stanza::presence(
                &format!("{from}~{fid}"),
                &format!("{}/{}", spec.room, p.nick),
                Some("unavailable"),
            )));
        }
    }

    /// Every room of every group, left (shutdown).
    pub(crate) fn leave_all_rooms(&self, out: &mut Vec<Output>) {
        for g in self.groups.values() {
            for r in g.routes.values().filter(|r| r.muc.is_some()) {
                self.leave_room(&g.name, &r.rec.name, out);
            }
        }
    }
}

impl Core {
    /// Room bridges from `[[muc]]`: added or replaced; those from an
    /// earlier config that it no longer lists are removed.
    pub(crate) fn apply_config_mucs(&mut self, now: Millis, out: &mut Vec<Output>) {
        let wanted = self.cfg.mucs.clone();
        let listed: Vec<(String, String)> = (wanted.iter())
            .map(|w| (w.group.clone(), w.name.clone()))
            .collect();
        self.remove_stale_config_routes(
            |k| matches!(k, RouteKind::Muc(m) if m.from_config),
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
            let rec = RouteRecord {
                group: w.group.clone(),
                name: w.name.clone(),
                kind: RouteKind::Muc(MucSpec {
                    room: w.room.clone(),
                    nick: w.nick.clone().unwrap_or_else(|| g.title.clone()),
                    puppets: w.puppets,
                    from_config: true,
                }),
                password: w.password.clone(),
                created_at: now,
                last_ok: None,
                last_error: None,
            };
            out.push(Output::Store(StoreOp::UpsertRoute(rec.clone())));
            match g.routes.get_mut(&w.name) {
                Some(r) if matches!(r.rec.kind, RouteKind::Muc(_)) => {
                    r.rec = RouteRecord {
                        created_at: r.rec.created_at,
                        ..rec
                    }
                }
                _ => {
                    g.routes.insert(w.name.clone(), Route::new(rec));
                }
            }
        }
    }
}

/// A groupchat message with its origin-id.
fn groupchat(from: &str, room: &str, id: &str, body: &str) -> Element {
    Element::builder("message", NS_COMPONENT)
        .a("type", "groupchat")
        .a("from", from)
        .a("to", room)
        .a("id", id)
        .append(stanza::text_child("body", NS_COMPONENT, body))
        .append(Element::builder("origin-id", NS_SID).a("id", id).build())
        .build()
}

impl Core {
    /// The room's answer to a puppet's presence.
    #[allow(clippy::too_many_arguments)]
    fn on_puppet_presence(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        fid: &str,
        el: &Element,
        from_res: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        let Some((spec, password, from)) = self.muc_spec(group, name) else {
            return;
        };
        let member_nick = self.groups.get(group).and_then(|g| {
            g.members
                .values()
                .find(|m| m.rec.fid == fid)
                .map(|m| m.rec.nick.clone())
        });
        let Some(o) = self.occupancy(group, name) else {
            return;
        };
        let Some(p) = o.puppets.get_mut(fid) else {
            return;
        };
        let jid = format!("{from}~{fid}");
        match judge_presence(el, from_res, Some(&p.nick)) {
            Outcome::Nothing => {}
            Outcome::Joined { nick, .. } => {
                p.joined = true;
                p.nick = nick;
                let pending = std::mem::take(&mut p.pending);
                o.sent += pending.len() as u64;
                for (id, body) in pending {
                    out.push(Output::Send(groupchat(&jid, &spec.room, &id, &body)));
                }
            }
            Outcome::Conflict if !p.joined && p.tries < NICK_TRIES => {
                p.tries += 1;
                let base = member_nick.unwrap_or_else(|| p.nick.clone());
                p.nick = nth_nick(&base, p.tries);
                p.since = now;
                out.push(Output::Send(join_presence(
                    &jid,
                    &spec.room,
                    &p.nick,
                    password.as_deref(),
                )));
            }
            outcome => {
                // Gone (kicked, banned, no nick left): what waited goes
                // through the bridge's occupant; a ban is for good.
                if matches!(outcome, Outcome::Fail(_)) {
                    o.puppets_refused.insert(fid.to_string());
                }
                if let Some(p) = o.puppets.remove(fid) {
                    for (id, body) in p.pending {
                        let line = format_line(member_nick.as_deref().unwrap_or(&p.nick), &body);
                        o.sent += 1;
                        out.push(Output::Send(groupchat(&from, &spec.room, &id, &line)));
                    }
                }
            }
        }
    }

    /// Retracts each member's copy of history row `row`, which came from
    /// room bridge `name`, and marks the row removed.
    fn retract_from_room(
        &mut self,
        now: Millis,
        group: &str,
        name: &str,
        row: i64,
        out: &mut Vec<Output>,
    ) {
        let shared = self.cfg.shared_copy_ids;
        let mode = self.cfg.offline;
        let tag = self.sys_id();
        let Some(g) = self.groups.get(group) else {
            return;
        };
        let sender = format!("route:{name}");
        let default = super::i18n::group_lang(&self.cfg, group);
        for m in g.members.values() {
            if !super::relay::receives(m, &sender, now, mode) {
                continue;
            }
            let n = super::relay::copy_n(shared, m);
            out.push(Output::Send(super::moderate::retraction(
                "chat",
                &g.jid,
                &m.rec.jid,
                &format!("{tag}-{n}"),
                &super::relay::copy_id(row, n),
                m.lang(default),
            )));
        }
        self.edit_history(group, row, None, now, out);
        if let Some(o) = self.occupancy(group, name) {
            o.received += 1;
        }
    }

    /// A member changed their nick: their puppets take it in every room
    /// (a MUC nick change is a presence to the new occupant JID).
    pub(crate) fn rename_puppets(
        &mut self,
        group: &str,
        jid: &str,
        nick: &str,
        out: &mut Vec<Output>,
    ) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        let Some(fid) = g.members.get(jid).map(|m| m.rec.fid.clone()) else {
            return;
        };
        let base = g.jid.clone();
        for r in g.routes.values_mut() {
            let (RouteKind::Muc(spec), Some(o)) = (&r.rec.kind, r.muc.as_deref_mut()) else {
                continue;
            };
            let Some(p) = o
                .puppets
                .get_mut(&fid)
                .filter(|p| p.joined && p.nick != nick)
            else {
                continue;
            };
            p.nick = nick.to_string();
            out.push(Output::Send(stanza::presence(
                &format!("{base}/{}~{fid}", r.rec.name),
                &format!("{}/{nick}", spec.room),
                None,
            )));
        }
    }

    /// Puppets silent for an hour leave; joins never answered are given up.
    fn puppets_tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        for g in self.groups.values_mut() {
            let base = g.jid.clone();
            for r in g.routes.values_mut() {
                let (RouteKind::Muc(spec), Some(o)) = (&r.rec.kind, r.muc.as_deref_mut()) else {
                    continue;
                };
                let from = format!("{base}/{}", r.rec.name);
                let gone: Vec<String> = o
                    .puppets
                    .iter()
                    .filter(|(_, p)| match p.joined {
                        true => now - p.last_spoke >= PUPPET_IDLE_MS,
                        false => now - p.since >= JOIN_TIMEOUT_MS,
                    })
                    .map(|(f, _)| f.clone())
                    .collect();
                for fid in gone {
                    let Some(p) = o.puppets.remove(&fid) else {
                        continue;
                    };
                    if p.joined {
                        out.push(Output::Send(stanza::presence(
                            &format!("{from}~{fid}"),
                            &format!("{}/{}", spec.room, p.nick),
                            Some("unavailable"),
                        )));
                    }
                    for (id, body) in p.pending {
                        o.sent += 1;
                        out.push(Output::Send(groupchat(
                            &from,
                            &spec.room,
                            &id,
                            &format_line(&p.nick, &body),
                        )));
                    }
                }
            }
        }
    }

    /// A member's retraction of history row `row` (XEP-0424), in every
    /// joined room (clients that support it remove the room's copy).
    pub(crate) fn retract_in_rooms(&mut self, name: &str, row: i64, out: &mut Vec<Output>) {
        let original = text::message_id(&self.instance_id, row);
        let tag = self.sys_id();
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        for r in g.routes.values_mut() {
            let (RouteKind::Muc(spec), Some(o)) = (&r.rec.kind, r.muc.as_deref_mut()) else {
                continue;
            };
            if !matches!(o.phase, Phase::Joined { .. }) {
                continue;
            }
            o.sent += 1;
            let id = format!("{tag}-{}", r.rec.name);
            let mut el = super::moderate::retraction(
                "groupchat",
                &format!("{}/{}", g.jid, r.rec.name),
                &spec.room,
                &id,
                &original,
                self.cfg.lang,
            );
            el.append_child(
                Element::builder("origin-id", NS_SID)
                    .a("id", id.as_str())
                    .build(),
            );
            out.push(Output::Send(el));
        }
    }
}

/// What `//addmuc` and `[[muc]]` accept as a room: a bare JID with a
/// local part, not on this component's own domain.
pub fn check_room(room: &str, own_domain: &str) -> Result<String, Msg> {
    let refused = |id| Msg::new(id, &[("room", room)]);
    if room.contains('/') {
        return Err(refused("room-has-resource"));
    }
    let not_room = || refused("room-not-a-room");
    let bare = names::normalize_bare_jid(room).ok_or_else(not_room)?;
    let (local, domain) = bare.split_once('@').ok_or_else(not_room)?;
    if local.is_empty() || domain.is_empty() {
        return Err(not_room());
    }
    if domain == own_domain {
        return Err(refused("room-own-group"));
    }
    Ok(bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks_and_backoff() {
        assert_eq!(nth_nick("Lobby", 1), "Lobby");
        assert_eq!(nth_nick("Lobby", 3), "Lobby3");
        let mut o = Occupancy::new();
        let waits: Vec<Millis> = (0..10).map(|_| o.backoff()).collect();
        assert_eq!(
            waits,
            [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000, 600_000]
        );
    }

    #[test]
    fn rooms_are_checked() {
        assert_eq!(
            check_room("Tea@Conference.Example.org", "groups.example.org").as_deref(),
            Ok("tea@conference.example.org")
        );
        assert!(check_room("conference.example.org", "g.example").is_err());
        assert!(check_room("lobby@groups.example.org", "groups.example.org").is_err());
        assert!(check_room("tea@conf/res", "g.example").is_err());
    }
}
