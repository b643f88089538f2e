//! Moderation and long memory (docs/behaviour.md, "Removing a message"):
//! an admin's `//delete` sent as a reply (XEP-0461) to a message, or the
//! API's `DELETE …/messages/{id}`, retracts every copy (XEP-0424) with the
//! id each member knows; and references to rows older than the ones the
//! core holds are read back from the store before the input that needs
//! them (`recall_for`, then `Input::Recalled`).
//!
//! No id map is stored per copy: a copy's id is `tgm-{history id}-{member
//! id}` (or `…-0` for all when copies share one id), and a member's own
//! copy is the id their client gave it, kept in the history row.

use minidom::Element;

use super::api::{ApiCall, ApiMethod};
use super::i18n::{t, Lang};
use super::model::{HistoryRecord, Millis, Recall, StoreOp};
use super::relay::{copy_id, copy_n, parse_copy_id};
use super::stanza::{self, Attr, NS_COMPONENT};
use super::{names, text, Core, Ctx, Input, Output, RING};

/// How many recalled rows a group keeps (a cache: the store has them).
const RECALLED: usize = 32;

/// A retraction of message `target` (the id the recipient knows), with a
/// body for clients that show none.
pub(crate) fn retraction(
    kind: &str,
    from: &str,
    to: &str,
    id: &str,
    target: &str,
    lang: Lang,
) -> Element {
    Element::builder("message", NS_COMPONENT)
        .a("type", kind)
        .a("from", from)
        .a("to", to)
        .a("id", id)
        .append(
            Element::builder("retract", stanza::NS_RETRACT)
                .a("id", target)
                .build(),
        )
        .append(
            Element::builder("fallback", "urn:xmpp:fallback:0")
                .a("for", stanza::NS_RETRACT)
                .build(),
        )
        .append(stanza::text_child(
            "body",
            NS_COMPONENT,
            &t!(lang, "retracted"),
        ))
        .append(Element::builder("store", "urn:xmpp:hints").build())
        .build()
}

