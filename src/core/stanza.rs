//! Building and reading stanzas as `minidom::Element`s. The core works on
//! raw elements so a stanza that a strict parser would refuse (a bogus
//! `<show/>`, an out-of-range priority) is still read for what matters here.

use minidom::rxml::{Namespace, NcName};
use minidom::{Element, ElementBuilder, IntoAttributeValue};

use super::i18n::Lang;

/// Attribute setting with plain `&'static str` names (minidom wants `NcName`).
pub trait Attr {
    fn a(self, name: &'static str, value: impl IntoAttributeValue) -> Self;
}

impl Attr for ElementBuilder {
    fn a(self, name: &'static str, value: impl IntoAttributeValue) -> Self {
        match NcName::try_from(name) {
            Ok(n) => self.attr(n, value),
            Err(_) => self,
        }
    }
}

/// Sets (or replaces) an attribute without a namespace.
pub fn set_attr(el: &mut Element, name: &'static str, value: impl IntoAttributeValue) {
    if let Ok(n) = NcName::try_from(name) {
        el.set_attr(Namespace::NONE, n, value);
    }
}

pub const NS_COMPONENT: &str = "jabber:component:accept";
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const NS_NICK: &str = "http://jabber.org/protocol/nick";
pub const NS_ADDRESS: &str = "http://jabber.org/protocol/address";
/// The recipients as one whitespace-separated text, all blind: what
/// contrib/prosody's multicast service takes besides XEP-0033 addresses,
/// because Prosody parses it ≈ 50 times cheaper than `<address/>`
/// elements (BENCHMARKS.md, session 8).
pub const NS_BCC: &str = "urn:talkgroups:bcc:0";
pub const NS_DELAY: &str = "urn:xmpp:delay";
pub const NS_RECEIPTS: &str = "urn:xmpp:receipts";
pub const NS_OOB: &str = "jabber:x:oob";
pub const NS_REPLY: &str = "urn:xmpp:reply:0";
pub const NS_CORRECT: &str = "urn:xmpp:message-correct:0";
pub const NS_RETRACT: &str = "urn:xmpp:message-retract:1";
pub const NS_RETRACT_0: &str = "urn:xmpp:message-retract:0";
pub const NS_REACTIONS: &str = "urn:xmpp:reactions:0";
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const NS_DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
pub const NS_VERSION: &str = "jabber:iq:version";
pub const NS_PING: &str = "urn:xmpp:ping";
pub const NS_VCARD: &str = "vcard-temp";
pub const NS_VCARD_UPDATE: &str = "vcard-temp:x:update";

/// Error `type` attribute values (RFC 6120 §8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Auth,
    Cancel,
    Modify,
    Wait,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }
}

/// A new message stanza of type chat with a body.
pub fn chat(from: &str, to: &str, id: &str, body: &str) -> Element {
    Element::builder("message", NS_COMPONENT)
        .a("type", "chat")
        .a("from", from)
        .a("to", to)
        .a("id", id)
        .append(text_child("body", NS_COMPONENT, body))
        .build()
}

/// A chat message without `to` and `id` (for a [`Fanout`]).
pub fn chat_template(from: &str, body: &str) -> Element {
    Element::builder("message", NS_COMPONENT)
        .a("type", "chat")
        .a("from", from)
        .append(text_child("body", NS_COMPONENT, body))
        .build()
}

/// One stanza for many recipients that differ only in `to` (and, with
/// `id_prefix`, in `id` = prefix + the copy's number): the XMPP adapter
/// serializes `stanza` once and writes each copy by patching those two
/// attributes, instead of building and serializing an element per copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Fanout {
    /// Without `to` and `id`.
    pub stanza: Element,
    pub id_prefix: Option<String>,
    pub copies: Vec<Copy>,
}

/// One recipient of a [`Fanout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub to: std::sync::Arc<str>,
    /// Appended to `id_prefix` (unused without one).
    pub n: i64,
}

impl Fanout {
    pub fn new(stanza: Element, id_prefix: Option<String>) -> Fanout {
        Fanout {
            stanza,
            id_prefix,
            copies: Vec::new(),
        }
    }

    /// Adds a recipient; a member's JID is shared, not copied.
    pub fn push(&mut self, to: impl Into<std::sync::Arc<str>>, n: i64) {
        self.copies.push(Copy { to: to.into(), n });
    }

