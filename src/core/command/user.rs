//! Commands every member may run: who is here, their own nick, id,
//! blocks and pauses, private messages, history, leaving.

use super::Reply;
use crate::core::model::{Millis, StoreOp};
use crate::core::names;
use crate::core::presence::Leave;
use crate::core::stanza;
use crate::core::text::format_line;
use crate::core::{Core, Output};

impl Core {
    /// `//online`
    pub(super) fn cmd_online(&self, group: &str) -> Reply {
        let g = self.groups.get(group)?;
        let list: Vec<String> = g
            .members
            .values()
            .filter(|m| m.is_member() && m.online())
            .map(|m| format!("{} ({})", m.rec.nick, m.rec.fid))
            .collect();
        Some(format!(
            "Online ({} of {}): {}",
            list.len(),
            g.member_count(),
            list.join(", ")
        ))
    }

    /// `//nick NAME`
    pub(super) fn cmd_nick(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        wanted: &str,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let nick = match names::validate_nick(wanted) {
            Ok(n) => n,
            Err(e) => return Some(format!("Nick refused: {e}.")),
        };
        if g.nick_taken(&nick, me) {
            return Some(format!("The nick {nick} is taken."));
        }
        let old = self.update_member(group, me, out, |m| {
            Some(std::mem::replace(&mut m.nick, nick.clone()))
        });
        if let Some(old) = old.filter(|old| *old != nick) {
            self.announce(
                now,
                group,
                Some(me),
                &format!("*** {old} is now {nick}"),
                out,
            );
            self.rename_puppets(group, me, &nick, out);
        }
        Some(format!("OK, you are now {nick}."))
    }

    /// `//setid ID`
    pub(super) fn cmd_setid(
        &mut self,
        group: &str,
        me: &str,
        fid: &str,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let m = g.members.get(me)?;
        if m.rec.fid_changed {
            return Some(format!(
                "Your id is {} and can be changed only once.",
                m.rec.fid
            ));
        }
        if g.fid_taken(fid, me) {
            return Some(format!("The id {fid} is taken."));
        }
        self.update_member(group, me, out, |m| {
            m.fid = fid.to_string();
            m.fid_changed = true;
            Some(())
        });
        Some(format!("OK, your id is now {fid}."))
    }

    /// `//block ID` (`on`) and `//unblock ID`.
    pub(super) fn cmd_block(
        &mut self,
        group: &str,
        me: &str,
        fid: &str,
        on: bool,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let Some(target) = g.by_fid(fid).map(|m| m.rec.jid.to_string()) else {
            return Some(format!("No member has the id {fid}."));
        };
        if target == me {
            return Some("You cannot block yourself.".into());
        }
        let m = self.groups.get_mut(group)?.member_mut(me)?;
        if on {
            m.blocks.insert(target.clone());
        } else {
            m.blocks.remove(&target);
        }
        out.push(Output::Store(StoreOp::SetBlock {
            group: group.to_string(),
            jid: me.to_string(),
            blocked: target,
            on,
        }));
        Some("OK".into())
    }

    /// `//m ID TEXT`
    pub(super) fn cmd_msg(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        fid: &str,
        text: &str,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let Some(t) = g.by_fid(fid) else {
            return Some(format!("No member has the id {fid}."));
        };
        if *t.rec.jid == *me {
            return Some("That is you.".into());
        }
        let sender = g.members.get(me)?;
        if t.stopped(now) {
            return Some(format!(
                "{} has paused the group (//stop) and receives nothing now.",
                t.rec.nick
            ));
        }
        if text.chars().count() > self.cfg.max_body {
            return Some(format!(
                "Not sent: the limit is {} characters.",
                self.cfg.max_body
            ));
        }
        // A block is not revealed: the sender reads OK either way.
        let blocked = t.blocks.contains(me);
        let (gjid, tjid) = (g.jid.clone(), t.rec.jid.clone());
        let line = format!("[{} → you] {text}", sender.rec.nick);
        if !blocked {
            self.say(&gjid, &tjid, &line, out);
        }
        Some("OK".into())
    }

    /// `//showinfo ID`
    pub(super) fn cmd_showinfo(&self, group: &str, fid: &str) -> Reply {
        let g = self.groups.get(group)?;
        let Some(t) = g.by_fid(fid) else {
            return Some(format!("No member has the id {fid}."));
        };
        let admin = t.rec.admin || self.is_service_admin(&t.rec.jid);
        Some(format!(
            "{} (id {}): {}, {}, joined {}",
            t.rec.nick,
            t.rec.fid,
            if admin { "admin" } else { "member" },
            if t.online() { "online" } else { "offline" },
            stanza::human_date(t.rec.joined_at)
        ))
    }

    /// `//stop SECONDS` (`None`: `//stop -1` and `//continue`).
    pub(super) fn cmd_stop(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        secs: Option<i64>,
        out: &mut Vec<Output>,
    ) -> Reply {
        let Some(secs) = secs else {
            self.update_member(group, me, out, |m| {
                m.stop_until = None;
                Some(())
            });
            return Some("OK, you receive the group's messages again.".into());
        };
        // At most ten years; a larger value means "until I say so".
        let until = now + secs.min(10 * 365 * 24 * 3600) * 1000;
        self.update_member(group, me, out, |m| {
            m.stop_until = Some(until);
            Some(())
        });
        Some(format!(
            "OK, you receive nothing until {} UTC (//continue ends it). What is said meanwhile will not be delivered later.",
            stanza::human_time(until)
        ))
    }

    /// `//history [N]`
    pub(super) fn cmd_history(&self, group: &str, me: &str, n: usize) -> Reply {
        let g = self.groups.get(group)?;
        let m = g.members.get(me);
        let visible: Vec<String> = g
            .history
            .iter()
            .filter(|h| m.is_none_or(|m| !m.blocks.contains(&h.sender)))
            .map(|h| {
                let at = stanza::human_time(h.at);
                if h.removed {
                    format!("{at} [{}] (message removed)", h.nick)
                } else if h.edited_at.is_some() {
                    format!("{at} {} (corrected)", format_line(&h.nick, &h.text))
                } else {
                    format!("{at} {}", format_line(&h.nick, &h.text))
                }
            })
            .collect();
        if visible.is_empty() {
            return Some("No messages yet.".into());
        }
        let skip = visible.len().saturating_sub(n);
        Some(format!(
            "Last {} messages (UTC):\n{}",
            visible.len() - skip,
            visible[skip..].join("\n")
        ))
    }

    /// `//leave`: the goodbye is the reply.
    pub(super) fn cmd_leave(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        out: &mut Vec<Output>,
    ) -> Reply {
        self.remove_member(now, group, me, Leave::LeftByCommand, out);
        None
    }
}
