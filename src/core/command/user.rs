//! Commands every member may run: who is here, their own nick, id,
//! blocks and pauses, private messages, history, leaving.

use super::Reply;
use crate::core::i18n::{t, Lang, LangSource};
use crate::core::model::{Millis, StoreOp};
use crate::core::names;
use crate::core::presence::Leave;
use crate::core::stanza;
use crate::core::text::format_line;
use crate::core::{Core, Output};

impl Core {
    /// `//online`
    pub(super) fn cmd_online(&self, group: &str, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        let list: Vec<String> = g
            .members
            .values()
            .filter(|m| m.is_member() && m.online())
            .map(|m| format!("{} ({})", m.rec.nick, m.rec.fid))
            .collect();
        Some(t!(
            lang,
            "online-list",
            online = list.len(),
            total = g.member_count(),
            list = list.join(", ")
        ))
    }

    /// `//nick NAME`
    pub(super) fn cmd_nick(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        wanted: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let nick = match names::validate_nick(wanted) {
            Ok(n) => n,
            Err(e) => {
                let why = match e {
                    names::NickError::Empty => t!(lang, "nick-empty"),
                    names::NickError::TooLong => t!(lang, "nick-too-long"),
                    names::NickError::Forbidden(c @ ('[' | ']')) => {
                        t!(lang, "nick-bracket", c = c.to_string())
                    }
                    names::NickError::Forbidden(c) => {
                        t!(lang, "nick-invisible", code = format!("U+{:04X}", c as u32))
                    }
                };
                return Some(t!(lang, "nick-refused", why = why));
            }
        };
        if g.nick_taken(&nick, me) {
            return Some(t!(lang, "nick-taken", nick = nick.as_str()));
        }
        let old = self.update_member(group, me, out, |m| {
            Some(std::mem::replace(&mut m.nick, nick.clone()))
        });
        if let Some(old) = old.filter(|old| *old != nick) {
            self.announce(
                now,
                group,
                Some(me),
                &|l| t!(l, "notice-nick", old = old.as_str(), nick = nick.as_str()),
                out,
            );
            self.rename_puppets(group, me, &nick, out);
        }
        Some(t!(lang, "nick-ok", nick = nick.as_str()))
    }

    /// `//setid ID`
    pub(super) fn cmd_setid(
        &mut self,
        group: &str,
        me: &str,
        fid: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let m = g.members.get(me)?;
        if m.rec.fid_changed {
            return Some(t!(lang, "setid-once", fid = m.rec.fid.as_str()));
        }
        if g.fid_taken(fid, me) {
            return Some(t!(lang, "setid-taken", fid = fid));
        }
        self.update_member(group, me, out, |m| {
            m.fid = fid.to_string();
            m.fid_changed = true;
            Some(())
        });
        Some(t!(lang, "setid-ok", fid = fid))
    }

