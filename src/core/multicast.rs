//! The multicast policy (XEP-0033, `component.multicast`): sending one
//! stanza per `multicast_batch` members through the server's service
//! instead of one per member. Its answers are inputs, its decisions
//! outputs, so the rules are unit-tested here and the adapters only move
//! bytes:
//!
//! - at every connect, ask the service what it takes (disco#info): one
//!   compact recipient list (`urn:talkgroups:bcc:0`, contrib/prosody's
//!   module) or XEP-0033 addresses; addresses until it has answered, as
//!   the service may have changed while the component was away;
//! - a refusal for too many addresses (`not-acceptable`) resends the
//!   copies one by one and halves the batch to below what was refused,
//!   once per size (chunks of one message refused together all halve to
//!   the same size);
//! - any other refusal resends the copies and turns multicast off until
//!   restart.

use minidom::Element;

use super::stanza;
use super::{Notice, Output};

/// The id of the disco#info request to the service.
pub const DISCO_ID: &str = "tg-multicast-disco";

/// The service and what the component knows of it.
#[derive(Debug, Clone)]
pub struct Multicast {
    service: String,
    /// Recipients per stanza at most.
    batch: usize,
    /// The service takes the recipients as one text (its disco#info said
    /// so after the last connect).
    compact: bool,
    /// Turned off by a refusal the component cannot adapt to.
    on: bool,
    /// The first multicast was announced.
    used: bool,
}

impl Multicast {
    pub fn new(service: String, batch: usize) -> Multicast {
        Multicast {
            service,
            batch: batch.max(1),
            compact: false,
            on: true,
            used: false,
        }
    }

    /// Recipients per stanza now.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Whether relays go through the service.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The stream is (re)established: ask the service what it takes.
    pub fn connected(&mut self, domain: &str, out: &mut Vec<Output>) {
        if !self.on {
            return;
        }
        self.compact = false;
        out.push(Output::Send(stanza::disco_info_request(
            domain,
            &self.service,
            DISCO_ID,
        )));
    }

    /// A stanza from the service: its disco#info answer or a refusal.
    /// False when `el` is not from the service (the core handles it).
    pub fn on_stanza(&mut self, el: &Element, out: &mut Vec<Output>) -> bool {
        if el.attr("from") != Some(self.service.as_str()) {
            return false;
        }
        let answer = matches!(el.attr("type"), Some("result" | "error"));
        if el.name() == "iq" && el.attr("id") == Some(DISCO_ID) && answer {
            self.compact = stanza::offers_feature(el, stanza::NS_BCC);
            out.push(Output::Notice(Notice::MulticastDiscovered {
                service: self.service.clone(),
                compact: self.compact,
            }));
            return true;
        }
        if el.name() == "message" && el.attr("type") == Some("error") {
            self.refused(el, out);
            return true;
        }
        false
    }

    /// The service refused a relayed message: its recipients get it one
    /// by one (the error carries the whole stanza), and the batch shrinks
    /// or multicast stops.
    fn refused(&mut self, err: &Element, out: &mut Vec<Output>) {
        let refused = stanza::refused_multicast(err);
        let n = refused.copies.len();
        let notice = match refused.condition.as_deref() {
            Some("not-acceptable") if n > 1 && (n / 2).max(1) < self.batch => {
                self.batch = (n / 2).max(1);
                Notice::MulticastBatchLowered {
                    service: self.service.clone(),
                    recipients: n,
                    batch: self.batch,
                }
            }
            Some("not-acceptable") if n > 1 => Notice::MulticastResent { recipients: n },
            condition => {
                self.on = false;
                Notice::MulticastOff {
                    service: self.service.clone(),
                    condition: condition.unwrap_or("none").to_string(),
                    resent: n,
                }
            }
        };
        out.push(Output::Notice(notice));
        if n == 0 {
            out.push(Output::Notice(Notice::MulticastCopiesLost));
        }
        out.extend(refused.copies.into_iter().map(Output::Send));
    }

