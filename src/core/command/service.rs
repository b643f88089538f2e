//! Commands sent to the bare service domain: creating, deleting and
//! listing groups (service admins), and for everyone else help, their
//! groups and the ones they can join, and a refusal that says why.

use super::{find, help_one, help_text, parse, split, usage, Command, Level, Parsed, Refusal};
use crate::core::i18n::t;
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
        return Err(Refusal::Say(
            "Group name refused: use lowercase [a-z0-9][a-z0-9._-], at most 64.".into(),
        ));
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
        out: &mut Vec<Output>,
    ) {
        let domain = self.cfg.domain.clone();
        let admin = self.is_service_admin(&ctx.from_bare);
        if !admin && !self.may_answer_command(now, &domain, &ctx.from_bare) {
            return;
        }
        let (cmd, rest) = split(body);
        let lang = self.cfg.lang;
        let reply = match find(&cmd) {
            None => t!(lang, "cmd-unknown", cmd = cmd.as_str()),
            Some(s) if s.level != Level::Service && s.name != "help" => format!(
                "//{} works in a group: send it to the group's address (//groups lists them).",
                s.name
            ),
            Some(s) if !admin && s.level == Level::Service && s.name != "groups" => format!(
                "Refused: //{} is for the service's admins.\n\n{}",
                s.name,
                self.groups_for(&ctx.from_bare)
            ),
            Some(s) => match parse(s, rest) {
                Err(Refusal::Usage) => usage(s, lang),
                Err(Refusal::Say(text)) => format!("{text}\n{}", usage(s, lang)),
                Ok(Command::Help(None)) if admin => help_text(Level::Service, true, lang),
                Ok(Command::Help(Some(c))) if admin => help_one(Level::Service, true, &c, lang),
                Ok(Command::Help(_)) => format!(
                    "Here you find the groups of {domain}: //groups lists them. To join one, add its address as a contact; in a group, //help lists its commands. Creating and deleting groups is for the service's admins.\n\n{}",
                    self.groups_for(&ctx.from_bare)
                ),
                Ok(_) if !admin => self.groups_for(&ctx.from_bare),
                Ok(Command::NewGroup { name, join }) => {
                    self.create_group(now, &name, &name, join, out)
                }
                Ok(Command::DelGroup(name)) => self.delete_group(&name, out),
                Ok(Command::Groups) => self.all_groups(),
                // Group commands were answered above.
                Ok(_) => usage(s, lang),
            },
        };
        self.say(&domain, &ctx.from, &reply, out);
    }

    /// `//groups` for a service admin: every group with its counts.
    fn all_groups(&self) -> String {
        if self.groups.is_empty() {
            return "No groups.".into();
        }
        let lines: Vec<String> = (self.groups.values())
            .map(|g| {
                format!(
                    "{} — {} ({}, {} members, {} online, {} pending)",
                    g.jid,
                    g.title,
                    g.join.as_str(),
                    g.member_count(),
                    g.online_count(),
                    g.pending().count()
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
        out: &mut Vec<Output>,
    ) -> String {
        if self.groups.contains_key(name) {
            return format!("The group {name} already exists.");
        }
        let g = Group::new(name, &self.cfg.domain, title, join, now);
        out.push(Output::Store(StoreOp::UpsertGroup(g.record())));
        let jid = g.jid.clone();
        self.groups.insert(name.to_string(), g);
        format!(
            "OK, created {jid} ({}). Add it as a contact to join.",
            join.as_str()
        )
    }

    /// `//delgroup NAME`: members are told, and both subscriptions end.
    pub(crate) fn delete_group(&mut self, name: &str, out: &mut Vec<Output>) -> String {
        let Some(g) = self.groups.remove(name) else {
            return format!("No group {name}.");
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
                    &format!("{} was deleted by the service admin.", g.title),
                )));
                send_presence(out, &g.presence_jid, &m.rec.jid, Some("unavailable"));
            }
            send_presence(out, &g.jid, &m.rec.jid, Some("unsubscribed"));
            send_presence(out, &g.jid, &m.rec.jid, Some("unsubscribe"));
        }
        format!("OK, deleted {}.", g.jid)
    }
}
