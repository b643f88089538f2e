//! What real clients send and act on: commands as profanity, Gajim,
//! poezio and mcabber send them (`/help` for a typed `//help`), the
//! group's presence from a full JID with its status and avatar, its title
//! in its contact request, history rows that corrections and retractions
//! change, and online counts that follow the server.

use super::*;
use crate::core::stanza::{NS_CORRECT, NS_NICK, NS_VCARD, NS_VCARD_UPDATE};

const FULL: &str = "lobby@groups.localhost/talkgroups";

fn status_of(e: &Element) -> String {
    e.get_child("status", NS_COMPONENT)
        .map(|s| s.text())
        .unwrap_or_default()
}

/// Available presences sent to `to` (bare), as (from, status).
fn available_to(t: &T, to: &str) -> Vec<(String, String)> {
    t.sent()
        .into_iter()
        .filter(|e| e.name() == "presence" && e.attr("type").is_none())
        .filter(|e| {
            e.attr("to")
                .is_some_and(|x| x.split('/').next() == Some(to))
        })
        .map(|e| (e.attr("from").unwrap_or_default().to_string(), status_of(e)))
        .collect()
}

#[test]
fn a_typed_double_slash_arrives_as_one_slash_and_is_still_a_command() {
    let mut t = three();
    for body in ["/help", "//help", "/HELP", "///help", "  /help  "] {
        let r = t.cmd("bob", body);
        assert!(
            r.starts_with("Commands:") && r.contains("//nick"),
            "{body:?} → {r}"
        );
        assert!(t.bodies(A).is_empty(), "{body:?} was relayed");
    }
    assert_eq!(t.cmd("bob", "/Nick Bobby"), "OK, you are now Bobby.");
    assert_eq!(t.cmd("bob", "/help nick").split(' ').nth(1), Some("//nick"));
    // Admin commands too.
    assert!(t.cmd("alice", "/whois bob").ends_with("bob@localhost"));
    assert!(t.cmd("bob", "/whois alice").contains("for group admins"));
    // `/me` is an action, and other `/words` are text.
    for (body, relayed) in [
        ("/me waves", "* Bobby waves"),
        (
            "/usr/share/doc is where it is",
            "[Bobby] /usr/share/doc is where it is",
        ),
        ("/shrug", "[Bobby] /shrug"),
        ("/", "[Bobby] /"),
    ] {
        t.say("bob", body);
        assert_eq!(t.bodies(A), [relayed], "{body:?}");
    }
    // `//` is always a command, known or not.
    assert!(t
        .cmd("bob", "//shrug")
        .starts_with("Unknown command //shrug"));
    assert!(t.bodies(A).is_empty());
}

#[test]
fn service_commands_from_non_admins_are_refused_and_answered_every_time() {
    let mut t = three();
    t.msg("bob@localhost/r", D, "/newgroup cafe open");
    let r = t.one_body(B);
    assert!(
        r.starts_with("Refused: //newgroup is for the service's admins."),
        "{r}"
    );
    assert!(t.stores().is_empty(), "nothing created");
    assert!(!t.core.groups.contains_key("cafe"));
    // A member is not offered the group they are in.
    assert!(
        r.contains("Your groups:\nlobby@groups.localhost — Lobby"),
        "{r}"
    );
    assert!(r.contains("No other groups are open to join here."), "{r}");
    // The next command within the minute is answered too.
    for body in [
        "//groups",
        "/help",
        "//delgroup lobby",
        "//nick x",
        "//nope",
    ] {
        t.later(1000).msg("bob@localhost/r", D, body);
        let r = t.one_body(B);
        let want = match body {
            "//groups" => "Your groups:",
            "/help" => "Here you find the groups of groups.localhost",
            "//delgroup lobby" => "Refused: //delgroup",
            "//nick x" => "//nick works in a group",
            _ => "Unknown command //nope",
        };
        assert!(r.starts_with(want), "{body} → {r}");
    }
    assert!(t.core.groups.contains_key("lobby"));
    // Chatter gets the list once a minute.
    t.msg("bob@localhost/r", D, "hello?");
    assert!(t.one_body(B).contains("Your groups:"));
    t.msg("bob@localhost/r", D, "anyone?");
    assert!(t.sent().is_empty());
    // The service admin's commands work, with one slash as well.
    t.msg("root@localhost/r", D, "/newgroup cafe open");
    assert!(t
        .one_body("root@localhost")
        .starts_with("OK, created cafe@"));
    t.msg("bob@localhost/r", D, "/groups");
    let r = t.one_body(B);
    assert!(
        r.contains("Groups you can join (add one as a contact):\ncafe@groups.localhost — cafe (open, 0 members)"),
        "{r}"
    );
    assert!(!r.contains("lobby@groups.localhost — Lobby (open"), "{r}");
}

