//! Room bridges end to end: the real binary as a component of a real
//! Prosody (mod_muc) or ejabberd (mod_muc), real c2s members of the group,
//! and real c2s occupants of the room. Exact counts over a quiet window,
//! in both directions: no echo, no loop, the room's state after a nick
//! conflict, a kick and a ban, and two groups in one room (also linked by
//! routes) delivering each message once.

mod support;

use std::time::Duration;

use minidom::Element;
use support::{
    body_of, free_port, is_from_bare, join, Kind, Options, Server, Talkgroups, TestClient,
};

const T: Duration = Duration::from_secs(15);
const QUIET: Duration = Duration::from_millis(1500);
const LOBBY: &str = "lobby@groups.localhost";
const DEN: &str = "den@groups.localhost";
const ROOM: &str = "tea@conference.localhost";
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

support::for_each_server!(
    a_room_and_a_group_are_one_conversation,
    a_nick_conflict_a_kick_and_a_ban,
    two_groups_in_one_room_and_linked_by_routes_deliver_once,
    the_room_is_joined_again_after_a_server_restart,
    puppets_speak_with_their_members_nicks,
    an_unreachable_room_and_a_presence_flood_leave_the_rest_alone,
);

fn server(kind: Kind) -> Server {
    let o = Options::new(&[("groups.localhost", support::SECRET)]).with_muc("conference.localhost");
    Server::start_with(kind, &o)
}

fn config(extra: &str) -> String {
    format!(
        "[relay]\nburst = 100\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"ann@localhost\"]\n\n{extra}"
    )
}

/// `user` joins the room as `nick` and sees its own presence come back.
async fn occupant(p: &Server, user: &str, nick: &str) -> TestClient {
    p.register(user, "pw");
    let mut c = TestClient::connect_online(p, user, "pw", "r").await;
    c.send_raw(&format!(
        "<presence to='{ROOM}/{nick}'><x xmlns='http://jabber.org/protocol/muc'>\
         <history maxstanzas='0'/></x></presence>"
    ))
    .await;
    let own = format!("{ROOM}/{nick}");
    c.wait_for(T, |e| {
        e.name() == "presence" && e.attr("from") == Some(own.as_str()) && e.attr("type").is_none()
    })
    .await;
    c
}

/// Waits until an occupant `nick` is in the room (as `c` sees it).
async fn sees_occupant(c: &mut TestClient, nick: &str) {
    let who = format!("{ROOM}/{nick}");
    c.wait_for(T, |e| {
        e.name() == "presence" && e.attr("from") == Some(who.as_str()) && e.attr("type").is_none()
    })
    .await;
}

/// Groupchat bodies from the room within `quiet` of the last, as
/// (occupant nick, body).
async fn room_lines(c: &mut TestClient, quiet: Duration) -> Vec<(String, String)> {
    c.drain_for(quiet)
        .await
        .iter()
        .filter(|e| e.name() == "message" && e.attr("type") == Some("groupchat"))
        .filter(|e| e.get_child("subject", support::ns::CLIENT).is_none())
        .filter_map(|e| {
            let nick = e.attr("from")?.split_once('/')?.1.to_string();
            Some((nick, body_of(e)?))
        })
        .collect()
}

/// Message bodies from `group` within `quiet` of the last.
async fn bodies(c: &mut TestClient, group: &str, quiet: Duration) -> Vec<String> {
    c.drain_for(quiet)
        .await
        .iter()
        .filter(|e| e.name() == "message" && is_from_bare(e, group))
        .filter_map(body_of)
        .collect()
}

async fn say_in_room(c: &mut TestClient, id: &str, body: &str) {
    c.send_raw(&format!(
        "<message to='{ROOM}' type='groupchat' id='{id}'><body>{body}</body></message>"
    ))
    .await;
}

async fn cmd(c: &mut TestClient, group: &str, body: &str) -> String {
    c.send_message(group, body).await;
    c.expect_body_from(group, T).await
}

