//! Presence and IQs: the group's presence and probes on connecting, the
//! status line and its rate, probe answers, sessions per resource,
//! malformed presence, and the IQ answers (disco, ping, version, vCard).

use super::*;

#[test]
fn connected_sends_presence_and_probe_to_members() {
    let mut t = three();
    t.input(Input::Connected);
    assert_eq!(t.presences(B), vec![None, Some("probe".into())]);
    let status = t
        .sent()
        .into_iter()
        .find(|e| e.attr("to") == Some(B) && e.attr("type").is_none())
        .and_then(|e| e.get_child("status", NS_COMPONENT).map(|s| s.text()))
        .unwrap();
    // The counts from before the connection: the best guess until the
    // probe answers come in.
    assert_eq!(status, "Lobby — 3 of 3 online");
}

#[test]
fn status_line_is_refreshed_for_online_members_when_counts_change() {
    let mut t = three();
    t.input(Input::Connected); // everyone unknown again, shown "3 of 3"
    t.pres("alice@localhost/r", G, None);
    t.pres("bob@localhost/r", G, None);
    t.later(1000).input(Input::Tick);
    assert!(
        t.presences(A).is_empty(),
        "rate-limited right after connecting"
    );
    t.later(3000).input(Input::Tick);
    let status: Vec<String> = t
        .sent()
        .into_iter()
        .filter(|e| e.name() == "presence")
        .map(|e| {
            format!(
                "{} {}",
                e.attr("to").unwrap(),
                e.get_child("status", NS_COMPONENT).unwrap().text()
            )
        })
        .collect();
    assert_eq!(
        status,
        vec![
            "alice@localhost Lobby — 2 of 3 online".to_string(),
            "bob@localhost Lobby — 2 of 3 online".to_string()
        ]
    );
    t.later(10_000).input(Input::Tick);
    assert!(t.sent().is_empty(), "nothing changed, nothing sent");
}

#[test]
fn probe_is_answered_with_online_count_and_shutdown_says_unavailable() {
    let mut t = three();
    t.pres("bob@localhost/r", G, Some("probe"));
    let p = t.sent()[0].clone();
    assert_eq!(p.attr("to"), Some("bob@localhost/r"));
    assert_eq!(
        p.get_child("status", NS_COMPONENT).unwrap().text(),
        "Lobby — 3 of 3 online"
    );
    t.pres("eve@localhost/r", G, Some("probe"));
    assert_eq!(
        t.presences("eve@localhost"),
        vec![Some("unsubscribed".into())]
    );
    t.input(Input::Shutdown);
    assert_eq!(t.presences(A), vec![Some("unavailable".into())]);
}

#[test]
fn probe_answers_recount_the_group_at_most_once_a_second() {
    let mut t = three();
    let status = |t: &mut T| {
        t.sent()
            .into_iter()
            .find(|e| e.name() == "presence" && e.attr("type").is_none())
            .and_then(|e| e.get_child("status", NS_COMPONENT).map(|s| s.text()))
            .unwrap()
    };
    t.pres("bob@localhost/r", G, Some("probe"));
    assert_eq!(status(&mut t), "Lobby — 3 of 3 online");
    t.pres("alice@localhost/r", G, Some("unavailable"));
    t.sent();
    // Within the second: the counts of the last answer.
    t.pres("carol@localhost/r", G, Some("probe"));
    assert_eq!(status(&mut t), "Lobby — 3 of 3 online");
    t.later(1000).pres("carol@localhost/r", G, Some("probe"));
    assert_eq!(status(&mut t), "Lobby — 2 of 3 online");
}

#[test]
fn a_probe_from_a_full_jid_counts_as_a_login() {
    let mut t = open_group("");
    t.join("alice");
    // Bob subscribed but his client never accepted the group's request: the
    // group only ever sees probes from his sessions.
    t.pres(B, G, Some("subscribe"));
    t.say("alice", "before bob logs in");
    assert!(t.bodies(B).is_empty());
    t.pres("bob@localhost/laptop", G, Some("probe"));
    assert_eq!(t.bodies(B), vec!["[alice] before bob logs in".to_string()]);
    t.say("alice", "live");
    assert_eq!(t.one_body(B), "[alice] live");
    // A probe from the bare JID says nothing about sessions.
    t.pres("alice@localhost/r", G, Some("unavailable"));
    t.pres(A, G, Some("probe"));
    t.msg("bob@localhost/laptop", G, "hi");
    assert!(t.bodies(A).is_empty());
}