#[test]
fn the_groups_presences_come_from_one_full_jid_and_carry_the_avatar_hash() {
    let mut t = three();
    let hash = t.core.groups["lobby"].avatar.hash.clone();
    t.pres("bob@localhost/r2", G, Some("probe"));
    let p = t.sent()[0].clone();
    assert_eq!(p.attr("from"), Some(FULL));
    assert_eq!(p.attr("to"), Some("bob@localhost/r2"));
    let photo = p
        .get_child("x", NS_VCARD_UPDATE)
        .and_then(|x| x.get_child("photo", NS_VCARD_UPDATE))
        .map(|p| p.text());
    assert_eq!(photo.as_deref(), Some(hash.as_str()));
    t.input(Input::Connected);
    for e in t.sent() {
        let want = match e.attr("type") {
            None => FULL,
            _ => G, // the probes
        };
        assert_eq!(e.attr("from"), Some(want), "{e:?}");
    }
    t.input(Input::Shutdown);
    assert!(t.sent().iter().all(|e| e.attr("from") == Some(FULL)));
    // Subscription presences stay on the bare JID (RFC 6121), and the
    // group's own request carries its title for the contact's name.
    let mut t = open_group("");
    t.pres(A, G, Some("subscribe"));
    let subs: Vec<&Element> = (t.sent().into_iter())
        .filter(|e| e.name() == "presence" && e.attr("type").is_some())
        .collect();
    assert_eq!(subs.len(), 2);
    assert!(subs.iter().all(|e| e.attr("from") == Some(G)));
    let sub = subs[1];
    assert_eq!(sub.attr("type"), Some("subscribe"));
    assert_eq!(
        sub.get_child("nick", NS_NICK).map(|n| n.text()).as_deref(),
        Some("Lobby")
    );
    // So does the invitation an admin sends with //add.
    t.cmd("alice", "//add dave@localhost");
    let inv = t.first_to("dave@localhost");
    assert_eq!(inv.attr("type"), Some("subscribe"));
    assert_eq!(
        inv.get_child("nick", NS_NICK).map(|n| n.text()).as_deref(),
        Some("Lobby")
    );
}

#[test]
fn the_vcard_carries_the_picture_whose_hash_presence_advertises() {
    use base64::Engine as _;
    use sha1::Digest as _;
    let mut t = three();
    t.iq_get("bob", G, "<vCard xmlns='vcard-temp'/>");
    let v = t.sent()[0].get_child("vCard", NS_VCARD).unwrap().clone();
    assert_eq!(v.get_child("FN", NS_VCARD).unwrap().text(), "Lobby");
    let photo = v.get_child("PHOTO", NS_VCARD).unwrap();
    assert_eq!(
        photo.get_child("TYPE", NS_VCARD).unwrap().text(),
        "image/png"
    );
    let data = base64::engine::general_purpose::STANDARD
        .decode(photo.get_child("BINVAL", NS_VCARD).unwrap().text())
        .unwrap();
    let hash = hex::encode(sha1::Sha1::digest(&data));
    assert_eq!(hash, t.core.groups["lobby"].avatar.hash);
    // The service domain has a vCard without a picture.
    t.iq_get("bob", D, "<vCard xmlns='vcard-temp'/>");
    let v = t.sent()[0].get_child("vCard", NS_VCARD).unwrap().clone();
    assert!(v.get_child("PHOTO", NS_VCARD).is_none());
}

