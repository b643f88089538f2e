//! Stanzas to bytes for the component stream.
//!
//! Serializes the way tokio-xmpp's own writer does (rxml's encoder, with
//! `jabber:component:accept` as the default namespace the stream header
//! declared), but into a plain byte buffer the XMPP adapter writes itself,
//! and with one shortcut that makes fan-out cheap: a [`Fanout`] is
//! serialized once, with markers where `to` and `id` go, and each copy is
//! the bytes around the markers with the copy's own values in between.

use minidom::rxml::writer::{Encoder, SimpleNamespaces, TrackNamespace};
use minidom::rxml::{self, Namespace};
use minidom::Element;
use xso::AsXml;

use std::collections::VecDeque;

use crate::core::stanza::{self, Copy, Fanout};

/// What goes into the stream: one stanza, or one for many recipients.
#[derive(Debug, Clone, PartialEq)]
pub enum OutStanza {
    One(Element),
    Many(Fanout),
}

impl OutStanza {
    /// How many stanzas reach the server.
    pub fn count(&self) -> usize {
        match self {
            OutStanza::One(_) => 1,
            OutStanza::Many(f) => f.copies.len(),
        }
    }
}

// Private-use characters: never in a group JID or in "chat"/"probe", so the
// first occurrence in a serialized stanza is the attribute we set.
const TO_MARK: &str = "\u{E000}";
const ID_MARK: &str = "\u{E001}";

/// Serializes stanzas for one stream (a fresh one per connection).
pub struct Writer {
    enc: Encoder<SimpleNamespaces>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer { enc: new_encoder() }
    }

    /// Appends the stanza's bytes to `out`; returns how many stanzas that
    /// is. A stanza rxml refuses (a control character from some payload,
    /// say) is left out whole, with an error in the log: it must not cost
    /// the connection.
    pub fn write(&mut self, s: &OutStanza, out: &mut Vec<u8>) -> usize {
        match s {
            OutStanza::One(el) => match self.element(el, out) {
                Ok(()) => 1,
                Err(e) => {
                    tracing::error!(stanza = el.name(), error = %e, "dropping an unserialisable stanza");
                    0
                }
            },
            OutStanza::Many(f) => match self.fanout(f, out) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(stanza = f.stanza.name(), copies = f.copies.len(), error = %e, "dropping an unserialisable stanza");
                    0
                }
            },
        }
    }

    /// One element; on error `out` is as it was.
    pub fn element(&mut self, el: &Element, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let result = (|| -> Result<(), String> {
            let items = el.as_xml_iter().map_err(|e| e.to_string())?;
            for item in items {
                let item = item.map_err(|e| e.to_string())?;
                self.enc
                    .encode(item.as_rxml_item(), out)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })();
        if result.is_err() {
            out.truncate(start);
            // The encoder may be mid-element: start over.
            self.enc = new_encoder();
        }
        result
    }

    /// Every copy of a fanout; returns how many.
    fn fanout(&mut self, f: &Fanout, out: &mut Vec<u8>) -> Result<usize, String> {
        let t = self.template(f)?;
        Ok(t.copies(&f.copies, out))
    }

    /// The fanout's stanza serialized once, cut where `to` and `id` go.
    pub fn template(&mut self, f: &Fanout) -> Result<Template, String> {
        let mut template = f.stanza.clone();
        stanza::set_attr(&mut template, "to", TO_MARK);
        if f.id_prefix.is_some() {
            stanza::set_attr(&mut template, "id", ID_MARK);
        }
        let mut bytes = Vec::with_capacity(256);
        self.element(&template, &mut bytes)?;
        let to_at = find(&bytes, TO_MARK).ok_or("no to marker")?;
        let id_at = match f.id_prefix {
            Some(_) => Some(find(&bytes, ID_MARK).ok_or("no id marker")?),
            None => None,
        };
        // The pieces around the markers, in the order they appear.
        let mut cuts = vec![(to_at, TO_MARK.len(), Slot::To)];
        if let Some(at) = id_at {
            cuts.push((at, ID_MARK.len(), Slot::Id));
        }
        cuts.sort_by_key(|c| c.0);
        Ok(Template {
            bytes,
            cuts,
            prefix: f.id_prefix.clone().unwrap_or_default(),
        })
    }
}

