//! Commands sent to the bare service domain: creating, deleting and
//! listing groups (service admins), and for everyone else help, their
//! groups and the ones they can join, and a refusal that says why.

use super::{find, help_one, help_text, parse, split, usage, Command, Level, Parsed, Refusal};
use crate::core::i18n::{t, Lang};
use crate::core::model::{JoinPolicy, Millis, StoreOp};
use crate::core::names;
use crate::core::presence::send_presence;
use crate::core::stanza;
use crate::core::{Core, Ctx, Group, Output};

/// `//newgroup NAME [open|approve|invite]`
pub(super) fn parse_newgroup(words: &[&str], _: &str) -> Parsed {
    let (name, join) = match words {
        [n] => (*n, JoinPolicy::Approve),
        [n, p] => (*n, JoinPolicy::parse(p).ok_or(Refusal::Usage)?),
        _ => return Err(Refusal::Usage),
    };
    if !names::is_valid_group_name(name) {
        return Err(Refusal::say("newgroup-bad-name", &[]));
    }
    Ok(Command::NewGroup {
        name: name.to_string(),
        join,
    })
}

impl Core {
    /// A command sent to the bare domain.
    pub(crate) fn on_service_command(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        body: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) {
        let domain = self.cfg.domain.clone();
        let admin = self.is_service_admin(&ctx.from_bare);
        if !admin && !self.may_answer_command(now, &domain, &ctx.from_bare) {
            return;
        }
        let (cmd, rest) = split(body);
        let reply = match find(&cmd) {
            None => t!(lang, "cmd-unknown", cmd = cmd.as_str()),
            Some(s) if s.level != Level::Service && s.name != "help" => {
                t!(lang, "service-group-command", cmd = s.name)
            }
            Some(s) if !admin && s.level == Level::Service && s.name != "groups" => format!(
                "{}\n\n{}",
                t!(lang, "service-refused", cmd = s.name),
                self.groups_for(&ctx.from_bare, lang)
            ),
            Some(s) => match parse(s, rest) {
                Err(Refusal::Usage) => usage(s, lang),
                Err(r @ Refusal::Say(..)) => format!("{}\n{}", r.text(lang), usage(s, lang)),
                Ok(Command::Help(None)) if admin => help_text(Level::Service, true, lang),
                Ok(Command::Help(Some(c))) if admin => help_one(Level::Service, true, &c, lang),
                Ok(Command::Help(_)) => format!(
                    "{}\n\n{}",
                    t!(lang, "service-help", domain = domain.as_str()),
                    self.groups_for(&ctx.from_bare, lang)
                ),
                Ok(_) if !admin => self.groups_for(&ctx.from_bare, lang),
                Ok(Command::NewGroup { name, join }) => {
                    self.create_group(now, &name, &name, join, lang, out)
                }
                Ok(Command::DelGroup(name)) => self.delete_group(&name, lang, out),
                Ok(Command::Groups) => self.all_groups(lang),
                // Group commands were answered above.
                Ok(_) => usage(s, lang),
            },
        };
        self.say(&domain, &ctx.from, &reply, out);
    }

    /// `//groups` for a service admin: every group with its counts.
    fn all_groups(&self, lang: Lang) -> String {
        if self.groups.is_empty() {
            return t!(lang, "groups-none");
        }
        let lines: Vec<String> = (self.groups.values())
            .map(|g| {
                t!(
                    lang,
                    "groups-line",
                    jid = g.jid.as_str(),
                    title = g.title.as_str(),
                    join = t!(lang, &format!("join-{}", g.join.as_str())),
                    members = g.member_count(),
                    online = g.online_count(),
                    pending = g.pending().count()
                )
            })
            .collect();
        lines.join("\n")
    }

    /// `//newgroup NAME [POLICY]` (and the API's `POST /groups`, with a
    /// title).
    pub(crate) fn create_group(
        &mut self,
        now: Millis,
        name: &str,
        title: &str,
        join: JoinPolicy,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> String {
        if self.groups.contains_key(name) {
            return t!(lang, "newgroup-exists", name = name);
        }
        let g = Group::new(name, &self.cfg.domain, title, join, now);
        out.push(Output::Store(StoreOp::UpsertGroup(g.record())));
        let jid = g.jid.clone();
        self.groups.insert(name.to_string(), g);
        t!(
            lang,
            "newgroup-ok",
            jid = jid,
            join = t!(lang, &format!("join-{}", join.as_str()))
        )
    }

    /// `//delgroup NAME`: members are told, and both subscriptions end.
    pub(crate) fn delete_group(&mut self, name: &str, lang: Lang, out: &mut Vec<Output>) -> String {
        let group_lang = self.group_lang(name);
        let Some(g) = self.groups.remove(name) else {
            return t!(lang, "delgroup-none", name = name);
        };
        out.push(Output::Store(StoreOp::DeleteGroup {
            group: name.to_string(),
        }));
        for m in g.members.values() {
            if m.is_member() {
                let id = self.sys_id();
                out.push(Output::Send(stanza::chat(
                    &g.jid,
                    &m.rec.jid,
                    &id,
                    &t!(
                        m.rec.lang.or(m.client_lang).unwrap_or(group_lang),
                        "delgroup-notice",
                        title = g.title.as_str()
                    ),
                )));
                send_presence(out, &g.presence_jid, &m.rec.jid, Some("unavailable"));
            }
            send_presence(out, &g.jid, &m.rec.jid, Some("unsubscribed"));
            send_presence(out, &g.jid, &m.rec.jid, Some("unsubscribe"));
        }
        t!(lang, "delgroup-ok", jid = g.jid.as_str())
    }
}