async fn a_room_and_a_group_are_one_conversation(kind: Kind) {
    let p = server(kind);
    let mut carol = occupant(&p, "carol", "carol").await;
    let http = free_port();
    let _tg = Talkgroups::start(
        &p,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\n{}",
            config(&format!(
                "[[muc]]\ngroup = \"lobby\"\nname = \"tea\"\nroom = \"{ROOM}\"\npassword = \"not-needed-here\"\n"
            ))
        ),
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    sees_occupant(&mut carol, "Lobby").await;
    for c in [&mut ann, &mut bob] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    carol.drain_for(Duration::from_millis(300)).await;
    let r = cmd(&mut ann, LOBBY, "//mucs").await;
    assert!(
        r.contains("tea (tea@conference.localhost, from the config): joined as Lobby"),
        "{r}"
    );

    // Group → room: once, with the speaker's nick; the members as usual.
    bob.send_message(LOBBY, "hi room").await;
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("Lobby".to_string(), "[bob] hi room".to_string())]
    );
    assert_eq!(bodies(&mut ann, LOBBY, QUIET).await, ["[bob] hi room"]);
    assert!(bodies(&mut bob, LOBBY, QUIET).await.is_empty(), "no echo");

    // Room → group: every member once; nothing more in the room.
    say_in_room(&mut carol, "c1", "hi group").await;
    assert_eq!(
        bodies(&mut ann, LOBBY, QUIET).await,
        ["[carol@tea] hi group"]
    );
    assert_eq!(
        bodies(&mut bob, LOBBY, QUIET).await,
        ["[carol@tea] hi group"]
    );
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("carol".to_string(), "hi group".to_string())],
        "only the room's own reflection of carol's line"
    );

    // A correction in the room corrects each member's copy.
    carol
        .send_raw(&format!(
            "<message to='{ROOM}' type='groupchat' id='c2'><body>hi, group</body>\
             <replace xmlns='urn:xmpp:message-correct:0' id='c1'/></message>"
        ))
        .await;
    let got = ann.drain_for(QUIET).await;
    let m: Vec<&Element> = got
        .iter()
        .filter(|e| e.name() == "message" && is_from_bare(e, LOBBY))
        .collect();
    assert_eq!(m.len(), 1, "{got:?}");
    assert_eq!(body_of(m[0]).as_deref(), Some("[carol@tea] hi, group"));
    assert!(
        m[0].get_child("replace", "urn:xmpp:message-correct:0")
            .is_some(),
        "a correction: {m:?}"
    );

    // A private message to the bridge's occupant: one reply.
    carol
        .send_raw(&format!(
            "<message to='{ROOM}/Lobby' type='chat' id='pm1'><body>psst</body>\
             <x xmlns='{MUC_USER}'/></message>"
        ))
        .await;
    let got = carol.drain_for(QUIET).await;
    let replies: Vec<&Element> = got
        .iter()
        .filter(|e| e.name() == "message" && body_of(e).is_some_and(|b| b.contains("private")))
        .collect();
    assert_eq!(replies.len(), 1, "{got:?}");
    assert!(bodies(&mut ann, LOBBY, Duration::from_millis(300))
        .await
        .is_empty());
    let m = cmd(&mut ann, LOBBY, "//mucs").await;
    assert!(m.contains("1 sent to the room, 2 relayed from it"), "{m}");
    assert!(!m.contains("not-needed-here"), "{m}");
    // /metrics: the state and the messages each way (copied once a second).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = reqwest::get(format!("http://127.0.0.1:{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "talkgroups_muc_state{group=\"lobby\",name=\"tea\",state=\"joined\"} 1",
        "talkgroups_muc_messages_total{group=\"lobby\",name=\"tea\",direction=\"to_room\"} 1",
        "talkgroups_muc_messages_total{group=\"lobby\",name=\"tea\",direction=\"from_room\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    assert!(!metrics.contains("not-needed-here"));
    drop(p);
}

