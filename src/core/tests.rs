//! Scenario tables for the core: stanzas in, stanzas and store writes out,
//! with an explicit `now` (no sleeps, no sockets).
//!
//! This file is the harness (`T`, the group set-ups and the stanza
//! builders); the scenarios are in the submodules below, by feature.

use minidom::Element;

use super::model::{MemberState, Snapshot, StoreOp};
use super::stanza::NS_COMPONENT;
use super::{Core, Input, Output};
use crate::config::Config;

const G: &str = "lobby@groups.localhost";
const D: &str = "groups.localhost";

struct T {
    core: Core,
    now: i64,
    /// Everything output by the last call, fanouts expanded.
    out: Vec<Output>,
    /// How many fanouts the last call output.
    fanouts: usize,
    /// When set, a real (in-memory) store: store writes are applied, and
    /// the rows the core asks for (`recall_for`) read back, as the app does.
    store: Option<crate::store::Store>,
}

fn config(extra: &str) -> Config {
    Config::parse(&format!(
        r#"
[component]
jid = "groups.localhost"
secret = "s"
[service]
admins = ["root@localhost"]
{extra}
"#
    ))
    .unwrap()
}

fn open_group(extra_relay: &str) -> T {
    T::new(&format!(
        "[relay]\n{extra_relay}\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n"
    ))
}

impl T {
    fn new(extra: &str) -> T {
        T::from_cfg(config(extra))
    }

    fn from_cfg(cfg: Config) -> T {
        let mut out = Vec::new();
        let core = Core::new(cfg.core(), Snapshot::default(), 1_000_000, &mut out);
        T {
            core,
            now: 1_000_000,
            out,
            fanouts: 0,
            store: None,
        }
    }

    fn input(&mut self, input: Input) -> &mut Self {
        self.out.clear();
        if let Some(s) = &self.store {
            if let Some(q) = self.core.recall_for(self.now, &input) {
                let row = s.recall(&q).unwrap();
                self.core
                    .handle(self.now, Input::Recalled(q, row), &mut self.out);
            }
        }
        self.core.handle(self.now, input, &mut self.out);
        if let Some(s) = &mut self.store {
            let ops: Vec<StoreOp> = (self.out.iter())
                .filter_map(|o| match o {
                    Output::Store(op) => Some(op.clone()),
                    _ => None,
                })
                .collect();
            s.apply(&ops).unwrap();
        }
        self.fanouts = 0;
        // Copies of a fanout, as the server will see them, in their place.
        let out = std::mem::take(&mut self.out);
        for o in out {
            match o {
                Output::Fanout(f) => {
                    self.fanouts += 1;
                    self.out.extend(f.expand().map(Output::Send));
                }
                o => self.out.push(o),
            }
        }
        self
    }

    fn xml(&mut self, xml: &str) -> &mut Self {
        let el: Element = xml.parse().unwrap();
        self.input(Input::Stanza(el))
    }

    fn msg(&mut self, from: &str, to: &str, body: &str) -> &mut Self {
        self.stanza(message_el(from, to, Some("m1"), vec![body_el(body)]))
    }

    fn pres(&mut self, from: &str, to: &str, ptype: Option<&str>) -> &mut Self {
        self.stanza(presence_el(from, to, ptype))
    }

    /// `user` (see [`full`]) says `body` in the group (`msg` with id `m1`).
    fn say(&mut self, user: &str, body: &str) -> &mut Self {
        self.msg(&full(user), G, body)
    }

    /// Subscribe + come online with resource `r`.
    fn join(&mut self, user: &str) -> &mut Self {
        self.pres(&format!("{user}@localhost"), G, Some("subscribe"));
        self.pres(&format!("{user}@localhost/r"), G, None)
    }

    /// The ids of the messages sent, in order.
    fn message_ids(&self) -> Vec<String> {
        self.sent()
            .iter()
            .filter(|e| e.name() == "message")
            .filter_map(|e| e.attr("id").map(str::to_string))
            .collect()
    }

