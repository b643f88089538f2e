//! Room bridges (XEP-0045) in the core, as stanza tables with an explicit
//! `now`: joining, nick conflicts, both directions, reflections, private
//! messages, kicks, bans, destroyed rooms, the self-ping, reconnections,
//! corrections and the loop rules.

use super::*;
use crate::core::muc::{IDLE_PING_MS, JOIN_TIMEOUT_MS, PING_TIMEOUT_MS};

const ROOM: &str = "tea@conference.example.org";
const OCC: &str = "lobby@groups.localhost/tea";
const JC: &str = "jabber:component:accept";

impl T {
    /// A stanza from the room (or an occupant `from`) to the bridge.
    fn room_sends(&mut self, xml: &str) -> &mut Self {
        self.xml(xml)
    }

    /// The room accepts our occupant as `nick`.
    fn joined_as(&mut self, nick: &str) -> &mut Self {
        self.room_sends(&format!(
            "<presence xmlns='{JC}' from='{ROOM}/{nick}' to='{OCC}'>\
             <x xmlns='http://jabber.org/protocol/muc#user'>\
             <item affiliation='none' role='participant'/><status code='110'/></x></presence>"
        ))
    }

    /// Occupant `nick` says `body` in the room (message id `id`).
    fn occupant_says(&mut self, nick: &str, id: &str, body: &str) -> &mut Self {
        self.room_sends(&format!(
            "<message xmlns='{JC}' type='groupchat' from='{ROOM}/{nick}' to='{OCC}' id='{id}'>\
             <body>{body}</body></message>"
        ))
    }

    /// Presences sent to the room, as (to, type).
    fn to_room(&self) -> Vec<&Element> {
        self.sent()
            .into_iter()
            .filter(|e| e.attr("to").is_some_and(|t| t.starts_with(ROOM)))
            .collect()
    }

    fn mucs(&mut self) -> String {
        self.cmd("alice", "//mucs")
    }
}

/// `routed()` with the room bridge `tea`, connected and joined as Lobby.
fn joined() -> T {
    let mut t = routed();
    let r = t.cmd("alice", &format!("//addmuc tea {ROOM}"));
    assert!(r.starts_with("OK, room bridge tea added"), "{r}");
    t.input(Input::Connected);
    // The connection makes everyone offline until their presence comes.
    for u in ["alice", "bob", "carol"] {
        t.pres(&format!("{u}@localhost/r"), G, None);
    }
    t.joined_as("Lobby");
    t
}

fn groupchats(t: &T) -> Vec<String> {
    t.to_room()
        .into_iter()
        .filter(|e| e.name() == "message" && e.attr("type") == Some("groupchat"))
        .filter_map(crate::core::stanza::body)
        .collect()
}

#[test]
fn joins_when_connected_without_history_and_again_after_a_reconnection() {
    let mut t = routed();
    t.cmd("alice", &format!("//addmuc tea {ROOM}"));
    assert!(t.to_room().is_empty(), "not connected yet");
    assert!(t
        .mucs()
        .contains("tea (tea@conference.example.org): joining"));
    t.input(Input::Connected);
    let p = t.to_room();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].name(), "presence");
    assert_eq!(p[0].attr("from"), Some(OCC));
    assert_eq!(p[0].attr("to"), Some("tea@conference.example.org/Lobby"));
    let x = p[0]
        .get_child("x", "http://jabber.org/protocol/muc")
        .expect("muc x");
    let h = x
        .get_child("history", "http://jabber.org/protocol/muc")
        .expect("history");
    assert_eq!(h.attr("maxstanzas"), Some("0"));
    t.joined_as("Lobby");
    let r = t.mucs();
    assert!(r.contains("joined as Lobby"), "{r}");
    // The connection drops and comes back: joined again.
    t.input(Input::Disconnected);
    assert!(t.mucs().contains("joining"));
    t.input(Input::Connected);
    assert_eq!(t.to_room().len(), 1, "a new join");
    // Non-admins may not.
    let r = t.cmd("bob", "//mucs");
    assert!(!r.contains("tea"), "{r}");
}