#[test]
fn a_configured_image_is_the_avatar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lobby.png");
    let png = crate::core::avatar::Avatar::drawn("something else").data;
    std::fs::write(&path, &png).unwrap();
    let t = T::new(&format!(
        "[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\navatar = \"{}\"\n",
        path.display()
    ));
    assert_eq!(t.core.groups["lobby"].avatar.data, png);
    assert_ne!(
        t.core.groups["lobby"].avatar.hash,
        crate::core::avatar::Avatar::drawn("Lobby").hash
    );
}

#[test]
fn a_joining_member_is_counted_online_and_an_unchanged_status_is_not_sent_again() {
    let mut t = open_group("");
    t.pres(A, G, Some("subscribe"));
    assert_eq!(
        available_to(&t, A),
        [(FULL.to_string(), "Lobby — 1 of 1 online".to_string())]
    );
    // Her presence arrives, then her server's probe for the session.
    t.pres("alice@localhost/r", G, None);
    // The core wants a tick to check the status line once the change has
    // settled (half a second), and at most every 3 s.
    assert_eq!(t.core.next_deadline(), t.now + 500);
    t.later(5_000).input(Input::Tick);
    assert_eq!(
        t.core.next_deadline(),
        t.now - 5_000 + 3_600_000,
        "nothing due but pruning"
    );
    assert!(available_to(&t, A).is_empty(), "{:?}", t.sent());
    // Dino asks again after accepting the group's request: she has this
    // status already.
    t.pres(A, G, Some("subscribed"));
    t.pres(A, G, Some("subscribe"));
    assert!(available_to(&t, A).is_empty(), "{:?}", t.sent());
    // Bob joins: alice is told once, bob once.
    t.later(5_000).pres(B, G, Some("subscribe"));
    assert_eq!(
        available_to(&t, B),
        [(FULL.to_string(), "Lobby — 2 of 2 online".to_string())]
    );
    t.pres("bob@localhost/r", G, None);
    t.pres("bob@localhost/r", G, Some("probe"));
    assert_eq!(available_to(&t, B).len(), 1, "the probe is always answered");
    t.later(5_000).input(Input::Tick);
    assert_eq!(
        available_to(&t, A),
        [(FULL.to_string(), "Lobby — 2 of 2 online".to_string())]
    );
    assert!(available_to(&t, B).is_empty(), "bob has 2 of 2 already");
    t.later(5_000).input(Input::Tick);
    assert!(t.sent().is_empty());
    // Bob leaves: alice sees 1 of 1.
    t.pres(B, G, Some("unsubscribe"));
    t.later(5_000).input(Input::Tick);
    assert_eq!(
        available_to(&t, A),
        [(FULL.to_string(), "Lobby — 1 of 1 online".to_string())]
    );
}