    /// The `id` of copy `c`.
    pub fn id_of(&self, c: &Copy) -> Option<String> {
        self.id_prefix.as_ref().map(|p| format!("{p}{}", c.n))
    }

    /// Every copy as its own element (tests, and anything that needs them).
    pub fn expand(&self) -> impl Iterator<Item = Element> + '_ {
        self.copies.iter().map(|c| {
            let mut e = self.stanza.clone();
            set_attr(&mut e, "to", &*c.to);
            if let Some(id) = self.id_of(c) {
                set_attr(&mut e, "id", id);
            }
            e
        })
    }

    /// The fanout as XEP-0033 stanzas to the server's multicast `service`,
    /// at most `batch` recipients (`bcc`, so no recipient sees the others)
    /// in each; a batch of one is an ordinary copy. `None` when it cannot
    /// be multicast: not a message, a single copy, or copies whose ids
    /// differ (multicast delivers one stanza, one id). With `compact` (the
    /// service advertises [`NS_BCC`]) the recipients go as one `<bcc/>`
    /// text instead of `<address/>` elements, unless a JID holds
    /// whitespace (a resource may).
    pub fn multicast(&self, service: &str, batch: usize, compact: bool) -> Option<Vec<Element>> {
        let first = self.copies.first()?;
        if self.stanza.name() != "message"
            || self.copies.len() < 2
            || self.copies.iter().any(|c| c.n != first.n)
        {
            return None;
        }
        let id = self.id_of(first);
        // One form for the whole fanout, so that sizes are known up front.
        let compact = compact
            && !self
                .copies
                .iter()
                .any(|c| c.to.contains(char::is_whitespace));
        let cost = |c: &Copy| c.to.len() + if compact { 1 } else { ADDRESS_BYTES };
        let out = size_chunks(&self.copies, batch.max(1), MULTICAST_LIST_BYTES, cost)
            .map(|chunk| {
                let mut e = self.stanza.clone();
                if let Some(id) = &id {
                    set_attr(&mut e, "id", id.as_str());
                }
                if let [one] = chunk {
                    set_attr(&mut e, "to", &*one.to);
                    return e;
                }
                set_attr(&mut e, "to", service);
                if compact {
                    let mut list = String::with_capacity(chunk.iter().map(cost).sum());
                    for c in chunk {
                        if !list.is_empty() {
                            list.push(' ');
                        }
                        list.push_str(&c.to);
                    }
                    e.append_child(text_child("bcc", NS_BCC, &list));
                    return e;
                }
                let mut addresses = Element::builder("addresses", NS_ADDRESS);
                for c in chunk {
                    addresses = addresses.append(
                        Element::builder("address", NS_ADDRESS)
                            .a("type", "bcc")
                            .a("jid", &*c.to)
                            .build(),
                    );
                }
                e.append_child(addresses.build());
                e
            })
            .collect();
        Some(out)
    }
}

/// A multicast stanza's recipient list stays under this many bytes, so
/// that with a message of up to Prosody's 256 KB c2s limit the stanza
/// stays under its 512 KB `component_stanza_size_limit` (a bigger one
/// would cost the component its stream). 10 000 XEP-0033 addresses of
/// 20-character JIDs are ≈ 570 KB.
pub const MULTICAST_LIST_BYTES: usize = 200 * 1024;

/// `<address jid='' type='bcc'></address>` around a JID, as serialized.
const ADDRESS_BYTES: usize = 40;