#[test]
fn a_nick_conflict_tries_the_next_nick() {
    let mut t = routed();
    t.cmd("alice", &format!("//addmuc tea {ROOM} Bridge"));
    t.input(Input::Connected);
    t.room_sends(&format!(
        "<presence xmlns='{JC}' type='error' from='{ROOM}/Bridge' to='{OCC}'>\
         <error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
    ));
    let p = t.to_room();
    assert_eq!(p[0].attr("to"), Some("tea@conference.example.org/Bridge2"));
    t.joined_as("Bridge2");
    assert!(t.mucs().contains("joined as Bridge2"));
}

#[test]
fn both_ways_without_echo_subject_or_history() {
    let mut t = joined();
    t.cmd(
        "alice",
        "//addroutesend toa password1 http://a.example/routes/lobby/b",
    );
    t.later(10).say("bob", "hi room");
    let gc: Vec<&Element> = t
        .to_room()
        .into_iter()
        .filter(|e| e.name() == "message")
        .collect();
    assert_eq!(gc.len(), 1);
    assert_eq!(gc[0].attr("type"), Some("groupchat"));
    assert_eq!(gc[0].attr("to"), Some(ROOM));
    assert_eq!(gc[0].attr("from"), Some(OCC));
    assert_eq!(
        crate::core::stanza::body(gc[0]).as_deref(),
        Some("[bob] hi room")
    );
    let origin = gc[0]
        .get_child("origin-id", "urn:xmpp:sid:0")
        .and_then(|o| o.attr("id"))
        .expect("origin-id")
        .to_string();
    // The route post carries the room in its trail.
    let h = t.https()[0].clone();
    let trail = String::from_utf8_lossy(&h.req.body).into_owned();
    assert!(trail.contains(ROOM), "{trail}");
    // The room's reflection (as our nick, and as another nick with our
    // origin-id) is not relayed back.
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/Lobby' to='{OCC}' id='{origin}'>\
         <body>[bob] hi room</body><origin-id xmlns='urn:xmpp:sid:0' id='{origin}'/></message>"
    ));
    assert!(t.sent().is_empty());
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/Renamed' to='{OCC}' id='x'>\
         <body>[bob] hi room</body><origin-id xmlns='urn:xmpp:sid:0' id='{origin}'/></message>"
    ));
    assert!(t.sent().is_empty());
    // An occupant speaks: every member gets it, once, stored and
    // forwarded to the route, not back into the room.
    t.later(10).occupant_says("dan", "d1", "hello group");
    for who in [A, B, C] {
        assert_eq!(t.bodies(who), ["[dan@tea] hello group"], "{who}");
    }
    assert!(groupchats(&t).is_empty(), "not back into the room");
    assert_eq!(t.https().len(), 0, "the route is busy with the first");
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::AppendHistory(r) if r.text == "hello group")));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::Enqueue(o) if o.msg.body == "hello group")));
    // The subject, the room's own messages and delayed history: nothing.
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}'><subject>Tea</subject></message>"
    ));
    t.room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}' to='{OCC}'><body>Room is now logged</body></message>"
    ));
    t.room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}'><body>old</body>\
         <delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/></message>"
    ));
    assert!(t.sent().is_empty() && t.stores().is_empty());
}

#[test]
fn private_messages_from_occupants_get_one_reply_an_hour() {
    let mut t = joined();
    let pm = format!(
        "<message xmlns='{JC}' type='chat' from='{ROOM}/dan' to='{OCC}' id='p1'><body>psst</body></message>"
    );
    t.later(10).room_sends(&pm);
    let s = t.sent();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].attr("to"), Some("tea@conference.example.org/dan"));
    assert_eq!(s[0].attr("from"), Some(OCC));
    assert!(t.bodies(A).is_empty(), "not relayed");
    t.later(1000).room_sends(&pm);
    assert!(t.sent().is_empty(), "once");
    t.later(3_600_000).room_sends(&pm);
    assert_eq!(t.sent().len(), 1, "an hour later, again");
}

