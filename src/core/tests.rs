//! Scenario tables for the core: stanzas in, stanzas and store writes out,
//! with an explicit `now` (no sleeps, no sockets).

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
        }
    }

    fn input(&mut self, input: Input) -> &mut Self {
        self.out.clear();
        self.core.handle(self.now, input, &mut self.out);
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
        self.msg(&format!("{user}@localhost/r"), G, body);
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

// ---------- relaying ----------

#[test]
fn relay_to_everyone_else_with_nick_and_no_echo() {
    let mut t = three();
    t.msg("alice@localhost/r", G, "hello");
    assert_eq!(t.one_body(B), "[alice] hello");
    assert_eq!(t.one_body(C), "[alice] hello");
    assert!(t.bodies(A).is_empty());
    let e = t.first_to(B);
    assert_eq!(e.attr("from"), Some(G));
    assert_eq!(e.attr("type"), Some("chat"));
    assert_eq!(
        e.get_child("nick", super::stanza::NS_NICK).unwrap().text(),
        "alice"
    );
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::AppendHistory(h) if h.text == "hello")));
    // Fresh ids per copy.
    let ids: Vec<_> = t
        .sent()
        .iter()
        .map(|e| e.attr("id").unwrap().to_string())
        .collect();
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn plain_messages_fan_out_as_one_stanza_references_per_copy() {
    let mut t = three();
    t.msg("alice@localhost/r", G, "one stanza");
    assert_eq!(t.fanouts, 1);
    assert_eq!(t.bodies(B), ["[alice] one stanza"]);
    assert_eq!(t.bodies(C), ["[alice] one stanza"]);
    // Each copy still has its own id.
    let ids = t.message_ids();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    // A reply references a message: its id differs per recipient.
    t.reply("bob", "r1", "re", &ids[0]);
    assert_eq!(t.fanouts, 0);
    assert_eq!(t.bodies(A), ["[bob] re"]);
}

#[test]
fn with_multicast_every_copy_shares_one_id_and_references_follow() {
    let mut cfg =
        config("[[group]]\nname = \"lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n");
    cfg.component.multicast = Some("multicast.localhost".into());
    let mut t = T::from_cfg(cfg);
    t.join("alice").join("bob").join("carol");
    t.msg("alice@localhost/r", G, "to all");
    // The core hands the relay to the service as one stanza (the policy
    // is in core::multicast), whose copies all carry its id.
    assert_eq!(t.fanouts, 0);
    let through: Vec<&Element> = (t.sent().into_iter())
        .filter(|e| e.attr("to") == Some("multicast.localhost"))
        .collect();
    assert_eq!(through.len(), 1, "{:?}", t.sent());
    let addresses: Vec<&str> = through[0]
        .get_child("addresses", super::stanza::NS_ADDRESS)
        .map(|a| a.children().filter_map(|c| c.attr("jid")).collect())
        .unwrap_or_default();
    assert_eq!(addresses, [B, C]);
    let ids = [through[0].attr("id").unwrap().to_string()];
    // A reply from bob names that id; carol and alice get it under the
    // same id, the one they know.
    t.reply("bob", "r1", "re", &ids[0]);
    let refs: Vec<String> = t
        .sent()
        .iter()
        .filter_map(|e| e.children().find(|c| c.name() == "reply"))
        .filter_map(|r| r.attr("id").map(str::to_string))
        .collect();
    // Alice wrote it: she gets her own id back; carol the shared one.
    assert_eq!(refs.len(), 2);
    assert!(refs.contains(&"m1".to_string()), "{refs:?}");
    assert!(refs.contains(&ids[0]), "{refs:?}");
}

#[test]
fn me_becomes_action() {
    let mut t = three();
    t.msg("alice@localhost/r", G, "/me waves");
    assert_eq!(t.one_body(B), "* alice waves");
}

