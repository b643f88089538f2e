//! Relaying: who gets a copy and how it looks, fan-out and multicast,
//! chat states and receipts, errors and strangers, //stop, blocks and
//! mutes, flood control and the body limit, catch-up and offline modes,
//! and references (corrections, retractions, replies, reactions, files)
//! rewritten per recipient.

use super::*;

#[test]
fn relay_to_everyone_else_with_nick_and_no_echo() {
    let mut t = three();
    t.say("alice", "hello");
    assert_eq!(t.one_body(B), "[alice] hello");
    assert_eq!(t.one_body(C), "[alice] hello");
    assert!(t.bodies(A).is_empty());
    let e = t.first_to(B);
    assert_eq!(e.attr("from"), Some(G));
    assert_eq!(e.attr("type"), Some("chat"));
    assert_eq!(
        e.get_child("nick", crate::core::stanza::NS_NICK)
            .unwrap()
            .text(),
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
    t.say("alice", "one stanza");
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
    t.say("alice", "to all");
    // The core hands the relay to the service as one stanza (the policy
    // is in core::multicast), whose copies all carry its id.
    assert_eq!(t.fanouts, 0);
    let through: Vec<&Element> = (t.sent().into_iter())
        .filter(|e| e.attr("to") == Some("multicast.localhost"))
        .collect();
    assert_eq!(through.len(), 1, "{:?}", t.sent());
    let addresses: Vec<&str> = through[0]
        .get_child("addresses", crate::core::stanza::NS_ADDRESS)
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
    t.say("alice", "/me waves");
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
    t.say("alice", "  \n ");
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
        .get_child("item-not-found", crate::core::stanza::NS_STANZAS)
        .is_some());
}

#[test]
fn non_member_gets_one_reply() {
    let mut t = three();
    t.say("eve", "hi");
    assert!(t.one_body("eve@localhost").contains("not a member"));
    assert_eq!(t.sent().len(), 1);
}

#[test]
fn strangers_get_one_text_reply_a_minute_but_errors_always() {
    let mut t = three();
    t.say("eve", "hi");
    assert_eq!(t.sent().len(), 1);
    for body in ["again", "and again"] {
        t.later(1000).say("eve", body);
        assert!(t.sent().is_empty(), "{body}: {:?}", t.sent());
    }
    // Commands are requests: answered up to the relay's allowance (10 in
    // 10 s by default), then silence until the window moves on.
    for i in 0..10 {
        t.say("eve", "//online");
        assert!(t.one_body("eve@localhost").contains("not a member"), "{i}");
    }
    t.say("eve", "/help");
    assert!(t.sent().is_empty(), "{:?}", t.sent());
    t.later(10_000).say("eve", "/help");
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
    t.later(60_000).say("eve", "a minute later");
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
    t.say("alice", "one");
    assert!(t.bodies(B).is_empty());
    assert_eq!(
        t.cmd("bob", "//continue"),
        "OK, you receive the group's messages again."
    );
    t.say("alice", "two");
    assert_eq!(t.one_body(B), "[alice] two");
    // block by FID
    assert_eq!(t.cmd("carol", "//block alice"), "OK");
    t.say("alice", "three");
    assert!(t.bodies(C).is_empty());
    assert_eq!(t.cmd("carol", "//unblock alice"), "OK");
    // mute
    assert_eq!(t.cmd("alice", "//mute bob"), "OK");
    t.say("bob", "muted words");
    assert!(t.bodies(A).is_empty() && t.bodies(C).is_empty());
    assert!(t.one_body(B).contains("muted"));
    assert_eq!(t.cmd("alice", "//unmute bob"), "OK");
    t.say("bob", "free");
    assert_eq!(t.one_body(A), "[bob] free");
}

#[test]
fn stop_expires_by_time_and_minus_one_ends_it() {
    let mut t = three();
    t.cmd("bob", "//stop 10");
    t.later(11_000);
    t.say("alice", "after");
    assert_eq!(t.one_body(B), "[alice] after");
    t.cmd("bob", "//stop 100");
    assert!(t.cmd("bob", "//stop -1").starts_with("OK"));
    t.say("alice", "x");
    assert_eq!(t.one_body(B), "[alice] x");
    assert!(t.cmd("bob", "//stop soon").starts_with("usage: //stop"));
}

#[test]
fn flood_control_one_warning_per_window() {
    let mut t = open_group("burst = 3\nwindow_secs = 10");
    t.join("alice").join("bob");
    for i in 0..3 {
        t.say("alice", &format!("m{i}"));
        assert_eq!(t.bodies(B).len(), 1);
    }
    t.say("alice", "over1");
    assert!(t.bodies(B).is_empty());
    assert!(t.one_body(A).contains("Slow down"));
    t.say("alice", "over2");
    assert!(t.sent().is_empty(), "one warning per window");
    t.later(10_001);
    t.say("alice", "ok again");
    assert_eq!(t.one_body(B), "[alice] ok again");
}

#[test]
fn body_limit() {
    let mut t = open_group("max_body = 5");
    t.join("alice").join("bob");
    t.say("alice", "123456");
    assert!(t.bodies(B).is_empty());
    assert!(t.one_body(A).contains("limit is 5"));
    t.say("alice", "12345");
    assert_eq!(t.one_body(B), "[alice] 12345");
}

#[test]
fn catchup_sends_missed_messages_with_delay_when_back() {
    let mut t = open_group("catchup_max = 2");
    t.join("alice").join("bob");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    for i in 0..4 {
        t.later(1000).say("alice", &format!("m{i}"));
        assert!(t.bodies(B).is_empty());
    }
    t.later(1000).pres("bob@localhost/r", G, None);
    let b = t.bodies(B);
    assert_eq!(b[..2], ["[alice] m2".to_string(), "[alice] m3".to_string()]);
    assert!(b[2].contains("2 earlier messages"), "{b:?}");
    let first = t.first_to(B);
    assert!(first
        .get_child("delay", crate::core::stanza::NS_DELAY)
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
    t.later(1000).say("alice", "while stopped");
    t.later(200_000).say("alice", "after stop");
    t.pres("bob@localhost/r", G, None);
    assert_eq!(t.bodies(B), vec!["[alice] after stop".to_string()]);
}

#[test]
fn offline_modes_server_and_drop() {
    let mut t = open_group("offline = \"server\"");
    t.join("alice").join("bob");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.say("alice", "stored by server");
    assert_eq!(t.one_body(B), "[alice] stored by server");

    let mut t = open_group("offline = \"drop\"");
    t.join("alice").join("bob");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.say("alice", "lost");
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
        to_b.get_child("replace", crate::core::stanza::NS_CORRECT)
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
        .get_child("replace", crate::core::stanza::NS_CORRECT)
        .is_none());
    assert_eq!(
        crate::core::stanza::body(&to_b).as_deref(),
        Some("[alice] hello")
    );
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
        to_b.get_child("retract", crate::core::stanza::NS_RETRACT)
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
        to_a.get_child("reactions", crate::core::stanza::NS_REACTIONS)
            .unwrap()
            .attr("id"),
        Some("orig")
    );
    let to_c = t.first_to(C);
    assert_eq!(
        to_c.get_child("reactions", crate::core::stanza::NS_REACTIONS)
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