#[test]
fn a_kick_is_retried_with_backoff_a_ban_is_not() {
    let mut t = joined();
    t.later(10).room_sends(&format!(
        "<presence xmlns='{JC}' type='unavailable' from='{ROOM}/Lobby' to='{OCC}'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><item role='none'><reason>spam</reason></item>\
         <status code='307'/><status code='110'/></x></presence>"
    ));
    let to_alice = t.bodies(A);
    assert_eq!(to_alice.len(), 1, "{to_alice:?}");
    assert!(
        to_alice[0].contains("kicked from the room: spam"),
        "{to_alice:?}"
    );
    assert!(t.bodies(B).is_empty(), "admins only");
    let r = t.mucs();
    assert!(r.contains("error: kicked from the room: spam"), "{r}");
    t.later(4_000).input(Input::Tick);
    assert!(t.to_room().is_empty(), "backoff");
    t.later(1_000).input(Input::Tick);
    assert_eq!(t.to_room().len(), 1, "joined again after 5 s");
    t.joined_as("Lobby");
    assert!(t.mucs().contains("joined as Lobby"));
    // Banned: one notice, and no retry.
    t.later(10).room_sends(&format!(
        "<presence xmlns='{JC}' type='unavailable' from='{ROOM}/Lobby' to='{OCC}'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='outcast' role='none'/>\
         <status code='301'/><status code='110'/></x></presence>"
    ));
    assert!(t.bodies(A)[0].contains("banned"));
    for _ in 0..5 {
        t.later(600_000).input(Input::Tick);
        assert!(t.to_room().is_empty(), "a ban is not retried");
    }
    assert!(t.mucs().contains("error: banned from the room"));
    // A reconnection does not retry it either.
    t.input(Input::Connected);
    assert!(t.to_room().is_empty());
    // Messages are not queued for it.
    t.later(10).say("bob", "anyone?");
    assert!(groupchats(&t).is_empty());
}

#[test]
fn a_destroyed_room_members_only_and_a_wrong_password_are_final() {
    for (joined_first, xml, want) in [
        (
            true,
            format!(
                "<presence xmlns='{JC}' type='unavailable' from='{ROOM}/Lobby' to='{OCC}'>\
                 <x xmlns='http://jabber.org/protocol/muc#user'><item role='none'/>\
                 <destroy><reason>closing</reason></destroy><status code='110'/></x></presence>"
            ),
            "the room was destroyed: closing",
        ),
        (
            false,
            format!(
                "<presence xmlns='{JC}' type='error' from='{ROOM}/Lobby' to='{OCC}'>\
                 <error type='auth'><registration-required xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
            ),
            "members-only",
        ),
        (
            false,
            format!(
                "<presence xmlns='{JC}' type='error' from='{ROOM}/Lobby' to='{OCC}'>\
                 <error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
            ),
            "password",
        ),
    ] {
        // Join refusals answer a join; the rest come while joined.
        let mut t = if joined_first {
            joined()
        } else {
            let mut t = routed();
            t.cmd("alice", &format!("//addmuc tea {ROOM}"));
            t.input(Input::Connected);
            t.pres("alice@localhost/r", G, None);
            t
        };
        t.later(10).room_sends(&xml);
        assert!(t.bodies(A)[0].contains(want), "{want}: {:?}", t.bodies(A));
        t.later(3_600_000).input(Input::Tick);
        assert!(t.to_room().is_empty(), "{want}: not retried");
        assert!(t.mucs().contains(want), "{want}");
    }
}