#[test]
fn corrections_and_retractions_change_the_history_row_they_refer_to() {
    let mut t = three();
    t.pres("carol@localhost/r", G, Some("unavailable"));
    t.chat_from("alice", "a1", "helo wrld");
    let first = t.message_ids()[0].clone();
    t.correct("alice", "a2", "hello world", "a1");
    let fix = t.sent()[0].clone();
    assert_eq!(
        crate::core::stanza::body(&fix).as_deref(),
        Some("[alice] hello world")
    );
    let replaces = fix
        .get_child("replace", NS_CORRECT)
        .and_then(|r| r.attr("id"));
    assert_eq!(replaces, Some(first.as_str()));
    let edits: Vec<&StoreOp> = t.stores();
    assert!(
        matches!(edits.as_slice(), [StoreOp::EditHistory { text, .. }] if text == "hello world"),
        "{edits:?}"
    );
    // A second correction still names the original (XEP-0308).
    t.correct("alice", "a3", "hello, world", "a1");
    t.chat_from("alice", "a4", "my password is hunter2");
    t.message(
        "alice",
        "a5",
        vec![
            retract_el("a4"),
            fallback_el(crate::core::stanza::NS_RETRACT),
            body_el("/me retracted a message"),
        ],
    );
    assert!(
        t.stores()
            .iter()
            .any(|s| matches!(s, StoreOp::RemoveHistory { .. })),
        "{:?}",
        t.stores()
    );
    let h = t.cmd("bob", "//history");
    let lines: Vec<&str> = (h.lines().skip(1))
        .filter_map(|l| l.splitn(3, ' ').nth(2))
        .collect();
    assert_eq!(
        lines,
        [
            "[alice] hello, world (corrected)",
            "[alice] (message removed)"
        ],
        "{h}"
    );
    assert!(!h.contains("hunter2"));
    // Carol missed it all: she gets the corrected text once, and nothing
    // of the retracted message.
    t.pres("carol@localhost/r", G, None);
    assert_eq!(t.bodies(C), ["[alice] hello, world"]);
    // The row is corrected in memory and in the store the same way.
    let row = &t.core.groups["lobby"].history[0];
    assert_eq!(
        (row.text.as_str(), row.edited_at.is_some()),
        ("hello, world", true)
    );
}

#[test]
fn a_presence_from_the_bare_jid_does_not_keep_a_member_online_for_ever() {
    let mut t = open_group("");
    t.join("alice");
    t.pres(B, G, Some("subscribe"));
    // Prosody sends the user's presence from the bare JID after the
    // subscription is approved, then from the session's full JID.
    t.pres(B, G, None);
    t.pres("bob@localhost/phone", G, None);
    assert_eq!(t.core.counts(), (2, 2));
    t.pres("bob@localhost/phone", G, Some("unavailable"));
    assert_eq!(t.core.counts(), (2, 1));
}

#[test]
fn sessions_known_only_from_a_probe_or_a_message_are_pinged_until_they_go() {
    let mut t = open_group("");
    t.join("alice");
    // Bob never accepted the group's request: no presence from him, ever.
    t.pres(B, G, Some("subscribe"));
    assert_eq!(t.core.counts(), (2, 1));
    t.msg("bob@localhost/laptop", G, "hi all");
    assert_eq!(t.core.counts(), (2, 2), "his message shows his session");
    t.pres("bob@localhost/phone", G, Some("probe"));
    assert_eq!(t.core.counts(), (2, 2));
    // The core wants a tick for the status line (once settled), then for
    // the pings.
    assert_eq!(t.core.next_deadline(), t.now + 500);
    t.later(500).input(Input::Tick);
    assert_eq!(t.core.next_deadline(), t.now - 500 + 120_000);
    t.later(60_000).input(Input::Tick);
    assert!(t.sent().iter().all(|e| e.name() != "iq"), "not due yet");
    t.later(60_000).input(Input::Tick);
    let pings: Vec<(String, String)> = (t.sent().into_iter())
        .filter(|e| e.name() == "iq")
        .map(|e| (e.attr("to").unwrap().into(), e.attr("id").unwrap().into()))
        .collect();
    let to: Vec<&str> = pings.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(to, ["bob@localhost/laptop", "bob@localhost/phone"]);
    // The laptop answers; the phone is gone (its server says so).
    t.iq_result("bob@localhost/laptop", G, &pings[0].1);
    t.iq_error("bob@localhost/phone", G, &pings[1].1);
    assert_eq!(t.core.counts(), (2, 2));
    t.later(120_000).input(Input::Tick);
    let ping = t
        .sent()
        .into_iter()
        .find(|e| e.name() == "iq")
        .unwrap()
        .clone();
    assert_eq!(ping.attr("to"), Some("bob@localhost/laptop"));
    t.iq_error("bob@localhost/laptop", G, ping.attr("id").unwrap());
    assert_eq!(
        t.core.counts(),
        (2, 1),
        "offline once every session is gone"
    );
    // Members whose presence the group gets are never pinged.
    t.later(600_000).input(Input::Tick);
    assert!(t.sent().iter().all(|e| e.name() != "iq"), "{:?}", t.sent());
}