/// A fanout's stanza as bytes, ready for copies.
pub struct Template {
    bytes: Vec<u8>,
    cuts: Vec<(usize, usize, Slot)>,
    prefix: String,
}

impl Template {
    /// Appends these copies to `out`; returns how many.
    pub fn copies(&self, copies: &[Copy], out: &mut Vec<u8>) -> usize {
        out.reserve(copies.len() * (self.bytes.len() + 48));
        let mut n = 0;
        for c in copies {
            if !attr_safe(&c.to) {
                tracing::error!("dropping a copy to an unserialisable JID");
                continue;
            }
            let mut pos = 0;
            for (at, len, slot) in &self.cuts {
                out.extend_from_slice(&self.bytes[pos..*at]);
                match slot {
                    Slot::To => escape_attr(&c.to, out),
                    Slot::Id => {
                        escape_attr(&self.prefix, out);
                        write_int(c.n, out);
                    }
                }
                pos = at + len;
            }
            out.extend_from_slice(&self.bytes[pos..]);
            n += 1;
        }
        n
    }

    /// Bytes of one copy, roughly (for chunking).
    fn size(&self) -> usize {
        self.bytes.len() + 32
    }
}

/// Stanzas waiting to be written, serialized a chunk at a time as the
/// socket takes them, so memory stays bounded however big a group is (a
/// fanout to 100 000 members is ~30 MB of bytes, but only `limit` of it
/// exists at once).
#[derive(Default)]
pub struct Outgoing {
    writer: Writer,
    queue: VecDeque<OutStanza>,
    /// The fanout being written: its template and the next copy.
    current: Option<(Fanout, Template, usize)>,
}

impl Outgoing {
    pub fn push(&mut self, s: OutStanza) {
        self.queue.push_back(s);
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.current.is_none()
    }

    /// Stanzas not yet serialized.
    pub fn count(&self) -> usize {
        let current = self
            .current
            .as_ref()
            .map_or(0, |(f, _, next)| f.copies.len() - next);
        current + self.queue.iter().map(OutStanza::count).sum::<usize>()
    }

    /// Serializes into `out` until it holds at least `limit` bytes or
    /// nothing is left; returns how many stanzas were added.
    pub fn fill(&mut self, out: &mut Vec<u8>, limit: usize) -> usize {
        let mut n = 0;
        while out.len() < limit {
            if let Some((f, t, next)) = self.current.as_mut() {
                let room = (limit - out.len()) / t.size() + 1;
                let end = (*next + room).min(f.copies.len());
                n += t.copies(&f.copies[*next..end], out);
                *next = end;
                if end == f.copies.len() {
                    self.current = None;
                }
                continue;
            }
            match self.queue.pop_front() {
                None => break,
                Some(s @ OutStanza::One(_)) => n += self.writer.write(&s, out),
                Some(OutStanza::Many(f)) => match self.writer.template(&f) {
                    Ok(t) => self.current = Some((f, t, 0)),
                    Err(e) => tracing::error!(
                        stanza = f.stanza.name(),
                        copies = f.copies.len(),
                        error = %e,
                        "dropping an unserialisable stanza"
                    ),
                },
            }
        }
        n
    }
}

enum Slot {
    To,
    Id,
}