#[test]
fn a_silent_room_is_self_pinged_and_a_lost_occupancy_rejoined() {
    let mut t = joined();
    t.later(IDLE_PING_MS - 10).input(Input::Tick);
    assert!(t.to_room().is_empty());
    t.later(10).input(Input::Tick);
    let p = t.to_room();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].name(), "iq");
    assert_eq!(p[0].attr("to"), Some("tea@conference.example.org/Lobby"));
    let id = p[0].attr("id").unwrap_or_default().to_string();
    // Still joined: quiet again for five minutes.
    t.later(100).room_sends(&format!(
        "<iq xmlns='{JC}' type='result' from='{ROOM}/Lobby' to='{OCC}' id='{id}'/>"
    ));
    t.later(IDLE_PING_MS - 200).input(Input::Tick);
    assert!(t.to_room().is_empty());
    t.later(200).input(Input::Tick);
    let id = t.to_room()[0].attr("id").unwrap_or_default().to_string();
    // Not an occupant any more: joined again at once.
    t.later(100).room_sends(&format!(
        "<iq xmlns='{JC}' type='error' from='{ROOM}/Lobby' to='{OCC}' id='{id}'>\
         <error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    ));
    let p = t.to_room();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].name(), "presence");
    t.joined_as("Lobby");
    // No answer at all: joined again after the ping timeout.
    t.later(IDLE_PING_MS).input(Input::Tick);
    assert_eq!(t.to_room()[0].name(), "iq");
    t.later(PING_TIMEOUT_MS).input(Input::Tick);
    assert_eq!(t.to_room()[0].name(), "presence");
    // A join nobody answers is given up, told once, and retried.
    t.later(JOIN_TIMEOUT_MS).input(Input::Tick);
    assert!(
        t.bodies(A)[0].contains("did not answer"),
        "{:?}",
        t.bodies(A)
    );
    t.later(5_000).input(Input::Tick);
    assert_eq!(t.to_room()[0].name(), "presence");
}

#[test]
fn corrections_cross_both_ways_with_their_ids() {
    let mut t = joined();
    t.later(10).occupant_says("dan", "d1", "helo");
    let bob_copy = t.id_to(B);
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}' id='d2'>\
         <body>hello</body><replace xmlns='urn:xmpp:message-correct:0' id='d1'/></message>"
    ));
    let el = t.first_to(B);
    assert_eq!(
        crate::core::stanza::body(&el).as_deref(),
        Some("[dan@tea] hello")
    );
    let replace = el
        .get_child("replace", "urn:xmpp:message-correct:0")
        .and_then(|r| r.attr("id"));
    assert_eq!(replace, Some(bob_copy.as_str()));
    // A member corrects: the room gets a correction of its copy.
    t.later(10).chat_from("bob", "b1", "teh tea");
    let original = groupchats(&t);
    assert_eq!(original, ["[bob] teh tea"]);
    let sent_id = t.to_room()[0].attr("id").unwrap_or_default().to_string();
    t.later(10).correct("bob", "b2", "the tea", "b1");
    let gc: Vec<&Element> = t
        .to_room()
        .into_iter()
        .filter(|e| e.name() == "message")
        .collect();
    assert_eq!(gc.len(), 1, "{gc:?}");
    assert_eq!(
        crate::core::stanza::body(gc[0]).as_deref(),
        Some("[bob] the tea")
    );
    let replace = gc[0]
        .get_child("replace", "urn:xmpp:message-correct:0")
        .and_then(|r| r.attr("id"));
    assert_eq!(replace, Some(sent_id.as_str()));
}

#[test]
fn what_came_by_another_way_is_not_relayed_twice() {
    let mut t = joined();
    t.cmd("alice", "//addrouterecv froma password2");
    // A message arrives on a route; its id then shows up as an origin-id
    // in the room (another group bridged to it posted it there): dropped.
    let body = serde_json::json!({
        "id": "shared-1", "origin": "lobby@a.example", "nick": "eve", "body": "via route",
        "sent_at": "2023-11-14T22:13:20Z", "trail": ["inst-a", "lobby@a.example", ROOM],
    })
    .to_string();
    let ts = (t.now / 1000).to_string();
    t.later(10)
        .input(Input::RoutePost(crate::core::route::RoutePost {
            token: 7,
            group: "lobby".into(),
            route: "froma".into(),
            body: body.clone().into_bytes(),
            form: false,
            timestamp: Some(ts.clone()),
            signature: Some(webhook::sign("password2", &ts, body.as_bytes())),
        }));
    assert_eq!(t.bodies(A), ["[eve@froma] via route"]);
    assert!(
        groupchats(&t).is_empty(),
        "the room is in its trail already"
    );
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/Other' to='{OCC}' id='z'>\
         <body>[eve] via route</body><origin-id xmlns='urn:xmpp:sid:0' id='shared-1'/></message>"
    ));
    assert!(t.bodies(A).is_empty(), "a duplicate");
}

