//! Ad-hoc commands (XEP-0050) with data forms (XEP-0004): the operations
//! of the API and the `//commands` as forms in the clients that render
//! them (Gajim, Cheogram, Conversations, Psi). Each command has two steps:
//! `execute` returns the form, `complete` (or `execute` with a submitted
//! form) carries it out through the same code as the command it mirrors,
//! and answers with a note once the change is committed. The form carries
//! everything: no session state is kept between the steps.

use super::i18n::Lang;
use minidom::Element;

use super::command::Command;
use super::model::{JoinPolicy, Millis};
use super::stanza::{self, Attr, ErrorType};
use super::{Core, Ctx, Output};

pub const NS_COMMANDS: &str = "http://jabber.org/protocol/commands";
pub const NS_DATA: &str = "jabber:x:data";

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Member,
    Admin,
    ServiceAdmin,
}

/// (node, name, who, on a group (true) or the bare domain (false)).
const COMMANDS: &[(&str, &str, Who, bool)] = &[
    ("approve", "Approve pending requests", Who::Admin, true),
    ("remove", "Remove a member", Who::Admin, true),
    ("mute", "Mute or unmute", Who::Admin, true),
    ("edit", "Edit the group", Who::Admin, true),
    ("announce", "Send an announcement", Who::Admin, true),
    ("settings", "My settings", Who::Member, true),
    ("create", "Create a group", Who::ServiceAdmin, false),
    ("delete", "Delete a group", Who::ServiceAdmin, false),
];

fn field(var: &str, kind: &str, label: &str, values: &[&str]) -> Element {
    let mut f = Element::builder("field", NS_DATA)
        .a("var", var)
        .a("type", kind)
        .a("label", label);
    for v in values {
        f = f.append(stanza::text_child("value", NS_DATA, v));
    }
    f.build()
}

fn with_options(mut f: Element, options: &[(String, String)]) -> Element {
    for (label, value) in options {
        f.append_child(
            Element::builder("option", NS_DATA)
                .a("label", label.as_str())
                .append(stanza::text_child("value", NS_DATA, value))
                .build(),
        );
    }
    f
}

fn form(title: &str, instructions: &str, fields: Vec<Element>) -> Element {
    let mut x = Element::builder("x", NS_DATA)
        .a("type", "form")
        .append(stanza::text_child("title", NS_DATA, title))
        .append(stanza::text_child("instructions", NS_DATA, instructions));
    for f in fields {
        x = x.append(f);
    }
    x.build()
}

/// The values of field `var` in a submitted form.
fn values(x: &Element, var: &str) -> Vec<String> {
    x.children()
        .filter(|f| f.name() == "field" && f.attr("var") == Some(var))
        .flat_map(|f| {
            f.children()
                .filter(|v| v.name() == "value")
                .map(Element::text)
        })
        .collect()
}

fn value(x: &Element, var: &str) -> Option<String> {
    values(x, var)
        .into_iter()
        .next()
        .map(|v| v.trim().to_string())
}

impl Core {
    fn may(&self, who: Who, group: Option<&str>, jid: &str) -> bool {
        match (who, group) {
            (Who::ServiceAdmin, None) => self.is_service_admin(jid),
            (Who::Admin, Some(g)) => {
                self.is_service_admin(jid)
                    || self.groups.get(g).is_some_and(|g| {
                        g.members
                            .get(jid)
                            .is_some_and(|m| m.is_member() && m.rec.admin)
                            || g.config_admins.contains(jid)
                    })
            }
            (Who::Member, Some(g)) => self
                .groups
                .get(g)
                .is_some_and(|g| g.members.get(jid).is_some_and(|m| m.is_member())),
            _ => false,
        }
    }