fn new_encoder() -> Encoder<SimpleNamespaces> {
    let mut enc = Encoder::new();
    let stream = rxml::NcName::try_from("stream").unwrap_or_else(|_| unreachable!());
    enc.ns_tracker_mut().declare_fixed(
        Some(stream.as_ref()),
        Namespace::from("http://etherx.jabber.org/streams"),
    );
    enc.ns_tracker_mut()
        .declare_fixed(None, Namespace::from(stanza::NS_COMPONENT));
    // Stanzas are children of <stream:stream>, whose header declared both
    // namespaces: encode a header (and throw its bytes away) so every
    // stanza inherits them, as on the real stream.
    let mut scratch = Vec::new();
    let header = [
        rxml::Item::ElementHeadStart(
            Namespace::from("http://etherx.jabber.org/streams"),
            <&rxml::NcNameStr>::try_from("stream").unwrap_or_else(|_| unreachable!()),
        ),
        rxml::Item::ElementHeadEnd,
    ];
    for item in header {
        if let Err(e) = enc.encode(item, &mut scratch) {
            tracing::error!(error = %e, "cannot start the stanza encoder");
        }
    }
    enc
}

fn find(hay: &[u8], needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.windows(n.len()).position(|w| w == n)
}

/// Writes `n` in decimal, without an allocation (one per copy added up).
fn write_int(n: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// XML 1.0 characters only (a stored JID is, but check rather than break
/// the stream).
fn attr_safe(s: &str) -> bool {
    !s.chars().any(|c| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
    })
}