#[test]
fn resources_are_tracked_separately() {
    let mut t = three();
    t.pres("bob@localhost/phone", G, None);
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.say("alice", "still there?");
    assert_eq!(t.one_body(B), "[alice] still there?");
    t.pres("bob@localhost/phone", G, Some("unavailable"));
    t.say("alice", "gone?");
    assert!(t.bodies(B).is_empty());
}

#[test]
fn malformed_presence_is_ignored_or_refused_never_fatal() {
    let mut t = three();
    t.xml("<presence xmlns='jabber:component:accept' from='bob@localhost/r' to='lobby@groups.localhost'><show>bogus</show><priority>300</priority></presence>");
    assert!(t.sent().is_empty());
    t.xml("<presence xmlns='jabber:component:accept' from='bob@localhost/r' to='lobby@groups.localhost' type='bogus'/>");
    assert_eq!(t.sent()[0].attr("type"), Some("error"));
}

#[test]
fn iqs() {
    let mut t = three();
    t.iq_get(
        "bob",
        D,
        "<query xmlns='http://jabber.org/protocol/disco#info'/>",
    );
    let r = t.sent()[0].clone();
    let q = r
        .get_child("query", crate::core::stanza::NS_DISCO_INFO)
        .unwrap();
    let id = q
        .get_child("identity", crate::core::stanza::NS_DISCO_INFO)
        .unwrap();
    assert_eq!(
        (id.attr("category"), id.attr("type")),
        (Some("component"), Some("generic"))
    );

    t.iq_get(
        "bob",
        G,
        "<query xmlns='http://jabber.org/protocol/disco#info'/>",
    );
    let r = t.sent()[0].clone();
    let id = r
        .get_child("query", crate::core::stanza::NS_DISCO_INFO)
        .unwrap()
        .get_child("identity", crate::core::stanza::NS_DISCO_INFO)
        .unwrap();
    assert_eq!(
        (id.attr("category"), id.attr("type"), id.attr("name")),
        (Some("client"), Some("bot"), Some("Lobby"))
    );

    t.msg("root@localhost/r", D, "//newgroup secret invite");
    t.iq_get(
        "bob",
        D,
        "<query xmlns='http://jabber.org/protocol/disco#items'/>",
    );
    let items: Vec<_> = t.sent()[0]
        .get_child("query", crate::core::stanza::NS_DISCO_ITEMS)
        .unwrap()
        .children()
        .map(|i| i.attr("jid").unwrap().to_string())
        .collect();
    assert_eq!(items, vec![G.to_string()]);

    for to in [D, G] {
        t.iq_get("bob", to, "<ping xmlns='urn:xmpp:ping'/>");
        assert_eq!(t.sent()[0].attr("type"), Some("result"));
        t.iq_get("bob", to, "<query xmlns='jabber:iq:version'/>");
        assert_eq!(
            t.sent()[0]
                .get_child("query", "jabber:iq:version")
                .unwrap()
                .get_child("name", "jabber:iq:version")
                .unwrap()
                .text(),
            "talkgroups"
        );
    }
    t.iq_get("bob", G, "<vCard xmlns='vcard-temp'/>");
    assert_eq!(
        t.sent()[0]
            .get_child("vCard", "vcard-temp")
            .unwrap()
            .get_child("FN", "vcard-temp")
            .unwrap()
            .text(),
        "Lobby"
    );
    t.iq_get(
        "bob",
        G,
        "<query xmlns='http://jabber.org/protocol/disco#info' node='x#y'/>",
    );
    assert!(t.sent()[0]
        .get_child("error", NS_COMPONENT)
        .unwrap()
        .get_child("item-not-found", crate::core::stanza::NS_STANZAS)
        .is_some());
    t.iq_get("bob", G, "<query xmlns='urn:example:unknown'/>");
    assert!(t.sent()[0]
        .get_child("error", NS_COMPONENT)
        .unwrap()
        .get_child("service-unavailable", crate::core::stanza::NS_STANZAS)
        .is_some());
    t.iq_get(
        "bob",
        "nope@groups.localhost",
        "<ping xmlns='urn:xmpp:ping'/>",
    );
    assert!(t.sent()[0]
        .get_child("error", NS_COMPONENT)
        .unwrap()
        .get_child("item-not-found", crate::core::stanza::NS_STANZAS)
        .is_some());
    t.iq_result("bob", D, "q");
    assert!(t.sent().is_empty());
}
