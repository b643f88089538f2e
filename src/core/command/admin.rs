//! Commands for group admins: approving and inviting, removing and
//! banning, admin rights, muting, and the member list.

use super::Reply;
use crate::core::i18n::{t, Lang};
use crate::core::model::{MemberState, Millis, StoreOp};
use crate::core::presence::{send_presence, subscribe_with_title, Leave};
use crate::core::{Core, Output};

impl Core {
    /// `//whois ID`
    pub(super) fn cmd_whois(&self, group: &str, fid: &str, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        Some(match g.by_fid(fid) {
            Some(m) => t!(
                lang,
                "whois",
                fid = m.rec.fid.as_str(),
                nick = m.rec.nick.as_str(),
                jid = &*m.rec.jid
            ),
            None => t!(lang, "no-such-id", fid = fid),
        })
    }

    /// `//add JID`: approve a pending request, invite someone new, or reset
    /// a member's profile.
    pub(super) fn cmd_add(
        &mut self,
        now: Millis,
        group: &str,
        jid: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        if g.blacklist.contains(jid) {
            return Some(t!(lang, "add-blacklisted", jid = jid));
        }
        let gjid = g.jid.clone();
        Some(match g.members.get(jid).map(|m| m.rec.state) {
            Some(MemberState::Pending) => {
                self.admit(now, group, jid, false, out);
                t!(lang, "add-approved", jid = jid)
            }
            Some(MemberState::Member) => {
                // default_names leaves `jid`'s own names out of the check
                // (no copy of the group needed).
                let (nick, fid) = g.default_names(jid);
                self.update_member(group, jid, out, |m| {
                    m.nick = nick.clone();
                    m.fid = fid.clone();
                    m.fid_changed = false;
                    m.muted = false;
                    m.stop_until = None;
                    Some(())
                });
                let m = self.groups.get_mut(group)?.member_mut(jid)?;
                for b in m.blocks.drain() {
                    out.push(Output::Store(StoreOp::SetBlock {
                        group: group.to_string(),
                        jid: jid.to_string(),
                        blocked: b,
                        on: false,
                    }));
                }
                t!(lang, "add-reset", jid = jid, nick = nick, fid = fid)
            }
            Some(MemberState::Invited) => {
                out.push(Output::Send(subscribe_with_title(&gjid, jid, &g.title)));
                t!(lang, "add-reinvited", jid = jid)
            }
            None => {
                let rec = self.new_member_record(now, group, jid, MemberState::Invited, false);
                out.push(Output::Store(StoreOp::UpsertMember(rec.clone())));
                let g = self.groups.get_mut(group)?;
                g.put_member(rec);
                out.push(Output::Send(subscribe_with_title(&gjid, jid, &g.title)));
                t!(lang, "add-invited", jid = jid)
            }
        })
    }

    /// `//allok`
    pub(super) fn cmd_allok(
        &mut self,
        now: Millis,
        group: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let pending: Vec<String> = g.pending().map(str::to_string).collect();
        if pending.is_empty() {
            return Some(t!(lang, "allok-none"));
        }
        for jid in &pending {
            self.admit(now, group, jid, false, out);
        }
        Some(t!(
            lang,
            "allok-ok",
            n = pending.len(),
            list = pending.join(", ")
        ))
    }

    /// `//listuser`
    pub(super) fn cmd_listuser(&self, group: &str, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        let mut lines = vec![t!(lang, "listuser-header", n = g.members.len())];
        for m in g.members.values() {
            let admin = m.rec.admin || self.is_service_admin(&m.rec.jid);
            let flag = |on: bool, id: &str| if on { t!(lang, id) } else { String::new() };
            let flags = flag(m.rec.muted, "listuser-muted") + &flag(m.online(), "listuser-online");
            lines.push(t!(
                lang,
                "listuser-line",
                jid = &*m.rec.jid,
                state = t!(lang, &format!("state-{}", m.rec.state.as_str())),
                admin = flag(admin, "listuser-admin"),
                nick = m.rec.nick.as_str(),
                fid = m.rec.fid.as_str(),
                flags = flags
            ));
        }
        if !g.blacklist.is_empty() {
            let mut b: Vec<&str> = g.blacklist.iter().map(String::as_str).collect();
            b.sort_unstable();
            lines.push(t!(lang, "listuser-blacklist", list = b.join(", ")));
        }
        Some(lines.join("\n"))
    }