/// `joined()` with `puppets`.
fn with_puppets() -> T {
    let mut t = routed();
    let r = t.cmd("alice", &format!("//addmuc tea {ROOM} puppets"));
    assert!(r.starts_with("OK"), "{r}");
    t.input(Input::Connected);
    for u in ["alice", "bob", "carol"] {
        t.pres(&format!("{u}@localhost/r"), G, None);
    }
    t.joined_as("Lobby");
    t
}

fn fid(t: &T, jid: &str) -> String {
    t.core.groups["lobby"].members[jid].rec.fid.clone()
}

#[test]
fn puppets_speak_as_their_members_and_leave_after_an_hour() {
    let mut t = with_puppets();
    let f = fid(&t, B);
    let puppet = format!("lobby@groups.localhost/tea~{f}");
    t.later(10).say("bob", "hi room");
    let p = t.to_room();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].name(), "presence");
    assert_eq!(p[0].attr("from"), Some(puppet.as_str()));
    assert_eq!(p[0].attr("to"), Some("tea@conference.example.org/bob"));
    // In: what waited goes out from the puppet, as the member wrote it.
    t.later(10).room_sends(&format!(
        "<presence xmlns='{JC}' from='{ROOM}/bob' to='{puppet}'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></presence>"
    ));
    let m = t.to_room();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].attr("from"), Some(puppet.as_str()));
    assert_eq!(crate::core::stanza::body(m[0]).as_deref(), Some("hi room"));
    t.later(10).say("bob", "again");
    let m = t.to_room();
    assert_eq!(crate::core::stanza::body(m[0]).as_deref(), Some("again"));
    assert_eq!(m[0].attr("from"), Some(puppet.as_str()));
    // The reflection, to the bridge's occupant and to the puppet: nothing.
    for to in [OCC, puppet.as_str()] {
        t.later(10).room_sends(&format!(
            "<message xmlns='{JC}' type='groupchat' from='{ROOM}/bob' to='{to}' id='zz'><body>again</body></message>"
        ));
        assert!(t.sent().is_empty(), "{to}");
    }
    // Others' lines reach the group once, though the puppet gets a copy.
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{puppet}' id='d1'><body>yo</body></message>"
    ));
    assert!(t.bodies(A).is_empty());
    t.occupant_says("dan", "d1", "yo");
    assert_eq!(t.bodies(A), ["[dan@tea] yo"]);
    // Renamed in the group: renamed in the room, at once.
    t.later(10).cmd("bob", "//nick robert");
    let p: Vec<&Element> = t
        .to_room()
        .into_iter()
        .filter(|e| e.name() == "presence")
        .collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].attr("to"), Some("tea@conference.example.org/robert"));
    assert_eq!(p[0].attr("from"), Some(puppet.as_str()));
    t.later(10).say("bob", "call me robert");
    let p = t.to_room();
    assert_eq!(p.len(), 1, "no second rename: {p:?}");
    assert_eq!(
        crate::core::stanza::body(p[0]).as_deref(),
        Some("call me robert")
    );
    // An hour of silence: the puppet leaves.
    t.later(crate::core::muc::PUPPET_IDLE_MS).input(Input::Tick);
    let p: Vec<&Element> = t
        .to_room()
        .into_iter()
        .filter(|e| e.attr("from") == Some(puppet.as_str()))
        .collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].attr("type"), Some("unavailable"));
}