async fn a_nick_conflict_a_kick_and_a_ban(kind: Kind) {
    let p = server(kind);
    // Carol made the room (its owner) and took the nick the bridge wants.
    let mut carol = occupant(&p, "carol", "Lobby").await;
    let _tg = Talkgroups::start(
        &p,
        &config(&format!(
            "[[muc]]\ngroup = \"lobby\"\nname = \"tea\"\nroom = \"{ROOM}\"\n"
        )),
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    sees_occupant(&mut carol, "Lobby2").await;
    let r = cmd(&mut ann, LOBBY, "//mucs").await;
    assert!(r.contains("joined as Lobby2"), "{r}");

    // Kicked: one notice to the admin, and back after the backoff.
    let kick = |nick: &str| {
        format!(
            "<iq type='set' to='{ROOM}' id='k-{nick}'><query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item nick='{nick}' role='none'><reason>testing</reason></item></query></iq>"
        )
    };
    carol.send_raw(&kick("Lobby2")).await;
    let notice = ann.expect_body_from(LOBBY, T).await;
    assert!(notice.contains("kicked from the room"), "{notice}");
    sees_occupant(&mut carol, "Lobby2").await;
    let r = cmd(&mut ann, LOBBY, "//mucs").await;
    assert!(r.contains("joined as Lobby2"), "{r}");

    // Banned: one notice, then no retry.
    carol
        .send_raw(&format!(
            "<iq type='set' to='{ROOM}' id='ban'><query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item jid='lobby@groups.localhost' affiliation='outcast'/></query></iq>"
        ))
        .await;
    let notice = ann.expect_body_from(LOBBY, T).await;
    assert!(notice.contains("banned"), "{notice}");
    carol.drain_for(Duration::from_millis(200)).await;
    let back = carol
        .try_wait_for(Duration::from_secs(8), |e| {
            e.name() == "presence"
                && e.attr("from")
                    .is_some_and(|f| f.starts_with(&format!("{ROOM}/Lobby2")))
                && e.attr("type").is_none()
        })
        .await;
    assert!(back.is_none(), "a ban is not retried: {back:?}");
    let r = cmd(&mut ann, LOBBY, "//mucs").await;
    assert!(r.contains("error: banned from the room"), "{r}");
    assert!(
        bodies(&mut ann, LOBBY, QUIET).await.is_empty(),
        "one notice each"
    );
    drop(p);
}

async fn two_groups_in_one_room_and_linked_by_routes_deliver_once(kind: Kind) {
    let p = server(kind);
    let mut carol = occupant(&p, "carol", "carol").await;
    let http = free_port();
    let _tg = Talkgroups::start(
        &p,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\n{}\n\
             [[group]]\nname = \"den\"\ntitle = \"Den\"\njoin = \"open\"\nadmins = [\"dora@localhost\"]\n\n\
             [[muc]]\ngroup = \"lobby\"\nname = \"tea\"\nroom = \"{ROOM}\"\n\n\
             [[muc]]\ngroup = \"den\"\nname = \"tea\"\nroom = \"{ROOM}\"\n",
            config("")
        ),
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut dora = join(&p, "dora", DEN).await;
    sees_occupant(&mut carol, "Lobby").await;
    sees_occupant(&mut carol, "Den").await;
    for c in [&mut ann, &mut dora, &mut carol] {
        c.drain_for(Duration::from_millis(300)).await;
    }

    // Only the room between them.
    ann.send_message(LOBBY, "one").await;
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("Lobby".to_string(), "[ann] one".to_string())]
    );
    assert_eq!(
        bodies(&mut dora, DEN, QUIET).await,
        ["[Lobby@tea] [ann] one"]
    );
    assert!(bodies(&mut ann, LOBBY, QUIET).await.is_empty(), "no echo");
    say_in_room(&mut carol, "c1", "two").await;
    assert_eq!(bodies(&mut ann, LOBBY, QUIET).await, ["[carol@tea] two"]);
    assert_eq!(bodies(&mut dora, DEN, QUIET).await, ["[carol@tea] two"]);
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("carol".to_string(), "two".to_string())]
    );

    // The two groups linked by routes as well: still once everywhere.
    for (c, g, send, recv, far) in [
        (&mut ann, LOBBY, "toden", "fromden", "den"),
        (&mut dora, DEN, "tolobby", "fromlobby", "lobby"),
    ] {
        let back = if far == "den" { "lobby" } else { "den" };
        let r = cmd(
            c,
            g,
            &format!(
                "//addroutesend {send} password1 http://127.0.0.1:{http}/routes/{far}/from{back}"
            ),
        )
        .await;
        assert!(r.starts_with("OK"), "{r}");
        let r = cmd(
            c,
            g,
            &format!(
                "//addrouterecv {recv} password1 {}",
                if send == "toden" { "toden" } else { "tolobby" }
            ),
        )
        .await;
        assert!(r.starts_with("OK"), "{r}");
    }
    for c in [&mut ann, &mut dora, &mut carol] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    ann.send_message(LOBBY, "three").await;
    let lines = room_lines(&mut carol, Duration::from_secs(3)).await;
    assert_eq!(
        lines,
        [("Lobby".to_string(), "[ann] three".to_string())],
        "the room gets it once"
    );
    let got = bodies(&mut dora, DEN, Duration::from_secs(3)).await;
    assert_eq!(
        got.len(),
        1,
        "den gets it once (by the room or the route): {got:?}"
    );
    assert!(got[0].ends_with("three"), "{got:?}");
    assert!(bodies(&mut ann, LOBBY, QUIET).await.is_empty(), "no echo");
    say_in_room(&mut carol, "c2", "four").await;
    assert_eq!(
        bodies(&mut ann, LOBBY, Duration::from_secs(3)).await,
        ["[carol@tea] four"]
    );
    assert_eq!(
        bodies(&mut dora, DEN, Duration::from_secs(3)).await,
        ["[carol@tea] four"]
    );
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("carol".to_string(), "four".to_string())]
    );
    drop(p);
}