    /// `//kick JID`
    pub(super) fn cmd_kick(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        jid: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        if jid == me {
            return Some(t!(lang, "kick-self"));
        }
        if !g.members.contains_key(jid) {
            return Some(t!(lang, "kick-not-in", jid = jid));
        }
        if self.is_service_admin(jid) {
            return Some(t!(lang, "kick-service-admin"));
        }
        self.remove_member(now, group, jid, Leave::Kicked, out);
        Some(t!(lang, "kick-ok", jid = jid))
    }

    /// `//blacklist JID`
    pub(super) fn cmd_blacklist(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        jid: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        if jid == me {
            return Some(t!(lang, "blacklist-self"));
        }
        if self.is_service_admin(jid) {
            return Some(t!(lang, "blacklist-service-admin"));
        }
        if g.blacklist.contains(jid) {
            return Some(t!(lang, "blacklist-already", jid = jid));
        }
        let gjid = g.jid.clone();
        let present = g.members.contains_key(jid);
        self.groups.get_mut(group)?.ban(jid);
        out.push(Output::Store(StoreOp::SetBlacklisted {
            group: group.to_string(),
            jid: jid.to_string(),
            on: true,
        }));
        if present {
            self.remove_member(now, group, jid, Leave::Kicked, out);
        } else {
            send_presence(out, &gjid, jid, Some("unsubscribed"));
        }
        Some(t!(lang, "blacklist-ok", jid = jid))
    }

    /// `//pass JID`
    pub(super) fn cmd_pass(
        &mut self,
        group: &str,
        jid: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get_mut(group)?;
        if !g.unban(jid) {
            return Some(t!(lang, "pass-not", jid = jid));
        }
        out.push(Output::Store(StoreOp::SetBlacklisted {
            group: group.to_string(),
            jid: jid.to_string(),
            on: false,
        }));
        Some(t!(lang, "pass-ok", jid = jid))
    }

    /// `//admin JID` (`on`) and `//unadmin JID`.
    pub(super) fn cmd_admin(
        &mut self,
        group: &str,
        me: &str,
        jid: &str,
        on: bool,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let Some(target) = g.members.get(jid).filter(|m| m.is_member()) else {
            return Some(t!(lang, "not-a-member", jid = jid));
        };
        if target.rec.admin == on {
            let id = if on { "admin-already" } else { "admin-not" };
            return Some(t!(lang, id, jid = jid));
        }
        if !on {
            let others = g
                .members
                .values()
                .filter(|m| m.is_member() && m.rec.admin && *m.rec.jid != *jid)
                .count();
            if others == 0 && jid == me {
                return Some(t!(lang, "admin-last-you"));
            }
            if others == 0 {
                return Some(t!(lang, "admin-last", jid = jid));
            }
        }
        let (gjid, title) = (g.jid.clone(), g.title.clone());
        self.update_member(group, jid, out, |m| {
            m.admin = on;
            Some(())
        });
        let id = if on { "admin-granted" } else { "admin-revoked" };
        let note = t!(self.lang_of(group, jid), id, title = title.as_str());
        if jid != me {
            self.say(&gjid, jid, &note, out);
        }
        Some(t!(lang, "ok"))
    }

    /// `//mute ID` (`on`) and `//unmute ID`: the member is told at once,
    /// not only the next time they speak.
    pub(super) fn cmd_mute(
        &mut self,
        group: &str,
        me: &str,
        fid: &str,
        on: bool,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let Some(jid) = g.by_fid(fid).map(|m| m.rec.jid.to_string()) else {
            return Some(t!(lang, "no-such-id", fid = fid));
        };
        let gjid = g.jid.clone();
        let changed =
            self.update_member(group, &jid, out, |m| (m.muted != on).then(|| m.muted = on));
        if changed.is_none() {
            let id = if on { "mute-already" } else { "mute-not" };
            return Some(t!(lang, id, fid = fid));
        }
        let id = if on { "muted-you" } else { "unmuted-you" };
        let note = t!(self.lang_of(group, &jid), id);
        if jid != me {
            self.say(&gjid, &jid, &note, out);
        }
        Some(t!(lang, "ok"))
    }
}