#[test]
fn a_muted_member_is_told_at_once() {
    let mut t = three();
    assert_eq!(t.cmd("alice", "//mute bob"), "OK");
    assert!(t.one_body(B).starts_with("An admin muted you"));
    assert_eq!(t.cmd("alice", "//mute bob"), "bob is already muted.");
    assert_eq!(t.cmd("alice", "//unmute bob"), "OK");
    assert!(t.one_body(B).starts_with("An admin unmuted you"));
}

#[test]
fn a_quote_keeps_its_marker_at_the_start_of_a_line() {
    let mut t = three();
    t.say("bob", "> [alice] hello\nhi to you");
    assert_eq!(t.bodies(A), ["[bob]\n> [alice] hello\nhi to you"]);
    t.say("bob", "```\ncode\n```");
    assert_eq!(t.bodies(A), ["[bob]\n```\ncode\n```"]);
    t.say("bob", "a > b");
    assert_eq!(t.bodies(A), ["[bob] a > b"]);
}

#[test]
fn a_refused_nick_shows_the_character_itself_unless_it_is_invisible() {
    let mut t = three();
    let r = t.cmd("bob", "//nick [admin]");
    assert!(r.contains("cannot contain ["), "{r}");
    assert!(!r.contains("U+"), "{r}");
    let r = t.cmd("bob", "//nick bo\u{200B}b");
    assert!(r.contains("U+200B"), "{r}");
}

#[test]
fn a_member_back_online_gets_the_status_once_probe_or_not() {
    let mut t = three();
    t.later(5_000).input(Input::Tick);
    // Bob logs out and in again; his server probes (he asked for the
    // group's presence): the probe answer is the one status he gets.
    t.pres("bob@localhost/r", G, Some("unavailable"));
    t.later(5_000).input(Input::Tick);
    t.pres("bob@localhost/r2", G, None);
    t.pres("bob@localhost/r2", G, Some("probe"));
    assert_eq!(available_to(&t, B).len(), 1);
    t.later(5_000).input(Input::Tick);
    assert!(available_to(&t, B).is_empty(), "{:?}", t.sent());
    // Carol only approved the group's request (profanity's /sub allow):
    // her server sends the group her presence but no probe. The refresh
    // sends her the status.
    t.pres("carol@localhost/r", G, Some("unavailable"));
    t.later(5_000).input(Input::Tick);
    t.pres("carol@localhost/r2", G, None);
    t.later(5_000).input(Input::Tick);
    assert_eq!(
        available_to(&t, C),
        [(FULL.to_string(), "Lobby — 3 of 3 online".to_string())]
    );
    assert_eq!(available_to(&t, A).len(), 1, "2 of 3, then 3 of 3 again");
}

#[test]
fn a_join_shows_the_others_one_new_status_line() {
    let mut t = open_group("");
    t.join("alice");
    t.later(5_000).input(Input::Tick);
    t.later(5_000);
    // Bob joins; his presence follows a moment later. The core waits for
    // it before refreshing, so alice sees 2 of 2 at once, not 1 of 2 first.
    t.pres(B, G, Some("subscribe"));
    assert_eq!(t.core.next_deadline(), t.now + 500);
    t.later(100).input(Input::Tick);
    assert!(available_to(&t, A).is_empty(), "still settling");
    t.later(20).pres("bob@localhost/r", G, None);
    t.later(400).input(Input::Tick);
    assert_eq!(
        available_to(&t, A),
        [(FULL.to_string(), "Lobby — 2 of 2 online".to_string())]
    );
    t.later(5_000).input(Input::Tick);
    assert!(t.sent().is_empty());
}