/// For a message that replies (XEP-0461): the id it answers and its body
/// without the quote of the original (the XEP-0428 fallback range, or,
/// from clients that send none, the leading `>` lines).
pub(crate) fn reply_parts(el: &Element, body: &str) -> Option<(String, String)> {
    let id = stanza::child(el, "reply", stanza::NS_REPLY)?.attr("id")?;
    let range = el
        .children()
        .filter(|c| {
            c.name() == "fallback"
                && c.ns() == "urn:xmpp:fallback:0"
                && c.attr("for") == Some(stanza::NS_REPLY)
        })
        .flat_map(|f| f.children())
        .find(|b| b.name() == "body")
        .and_then(|b| {
            let n = |a: &str| b.attr(a).and_then(|v| v.parse::<usize>().ok());
            Some((n("start")?, n("end")?))
        });
    let rest = match range {
        // Offsets count characters (code points).
        Some((start, end)) if start <= end => body
            .chars()
            .take(start)
            .chain(body.chars().skip(end))
            .collect(),
        _ => body
            .lines()
            .skip_while(|l| l.starts_with('>'))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    Some((id.to_string(), rest.trim().to_string()))
}

/// The ids a message refers to (reply, correction, retraction, reaction).
fn references(el: &Element) -> impl Iterator<Item = &str> {
    el.children()
        .filter(|c| super::relay::is_ref(c))
        .filter_map(|c| c.attr("id"))
}

impl Core {
    /// The history row `input` refers to that the core no longer holds,
    /// if any: the app reads it from the store and hands it in
    /// (`Input::Recalled`) before the input. Only a group holding its
    /// whole window (`RING` rows) can have older ones, so smaller groups
    /// never cost a read.
    pub fn recall_for(&self, now: Millis, input: &Input) -> Option<Recall> {
        match input {
            Input::Stanza(el) if el.name() == "message" => {
                // Most messages refer to none: no JID is even parsed then.
                if !el.children().any(super::relay::is_ref) {
                    return None;
                }
                let (to, _) = names::split_jid(el.attr("to")?);
                let (from, occupant) = names::split_jid(el.attr("from")?);
                let local = to.strip_suffix(&self.cfg.domain)?.strip_suffix('@')?;
                let g = self.groups.get(local)?;
                if g.history.len() < RING {
                    return None;
                }
                // An occupant of a bridged room corrects or retracts a line
                // of theirs: by the reference the room bridge stored.
                if let Some(route) = self.muc_of(local, &from) {
                    let of = [
                        (stanza::NS_CORRECT, "replace"),
                        (stanza::NS_RETRACT, "retract"),
                    ]
                    .iter()
                    .find_map(|(ns, name)| stanza::child(el, name, ns)?.attr("id"))?;
                    let key = super::muc::ref_key(occupant?, of);
                    let known = g
                        .routes
                        .get(&route)
                        .is_some_and(|r| r.refs.contains_key(&key));
                    return (!known).then(|| Recall::Ref {
                        group: local.to_string(),
                        route,
                        key,
                    });
                }
                references(el).find_map(|id| match parse_copy_id(id) {
                    Some(seq) => g.row(seq).is_none().then(|| Recall::Row {
                        group: local.to_string(),
                        id: seq,
                    }),
                    None => g.own_row(&from, id).is_none().then(|| Recall::Origin {
                        group: local.to_string(),
                        sender: from.clone(),
                        origin_id: id.to_string(),
                    }),
                })
            }
            Input::BridgeCall(c) => self.bridge_recall(now, c),
            Input::Api(ApiCall {
                method: ApiMethod::Delete,
                path,
                ..
            }) => match path.as_slice() {
                [a, g, m, id] if a == "groups" && m == "messages" => {
                    let grp = self.groups.get(g.as_str())?;
                    let id: i64 = id.parse().ok()?;
                    (grp.history.len() >= RING && grp.row(id).is_none()).then(|| Recall::Row {
                        group: g.clone(),
                        id,
                    })
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// What the store had for a [`Recall`]: kept for the input that
    /// follows (and a few after it).
    pub(crate) fn recalled(&mut self, q: Recall, row: Option<HistoryRecord>) {
        let Some(row) = row else {
            return;
        };
        let (group, reference) = match q {
            Recall::Row { group, .. } | Recall::Origin { group, .. } => (group, None),
            Recall::Ref { group, route, key } => (group, Some((route, key))),
        };
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        if row.group != group {
            return;
        }
        // The room's or platform's reference, for the input that follows.
        if let Some((route, key)) = reference {
            if let Some(r) = g.routes.get_mut(&route) {
                r.refs.insert(key, row.id);
            }
        }
        if g.row(row.id).is_some() {
            return;
        }
        g.recalled.push_back(row);
        if g.recalled.len() > RECALLED {
            g.recalled.pop_front();
        }
    }

    /// `//delete` sent in reply to message `target` (the id the admin
    /// knows it by).
    pub(crate) fn cmd_delete_reply(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        target: &str,
        out: &mut Vec<Output>,
    ) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let gjid = g.jid.clone();
        let lang = self.lang_of(name, &ctx.from_bare);
        if !self.is_admin(g, &ctx.from_bare) {
            let text = t!(lang, "cmd-admin-only", cmd = "delete");
            self.say(&gjid, &ctx.from, &text, out);
            return;
        }
        let row = match parse_copy_id(target) {
            Some(seq) => g.row(seq).map(|h| h.id),
            None => g.own_row(&ctx.from_bare, target).map(|h| h.id),
        };
        let reply = match row {
            Some(seq) => {
                self.acknowledged = true;
                match self.remove_message(now, name, seq, lang, out) {
                    Ok(r) | Err(r) => r,
                }
            }
            None => t!(lang, "delete-unknown"),
        };
        self.say(&gjid, &ctx.from, &reply, out);
    }

    /// Removes history row `seq` of `name` for everyone: each member who
    /// got a copy gets its retraction, the rooms bridged with the group
    /// get theirs, undelivered copies for send routes and bridges are
    /// dropped, and the row is marked removed. `Err` when there is no such
    /// row (or it is gone already); either way the text says so.
    pub(crate) fn remove_message(
        &mut self,
        now: Millis,
        name: &str,
        seq: i64,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Result<String, String> {
        let shared = self.cfg.shared_copy_ids;
        let default = self.group_lang(name);
        let tag = self.sys_id();
        let route_id = text::message_id(&self.instance_id, seq);
        let g = self
            .groups
            .get_mut(name)
            .ok_or_else(|| t!(lang, "delete-unknown"))?;
        let h = match g.row(seq) {
            None => return Err(t!(lang, "delete-unknown")),
            Some(h) if h.removed => return Err(t!(lang, "delete-gone")),
            Some(h) => h.clone(),
        };
        for m in g.members.values().filter(|m| m.is_member()) {
            let known = if *m.rec.jid == *h.sender {
                match &h.origin_id {
                    Some(o) => o.clone(),
                    None => continue,
                }
            } else if m.rec.joined_at > h.at || m.blocks.contains(&h.sender) {
                continue; // They never had it.
            } else {
                copy_id(seq, copy_n(shared, m))
            };
            out.push(Output::Send(retraction(
                "chat",
                &g.jid,
                &m.rec.jid,
                &format!("{tag}-{}", m.rec.id),
                &known,
                m.rec.lang.or(m.client_lang).unwrap_or(default),
            )));
        }
        for r in g.routes.values_mut() {
            let in_flight = r.in_flight;
            r.queue.retain(|o| {
                // What is being posted now cannot be called back.
                let drop = o.msg.id == route_id && in_flight.is_none_or(|f| o.id > f);
                if drop {
                    out.push(Output::Store(StoreOp::Dequeue { id: o.id }));
                }
                !drop
            });
        }
        self.retract_in_rooms(name, seq, out);
        self.edit_history(name, seq, None, now, out);
        Ok(t!(lang, "delete-ok"))
    }
}