/// Escapes an attribute value for either quote character.
fn escape_attr(s: &str, out: &mut Vec<u8>) {
    if !s
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\'' => out.extend_from_slice(b"&apos;"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stanza::{Attr, Fanout, NS_COMPONENT};

    #[test]
    fn a_compact_multicast_goes_out_as_one_text_of_recipients() {
        let msg: Element = "<message xmlns='jabber:component:accept' type='chat' from='lobby@g'><body>hi</body></message>"
            .parse()
            .unwrap();
        let mut f = Fanout::new(msg, Some("tgm-7-".into()));
        f.push("a@x", 0);
        f.push("b@x", 0);
        let out = f.multicast("multicast.x", 20, true).unwrap();
        let mut bytes = Vec::new();
        Writer::new().element(&out[0], &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains("<bcc xmlns='urn:talkgroups:bcc:0'>a@x b@x</bcc>"),
            "{text}"
        );
        // What a parser reads back.
        let back = &parse_all(text.as_bytes())[0];
        let list = back
            .get_child("bcc", "urn:talkgroups:bcc:0")
            .map(|b| b.text());
        assert_eq!(list.as_deref(), Some("a@x b@x"));
    }

    fn parse_all(bytes: &[u8]) -> Vec<Element> {
        // Wrap in a stream-like root that declares the default namespace.
        let doc = format!(
            "<root xmlns='{NS_COMPONENT}'>{}</root>",
            std::str::from_utf8(bytes).expect("utf-8")
        );
        let root: Element = doc.parse().expect("well-formed");
        root.children().cloned().collect()
    }

    fn msg() -> Element {
        Element::builder("message", NS_COMPONENT)
            .a("type", "chat")
            .a("from", "lobby@groups.localhost")
            .append(stanza::text_child(
                "body",
                NS_COMPONENT,
                "a < b & \u{E000} 'q'",
            ))
            .append(stanza::text_child("nick", stanza::NS_NICK, "al"))
            .build()
    }

    #[test]
    fn fanout_copies_equal_their_expansion() {
        let mut f = Fanout::new(msg(), Some("tgm-7-".into()));
        f.push("bob@localhost", 2);
        f.push("o'hara&co@example.org", 13);
        let mut out = Vec::new();
        let mut w = Writer::new();
        assert_eq!(w.write(&OutStanza::Many(f.clone()), &mut out), 2);
        let got = parse_all(&out);
        let want: Vec<Element> = f.expand().collect();
        assert_eq!(got, want);
        assert_eq!(got[1].attr("to"), Some("o'hara&co@example.org"));
        assert_eq!(got[1].attr("id"), Some("tgm-7-13"));
        // No namespace repeated on every stanza: the stream declared it.
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("jabber:component:accept"), "{text}");
        assert!(
            text.contains("xmlns='http://jabber.org/protocol/nick'")
                || text.contains("xmlns=\"http://jabber.org/protocol/nick\""),
            "{text}"
        );
    }

    #[test]
    fn fanouts_without_ids_and_single_elements() {
        let mut f = Fanout::new(
            stanza::presence_template("lobby@groups.localhost", Some("probe")),
            None,
        );
        f.push("a@x", 0);
        f.push("b@x", 0);
        let mut out = Vec::new();
        let mut w = Writer::new();
        w.write(&OutStanza::Many(f.clone()), &mut out);
        w.write(
            &OutStanza::One(stanza::chat("lobby@groups.localhost", "c@x", "i1", "hi")),
            &mut out,
        );
        let got = parse_all(&out);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], f.expand().next().unwrap());
        assert_eq!(got[1].attr("id"), None);
        assert_eq!(got[2].attr("to"), Some("c@x"));
    }

    #[test]
    fn outgoing_writes_big_fanouts_a_chunk_at_a_time_in_order() {
        let mut big = Fanout::new(msg(), Some("tgm-1-".into()));
        for i in 0..5_000 {
            big.push(format!("u{i}@x"), i);
        }
        let mut o = Outgoing::default();
        o.push(OutStanza::One(stanza::chat("g@x", "first@x", "a", "1")));
        o.push(OutStanza::Many(big.clone()));
        o.push(OutStanza::One(stanza::chat("g@x", "last@x", "b", "2")));
        assert_eq!(o.count(), 5_002);
        let mut all = Vec::new();
        let mut chunk = Vec::new();
        let mut biggest = 0;
        while !o.is_empty() {
            chunk.clear();
            o.fill(&mut chunk, 16 * 1024);
            biggest = biggest.max(chunk.len());
            all.extend_from_slice(&chunk);
        }
        assert!(biggest < 17 * 1024 + 512, "a chunk of {biggest} bytes");
        let got = parse_all(&all);
        assert_eq!(got.len(), 5_002);
        assert_eq!(got[0].attr("to"), Some("first@x"));
        assert_eq!(got[5_001].attr("to"), Some("last@x"));
        let want: Vec<Element> = big.expand().collect();
        assert_eq!(&got[1..5_001], &want[..]);
    }

    #[test]
    fn what_rxml_refuses_is_refused() {
        let mut w = Writer::new();
        let mut out = Vec::new();
        let ok = stanza::chat("g@x", "a@x", "1", "fine\ttext\nwith ünïcode");
        assert!(w.element(&ok, &mut out).is_ok());
        for bad in [
            stanza::chat("g@x", "a@x", "1", "nul \u{0}"),
            stanza::chat("g@x", "a\u{ffff}", "1", "x"),
            Element::builder("no spaces", NS_COMPONENT).build(),
        ] {
            let before = out.len();
            assert!(w.element(&bad, &mut out).is_err(), "{bad:?}");
            assert_eq!(out.len(), before);
        }
    }

    #[test]
    fn an_unserialisable_stanza_is_left_out_whole() {
        let mut out = Vec::new();
        let mut w = Writer::new();
        w.write(
            &OutStanza::One(stanza::chat("g@x", "a@x", "1", "ok")),
            &mut out,
        );
        let bad = stanza::chat("g@x", "a@x", "2", "bell \u{7} in text");
        assert_eq!(w.write(&OutStanza::One(bad.clone()), &mut out), 0);
        let mut f = Fanout::new(bad, Some("p".into()));
        f.push("b@x", 1);
        assert_eq!(w.write(&OutStanza::Many(f), &mut out), 0);
        w.write(
            &OutStanza::One(stanza::chat("g@x", "a@x", "3", "still fine")),
            &mut out,
        );
        let got = parse_all(&out);
        let ids: Vec<_> = got
            .iter()
            .map(|e| e.attr("id").unwrap_or_default())
            .collect();
        assert_eq!(ids, ["1", "3"]);
    }
}