    /// Turns the fanouts in `out[from..]` that the service can carry
    /// into its stanzas.
    pub fn route(&mut self, out: &mut Vec<Output>, from: usize) {
        if !self.on || !out[from..].iter().any(|o| matches!(o, Output::Fanout(_))) {
            return;
        }
        let tail: Vec<Output> = out.drain(from..).collect();
        for o in tail {
            let Output::Fanout(f) = o else {
                out.push(o);
                continue;
            };
            match f.multicast(&self.service, self.batch, self.compact) {
                Some(els) => {
                    if !self.used {
                        self.used = true;
                        out.push(Output::Notice(Notice::MulticastInUse {
                            service: self.service.clone(),
                            copies: f.copies.len(),
                            stanzas: els.len(),
                        }));
                    }
                    out.extend(els.into_iter().map(Output::Send));
                }
                None => out.push(Output::Fanout(f)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stanza::{Attr, Fanout, NS_COMPONENT};

    const SVC: &str = "multicast.localhost";

    fn fanout(n: usize) -> Fanout {
        let msg = stanza::chat_template("lobby@groups.localhost", "[alice] hi");
        let mut f = Fanout::new(msg, Some("tgm-7-".into()));
        for i in 0..n {
            f.push(format!("u{i}@localhost"), 0);
        }
        f
    }

    fn sends(out: &[Output]) -> Vec<&Element> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn notices(out: &[Output]) -> Vec<&Notice> {
        out.iter()
            .filter_map(|o| match o {
                Output::Notice(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    /// The service's error for the multicast stanza `m`, as ejabberd
    /// returns it: the whole stanza with an error appended.
    fn refusal(m: &Element, condition: &str) -> Element {
        let mut e = m.clone();
        stanza::set_attr(&mut e, "type", "error");
        stanza::set_attr(&mut e, "from", SVC);
        stanza::set_attr(&mut e, "to", "groups.localhost");
        e.append_child(
            Element::builder("error", NS_COMPONENT)
                .a("type", "modify")
                .append(Element::builder(condition, stanza::NS_STANZAS).build())
                .build(),
        );
        e
    }

    #[test]
    fn addresses_until_the_service_says_it_takes_the_compact_list() {
        let mut m = Multicast::new(SVC.into(), 20);
        let mut out = Vec::new();
        m.connected("groups.localhost", &mut out);
        let ask = sends(&out)[0].clone();
        assert_eq!(ask.attr("to"), Some(SVC));
        assert_eq!(ask.attr("id"), Some(DISCO_ID));
        let mut out = vec![Output::Fanout(fanout(3))];
        m.route(&mut out, 0);
        assert!(matches!(
            notices(&out)[..],
            [Notice::MulticastInUse {
                copies: 3,
                stanzas: 1,
                ..
            }]
        ));
        let first = sends(&out)[0].clone();
        assert!(first.get_child("addresses", stanza::NS_ADDRESS).is_some());
        // The answer: compact from now on.
        let answer: Element = format!(
            "<iq xmlns='jabber:component:accept' type='result' from='{SVC}' to='groups.localhost' id='{DISCO_ID}'><query xmlns='http://jabber.org/protocol/disco#info'><feature var='{}'/></query></iq>",
            stanza::NS_BCC
        )
        .parse()
        .unwrap();
        let mut out = Vec::new();
        assert!(m.on_stanza(&answer, &mut out));
        assert!(matches!(
            notices(&out)[..],
            [Notice::MulticastDiscovered { compact: true, .. }]
        ));
        let mut out = vec![Output::Fanout(fanout(3))];
        m.route(&mut out, 0);
        assert!(notices(&out).is_empty(), "announced once");
        assert!(sends(&out)[0].get_child("bcc", stanza::NS_BCC).is_some());
        // A reconnect forgets it until the service answers again.
        m.connected("groups.localhost", &mut Vec::new());
        let mut out = vec![Output::Fanout(fanout(3))];
        m.route(&mut out, 0);
        assert!(sends(&out)[0]
            .get_child("addresses", stanza::NS_ADDRESS)
            .is_some());
        // Other stanzas are the core's.
        let other: Element = "<iq xmlns='jabber:component:accept' type='result' from='alice@localhost/r' to='groups.localhost' id='x'/>".parse().unwrap();
        assert!(!m.on_stanza(&other, &mut Vec::new()));
    }

    #[test]
    fn too_many_addresses_halve_the_batch_once_per_size_and_resend_the_copies() {
        let mut m = Multicast::new(SVC.into(), 8);
        let mut out = vec![Output::Fanout(fanout(16))];
        m.route(&mut out, 0);
        let chunks: Vec<Element> = sends(&out).into_iter().cloned().collect();
        assert_eq!(chunks.len(), 2, "16 recipients in batches of 8");
        let mut out = Vec::new();
        assert!(m.on_stanza(&refusal(&chunks[0], "not-acceptable"), &mut out));
        assert_eq!(m.batch(), 4);
        assert!(matches!(
            notices(&out)[..],
            [Notice::MulticastBatchLowered {
                recipients: 8,
                batch: 4,
                ..
            }]
        ));
        let copies = sends(&out);
        assert_eq!(copies.len(), 8, "each address gets its copy");
        assert!(copies
            .iter()
            .all(|c| c.get_child("addresses", stanza::NS_ADDRESS).is_none()));
        // The second chunk of the same message: resent, the batch stays.
        let mut out = Vec::new();
        m.on_stanza(&refusal(&chunks[1], "not-acceptable"), &mut out);
        assert_eq!(m.batch(), 4);
        assert!(matches!(
            notices(&out)[..],
            [Notice::MulticastResent { recipients: 8 }]
        ));
        assert_eq!(sends(&out).len(), 8);
        let mut out = vec![Output::Fanout(fanout(16))];
        m.route(&mut out, 0);
        assert_eq!(sends(&out).len(), 4);
        assert!(m.is_on());
    }

    #[test]
    fn any_other_refusal_turns_multicast_off_and_resends() {
        let mut m = Multicast::new(SVC.into(), 8);
        let mut out = vec![Output::Fanout(fanout(3))];
        m.route(&mut out, 0);
        let chunk = sends(&out)[0].clone();
        let mut out = Vec::new();
        m.on_stanza(&refusal(&chunk, "forbidden"), &mut out);
        assert!(!m.is_on());
        assert!(
            matches!(&notices(&out)[..], [Notice::MulticastOff { condition, resent: 3, .. }] if condition == "forbidden")
        );
        assert_eq!(sends(&out).len(), 3);
        // From now on fanouts stay fanouts, and connecting asks nothing.
        let mut out = vec![Output::Fanout(fanout(3))];
        m.route(&mut out, 0);
        assert!(matches!(out[..], [Output::Fanout(_)]));
        let mut out = Vec::new();
        m.connected("groups.localhost", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn a_refusal_without_the_stanza_is_reported_lost() {
        let mut m = Multicast::new(SVC.into(), 8);
        let bare: Element = format!("<message xmlns='jabber:component:accept' type='error' from='{SVC}' to='groups.localhost'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>").parse().unwrap();
        let mut out = Vec::new();
        m.on_stanza(&bare, &mut out);
        assert!(notices(&out).contains(&&Notice::MulticastCopiesLost));
    }

    #[test]
    fn only_fanouts_past_the_mark_are_routed_and_order_is_kept() {
        let mut m = Multicast::new(SVC.into(), 8);
        let keep = Output::Fanout(fanout(3));
        let one = Output::Send(stanza::chat("a@g", "b@l", "1", "x"));
        let mut out = vec![
            keep.clone(),
            one.clone(),
            Output::Fanout(fanout(2)),
            one.clone(),
        ];
        m.route(&mut out, 1);
        assert_eq!(out[0], keep, "before the mark: untouched");
        assert_eq!(out[1], one);
        assert!(matches!(
            &out[2],
            Output::Notice(Notice::MulticastInUse { .. })
        ));
        assert!(
            matches!(&out[3], Output::Send(e) if e.get_child("addresses", stanza::NS_ADDRESS).is_some())
        );
        assert_eq!(out[4], one);
    }
}