async fn the_room_is_joined_again_after_a_server_restart(kind: Kind) {
    let mut p = server(kind);
    let mut carol = occupant(&p, "carol", "carol").await;
    let mut tg = Talkgroups::start(
        &p,
        &config(&format!(
            "[[muc]]\ngroup = \"lobby\"\nname = \"tea\"\nroom = \"{ROOM}\"\n"
        )),
    );
    // `join` ends with a round trip to her own server: it has handled her
    // `subscribed` to the group before it is stopped. Otherwise the
    // restarted server may not know the group may see her presence,
    // answers its probe with `unsubscribed`, and she leaves the group
    // (seen under load in CI).
    let ann0 = join(&p, "ann", LOBBY).await;
    sees_occupant(&mut carol, "Lobby").await;
    drop(carol);
    drop(ann0);

    p.stop();
    tg.wait_log_count("lost the server connection", 1, T);
    p.start_again();
    tg.wait_log_count("connected to the server", 2, Duration::from_secs(30));
    // The room (not persistent) is gone with the restart: the bridge's
    // join makes it again, and carol comes back to it.
    let mut ann = TestClient::connect_online(&p, "ann", "pw", "r").await;
    let mut carol = TestClient::connect_online(&p, "carol", "pw", "r").await;
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let r = cmd(&mut ann, LOBBY, "//mucs").await;
        if r.contains("joined as Lobby") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not joined again: {r}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    carol
        .send_raw(&format!(
            "<presence to='{ROOM}/carol'><x xmlns='http://jabber.org/protocol/muc'>\
             <history maxstanzas='0'/></x></presence>"
        ))
        .await;
    sees_occupant(&mut carol, "Lobby").await;
    carol.drain_for(Duration::from_millis(300)).await;
    ann.drain_for(Duration::from_millis(300)).await;
    ann.send_message(LOBBY, "we are back").await;
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("Lobby".to_string(), "[ann] we are back".to_string())]
    );
    say_in_room(&mut carol, "r1", "welcome back").await;
    assert_eq!(
        bodies(&mut ann, LOBBY, QUIET).await,
        ["[carol@tea] welcome back"]
    );
}