    /// `//block ID` (`on`) and `//unblock ID`.
    pub(super) fn cmd_block(
        &mut self,
        group: &str,
        me: &str,
        fid: &str,
        on: bool,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = self.groups.get(group)?;
        let Some(target) = g.by_fid(fid).map(|m| m.rec.jid.to_string()) else {
            return Some(t!(lang, "no-such-id", fid = fid));
        };
        if target == me {
            return Some(t!(lang, "block-self"));
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
        Some(t!(lang, "ok"))
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
        let lang = self.lang_of(group, me);
        let g = self.groups.get(group)?;
        let Some(t) = g.by_fid(fid) else {
            return Some(t!(lang, "no-such-id", fid = fid));
        };
        if *t.rec.jid == *me {
            return Some(t!(lang, "msg-self"));
        }
        let sender = g.members.get(me)?;
        if t.stopped(now) {
            return Some(t!(lang, "msg-paused", nick = t.rec.nick.as_str()));
        }
        if text.chars().count() > self.cfg.max_body {
            return Some(t!(lang, "msg-too-long", max = self.cfg.max_body));
        }
        // A block is not revealed: the sender reads OK either way.
        let blocked = t.blocks.contains(me);
        let (gjid, tjid) = (g.jid.clone(), t.rec.jid.clone());
        // In the language of the one who reads it.
        let line = t!(
            self.lang_of(group, &tjid),
            "msg-private",
            nick = sender.rec.nick.as_str(),
            text = text
        );
        if !blocked {
            self.say(&gjid, &tjid, &line, out);
        }
        Some(t!(lang, "ok"))
    }

    /// `//showinfo ID`
    pub(super) fn cmd_showinfo(&self, group: &str, fid: &str, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        let Some(t) = g.by_fid(fid) else {
            return Some(t!(lang, "no-such-id", fid = fid));
        };
        let admin = t.rec.admin || self.is_service_admin(&t.rec.jid);
        Some(t!(
            lang,
            "showinfo",
            nick = t.rec.nick.as_str(),
            fid = t.rec.fid.as_str(),
            role = t!(lang, if admin { "role-admin" } else { "role-member" }),
            state = t!(
                lang,
                if t.online() {
                    "state-online"
                } else {
                    "state-offline"
                }
            ),
            date = stanza::human_date(t.rec.joined_at)
        ))
    }

    /// `//stop SECONDS` (`None`: `//stop -1` and `//continue`).
    pub(super) fn cmd_stop(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        secs: Option<i64>,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let Some(secs) = secs else {
            self.update_member(group, me, out, |m| {
                m.stop_until = None;
                Some(())
            });
            return Some(t!(lang, "stop-off"));
        };
        // At most ten years; a larger value means "until I say so".
        let until = now + secs.min(10 * 365 * 24 * 3600) * 1000;
        self.update_member(group, me, out, |m| {
            m.stop_until = Some(until);
            Some(())
        });
        Some(t!(lang, "stop-until", until = stanza::human_time(until)))
    }

    /// `//history [N]`
    pub(super) fn cmd_history(&self, group: &str, me: &str, n: usize, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        let m = g.members.get(me);
        let visible: Vec<String> = g
            .history
            .iter()
            .filter(|h| m.is_none_or(|m| !m.blocks.contains(&h.sender)))
            .map(|h| {
                let at = stanza::human_time(h.at);
                if h.removed {
                    t!(lang, "history-removed", at = at, nick = h.nick.as_str())
                } else if h.edited_at.is_some() {
                    let line = format_line(&h.nick, &h.text);
                    t!(lang, "history-corrected", at = at, line = line)
                } else {
                    format!("{at} {}", format_line(&h.nick, &h.text))
                }
            })
            .collect();
        if visible.is_empty() {
            return Some(t!(lang, "history-empty"));
        }
        let skip = visible.len().saturating_sub(n);
        Some(format!(
            "{}\n{}",
            t!(lang, "history-header", n = visible.len() - skip),
            visible[skip..].join("\n")
        ))
    }

    /// `//lang`: shows the language of replies and why, or sets it.
    pub(super) fn cmd_lang(
        &mut self,
        now: Millis,
        group: &str,
        me: &str,
        c: super::LangCmd,
        out: &mut Vec<Output>,
    ) -> Reply {
        use super::LangCmd;
        let name = |l: Lang| {
            t!(
                l,
                if l == Lang::Zh {
                    "lang-name-zh"
                } else {
                    "lang-name-en"
                }
            )
        };
        match c {
            LangCmd::Show => {
                let (l, why) = self.lang_and_source(group, me);
                let id = match why {
                    LangSource::Chosen => "lang-now-set",
                    LangSource::Client => "lang-now-client",
                    LangSource::Group => "lang-now-group",
                };
                Some(t!(l, id, lang = name(l)))
            }
            LangCmd::Unknown(x) => Some(t!(self.lang_of(group, me), "lang-unknown", lang = x)),
            LangCmd::Set(l) => {
                let before = self.lang_of(group, me);
                self.update_member(group, me, out, |m| {
                    m.lang = Some(l);
                    Some(())
                });
                self.reshow_status(now, group, me, before);
                Some(t!(l, "lang-set", lang = name(l)))
            }
            LangCmd::Auto => {
                let before = self.lang_of(group, me);
                self.update_member(group, me, out, |m| {
                    m.lang = None;
                    Some(())
                });
                self.reshow_status(now, group, me, before);
                let l = self.lang_of(group, me);
                Some(t!(l, "lang-auto", lang = name(l)))
            }
        }
    }

    /// After a change of `me`'s language from `before`: the group's status
    /// line goes to them again, in the new one, at the next status pass.
    fn reshow_status(&mut self, now: Millis, group: &str, me: &str, before: Lang) {
        if self.lang_of(group, me) == before {
            return;
        }
        if let Some(g) = self.groups.get_mut(group) {
            if let Some(m) = g.member_mut(me) {
                m.shown = crate::core::UNSHOWN;
            }
            g.status_mixed = true;
            g.status_touch(now);
        }
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