    /// Handles the ad-hoc parts of an IQ; `None` when it is not one.
    pub(crate) fn on_adhoc_iq(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        group: Option<&str>,
        el: &Element,
        payload: &Element,
        out: &mut Vec<Output>,
    ) -> Option<()> {
        let get = el.attr("type") == Some("get");
        let own = match group {
            Some(g) => self.groups.get(g)?.jid.clone(),
            None => self.cfg.domain.clone(),
        };
        match (get, payload.name(), payload.ns().as_str()) {
            (true, "query", stanza::NS_DISCO_ITEMS)
                if payload.attr("node") == Some(NS_COMMANDS) =>
            {
                let mut q =
                    Element::builder("query", stanza::NS_DISCO_ITEMS).a("node", NS_COMMANDS);
                for (node, name, who, on_group) in COMMANDS {
                    if *on_group == group.is_some() && self.may(*who, group, &ctx.from_bare) {
                        q = q.append(
                            Element::builder("item", stanza::NS_DISCO_ITEMS)
                                .a("jid", own.as_str())
                                .a("node", *node)
                                .a("name", *name)
                                .build(),
                        );
                    }
                }
                out.push(Output::Send(stanza::iq_result(el, Some(q.build()))));
                Some(())
            }
            (true, "query", stanza::NS_DISCO_INFO)
                if payload
                    .attr("node")
                    .is_some_and(|n| COMMANDS.iter().any(|c| c.0 == n)) =>
            {
                let node = payload.attr("node").unwrap_or_default();
                let name = COMMANDS.iter().find(|c| c.0 == node).map_or("", |c| c.1);
                let q = Element::builder("query", stanza::NS_DISCO_INFO)
                    .a("node", node)
                    .append(
                        Element::builder("identity", stanza::NS_DISCO_INFO)
                            .a("category", "automation")
                            .a("type", "command-node")
                            .a("name", name)
                            .build(),
                    )
                    .append(
                        Element::builder("feature", stanza::NS_DISCO_INFO)
                            .a("var", NS_COMMANDS)
                            .build(),
                    )
                    .append(
                        Element::builder("feature", stanza::NS_DISCO_INFO)
                            .a("var", NS_DATA)
                            .build(),
                    )
                    .build();
                out.push(Output::Send(stanza::iq_result(el, Some(q))));
                Some(())
            }
            (false, "command", NS_COMMANDS) => {
                self.on_command_iq(now, ctx, group, el, payload, out);
                Some(())
            }
            _ => None,
        }
    }

    fn on_command_iq(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        group: Option<&str>,
        el: &Element,
        cmd: &Element,
        out: &mut Vec<Output>,
    ) {
        let node = cmd.attr("node").unwrap_or_default();
        let Some(&(node, name, who, on_group)) = COMMANDS.iter().find(|c| c.0 == node) else {
            out.push(Output::Send(stanza::error_reply(
                el,
                ErrorType::Cancel,
                "item-not-found",
                Some("no such command"),
            )));
            return;
        };
        if on_group != group.is_some() {
            out.push(Output::Send(stanza::error_reply(
                el,
                ErrorType::Cancel,
                "item-not-found",
                Some("no such command here"),
            )));
            return;
        }
        if !self.may(who, group, &ctx.from_bare) {
            out.push(Output::Send(stanza::error_reply(
                el,
                ErrorType::Auth,
                "forbidden",
                Some("this command is for the group's admins"),
            )));
            return;
        }
        let session = cmd
            .attr("sessionid")
            .map(str::to_string)
            .unwrap_or_else(|| format!("tg-adhoc-{}", self.sys_id()));
        let answer = |status: &str, child: Option<Element>| {
            let mut c = Element::builder("command", NS_COMMANDS)
                .a("node", node)
                .a("sessionid", session.as_str())
                .a("status", status);
            if let Some(ch) = child {
                c = c.append(ch);
            }
            c
        };
        let action = cmd.attr("action").unwrap_or("execute");
        if action == "cancel" {
            out.push(Output::Send(stanza::iq_result(
                el,
                Some(answer("canceled", None).build()),
            )));
            return;
        }
        let submitted = cmd
            .children()
            .find(|c| c.is("x", NS_DATA) && c.attr("type") == Some("submit"));
        let Some(x) = submitted else {
            // The first step: the form.
            let f = self.adhoc_form(node, name, group, &ctx.from_bare);
            let c = answer("executing", Some(f)).append(
                Element::builder("actions", NS_COMMANDS)
                    .a("execute", "complete")
                    .append(Element::builder("complete", NS_COMMANDS).build())
                    .build(),
            );
            out.push(Output::Send(stanza::iq_result(el, Some(c.build()))));
            return;
        };
        match self.adhoc_complete(now, ctx, node, group, x, out) {
            Ok(note) => {
                let c = answer("completed", None)
                    .append(
                        Element::builder("note", NS_COMMANDS)
                            .a("type", "info")
                            .append(note)
                            .build(),
                    )
                    .build();
                out.push(Output::Send(stanza::iq_result(el, Some(c))));
            }
            Err(why) => out.push(Output::Send(stanza::error_reply(
                el,
                ErrorType::Modify,
                "bad-request",
                Some(&why),
            ))),
        }
    }

