//! Ad-hoc commands (XEP-0050) with data forms (XEP-0004): the operations
//! of the API and the `//commands` as forms in the clients that render
//! them (Gajim, Cheogram, Conversations, Psi). Each command has two steps:
//! `execute` returns the form, `complete` (or `execute` with a submitted
//! form) carries it out through the same code as the command it mirrors,
//! and answers with a note once the change is committed. The form carries
//! everything: no session state is kept between the steps.

use minidom::Element;

use super::command::Command;
use super::i18n::{t, Lang};
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

/// (node, who, on a group (true) or the bare domain (false)). A
/// command's name is message `adhoc-NODE`; its form's instructions are
/// `adhoc-NODE-intro`.
const COMMANDS: &[(&str, Who, bool)] = &[
    ("approve", Who::Admin, true),
    ("remove", Who::Admin, true),
    ("mute", Who::Admin, true),
    ("edit", Who::Admin, true),
    ("announce", Who::Admin, true),
    ("settings", Who::Member, true),
    ("create", Who::ServiceAdmin, false),
    ("delete", Who::ServiceAdmin, false),
];

fn name(node: &str, lang: Lang) -> String {
    t!(lang, &format!("adhoc-{node}"))
}

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

/// Form `node` in `lang`: its name as the title, its instructions.
fn form(node: &str, lang: Lang, fields: Vec<Element>) -> Element {
    let intro = t!(lang, &format!("adhoc-{node}-intro"));
    let mut x = Element::builder("x", NS_DATA)
        .a("type", "form")
        .append(stanza::text_child("title", NS_DATA, &name(node, lang)))
        .append(stanza::text_child("instructions", NS_DATA, &intro));
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
        let lang = self.answer_lang(group, &ctx.from_bare, el);
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
                for (node, who, on_group) in COMMANDS {
                    if *on_group == group.is_some() && self.may(*who, group, &ctx.from_bare) {
                        q = q.append(
                            Element::builder("item", stanza::NS_DISCO_ITEMS)
                                .a("jid", own.as_str())
                                .a("node", *node)
                                .a("name", name(node, lang))
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
                let name = name(node, lang);
                let q = Element::builder("query", stanza::NS_DISCO_INFO)
                    .a("node", node)
                    .append(
                        Element::builder("identity", stanza::NS_DISCO_INFO)
                            .a("category", "automation")
                            .a("type", "command-node")
                            .a("name", name.as_str())
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
                self.on_command_iq(now, (ctx, lang), group, el, payload, out);
                Some(())
            }
            _ => None,
        }
    }

    fn on_command_iq(
        &mut self,
        now: Millis,
        (ctx, lang): (&Ctx, Lang),
        group: Option<&str>,
        el: &Element,
        cmd: &Element,
        out: &mut Vec<Output>,
    ) {
        let node = cmd.attr("node").unwrap_or_default();
        let refuse = |etype, condition, id: &str| {
            let text = t!(lang, id);
            Output::Send(stanza::error_reply(
                el,
                etype,
                condition,
                Some((lang, &text)),
            ))
        };
        let Some(&(node, who, on_group)) = COMMANDS.iter().find(|c| c.0 == node) else {
            out.push(refuse(
                ErrorType::Cancel,
                "item-not-found",
                "adhoc-no-command",
            ));
            return;
        };
        if on_group != group.is_some() {
            out.push(refuse(
                ErrorType::Cancel,
                "item-not-found",
                "adhoc-not-here",
            ));
            return;
        }
        if !self.may(who, group, &ctx.from_bare) {
            let id = match who {
                Who::Member => "adhoc-members-only",
                Who::Admin => "adhoc-admins-only",
                Who::ServiceAdmin => "adhoc-service-admins-only",
            };
            out.push(refuse(ErrorType::Auth, "forbidden", id));
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
            let f = self.adhoc_form(node, lang, group, &ctx.from_bare);
            let c = answer("executing", Some(f)).append(
                Element::builder("actions", NS_COMMANDS)
                    .a("execute", "complete")
                    .append(Element::builder("complete", NS_COMMANDS).build())
                    .build(),
            );
            out.push(Output::Send(stanza::iq_result(el, Some(c.build()))));
            return;
        };
        match self.adhoc_complete(now, (ctx, lang), node, group, x, out) {
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
                Some((lang, &why)),
            ))),
        }
    }

    fn adhoc_form(&self, node: &str, lang: Lang, group: Option<&str>, jid: &str) -> Element {
        let g = group.and_then(|g| self.groups.get(g));
        let l = |id: &str| t!(lang, id);
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
            .map(|j| (l(&format!("join-{j}")), j.to_string()))
            .collect();
        let fields = match node {
            "approve" => {
                let pending: Vec<(String, String)> = g
                    .map(|g| {
                        g.pending()
                            .map(|j| (j.to_string(), j.to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                vec![with_options(
                    field("jids", "list-multi", &l("adhoc-field-pending"), &[]),
                    &pending,
                )]
            }
            "remove" => vec![
                with_options(
                    field("jid", "list-single", &l("adhoc-field-member"), &[]),
                    &members(false),
                ),
                with_options(
                    field("how", "list-single", &l("adhoc-field-how"), &["kick"]),
                    &[
                        (l("adhoc-how-kick"), "kick".into()),
                        (l("adhoc-how-blacklist"), "blacklist".into()),
                    ],
                ),
            ],
            "mute" => vec![
                with_options(
                    field("jid", "list-single", &l("adhoc-field-member"), &[]),
                    &members(true),
                ),
                field("muted", "boolean", &l("adhoc-field-muted"), &["1"]),
            ],
            "edit" => vec![
                field(
                    "title",
                    "text-single",
                    &l("adhoc-field-title"),
                    &[g.map_or("", |g| g.title.as_str())],
                ),
                with_options(
                    field(
                        "join",
                        "list-single",
                        &l("adhoc-field-join"),
                        &[g.map_or("open", |g| g.join.as_str())],
                    ),
                    &joins,
                ),
            ],
            "announce" => vec![field(
                "body",
                "text-multi",
                &l("adhoc-field-announcement"),
                &[],
            )],
            "settings" => {
                let m = g.and_then(|g| g.members.get(jid));
                let chosen = m.and_then(|m| m.rec.lang).map_or("auto", Lang::code);
                vec![
                    field(
                        "nick",
                        "text-single",
                        &l("adhoc-field-nick"),
                        &[m.map_or("", |m| m.rec.nick.as_str())],
                    ),
                    field("pause", "text-single", &l("adhoc-field-pause"), &[]),
                    with_options(
                        field("lang", "list-single", &l("adhoc-field-lang"), &[chosen]),
                        &[
                            (l("adhoc-lang-auto"), "auto".into()),
                            ("English".into(), "en".into()),
                            ("中文".into(), "zh".into()),
                        ],
                    ),
                ]
            }
            "create" => vec![
                field("name", "text-single", &l("adhoc-field-name"), &[]),
                field("title", "text-single", &l("adhoc-field-title"), &[]),
                with_options(
                    field("join", "list-single", &l("adhoc-field-join"), &["approve"]),
                    &joins,
                ),
            ],
            "delete" => {
                let all: Vec<(String, String)> = self
                    .groups
                    .values()
                    .map(|g| (format!("{} ({})", g.title, g.jid), g.name.to_string()))
                    .collect();
                vec![with_options(
                    field("group", "list-single", &l("adhoc-field-group"), &[]),
                    &all,
                )]
            }
            _ => vec![],
        };
        form(node, lang, fields)
    }

    /// Carries out a submitted form; the note for the client, or why it
    /// was refused, in `lang`.
    fn adhoc_complete(
        &mut self,
        now: Millis,
        (ctx, lang): (&Ctx, Lang),
        node: &str,
        group: Option<&str>,
        x: &Element,
        out: &mut Vec<Output>,
    ) -> Result<String, String> {
        let g = group.unwrap_or_default();
        let l = |id: &str| t!(lang, id);
        let said = |r: Option<String>| r.unwrap_or_else(|| l("adhoc-done"));
        let member = |x: &Element| value(x, "jid").ok_or_else(|| l("adhoc-choose-member"));
        match node {
            "approve" => {
                let jids = values(x, "jids");
                if jids.is_empty() {
                    return Err(l("adhoc-choose-request"));
                }
                let mut notes = Vec::new();
                for j in jids {
                    let cmd = Command::Add(j.trim().to_lowercase());
                    notes.push(said(self.run_as_admin(now, g, lang, cmd, out)));
                }
                Ok(notes.join("\n"))
            }
            "remove" => {
                let jid = member(x)?;
                let cmd = match value(x, "how").as_deref() {
                    Some("blacklist") => Command::Blacklist(jid),
                    _ => Command::Kick(jid),
                };
                Ok(said(self.run_as_admin(now, g, lang, cmd, out)))
            }
            "mute" => {
                let jid = member(x)?;
                let fid = self
                    .groups
                    .get(g)
                    .and_then(|gr| gr.members.get(&jid))
                    .map(|m| m.rec.fid.clone())
                    .ok_or_else(|| l("adhoc-not-member"))?;
                let on = matches!(value(x, "muted").as_deref(), Some("1" | "true"));
                let cmd = if on {
                    Command::Mute(fid)
                } else {
                    Command::Unmute(fid)
                };
                Ok(said(self.run_as_admin(now, g, lang, cmd, out)))
            }
            "edit" => {
                // Checked here so that a refusal is in the reader's words.
                let title = value(x, "title").filter(|t| !t.is_empty());
                if title
                    .as_ref()
                    .is_some_and(|t| t.chars().count() > 100 || t.chars().any(char::is_control))
                {
                    return Err(l("adhoc-bad-title"));
                }
                let join = value(x, "join").filter(|j| !j.is_empty());
                if join
                    .as_ref()
                    .is_some_and(|j| JoinPolicy::parse(j).is_none())
                {
                    return Err(l("adhoc-bad-join"));
                }
                let body = serde_json::json!({ "title": title, "join": join });
                self.api_patch_group_bytes(now, g, &body.to_string(), out)
                    .map(|_| l("adhoc-edited"))
                    .map_err(|_| l("err-no-group"))
            }
            "announce" => {
                let body = values(x, "body").join("\n");
                if body.trim().is_empty() {
                    return Err(l("adhoc-empty-announcement"));
                }
                if body.chars().count() > self.cfg.max_body {
                    return Err(t!(lang, "adhoc-long-announcement", max = self.cfg.max_body));
                }
                let json = serde_json::json!({ "body": body }).to_string();
                self.api_say_bytes(now, g, &json, out)
                    .map(|_| l("adhoc-announced"))
                    .map_err(|_| l("err-no-group"))
            }
            "settings" => {
                let mut notes = Vec::new();
                let me = Ctx {
                    from: ctx.from.clone(),
                    from_bare: ctx.from_bare.clone(),
                    from_res: ctx.from_res.clone(),
                };
                let current = self
                    .groups
                    .get(g)
                    .and_then(|gr| gr.members.get(&ctx.from_bare))
                    .map(|m| (m.rec.nick.clone(), m.rec.lang));
                let pause = match value(x, "pause").filter(|p| !p.is_empty()) {
                    None => None,
                    Some(p) => Some(p.parse::<i64>().map_err(|_| l("adhoc-bad-pause"))?),
                };
                let lang_cmd = match value(x, "lang").as_deref() {
                    None | Some("") => None,
                    Some(v) => match (v, current.as_ref().and_then(|c| c.1)) {
                        ("auto", None) => None,
                        ("auto", Some(_)) => Some(super::command::LangCmd::Auto),
                        (v, now_lang) => match Lang::parse(v) {
                            Some(new) if Some(new) == now_lang => None,
                            Some(new) => Some(super::command::LangCmd::Set(new)),
                            None => return Err(l("adhoc-bad-lang")),
                        },
                    },
                };
                if let Some(n) = value(x, "nick").filter(|n| !n.is_empty()) {
                    if current.as_ref().map(|c| c.0.as_str()) != Some(n.as_str()) {
                        notes.push(said(self.run_as(now, &me, g, Command::Nick(n), out)));
                    }
                }
                if let Some(secs) = pause {
                    let arg = if secs <= 0 { None } else { Some(secs) };
                    notes.push(said(self.run_as(now, &me, g, Command::Stop(arg), out)));
                }
                if let Some(c) = lang_cmd {
                    notes.push(said(self.run_as(now, &me, g, Command::Lang(c), out)));
                }
                if notes.is_empty() {
                    notes.push(l("adhoc-unchanged"));
                }
                Ok(notes.join("\n"))
            }
            "create" => {
                let name = value(x, "name").unwrap_or_default().to_lowercase();
                if !super::names::is_valid_group_name(&name) {
                    return Err(l("newgroup-bad-name"));
                }
                let title = value(x, "title")
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| name.clone());
                let join = value(x, "join")
                    .and_then(|j| JoinPolicy::parse(&j))
                    .unwrap_or(JoinPolicy::Approve);
                self.acknowledged = true;
                Ok(self.create_group(now, &name, &title, join, lang, out))
            }
            "delete" => {
                let name = value(x, "group").ok_or_else(|| l("adhoc-choose-group"))?;
                self.acknowledged = true;
                Ok(self.delete_group(&name, lang, out))
            }
            _ => Err(l("adhoc-no-command")),
        }
    }
}
