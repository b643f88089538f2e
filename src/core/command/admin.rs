//! Commands for group admins: approving and inviting, removing and
//! banning, admin rights, muting, and the member list.

use super::Reply;
use crate::core::model::{MemberState, Millis, StoreOp};
use crate::core::presence::{send_presence, subscribe_with_title, Leave};
use crate::core::{Core, Output};

impl Core {
    /// `//whois ID`
    pub(super) fn cmd_whois(&self, group: &str, fid: &str) -> Reply {
        let g = self.groups.get(group)?;
        Some(match g.by_fid(fid) {
            Some(t) => format!("{} ({}) is {}", t.rec.fid, t.rec.nick, t.rec.jid),
            None => format!("No member has the id {fid}."),
        })
    }

    /// `//add JID`: approve a pending request, invite someone new, or reset
    /// a member's profile.
    pub(super) fn cmd_add(
        &mut self,
        now: Millis,
        group: &str,
        jid: &str,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        if g.blacklist.contains(jid) {
            return Some(format!("{jid} is blacklisted: //pass {jid} first."));
        }
        let gjid = g.jid.clone();
        Some(match g.members.get(jid).map(|m| m.rec.state) {
            Some(MemberState::Pending) => {
                self.admit(now, group, jid, false, out);
                format!("OK, {jid} is now a member.")
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
                format!("OK, {jid}'s profile was reset (nick {nick}, id {fid}).")
            }
            Some(MemberState::Invited) => {
                out.push(Output::Send(subscribe_with_title(&gjid, jid, &g.title)));
                format!("{jid} was already invited; the request was sent again.")
            }
            None => {
                let rec = self.new_member_record(now, group, jid, MemberState::Invited, false);
                out.push(Output::Store(StoreOp::UpsertMember(rec.clone())));
                let g = self.groups.get_mut(group)?;
                g.put_member(rec);
                out.push(Output::Send(subscribe_with_title(&gjid, jid, &g.title)));
                format!(
                    "OK, {jid} is invited: they join when they accept the group's contact request."
                )
            }
        })
    }

    /// `//allok`
    pub(super) fn cmd_allok(&mut self, now: Millis, group: &str, out: &mut Vec<Output>) -> Reply {
        let g = self.groups.get(group)?;
        let pending: Vec<String> = g.pending().map(str::to_string).collect();
        if pending.is_empty() {
            return Some("No pending requests.".into());
        }
        for jid in &pending {
            self.admit(now, group, jid, false, out);
        }
        Some(format!(
            "OK, approved {}: {}",
            pending.len(),
            pending.join(", ")
        ))
    }

    /// `//listuser`
    pub(super) fn cmd_listuser(&self, group: &str) -> Reply {
        let g = self.groups.get(group)?;
        let mut lines = vec![format!("{} entries:", g.members.len())];
        for m in g.members.values() {
            let admin = m.rec.admin || self.is_service_admin(&m.rec.jid);
            lines.push(format!(
                "{} — {}{}, nick {}, id {}{}{}",
                m.rec.jid,
                m.rec.state.as_str(),
                if admin { ", admin" } else { "" },
                m.rec.nick,
                m.rec.fid,
                if m.rec.muted { ", muted" } else { "" },
                if m.online() { ", online" } else { "" },
            ));
        }
        if !g.blacklist.is_empty() {
            let mut b: Vec<&str> = g.blacklist.iter().map(String::as_str).collect();
            b.sort_unstable();
            lines.push(format!("blacklisted: {}", b.join(", ")));
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
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        if jid == me {
            return Some("Use //leave to leave.".into());
        }
        if !g.members.contains_key(jid) {
            return Some(format!("{jid} is not in this group."));
        }
        if self.is_service_admin(jid) {
            return Some("A service admin cannot be kicked.".into());
        }
        self.remove_member(now, group, jid, Leave::Kicked, out);
        Some(format!("OK, {jid} was removed."))
    }

    /// `//blacklist JID`
    pub(super) fn cmd_blacklist(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        jid: &str,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        if jid == me {
            return Some("You cannot blacklist yourself.".into());
        }
        if self.is_service_admin(jid) {
            return Some("A service admin cannot be blacklisted.".into());
        }
        if g.blacklist.contains(jid) {
            return Some(format!("{jid} is already blacklisted."));
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
        Some(format!("OK, {jid} is blacklisted."))
    }

    /// `//pass JID`
    pub(super) fn cmd_pass(&mut self, group: &str, jid: &str, out: &mut Vec<Output>) -> Reply {
        let g = self.groups.get_mut(group)?;
        if !g.unban(jid) {
            return Some(format!("{jid} is not blacklisted."));
        }
        out.push(Output::Store(StoreOp::SetBlacklisted {
            group: group.to_string(),
            jid: jid.to_string(),
            on: false,
        }));
        Some(format!("OK, {jid} may join again."))
    }

    /// `//admin JID` (`on`) and `//unadmin JID`.
    pub(super) fn cmd_admin(
        &mut self,
        group: &str,
        me: &str,
        jid: &str,
        on: bool,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let Some(t) = g.members.get(jid).filter(|m| m.is_member()) else {
            return Some(format!("{jid} is not a member."));
        };
        if t.rec.admin == on {
            return Some(format!(
                "{jid} {} an admin.",
                if on { "is already" } else { "is not" }
            ));
        }
        if !on {
            let others = g
                .members
                .values()
                .filter(|m| m.is_member() && m.rec.admin && *m.rec.jid != *jid)
                .count();
            if others == 0 && jid == me {
                return Some("You are the last admin: make someone else admin first.".into());
            }
            if others == 0 {
                return Some(format!(
                    "{jid} is the last admin: make someone else admin first."
                ));
            }
        }
        let (gjid, title) = (g.jid.clone(), g.title.clone());
        self.update_member(group, jid, out, |m| {
            m.admin = on;
            Some(())
        });
        let note = if on {
            format!("You are now an admin of {title}. //help lists admin commands.")
        } else {
            format!("You are no longer an admin of {title}.")
        };
        if jid != me {
            self.say(&gjid, jid, &note, out);
        }
        Some("OK".into())
    }

    /// `//mute ID` (`on`) and `//unmute ID`: the member is told at once,
    /// not only the next time they speak.
    pub(super) fn cmd_mute(
        &mut self,
        group: &str,
        me: &str,
        fid: &str,
        on: bool,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let Some(jid) = g.by_fid(fid).map(|m| m.rec.jid.to_string()) else {
            return Some(format!("No member has the id {fid}."));
        };
        let gjid = g.jid.clone();
        let changed =
            self.update_member(group, &jid, out, |m| (m.muted != on).then(|| m.muted = on));
        if changed.is_none() {
            let state = if on { "already muted" } else { "not muted" };
            return Some(format!("{fid} is {state}."));
        }
        let note = if on {
            "An admin muted you: what you send is not relayed until they //unmute you."
        } else {
            "An admin unmuted you: what you send is relayed again."
        };
        if jid != me {
            self.say(&gjid, &jid, note, out);
        }
        Some("OK".into())
    }
}