#[test]
fn a_puppet_nick_conflict_and_a_banned_puppet() {
    let mut t = with_puppets();
    let f = fid(&t, B);
    let puppet = format!("lobby@groups.localhost/tea~{f}");
    t.later(10).say("bob", "one");
    t.room_sends(&format!(
        "<presence xmlns='{JC}' type='error' from='{ROOM}/bob' to='{puppet}'>\
         <error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
    ));
    assert_eq!(
        t.to_room()[0].attr("to"),
        Some("tea@conference.example.org/bob2")
    );
    // Banned: what waited goes through the bridge, and so does the rest.
    t.room_sends(&format!(
        "<presence xmlns='{JC}' type='error' from='{ROOM}/bob2' to='{puppet}'>\
         <error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
    ));
    assert_eq!(groupchats(&t), ["[bob] one"]);
    assert_eq!(t.to_room()[0].attr("from"), Some(OCC));
    t.later(10).say("bob", "two");
    assert_eq!(groupchats(&t), ["[bob] two"]);
    assert_eq!(t.to_room()[0].attr("from"), Some(OCC));
    assert!(t.mucs().contains("joined as Lobby"), "the bridge stays");
}

#[test]
fn at_most_a_hundred_puppets_then_the_bridge_speaks() {
    let mut t = with_puppets();
    for i in 0..crate::core::muc::MAX_PUPPETS {
        let u = format!("u{i}");
        t.join(&u);
        t.later(1).say(&u, "hi");
        assert_eq!(t.to_room()[0].name(), "presence", "{u}");
    }
    t.later(1).say("bob", "one too many");
    assert_eq!(groupchats(&t), ["[bob] one too many"]);
    assert_eq!(t.to_room()[0].attr("from"), Some(OCC));
}

#[test]
fn a_members_retraction_reaches_the_room() {
    let mut t = joined();
    t.later(10).chat_from("bob", "b1", "oops");
    let sent_id = t.to_room()[0].attr("id").unwrap_or_default().to_string();
    t.later(10).retract("bob", "b2", "b1");
    let r = t.to_room();
    assert_eq!(r.len(), 1, "{r:?}");
    let retract = r[0]
        .get_child("retract", "urn:xmpp:message-retract:1")
        .and_then(|e| e.attr("id"));
    assert_eq!(retract, Some(sent_id.as_str()));
}

#[test]
fn malformed_room_stanzas_and_floods_change_nothing_else() {
    let mut t = joined();
    for xml in [
        format!("<message xmlns='{JC}' type='groupchat' from='{ROOM}/' to='{OCC}'><body>x</body></message>"),
        format!("<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}'/>"),
        format!("<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}'><body>   </body></message>"),
        format!("<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}'><body>x</body><origin-id xmlns='urn:xmpp:sid:0'/></message>"),
        format!("<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}'><body>y</body><replace xmlns='urn:xmpp:message-correct:0'/></message>"),
        format!("<message xmlns='{JC}' type='bogus' from='{ROOM}/dan' to='{OCC}'><body>z</body></message>"),
        format!("<presence xmlns='{JC}' type='error' from='{ROOM}/Lobby' to='{OCC}'/>"),
        format!("<presence xmlns='{JC}' from='{ROOM}/Lobby' to='{OCC}'><x xmlns='http://jabber.org/protocol/muc#user'><status code='abc'/></x></presence>"),
        format!("<iq xmlns='{JC}' type='result' from='{ROOM}' to='{OCC}' id='nope'/>"),
        format!("<iq xmlns='{JC}' type='error' from='{ROOM}' to='{OCC}'/>"),
    ] {
        t.later(1).room_sends(&xml);
    }
    // A flood of other occupants coming and going: no answers at all.
    for i in 0..2000 {
        let ty = if i % 2 == 0 {
            ""
        } else {
            " type='unavailable'"
        };
        t.room_sends(&format!(
            "<presence xmlns='{JC}' from='{ROOM}/u{i}' to='{OCC}'{ty}/>"
        ));
        assert!(t.sent().is_empty(), "presence {i}");
    }
    assert!(t.mucs().contains("joined as Lobby"), "{}", t.mucs());
    // The group works as before.
    t.later(10).say("bob", "still here");
    assert_eq!(t.bodies(A), ["[bob] still here"]);
    assert_eq!(groupchats(&t), ["[bob] still here"]);
}