async fn puppets_speak_with_their_members_nicks(kind: Kind) {
    let p = server(kind);
    let mut carol = occupant(&p, "carol", "carol").await;
    let _tg = Talkgroups::start(
        &p,
        &config(&format!(
            "[[muc]]\ngroup = \"lobby\"\nname = \"tea\"\nroom = \"{ROOM}\"\npuppets = true\n"
        )),
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    sees_occupant(&mut carol, "Lobby").await;
    for c in [&mut ann, &mut bob, &mut carol] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    bob.send_message(LOBBY, "hi from bob").await;
    sees_occupant(&mut carol, "bob").await;
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("bob".to_string(), "hi from bob".to_string())]
    );
    assert_eq!(bodies(&mut ann, LOBBY, QUIET).await, ["[bob] hi from bob"]);
    bob.send_message(LOBBY, "and again").await;
    assert_eq!(
        room_lines(&mut carol, QUIET).await,
        [("bob".to_string(), "and again".to_string())]
    );
    assert_eq!(bodies(&mut ann, LOBBY, QUIET).await, ["[bob] and again"]);
    assert!(bodies(&mut bob, LOBBY, QUIET).await.is_empty(), "no echo");
    // The room's line reaches each member once, though the puppet is an
    // occupant too.
    say_in_room(&mut carol, "c1", "hello bob").await;
    assert_eq!(
        bodies(&mut ann, LOBBY, QUIET).await,
        ["[carol@tea] hello bob"]
    );
    assert_eq!(
        bodies(&mut bob, LOBBY, QUIET).await,
        ["[carol@tea] hello bob"]
    );
    let r = cmd(&mut ann, LOBBY, "//mucs").await;
    assert!(r.contains("puppets"), "{r}");
}

async fn an_unreachable_room_and_a_presence_flood_leave_the_rest_alone(kind: Kind) {
    let p = server(kind);
    let mut carol = occupant(&p, "carol", "carol").await;
    let tg = Talkgroups::start(
        &p,
        &format!(
            "{}\n[[group]]\nname = \"den\"\ntitle = \"Den\"\njoin = \"open\"\nadmins = [\"dora@localhost\"]\n\n\
             [[muc]]\ngroup = \"lobby\"\nname = \"tea\"\nroom = \"{ROOM}\"\n\n\
             [[muc]]\ngroup = \"den\"\nname = \"far\"\nroom = \"x@nowhere.invalid\"\n",
            config("")
        ),
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut dora = join(&p, "dora", DEN).await;
    sees_occupant(&mut carol, "Lobby").await;
    // The unreachable room: an error in //mucs, and retries.
    dora.drain_for(Duration::from_millis(500)).await;
    let r = cmd(&mut dora, DEN, "//mucs").await;
    assert!(
        r.contains("far (x@nowhere.invalid, from the config): error"),
        "{r}"
    );
    // A second client of carol's joins and leaves the room 200 times.
    p.register("flood", "pw");
    let mut flood = TestClient::connect_online(&p, "flood", "pw", "f").await;
    for i in 0..100 {
        flood
            .send_raw(&format!(
                "<presence to='{ROOM}/flood{i}'><x xmlns='http://jabber.org/protocol/muc'/></presence>\
                 <presence to='{ROOM}/flood{i}' type='unavailable'/>"
            ))
            .await;
    }
    for c in [&mut ann, &mut dora, &mut carol] {
        c.drain_for(Duration::from_millis(500)).await;
    }
    // Both groups and the room still work, and the stream never dropped.
    ann.send_message(LOBBY, "after the flood").await;
    let lines = room_lines(&mut carol, QUIET).await;
    assert_eq!(
        lines,
        [("Lobby".to_string(), "[ann] after the flood".to_string())]
    );
    dora.send_message(DEN, "den too").await;
    tokio::time::sleep(QUIET).await;
    let r = cmd(&mut ann, LOBBY, "//mucs").await;
    assert!(r.contains("joined as Lobby"), "{r}");
    assert_eq!(
        tg.log().matches("connected to the server").count(),
        1,
        "the stream stayed up"
    );
    drop(flood);
}