    fn sent(&self) -> Vec<&Element> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Send(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn stores(&self) -> Vec<&StoreOp> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Store(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Bodies of messages sent to `to` (bare or full, prefix match).
    fn bodies(&self, to: &str) -> Vec<String> {
        self.sent()
            .into_iter()
            .filter(|e| {
                e.name() == "message"
                    && e.attr("to")
                        .is_some_and(|t| t == to || t.starts_with(&format!("{to}/")))
            })
            .filter_map(super::stanza::body)
            .collect()
    }

    fn one_body(&self, to: &str) -> String {
        let b = self.bodies(to);
        assert_eq!(
            b.len(),
            1,
            "expected one message to {to}, got {b:?}\nall: {:#?}",
            self.sent()
        );
        b[0].clone()
    }

    fn presences(&self, to: &str) -> Vec<Option<String>> {
        self.sent()
            .into_iter()
            .filter(|e| e.name() == "presence" && e.attr("to") == Some(to))
            .map(|e| e.attr("type").map(str::to_string))
            .collect()
    }

    fn cmd(&mut self, user: &str, body: &str) -> String {
        self.say(user, body);
        // The reply is the first message to the sender (an admin may also
        // get the announcement their command caused, after it).
        let b = self.bodies(&format!("{user}@localhost"));
        b.first().cloned().unwrap_or_default()
    }

    fn later(&mut self, ms: i64) -> &mut Self {
        self.now += ms;
        self
    }

    /// Feeds a built stanza.
    fn stanza(&mut self, el: Element) -> &mut Self {
        self.input(Input::Stanza(el))
    }

    /// A chat message from `user` (see [`full`]) to the group, with these
    /// children in this order.
    fn message(&mut self, user: &str, id: &str, children: Vec<Element>) -> &mut Self {
        self.stanza(message_el(&full(user), G, Some(id), children))
    }

    /// `<message id=id><body>body</body></message>` from `user` to the group.
    fn chat_from(&mut self, user: &str, id: &str, body: &str) -> &mut Self {
        self.message(user, id, vec![body_el(body)])
    }

    /// A correction (XEP-0308) of message `of`.
    fn correct(&mut self, user: &str, id: &str, body: &str, of: &str) -> &mut Self {
        self.message(user, id, vec![body_el(body), replace_el(of)])
    }

    /// A body-less retraction (XEP-0424) of message `of`.
    fn retract(&mut self, user: &str, id: &str, of: &str) -> &mut Self {
        self.message(user, id, vec![retract_el(of)])
    }

    /// A reply (XEP-0461) to message `to_id`.
    fn reply(&mut self, user: &str, id: &str, body: &str, to_id: &str) -> &mut Self {
        self.message(user, id, vec![body_el(body), reply_el(to_id)])
    }

    /// A reaction (XEP-0444) to message `of`.
    fn react(&mut self, user: &str, id: &str, of: &str, reaction: &str) -> &mut Self {
        self.message(user, id, vec![reactions_el(of, reaction)])
    }

    /// `<iq type='get' id='q'>payload</iq>` from `user` to `to`.
    fn iq_get(&mut self, user: &str, to: &str, payload: &str) -> &mut Self {
        let from = full(user);
        self.xml(&format!(
            "<iq xmlns='jabber:component:accept' type='get' id='q' from='{from}' to='{to}'>{payload}</iq>"
        ))
    }

    /// `<iq type='result' id=id/>` from `user` to `to`.
    fn iq_result(&mut self, user: &str, to: &str, id: &str) -> &mut Self {
        let from = full(user);
        self.xml(&format!(
            "<iq xmlns='jabber:component:accept' from='{from}' to='{to}' type='result' id='{id}'/>"
        ))
    }

    /// A service-unavailable `<iq type='error' id=id/>` from `user` to `to`.
    fn iq_error(&mut self, user: &str, to: &str, id: &str) -> &mut Self {
        let from = full(user);
        self.xml(&format!(
            "<iq xmlns='jabber:component:accept' from='{from}' to='{to}' type='error' id='{id}'>\
             <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        ))
    }

    /// The first stanza sent to exactly `to` (a bare JID is not a prefix
    /// of a full one here).
    fn first_to(&self, to: &str) -> Element {
        self.sent()
            .into_iter()
            .find(|e| e.attr("to") == Some(to))
            .unwrap_or_else(|| panic!("nothing sent to {to}: {:#?}", self.sent()))
            .clone()
    }

    /// The id of the last message sent to exactly `to`: what `to`'s client
    /// knows that message by.
    fn id_to(&self, to: &str) -> String {
        self.sent()
            .into_iter()
            .rev()
            .find(|e| e.name() == "message" && e.attr("to") == Some(to))
            .and_then(|e| e.attr("id"))
            .unwrap_or_else(|| panic!("no message with an id to {to}: {:#?}", self.sent()))
            .to_string()
    }

    fn member_state(&self, user: &str) -> Option<MemberState> {
        self.core.groups["lobby"]
            .members
            .get(&format!("{user}@localhost"))
            .map(|m| m.rec.state)
    }
}

/// `alice` → `alice@localhost/r`; a JID (with `@`) stays as it is.
fn full(user: &str) -> String {
    if user.contains('@') {
        user.to_string()
    } else {
        format!("{user}@localhost/r")
    }
}

/// `<message type='chat'>` with these children, in this order.
fn message_el(from: &str, to: &str, id: Option<&str>, children: Vec<Element>) -> Element {
    use super::stanza::Attr;
    let mut b = Element::builder("message", NS_COMPONENT)
        .a("from", from)
        .a("to", to)
        .a("type", "chat");
    if let Some(id) = id {
        b = b.a("id", id);
    }
    b.append_all(children).build()
}

fn presence_el(from: &str, to: &str, ptype: Option<&str>) -> Element {
    let t = ptype.map(|t| format!(" type='{t}'")).unwrap_or_default();
    format!("<presence xmlns='jabber:component:accept' from='{from}' to='{to}'{t}/>")
        .parse()
        .unwrap()
}

fn body_el(text: &str) -> Element {
    Element::builder("body", NS_COMPONENT).append(text).build()
}

fn ns_el(name: &str, ns: &str, attrs: &[(&'static str, &str)]) -> Element {
    use super::stanza::Attr;
    attrs
        .iter()
        .fold(Element::builder(name, ns), |b, (k, v)| b.a(k, *v))
        .build()
}

fn replace_el(of: &str) -> Element {
    ns_el("replace", super::stanza::NS_CORRECT, &[("id", of)])
}

fn retract_el(of: &str) -> Element {
    ns_el("retract", super::stanza::NS_RETRACT, &[("id", of)])
}

fn reply_el(to_id: &str) -> Element {
    ns_el(
        "reply",
        super::stanza::NS_REPLY,
        &[("id", to_id), ("to", G)],
    )
}

fn reactions_el(of: &str, reaction: &str) -> Element {
    let r = super::stanza::NS_REACTIONS;
    let mut el = ns_el("reactions", r, &[("id", of)]);
    el.append_child(Element::builder("reaction", r).append(reaction).build());
    el
}

fn fallback_el(for_ns: &str) -> Element {
    ns_el("fallback", "urn:xmpp:fallback:0", &[("for", for_ns)])
}

fn oob_el(url: &str) -> Element {
    let mut el = ns_el("x", super::stanza::NS_OOB, &[]);
    el.append_child(
        Element::builder("url", super::stanza::NS_OOB)
            .append(url)
            .build(),
    );
    el
}

const A: &str = "alice@localhost";
const B: &str = "bob@localhost";
const C: &str = "carol@localhost";

fn three() -> T {
    let mut t = open_group("");
    t.join("alice").join("bob").join("carol");
    t
}

#[path = "tests_joining.rs"]
mod joining;

#[path = "tests_presence.rs"]
mod presence;

#[path = "tests_relay.rs"]
mod relay;

#[path = "tests_commands.rs"]
mod commands;

#[path = "tests_store.rs"]
mod store;

#[path = "tests_clients.rs"]
mod clients;

#[path = "tests_adhoc.rs"]
mod adhoc;
#[path = "tests_api.rs"]
mod api;
#[path = "tests_routes.rs"]
mod routes;

#[path = "tests_props.rs"]
mod props;

#[path = "tests_moderation.rs"]
mod moderation;

#[path = "tests_lang.rs"]
mod lang;