#[test]
fn an_occupants_retraction_retracts_each_members_copy() {
    let mut t = joined();
    t.later(10).occupant_says("dan", "d1", "secret");
    let bob_copy = t.id_to(B);
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}' id='d2'>\
         <retract xmlns='urn:xmpp:message-retract:1' id='d1'/><body>fallback</body></message>"
    ));
    let el = t.first_to(B);
    let r = el
        .get_child("retract", "urn:xmpp:message-retract:1")
        .and_then(|r| r.attr("id"));
    assert_eq!(r, Some(bob_copy.as_str()));
    assert!(
        t.stores()
            .iter()
            .any(|s| matches!(s, StoreOp::RemoveHistory { .. })),
        "{:?}",
        t.stores()
    );
    // Someone else's retraction of it, or of something unknown: nothing.
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/eve' to='{OCC}' id='e2'>\
         <retract xmlns='urn:xmpp:message-retract:1' id='d1'/></message>"
    ));
    assert!(t.sent().is_empty());
}

#[test]
fn a_rooms_state_is_told_in_each_admins_language() {
    let mut t = joined();
    t.cmd("alice", "//lang zh");
    t.later(10).room_sends(&format!(
        "<presence xmlns='{JC}' type='unavailable' from='{ROOM}/Lobby' to='{OCC}'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><item role='none'><reason>spam</reason></item>\
         <status code='307'/><status code='110'/></x></presence>"
    ));
    // Our words translated; the room's own as it said them.
    assert_eq!(
        t.bodies(A),
        ["房间桥接 tea：被踢出了房间：spam。5 秒后重试。"]
    );
    let r = t.mucs();
    assert!(r.contains("：出错：被踢出了房间：spam；"), "{r}");
    // A refused room address, in her language too.
    let r = t.cmd("alice", "//addmuc tea2 tea@conference.example.org/res");
    assert!(r.contains("带了资源名"), "{r}");
    let r = t.cmd(
        "alice",
        "//addbridge tg telegram bot_token=1 chat_id=@x secret_token=s",
    );
    assert!(r.contains("chat_id 须为数字形式的会话 ID"), "{r}");
}

#[test]
fn an_occupants_correction_of_a_line_beyond_the_held_rows_resolves_after_a_restart() {
    let mut t = super::moderation::stored();
    t.cmd("alice", &format!("//addmuc tea {ROOM}"));
    t.input(Input::Connected);
    for u in ["alice", "bob", "carol"] {
        t.pres(&format!("{u}@localhost/r"), G, None);
    }
    t.joined_as("Lobby");
    t.later(10).occupant_says("dan", "d1", "helo");
    let bob_knows = t.id_to(B);
    for i in 0..(crate::core::RING + 5) {
        t.chat_from("carol", &format!("c-{i}"), "filler");
    }
    super::moderation::restart(&mut t);
    t.input(Input::Connected);
    for u in ["alice", "bob", "carol"] {
        t.pres(&format!("{u}@localhost/r"), G, None);
    }
    t.joined_as("Lobby");
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}' id='d2'>\
         <body>hello</body><replace xmlns='urn:xmpp:message-correct:0' id='d1'/></message>"
    ));
    let el = t.first_to(B);
    assert_eq!(
        crate::core::stanza::body(&el).as_deref(),
        Some("[dan@tea] hello")
    );
    let replace = el
        .get_child("replace", "urn:xmpp:message-correct:0")
        .and_then(|r| r.attr("id"));
    assert_eq!(replace, Some(bob_knows.as_str()));
    // And the occupant's retraction of it: each member's copy.
    t.later(10).room_sends(&format!(
        "<message xmlns='{JC}' type='groupchat' from='{ROOM}/dan' to='{OCC}' id='d3'>\
         <retract xmlns='urn:xmpp:message-retract:1' id='d1'/></message>"
    ));
    let el = t.first_to(B);
    let retract = el
        .get_child("retract", "urn:xmpp:message-retract:1")
        .and_then(|r| r.attr("id"));
    assert_eq!(retract, Some(bob_knows.as_str()));
}