    fn adhoc_form(&self, node: &str, name: &str, group: Option<&str>, jid: &str) -> Element {
        let g = group.and_then(|g| self.groups.get(g));
        let members = |admins_too: bool| -> Vec<(String, String)> {
            g.map(|g| {
                g.members
                    .values()
                    .filter(|m| m.is_member() && (admins_too || &*m.rec.jid != jid))
                    .map(|m| {
                        (
                            format!("{} ({})", m.rec.nick, m.rec.jid),
                            m.rec.jid.to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        let joins: Vec<(String, String)> = ["open", "approve", "invite"]
            .iter()
            .map(|j| (j.to_string(), j.to_string()))
            .collect();
        match node {
            "approve" => {
                let pending: Vec<(String, String)> = g
                    .map(|g| {
                        g.pending()
                            .map(|j| (j.to_string(), j.to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                form(
                    name,
                    "Choose the requests to approve.",
                    vec![with_options(
                        field("jids", "list-multi", "Pending requests", &[]),
                        &pending,
                    )],
                )
            }
            "remove" => form(
                name,
                "Remove a member; blacklisting also keeps them from coming back.",
                vec![
                    with_options(field("jid", "list-single", "Member", &[]), &members(false)),
                    with_options(
                        field("how", "list-single", "How", &["kick"]),
                        &[
                            ("Remove".into(), "kick".into()),
                            ("Remove and blacklist".into(), "blacklist".into()),
                        ],
                    ),
                ],
            ),
            "mute" => form(
                name,
                "A muted member's messages are not relayed.",
                vec![
                    with_options(field("jid", "list-single", "Member", &[]), &members(true)),
                    field("muted", "boolean", "Muted", &["1"]),
                ],
            ),
            "edit" => form(
                name,
                "The group's title and who may join.",
                vec![
                    field(
                        "title",
                        "text-single",
                        "Title",
                        &[g.map_or("", |g| g.title.as_str())],
                    ),
                    with_options(
                        field(
                            "join",
                            "list-single",
                            "Joining",
                            &[g.map_or("open", |g| g.join.as_str())],
                        ),
                        &joins,
                    ),
                ],
            ),
            "announce" => form(
                name,
                "Sent to every member from the group itself.",
                vec![field("body", "text-multi", "Announcement", &[])],
            ),
            "settings" => {
                let m = g.and_then(|g| g.members.get(jid));
                form(
                    name,
                    "Your nick in this group, and a pause (seconds; 0 ends one).",
                    vec![
                        field(
                            "nick",
                            "text-single",
                            "Nick",
                            &[m.map_or("", |m| m.rec.nick.as_str())],
                        ),
                        field("pause", "text-single", "Pause (seconds)", &[]),
                    ],
                )
            }
            "create" => form(
                name,
                "A new group; its address is NAME@this service.",
                vec![
                    field("name", "text-single", "Name", &[]),
                    field("title", "text-single", "Title", &[]),
                    with_options(
                        field("join", "list-single", "Joining", &["approve"]),
                        &joins,
                    ),
                ],
            ),
            "delete" => {
                let all: Vec<(String, String)> = self
                    .groups
                    .values()
                    .map(|g| (format!("{} ({})", g.title, g.jid), g.name.to_string()))
                    .collect();
                form(
                    name,
                    "Members are told, and the group is gone with all its data.",
                    vec![with_options(
                        field("group", "list-single", "Group", &[]),
                        &all,
                    )],
                )
            }
            _ => form(name, "", vec![]),
        }
    }

    /// Carries out a submitted form; the note for the client.
    fn adhoc_complete(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        node: &str,
        group: Option<&str>,
        x: &Element,
        out: &mut Vec<Output>,
    ) -> Result<String, String> {
        let g = group.unwrap_or_default();
        let said = |r: Option<String>| r.unwrap_or_else(|| "Done.".into());
        match node {
            "approve" => {
                let jids = values(x, "jids");
                if jids.is_empty() {
                    return Err("choose at least one request".into());
                }
                let mut notes = Vec::new();
                for j in jids {
                    notes.push(said(self.run_for_api(
                        now,
                        g,
                        Command::Add(j.trim().to_lowercase()),
                        out,
                    )));
                }
                Ok(notes.join("\n"))
            }
            "remove" => {
                let jid = value(x, "jid").ok_or("choose a member")?;
                let cmd = match value(x, "how").as_deref() {
                    Some("blacklist") => Command::Blacklist(jid),
                    _ => Command::Kick(jid),
                };
                Ok(said(self.run_for_api(now, g, cmd, out)))
            }
            "mute" => {
                let jid = value(x, "jid").ok_or("choose a member")?;
                let fid = self
                    .groups
                    .get(g)
                    .and_then(|gr| gr.members.get(&jid))
                    .map(|m| m.rec.fid.clone())
                    .ok_or("not a member")?;
                let on = matches!(value(x, "muted").as_deref(), Some("1" | "true"));
                let cmd = if on {
                    Command::Mute(fid)
                } else {
                    Command::Unmute(fid)
                };
                Ok(said(self.run_for_api(now, g, cmd, out)))
            }
            "edit" => {
                let body =
                    serde_json::json!({ "title": value(x, "title"), "join": value(x, "join") });
                self.api_patch_group_bytes(now, g, &body.to_string(), out)
                    .map(|_| "The group is changed.".into())
            }
            "announce" => {
                let body = values(x, "body").join("\n");
                let json = serde_json::json!({ "body": body }).to_string();
                self.api_say_bytes(now, g, &json, out)
                    .map(|_| "Sent to the members.".into())
            }
            "settings" => {
                let mut notes = Vec::new();
                let me = Ctx {
                    from: ctx.from.clone(),
                    from_bare: ctx.from_bare.clone(),
                    from_res: ctx.from_res.clone(),
                };
                if let Some(n) = value(x, "nick").filter(|n| !n.is_empty()) {
                    let current = self
                        .groups
                        .get(g)
                        .and_then(|gr| gr.members.get(&ctx.from_bare))
                        .map(|m| m.rec.nick.clone());
                    if current.as_deref() != Some(n.as_str()) {
                        notes.push(said(self.run_as(now, &me, g, Command::Nick(n), out)));
                    }
                }
                if let Some(p) = value(x, "pause").filter(|p| !p.is_empty()) {
                    let secs: i64 = p
                        .parse()
                        .map_err(|_| "the pause is a number of seconds".to_string())?;
                    let arg = if secs <= 0 { None } else { Some(secs) };
                    notes.push(said(self.run_as(now, &me, g, Command::Stop(arg), out)));
                }
                if notes.is_empty() {
                    notes.push("Nothing changed.".into());
                }
                Ok(notes.join("\n"))
            }
            "create" => {
                let name = value(x, "name").unwrap_or_default().to_lowercase();
                if !super::names::is_valid_group_name(&name) {
                    return Err("the name must be [a-z0-9][a-z0-9._-]{0,63}".into());
                }
                let title = value(x, "title")
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| name.clone());
                let join = value(x, "join")
                    .and_then(|j| JoinPolicy::parse(&j))
                    .unwrap_or(JoinPolicy::Approve);
                self.acknowledged = true;
                // Ad-hoc forms are not translated yet: English, as the form.
                Ok(self.create_group(now, &name, &title, join, Lang::En, out))
            }
            "delete" => {
                let name = value(x, "group").ok_or("choose a group")?;
                self.acknowledged = true;
                Ok(self.delete_group(&name, Lang::En, out))
            }
            _ => Err("no such command".into()),
        }
    }
}