/// Consecutive runs of `items`, each at most `max` long and, unless a
/// single item is bigger, at most `budget` by `cost`.
fn size_chunks<'a, T>(
    items: &'a [T],
    max: usize,
    budget: usize,
    cost: impl Fn(&T) -> usize + 'a,
) -> impl Iterator<Item = &'a [T]> + 'a {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut used = 0;
        let mut n = 0;
        while n < rest.len() && n < max {
            used += cost(&rest[n]);
            if n > 0 && used > budget {
                break;
            }
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// What a multicast service refused, read from its error (XEP-0033).
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedMulticast {
    /// The error condition (`not-acceptable`: too many addresses).
    pub condition: Option<String>,
    /// One plain copy per address, as they would have gone without the
    /// service; empty when the error does not carry the addresses.
    pub copies: Vec<Element>,
}

/// Rebuilds the copies of a multicast stanza from the service's error.
/// ejabberd's mod_multicast returns the whole stanza (addresses, body,
/// everything) with the error appended; each address becomes a plain
/// `type='chat'` message from the group (the error's `to`), with the same
/// id and payload. (`Fanout::multicast` only makes relayed messages, which
/// are `chat`; the error itself has replaced the type.)
pub fn refused_multicast(err: &Element) -> RefusedMulticast {
    let condition = err
        .children()
        .find(|c| c.name() == "error")
        .and_then(|e| {
            e.children()
                .find(|c| c.ns() == NS_STANZAS && c.name() != "text")
        })
        .map(|c| c.name().to_string());
    let addresses = child(err, "addresses", NS_ADDRESS);
    let bcc = child(err, "bcc", NS_BCC);
    let Some(from) = err
        .attr("to")
        .filter(|_| addresses.is_some() || bcc.is_some())
    else {
        return RefusedMulticast {
            condition,
            copies: Vec::new(),
        };
    };
    let mut template = Element::builder("message", NS_COMPONENT)
        .a("from", from)
        .a("type", "chat");
    if let Some(id) = err.attr("id") {
        template = template.a("id", id);
    }
    let mut template = template.build();
    for c in err.children() {
        if !(c.name() == "error" || c.is("addresses", NS_ADDRESS) || c.is("bcc", NS_BCC)) {
            template.append_child(c.clone());
        }
    }
    let listed = bcc.map(Element::text).unwrap_or_default();
    let copies = addresses
        .into_iter()
        .flat_map(Element::children)
        .filter(|a| a.is("address", NS_ADDRESS))
        .filter(|a| matches!(a.attr("type"), Some("bcc" | "to" | "cc")))
        .filter_map(|a| a.attr("jid"))
        .chain(listed.split_whitespace())
        .map(|jid| {
            let mut copy = template.clone();
            set_attr(&mut copy, "to", jid);
            copy
        })
        .collect();
    RefusedMulticast { condition, copies }
}

/// A disco#info request (XEP-0030) from `from` to `to`.
pub fn disco_info_request(from: &str, to: &str, id: &str) -> Element {
    Element::builder("iq", NS_COMPONENT)
        .a("type", "get")
        .a("from", from)
        .a("to", to)
        .a("id", id)
        .append(Element::builder("query", NS_DISCO_INFO).build())
        .build()
}

/// Whether a disco#info result lists the feature `var`.
pub fn offers_feature(result: &Element, var: &str) -> bool {
    result.attr("type") == Some("result")
        && child(result, "query", NS_DISCO_INFO).is_some_and(|q| {
            q.children()
                .any(|f| f.is("feature", NS_DISCO_INFO) && f.attr("var") == Some(var))
        })
}

pub fn text_child(name: &str, ns: &str, text: &str) -> Element {
    Element::builder(name, ns).append(text).build()
}

/// A presence stanza; `type_` `None` is available.
pub fn presence(from: &str, to: &str, type_: Option<&str>) -> Element {
    let mut p = presence_template(from, type_);
    set_attr(&mut p, "to", to);
    p
}

/// A presence without `to` (for a [`Fanout`]).
pub fn presence_template(from: &str, type_: Option<&str>) -> Element {
    let mut b = Element::builder("presence", NS_COMPONENT).a("from", from);
    if let Some(t) = type_ {
        b = b.a("type", t);
    }
    b.build()
}

/// The error reply to `stanza` (from/to swapped, same id and name).
pub fn error_reply(
    stanza: &Element,
    etype: ErrorType,
    condition: &str,
    text: Option<(Lang, &str)>,
) -> Element {
    let mut err = Element::builder("error", NS_COMPONENT)
        .a("type", etype.as_str())
        .append(Element::builder(condition, NS_STANZAS).build());
    if let Some((lang, t)) = text {
        let mut text = Element::builder("text", NS_STANZAS).append(t).build();
        if let Ok(n) = NcName::try_from("lang") {
            text.set_attr(Namespace::XML, n, lang.code());
        }
        err = err.append(text);
    }
    let mut b = Element::builder(stanza.name(), NS_COMPONENT).a("type", "error");
    if let Some(to) = stanza.attr("from") {
        b = b.a("to", to);
    }
    if let Some(from) = stanza.attr("to") {
        b = b.a("from", from);
    }
    if let Some(id) = stanza.attr("id") {
        b = b.a("id", id);
    }
    b.append(err.build()).build()
}

/// An XEP-0199 ping.
pub fn ping(from: &str, to: &str, id: &str) -> Element {
    Element::builder("iq", NS_COMPONENT)
        .a("type", "get")
        .a("from", from)
        .a("to", to)
        .a("id", id)
        .append(Element::builder("ping", NS_PING).build())
        .build()
}

/// `<iq type='result'/>` answering `iq`, with an optional payload.
pub fn iq_result(iq: &Element, payload: Option<Element>) -> Element {
    let mut b = Element::builder("iq", NS_COMPONENT).a("type", "result");
    if let Some(to) = iq.attr("from") {
        b = b.a("to", to);
    }
    if let Some(from) = iq.attr("to") {
        b = b.a("from", from);
    }
    if let Some(id) = iq.attr("id") {
        b = b.a("id", id);
    }
    if let Some(p) = payload {
        b = b.append(p);
    }
    b.build()
}

/// The text of the stanza's `<body/>` (the one without xml:lang or the
/// first), if any.
pub fn body(msg: &Element) -> Option<String> {
    msg.children()
        .find(|c| c.name() == "body" && (c.ns() == NS_COMPONENT || c.ns() == "jabber:client"))
        .map(|b| b.text())
}

/// The first child with this name and namespace.
pub fn child<'a>(el: &'a Element, name: &str, ns: &str) -> Option<&'a Element> {
    el.children().find(|c| c.name() == name && c.ns() == ns)
}

