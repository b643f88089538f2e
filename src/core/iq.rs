//! IQs: service discovery, software version, ping and vCard on
//! every JID the component owns; `service-unavailable` for anything else.

use minidom::Element;

use super::i18n::t;
use super::model::{JoinPolicy, Millis};
use super::presence::PING_PREFIX;
use super::stanza::{self, Attr, ErrorType};
use super::{Core, Ctx, Output, Target};

/// Features a group really implements.
const GROUP_FEATURES: &[&str] = &[
    stanza::NS_DISCO_INFO,
    stanza::NS_PING,
    stanza::NS_VERSION,
    stanza::NS_VCARD,
    stanza::NS_RECEIPTS,
    stanza::NS_NICK,
    stanza::NS_CORRECT,
    stanza::NS_RETRACT,
    stanza::NS_REACTIONS,
    stanza::NS_REPLY,
    super::adhoc::NS_COMMANDS,
];

const SERVICE_FEATURES: &[&str] = &[
    stanza::NS_DISCO_INFO,
    stanza::NS_DISCO_ITEMS,
    stanza::NS_PING,
    stanza::NS_VERSION,
    stanza::NS_VCARD,
    super::adhoc::NS_COMMANDS,
];

impl Core {
    pub(crate) fn on_iq(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        target: Target,
        el: &Element,
        out: &mut Vec<Output>,
    ) {
        let itype = el.attr("type");
        match itype {
            Some("result") | Some("error") => {
                // Answers: to our keepalive pings (ignored), or to the pings
                // that check a member's inferred session.
                let ours = el.attr("id").is_some_and(|id| id.starts_with(PING_PREFIX));
                if let (true, Target::Group(name)) = (ours, &target) {
                    self.on_ping_answer(now, ctx, name, itype == Some("error"), out);
                }
                return;
            }
            Some("get") | Some("set") => {}
            _ => {
                if el.attr("id").is_some() {
                    out.push(Output::Send(self.refusal(
                        el,
                        None,
                        &ctx.from_bare,
                        ErrorType::Modify,
                        "bad-request",
                        "err-iq-type",
                    )));
                }
                return;
            }
        }
        let group = match &target {
            Target::Unknown => {
                out.push(Output::Send(self.refusal(
                    el,
                    None,
                    &ctx.from_bare,
                    ErrorType::Cancel,
                    "item-not-found",
                    "err-no-group",
                )));
                return;
            }
            Target::Service => None,
            Target::Group(n) => self.groups.get(n),
        };
        // RFC 6120: an iq get/set has exactly one payload child.
        let mut children = el.children();
        let (Some(payload), None) = (children.next(), children.next()) else {
            let name = group.map(|g| g.name.to_string());
            out.push(Output::Send(self.refusal(
                el,
                name.as_deref(),
                &ctx.from_bare,
                ErrorType::Modify,
                "bad-request",
                "err-iq-payload",
            )));
            return;
        };
        // Ad-hoc commands (XEP-0050) first: they use disco nodes too.
        let group_name = group.map(|g| g.name.to_string());
        if self
            .on_adhoc_iq(now, ctx, group_name.as_deref(), el, payload, out)
            .is_some()
        {
            return;
        }
        let group = group_name.as_deref().and_then(|n| self.groups.get(n));
        let ns = payload.ns();
        let get = itype == Some("get");
        let reply = match (get, payload.name(), ns.as_str()) {
            (true, "query", stanza::NS_DISCO_INFO) => {
                if payload.attr("node").is_some() {
                    // XEP-0030: we publish no nodes.
                    Some(self.refusal(
                        el,
                        group_name.as_deref(),
                        &ctx.from_bare,
                        ErrorType::Cancel,
                        "item-not-found",
                        "err-no-node",
                    ))
                } else {
                    let mut q = Element::builder("query", stanza::NS_DISCO_INFO);
                    let (category, kind, name, features) = match group {
                        Some(g) => ("client", "bot", g.title.clone(), GROUP_FEATURES),
                        None => (
                            "component",
                            "generic",
                            self.cfg.service_name.clone(),
                            SERVICE_FEATURES,
                        ),
                    };
                    q = q.append(
                        Element::builder("identity", stanza::NS_DISCO_INFO)
                            .a("category", category)
                            .a("type", kind)
                            .a("name", name)
                            .build(),
                    );
                    for f in features {
                        q = q.append(
                            Element::builder("feature", stanza::NS_DISCO_INFO)
                                .a("var", *f)
                                .build(),
                        );
                    }
                    Some(stanza::iq_result(el, Some(q.build())))
                }
            }
            (true, "query", stanza::NS_DISCO_ITEMS) => {
                let mut q = Element::builder("query", stanza::NS_DISCO_ITEMS);
                if group.is_none() && payload.attr("node").is_none() {
                    for g in self
                        .groups
                        .values()
                        .filter(|g| g.join != JoinPolicy::Invite)
                    {
                        q = q.append(
                            Element::builder("item", stanza::NS_DISCO_ITEMS)
                                .a("jid", g.jid.as_str())
                                .a("name", g.title.as_str())
                                .build(),
                        );
                    }
                }
                Some(stanza::iq_result(el, Some(q.build())))
            }
            (true, "query", stanza::NS_VERSION) => {
                let q = Element::builder("query", stanza::NS_VERSION)
                    .append(stanza::text_child("name", stanza::NS_VERSION, "talkgroups"))
                    .append(stanza::text_child(
                        "version",
                        stanza::NS_VERSION,
                        &self.cfg.version,
                    ))
                    .build();
                Some(stanza::iq_result(el, Some(q)))
            }
            (true, "ping", stanza::NS_PING) => Some(stanza::iq_result(el, None)),
            (true, "vCard", stanza::NS_VCARD) => {
                let lang = self.answer_lang(group_name.as_deref(), &ctx.from_bare, el);
                let (fnm, desc) = match group {
                    Some(g) => (
                        g.title.clone(),
                        t!(
                            lang,
                            "vcard-group",
                            join = t!(lang, &format!("join-{}", g.join.as_str())),
                            gjid = g.jid.as_str()
                        ),
                    ),
                    None => (self.cfg.service_name.clone(), t!(lang, "vcard-service")),
                };
                let mut v = Element::builder("vCard", stanza::NS_VCARD)
                    .append(stanza::text_child("FN", stanza::NS_VCARD, &fnm))
                    .append(stanza::text_child("NICKNAME", stanza::NS_VCARD, &fnm))
                    .append(stanza::text_child("DESC", stanza::NS_VCARD, &desc));
                if let Some(g) = group {
                    // XEP-0153: the picture whose hash the presence carries.
                    use base64::Engine as _;
                    let data = base64::engine::general_purpose::STANDARD.encode(&g.avatar.data);
                    v = v.append(
                        Element::builder("PHOTO", stanza::NS_VCARD)
                            .append(stanza::text_child("TYPE", stanza::NS_VCARD, g.avatar.mime))
                            .append(stanza::text_child("BINVAL", stanza::NS_VCARD, &data))
                            .build(),
                    );
                }
                let v = v.build();
                Some(stanza::iq_result(el, Some(v)))
            }
            _ => None,
        };
        out.push(Output::Send(reply.unwrap_or_else(|| {
            stanza::error_reply(el, ErrorType::Cancel, "service-unavailable", None)
        })));
    }
}