#[test]
fn chat_states_and_receipts_are_not_fanned_out() {
    let mut t = three();
    const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
    t.message("alice", "x1", vec![ns_el("composing", CHATSTATES, &[])]);
    assert!(t.sent().is_empty());
    t.message(
        "alice",
        "x2",
        vec![
            body_el("hi"),
            ns_el("request", "urn:xmpp:receipts", &[]),
            ns_el("active", CHATSTATES, &[]),
        ],
    );
    let to_b = t.first_to(B);
    assert!(to_b.get_child("request", "urn:xmpp:receipts").is_none());
    assert!(to_b.get_child("active", CHATSTATES).is_none());
    let receipt = t.first_to("alice@localhost/r");
    assert_eq!(
        receipt
            .get_child("received", "urn:xmpp:receipts")
            .unwrap()
            .attr("id"),
        Some("x2")
    );
}

#[test]
fn blank_bodies_are_not_relayed() {
    let mut t = three();
    t.msg("alice@localhost/r", G, "  \n ");
    assert!(t.out.is_empty());
}

#[test]
fn errors_are_never_answered_or_relayed() {
    let mut t = three();
    t.xml("<message xmlns='jabber:component:accept' from='alice@localhost/r' to='lobby@groups.localhost' type='error'><body>x</body><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    assert!(t.out.is_empty());
    t.xml("<message xmlns='jabber:component:accept' from='x@localhost' to='nope@groups.localhost' type='error'/>");
    assert!(t.out.is_empty());
}

#[test]
fn unknown_group_gets_item_not_found() {
    let mut t = three();
    t.msg("alice@localhost/r", "nope@groups.localhost", "hi");
    let e = t.sent()[0].clone();
    assert_eq!(e.attr("type"), Some("error"));
    let err = e.get_child("error", NS_COMPONENT).unwrap();
    assert_eq!(err.attr("type"), Some("cancel"));
    assert!(err
        .get_child("item-not-found", super::stanza::NS_STANZAS)
        .is_some());
}

#[test]
fn non_member_gets_one_reply() {
    let mut t = three();
    t.msg("eve@localhost/r", G, "hi");
    assert!(t.one_body("eve@localhost").contains("not a member"));
    assert_eq!(t.sent().len(), 1);
}

#[test]
fn strangers_get_one_text_reply_a_minute_but_errors_always() {
    let mut t = three();
    t.msg("eve@localhost/r", G, "hi");
    assert_eq!(t.sent().len(), 1);
    for body in ["again", "and again"] {
        t.later(1000).msg("eve@localhost/r", G, body);
        assert!(t.sent().is_empty(), "{body}: {:?}", t.sent());
    }
    // Commands are requests: answered up to the relay's allowance (10 in
    // 10 s by default), then silence until the window moves on.
    for i in 0..10 {
        t.msg("eve@localhost/r", G, "//online");
        assert!(t.one_body("eve@localhost").contains("not a member"), "{i}");
    }
    t.msg("eve@localhost/r", G, "/help");
    assert!(t.sent().is_empty(), "{:?}", t.sent());
    t.later(10_000).msg("eve@localhost/r", G, "/help");
    assert!(t.one_body("eve@localhost").contains("not a member"));
    // Another group and the service domain count separately.
    t.msg("eve@localhost/r", D, "hello service");
    assert_eq!(t.sent().len(), 1);
    t.msg("eve@localhost/r", D, "hello again");
    assert!(t.sent().is_empty());
    // Protocol errors are never rate-limited.
    for _ in 0..3 {
        t.msg("eve@localhost/r", "nosuch@groups.localhost", "x");
        assert_eq!(t.sent().len(), 1);
    }
    t.later(60_000).msg("eve@localhost/r", G, "a minute later");
    assert!(t.one_body("eve@localhost").contains("not a member"));
    // Members are never limited.
    for i in 0..5 {
        assert!(t.cmd("bob", &format!("//nick b{i}")).starts_with("OK"));
    }
}

#[test]
fn stopped_blocked_offline_and_muted() {
    let mut t = three();
    assert!(t.cmd("bob", "//stop 60").starts_with("OK"));
    t.msg("alice@localhost/r", G, "one");
    assert!(t.bodies(B).is_empty());
    assert_eq!(
        t.cmd("bob", "//continue"),
        "OK, you receive the group's messages again."
    );
    t.msg("alice@localhost/r", G, "two");
    assert_eq!(t.one_body(B), "[alice] two");
    // block by FID
    assert_eq!(t.cmd("carol", "//block alice"), "OK");
    t.msg("alice@localhost/r", G, "three");
    assert!(t.bodies(C).is_empty());
    assert_eq!(t.cmd("carol", "//unblock alice"), "OK");
    // mute
    assert_eq!(t.cmd("alice", "//mute bob"), "OK");
    t.msg("bob@localhost/r", G, "muted words");
    assert!(t.bodies(A).is_empty() && t.bodies(C).is_empty());
    assert!(t.one_body(B).contains("muted"));
    assert_eq!(t.cmd("alice", "//unmute bob"), "OK");
    t.msg("bob@localhost/r", G, "free");
    assert_eq!(t.one_body(A), "[bob] free");
}

#[test]
fn stop_expires_by_time_and_minus_one_ends_it() {
    let mut t = three();
    t.cmd("bob", "//stop 10");
    t.later(11_000);
    t.msg("alice@localhost/r", G, "after");
    assert_eq!(t.one_body(B), "[alice] after");
    t.cmd("bob", "//stop 100");
    assert!(t.cmd("bob", "//stop -1").starts_with("OK"));
    t.msg("alice@localhost/r", G, "x");
    assert_eq!(t.one_body(B), "[alice] x");
    assert!(t.cmd("bob", "//stop soon").starts_with("usage: //stop"));
}

#[test]
fn flood_control_one_warning_per_window() {
    let mut t = open_group("burst = 3\nwindow_secs = 10");
    t.join("alice").join("bob");
    for i in 0..3 {
        t.msg("alice@localhost/r", G, &format!("m{i}"));
        assert_eq!(t.bodies(B).len(), 1);
    }
    t.msg("alice@localhost/r", G, "over1");
    assert!(t.bodies(B).is_empty());
    assert!(t.one_body(A).contains("Slow down"));
    t.msg("alice@localhost/r", G, "over2");
    assert!(t.sent().is_empty(), "one warning per window");
    t.later(10_001);
    t.msg("alice@localhost/r", G, "ok again");
    assert_eq!(t.one_body(B), "[alice] ok again");
}

#[test]
fn body_limit() {
    let mut t = open_group("max_body = 5");
    t.join("alice").join("bob");
    t.msg("alice@localhost/r", G, "123456");
    assert!(t.bodies(B).is_empty());
    assert!(t.one_body(A).contains("limit is 5"));
    t.msg("alice@localhost/r", G, "12345");
    assert_eq!(t.one_body(B), "[alice] 12345");
}

#[test]
fn catchup_sends_missed_messages_with_delay_when_back() {
    let mut t = open_group("catchup_max = 2");
    t.join("alice").join("bob");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    for i in 0..4 {
        t.later(1000).msg("alice@localhost/r", G, &format!("m{i}"));
        assert!(t.bodies(B).is_empty());
    }
    t.later(1000).pres("bob@localhost/r", G, None);
    let b = t.bodies(B);
    assert_eq!(b[..2], ["[alice] m2".to_string(), "[alice] m3".to_string()]);
    assert!(b[2].contains("2 earlier messages"), "{b:?}");
    let first = t.first_to(B);
    assert!(first
        .get_child("delay", super::stanza::NS_DELAY)
        .unwrap()
        .attr("stamp")
        .is_some());
    // Nothing twice.
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.pres("bob@localhost/r", G, None);
    assert!(t.bodies(B).is_empty());
}

#[test]
fn catchup_skips_what_was_said_while_stopped() {
    let mut t = three();
    t.cmd("bob", "//stop 100");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.later(1000).msg("alice@localhost/r", G, "while stopped");
    t.later(200_000).msg("alice@localhost/r", G, "after stop");
    t.pres("bob@localhost/r", G, None);
    assert_eq!(t.bodies(B), vec!["[alice] after stop".to_string()]);
}

#[test]
fn offline_modes_server_and_drop() {
    let mut t = open_group("offline = \"server\"");
    t.join("alice").join("bob");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.msg("alice@localhost/r", G, "stored by server");
    assert_eq!(t.one_body(B), "[alice] stored by server");

    let mut t = open_group("offline = \"drop\"");
    t.join("alice").join("bob");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.msg("alice@localhost/r", G, "lost");
    assert!(t.bodies(B).is_empty());
    t.pres("bob@localhost/r", G, None);
    assert!(t.bodies(B).is_empty());
}

#[test]
fn corrections_are_rewritten_per_recipient_and_only_own() {
    let mut t = three();
    t.chat_from("alice", "orig", "helo");
    let copy_b = t.id_to(B);
    t.correct("alice", "fix", "hello", "orig");
    let to_b = t.first_to(B);
    assert_eq!(
        to_b.get_child("replace", super::stanza::NS_CORRECT)
            .unwrap()
            .attr("id"),
        Some(copy_b.as_str())
    );
    // Bob tries to correct alice's message by its copy id: refused.
    t.correct("bob", "evil", "pwned", &copy_b);
    assert!(t.bodies(A).is_empty());
    assert!(t.one_body(B).contains("only correct or retract your own"));
}

#[test]
fn unknown_references_correction_becomes_new_retraction_refused() {
    let mut t = three();
    t.correct("alice", "fix", "hello", "never-seen");
    let to_b = t.first_to(B);
    assert!(to_b
        .get_child("replace", super::stanza::NS_CORRECT)
        .is_none());
    assert_eq!(super::stanza::body(&to_b).as_deref(), Some("[alice] hello"));
    t.message(
        "alice",
        "rt",
        vec![retract_el("never-seen"), body_el("retracted")],
    );
    assert!(t.bodies(B).is_empty());
    assert!(t.one_body(A).contains("cannot be retracted"));
}

#[test]
fn own_retraction_is_relayed_with_each_recipients_id() {
    let mut t = three();
    t.chat_from("alice", "oops", "oops");
    let copy_b = t.id_to(B);
    t.retract("alice", "rt", "oops");
    let to_b = t.first_to(B);
    assert_eq!(
        to_b.get_child("retract", super::stanza::NS_RETRACT)
            .unwrap()
            .attr("id"),
        Some(copy_b.as_str())
    );
    assert_ne!(to_b.attr("id"), Some(copy_b.as_str()));
    // Two body-less relays in a row still get distinct ids.
    t.react("bob", "re", &copy_b, "x");
    let first = t.id_to(C);
    t.react("bob", "re2", &copy_b, "y");
    assert_ne!(first, t.id_to(C));
}

#[test]
fn replies_and_reactions_point_at_each_recipients_id() {
    let mut t = three();
    t.chat_from("alice", "orig", "question");
    let copy_b = t.id_to(B);
    let copy_c = t.id_to(C);
    t.react("bob", "r1", &copy_b, "👍");
    let to_a = t.first_to(A);
    assert_eq!(
        to_a.get_child("reactions", super::stanza::NS_REACTIONS)
            .unwrap()
            .attr("id"),
        Some("orig")
    );
    let to_c = t.first_to(C);
    assert_eq!(
        to_c.get_child("reactions", super::stanza::NS_REACTIONS)
            .unwrap()
            .attr("id"),
        Some(copy_c.as_str())
    );
}

#[test]
fn shared_file_keeps_exact_url_body() {
    let mut t = three();
    let url = "https://up.example/cat.jpg";
    t.message("alice", "f", vec![body_el(url), oob_el(url)]);
    let b = t.bodies(B);
    assert_eq!(
        b,
        vec![
            "[alice] shared a file:".to_string(),
            "https://up.example/cat.jpg".to_string()
        ]
    );
}

#[path = "tests_routes.rs"]
mod routes;

#[path = "tests_props.rs"]
mod props;

#[path = "tests_clients.rs"]
mod clients;

#[path = "tests_joining.rs"]
mod joining;

#[path = "tests_presence.rs"]
mod presence;

#[path = "tests_commands.rs"]
mod commands;

#[path = "tests_store.rs"]
mod store;