/// Formats milliseconds since the epoch as an XEP-0082 UTC timestamp.
pub fn xep0082(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM` UTC, for people.
pub fn human_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap_or_default()
}

/// `YYYY-MM-DD` UTC.
pub fn human_date(ms: i64) -> String {
    human_time(ms)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_swaps_addresses() {
        let m: Element = "<message xmlns='jabber:component:accept' from='a@b/c' to='x@g' id='1' type='chat'><body>hi</body></message>"
            .parse()
            .unwrap();
        let e = error_reply(&m, ErrorType::Cancel, "item-not-found", None);
        assert_eq!(e.attr("to"), Some("a@b/c"));
        assert_eq!(e.attr("from"), Some("x@g"));
        assert_eq!(e.attr("type"), Some("error"));
        assert_eq!(e.attr("id"), Some("1"));
        let err = child(&e, "error", NS_COMPONENT).unwrap();
        assert_eq!(err.attr("type"), Some("cancel"));
        assert!(child(err, "item-not-found", NS_STANZAS).is_some());
    }

    /// A relayed message and its fanout to five members (one id for all).
    fn relayed_to_five() -> (Element, Fanout) {
        let msg = relayed_hi();
        let mut f = Fanout::new(msg.clone(), Some("tgm-7-".into()));
        for u in ["a@x", "b@x", "c@y", "d@y", "e@z"] {
            f.push(u, 0);
        }
        (msg, f)
    }

    fn relayed_hi() -> Element {
        "<message xmlns='jabber:component:accept' type='chat' from='lobby@g'><body>hi</body></message>"
            .parse()
            .unwrap()
    }

    #[test]
    fn a_fanout_as_multicast_batches() {
        let (msg, f) = relayed_to_five();
        let out = f.multicast("multicast.x", 2, false).unwrap();
        // 2 + 2 through the service, the fifth on its own.
        assert_eq!(out.len(), 3);
        let jids = |e: &Element| -> Vec<String> {
            child(e, "addresses", NS_ADDRESS)
                .map(|a| {
                    a.children()
                        .inspect(|c| assert_eq!(c.attr("type"), Some("bcc")))
                        .filter_map(|c| c.attr("jid").map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(out[0].attr("to"), Some("multicast.x"));
        assert_eq!(jids(&out[0]), ["a@x", "b@x"]);
        assert_eq!(jids(&out[1]), ["c@y", "d@y"]);
        assert_eq!(out[2].attr("to"), Some("e@z"));
        assert!(jids(&out[2]).is_empty());
        for e in &out {
            assert_eq!(e.attr("id"), Some("tgm-7-0"));
            assert_eq!(e.attr("from"), Some("lobby@g"));
            assert!(child(e, "body", NS_COMPONENT).is_some());
        }

        // Per-recipient ids, a single copy, or a presence: not multicast.
        let mut per_copy = Fanout::new(msg.clone(), Some("tgm-7-".into()));
        per_copy.push("a@x", 1);
        per_copy.push("b@x", 2);
        assert!(per_copy.multicast("multicast.x", 20, false).is_none());
        let mut one = Fanout::new(msg, None);
        one.push("a@x", 0);
        assert!(one.multicast("multicast.x", 20, false).is_none());
        let mut pres = Fanout::new(presence_template("lobby@g", None), None);
        pres.push("a@x", 0);
        pres.push("b@x", 0);
        assert!(pres.multicast("multicast.x", 20, false).is_none());
    }

    #[test]
    fn a_compact_multicast_lists_the_recipients_as_text() {
        let (msg, f) = relayed_to_five();
        let out = f.multicast("multicast.x", 2, true).unwrap();
        assert_eq!(out.len(), 3);
        let list = |e: &Element| child(e, "bcc", NS_BCC).map(Element::text);
        assert_eq!(list(&out[0]).as_deref(), Some("a@x b@x"));
        assert_eq!(list(&out[1]).as_deref(), Some("c@y d@y"));
        assert!(child(&out[0], "addresses", NS_ADDRESS).is_none());
        assert_eq!(out[2].attr("to"), Some("e@z"));
        assert_eq!(list(&out[2]), None);

        // A resource with a space cannot be listed: that chunk falls back
        // to XEP-0033 addresses.
        let mut g = Fanout::new(msg, None);
        g.push("a@x/my phone", 0);
        g.push("b@x", 0);
        let out = g.multicast("multicast.x", 20, true).unwrap();
        assert!(child(&out[0], "bcc", NS_BCC).is_none());
        let addresses = child(&out[0], "addresses", NS_ADDRESS).unwrap();
        assert_eq!(addresses.children().count(), 2);
    }

    #[test]
    fn disco_features_are_read_from_results_only() {
        let req = disco_info_request("groups.x", "multicast.x", "d1");
        assert_eq!(req.attr("to"), Some("multicast.x"));
        assert!(child(&req, "query", NS_DISCO_INFO).is_some());
        let result: Element = "<iq xmlns='jabber:component:accept' type='result' id='d1' \
            from='multicast.x'><query xmlns='http://jabber.org/protocol/disco#info'>\
            <identity category='service' type='multicast'/>\
            <feature var='http://jabber.org/protocol/address'/>\
            <feature var='urn:talkgroups:bcc:0'/></query></iq>"
            .parse()
            .unwrap();
        assert!(offers_feature(&result, NS_BCC));
        assert!(offers_feature(&result, NS_ADDRESS));
        assert!(!offers_feature(&result, "urn:other"));
        // ejabberd's mod_multicast: XEP-0033 only.
        let ejabberd: Element = "<iq xmlns='jabber:component:accept' type='result' id='d1'>\
            <query xmlns='http://jabber.org/protocol/disco#info'>\
            <feature var='http://jabber.org/protocol/address'/></query></iq>"
            .parse()
            .unwrap();
        assert!(!offers_feature(&ejabberd, NS_BCC));
        let error: Element = "<iq xmlns='jabber:component:accept' type='error' id='d1'>\
            <query xmlns='http://jabber.org/protocol/disco#info'>\
            <feature var='urn:talkgroups:bcc:0'/></query></iq>"
            .parse()
            .unwrap();
        assert!(!offers_feature(&error, NS_BCC));
    }

    #[test]
    fn size_chunks_keep_to_count_and_budget() {
        let items = [3, 3, 3, 10, 1, 1];
        let chunks: Vec<&[i32]> = size_chunks(&items, 4, 6, |&x| x as usize).collect();
        // A single item over the budget still goes, alone.
        assert_eq!(chunks, [&[3, 3][..], &[3], &[10], &[1, 1]]);
        let by_count: Vec<&[i32]> = size_chunks(&items, 2, 100, |_| 1).collect();
        assert_eq!(by_count, [&[3, 3][..], &[3, 10], &[1, 1]]);
        assert_eq!(size_chunks(&[] as &[i32], 2, 100, |_| 1).count(), 0);
    }

    #[test]
    fn big_multicasts_stay_under_the_servers_stanza_limit() {
        let mut f = Fanout::new(relayed_hi(), Some("tgm-7-".into()));
        for i in 0..10_000 {
            f.push(format!("member-number-{i:05}@example.org"), 0);
        }
        for compact in [false, true] {
            let out = f.multicast("multicast.x", 10_000, compact).unwrap();
            let mut total = 0;
            for e in &out {
                // minidom's serializer: the same bytes as the wire writer's
                // give or take its quotes (the wire tests check that form).
                let mut bytes = Vec::new();
                e.write_to(&mut bytes).unwrap();
                assert!(
                    bytes.len() <= MULTICAST_LIST_BYTES + 200,
                    "compact={compact}: {} bytes",
                    bytes.len()
                );
                total += child(e, "addresses", NS_ADDRESS).map_or_else(
                    || child(e, "bcc", NS_BCC).unwrap().text().split(' ').count(),
                    |a| a.children().count(),
                );
            }
            assert_eq!(total, 10_000, "compact={compact}");
            // ≈ 680 KB as addresses: four stanzas; ≈ 320 KB as text: two.
            assert_eq!(out.len(), if compact { 2 } else { 4 }, "compact={compact}");
        }
    }

    /// A refused multicast of "[al] hi" (id tgm-7-0) to a@x and b@y: its
    /// copies, plain chat messages from the group, without list or error.
    fn refused_to_a_and_b(err: &Element) -> Vec<Element> {
        let r = refused_multicast(err);
        assert_eq!(r.condition.as_deref(), Some("not-acceptable"));
        let to: Vec<_> = r.copies.iter().map(|c| c.attr("to").unwrap()).collect();
        assert_eq!(to, ["a@x", "b@y"]);
        for c in &r.copies {
            assert_eq!(c.attr("from"), Some("lobby@g"));
            assert_eq!(c.attr("type"), Some("chat"));
            assert_eq!(c.attr("id"), Some("tgm-7-0"));
            assert_eq!(c.get_child("body", NS_COMPONENT).unwrap().text(), "[al] hi");
            assert!(c.get_child("addresses", NS_ADDRESS).is_none());
            assert!(c.get_child("bcc", NS_BCC).is_none());
            assert!(c.get_child("error", NS_COMPONENT).is_none());
        }
        r.copies
    }

    #[test]
    fn a_refused_compact_multicast_becomes_plain_copies() {
        // As contrib/prosody's service refuses: the stanza back, list and all.
        let err: Element = "<message xmlns='jabber:component:accept' type='error' \
            from='multicast.x' to='lobby@g' id='tgm-7-0'><body>[al] hi</body>\
            <bcc xmlns='urn:talkgroups:bcc:0'> a@x\n b@y </bcc>\
            <error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
            </error></message>"
            .parse()
            .unwrap();
        refused_to_a_and_b(&err);
    }

    #[test]
    fn a_refused_multicast_becomes_plain_copies() {
        // As ejabberd's mod_multicast answers a stanza over its limit: the
        // whole stanza back, from/to swapped, type error, error appended.
        let err: Element = "<message xmlns='jabber:component:accept' type='error' \
            from='multicast.x' to='lobby@g' id='tgm-7-0'>\
            <addresses xmlns='http://jabber.org/protocol/address'>\
            <address type='bcc' jid='a@x'/><address type='bcc' jid='b@y'/></addresses>\
            <body>[al] hi</body><nick xmlns='http://jabber.org/protocol/nick'>al</nick>\
            <error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
            <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Too many receiver fields</text>\
            </error></message>"
            .parse()
            .unwrap();
        for c in refused_to_a_and_b(&err) {
            assert!(c
                .get_child("nick", "http://jabber.org/protocol/nick")
                .is_some());
        }

        // A bare error (Prosody-style, no payload): the condition, no copies.
        let bare: Element = "<message xmlns='jabber:component:accept' type='error' \
            from='nothing.x' to='lobby@g' id='tgm-8-0'><error type='cancel'>\
            <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
            .parse()
            .unwrap();
        let r = refused_multicast(&bare);
        assert_eq!(r.condition.as_deref(), Some("service-unavailable"));
        assert!(r.copies.is_empty());
    }

    #[test]
    fn timestamps() {
        assert_eq!(xep0082(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(xep0082(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(human_time(1_700_000_000_123), "2023-11-14 22:13");
        assert_eq!(human_date(1_700_000_000_123), "2023-11-14");
    }
}
