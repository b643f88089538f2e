//! End to end: the real talkgroups binary, a real Prosody or ejabberd, real
//! c2s clients. Each scenario is written once and run against both servers;
//! where the servers legitimately differ, the scenario branches on `kind`
//! with a comment (and the README's ejabberd notes list the difference).

mod support;

use std::time::Duration;

use support::{
    body_of, is_from_bare, join, join_client, ns, Kind, Server, Talkgroups, TestClient, COMPONENT,
    SECRET,
};

const T: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(700);
const LOBBY: &str = "lobby@groups.localhost";

fn server(kind: Kind) -> Server {
    Server::start(kind, &[(COMPONENT, SECRET)])
}

// Every scenario runs against both servers: `prosody::NAME`, `ejabberd::NAME`.
support::for_each_server!(
    open_group_relay_commands_and_catchup,
    approval_and_invitation,
    invite_only_refuses_strangers,
    restart_keeps_state_and_probes_find_online_members,
    kill_9_mid_burst_loses_nothing_that_was_relayed,
    malformed_stanzas_never_knock_the_component_offline,
    service_domain_discovery_and_errors,
    server_restart_reconnects_and_relaying_resumes,
    idle_component_stays_connected,
    locked_database_gives_an_error_not_an_ok,
    member_who_never_accepts_the_groups_request_still_gets_messages,
    remaining_commands_through_a_real_server,
    offline_modes_server_and_drop,
    xep0033_multicast_relays_and_keeps_references,
    online_count_follows_logins_and_logouts,
    what_real_clients_act_on,
);

/// With `component.multicast`, a relayed message reaches the members
/// through the server's XEP-0033 service — ejabberd's mod_multicast, or on
/// Prosody contrib/prosody's mod_talkgroups_multicast — one stanza per two
/// members here (`multicast_batch = 2`), with one id that references are
/// rewritten to; a stanza the service refuses for too many addresses (both
/// test servers take 3) is resent copy by copy, and the batch shrinks.
async fn xep0033_multicast_relays_and_keeps_references(kind: Kind) {
    let p = server(kind);
    let tg = Talkgroups::start_with_component(
        &p,
        "multicast = \"multicast.localhost\"\nmulticast_batch = 2\n",
        &group("open"),
    );
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    let mut carol = join(&p, "carol", LOBBY).await;
    let mut dave = join(&p, "dave", LOBBY).await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "*** bob joined");
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "*** carol joined");
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "*** dave joined");
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "*** carol joined");
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "*** dave joined");
    assert_eq!(carol.expect_body_from(LOBBY, T).await, "*** dave joined");

    // Three recipients: a stanza with two bcc addresses and one plain copy.
    alice.send_message(LOBBY, "through the server").await;
    let mut ids = Vec::new();
    for c in [&mut bob, &mut carol, &mut dave] {
        let m = c
            .wait_for(T, |e| {
                is_from_bare(e, LOBBY)
                    && body_of(e).as_deref() == Some("[alice] through the server")
            })
            .await;
        assert!(
            m.get_child("addresses", "http://jabber.org/protocol/address")
                .is_none(),
            "bcc addresses are not shown to recipients: {}",
            support::xml(&m)
        );
        assert!(
            m.get_child("bcc", "urn:talkgroups:bcc:0").is_none(),
            "nor the compact list: {}",
            support::xml(&m)
        );
        ids.push(m.attr("id").expect("relayed copies have an id").to_string());
    }
    assert!(ids.iter().all(|i| *i == ids[0]), "one id for all: {ids:?}");
    assert!(
        tg.log()
            .contains("relaying through the XEP-0033 multicast service"),
        "{}",
        tg.log()
    );
    // contrib/prosody's service advertises the compact recipient list in
    // disco#info and gets it (so the refusal below comes back with the
    // list, not addresses); ejabberd's mod_multicast gets XEP-0033.
    let compact = format!("compact={}", kind == Kind::Prosody);
    assert!(tg.log().contains(&compact), "{compact}:\n{}", tg.log());

    // bob replies to it; carol gets the reply pointing at the id she knows.
    let reply = support::el(
        "message",
        ns::CLIENT,
        &[("to", LOBBY), ("type", "chat"), ("id", "re-1")],
    )
    .append(support::el("body", ns::CLIENT, &[]).append("agreed"))
    .append(support::el(
        "reply",
        "urn:xmpp:reply:0",
        &[("id", ids[0].as_str()), ("to", LOBBY)],
    ))
    .build();
    bob.send(reply).await;
    let got = carol
        .wait_for(T, |e| body_of(e).as_deref() == Some("[bob] agreed"))
        .await;
    let r = got
        .get_child("reply", "urn:xmpp:reply:0")
        .expect("the reply reference is kept");
    assert_eq!(r.attr("id"), Some(ids[0].as_str()));
    drop(tg);

    // More recipients per stanza than the server takes (3 here): the
    // service refuses the stanza with the whole of it in the error; the component
    // sends those copies one by one, says so, and halves its batch, so the
    // next message goes through the service again (two stanzas of two).
    let tg = Talkgroups::start_with_component(
        &p,
        "multicast = \"multicast.localhost\"\nmulticast_batch = 4\n",
        &group("open"),
    );
    let mut erin = join(&p, "erin", LOBBY).await;
    let mut others = Vec::new();
    for u in ["frank", "gina", "hank", "ivan"] {
        others.push(join(&p, u, LOBBY).await);
    }
    // Until all four are online a message names fewer and goes through;
    // keep talking until one names four.
    let deadline = std::time::Instant::now() + T;
    let mut n = 0;
    while !tg.log().contains("refused that many recipients") {
        assert!(
            std::time::Instant::now() < deadline,
            "no warning about the refused stanza:\n{}",
            tg.log()
        );
        n += 1;
        erin.send_message(LOBBY, &format!("to four at once {n}"))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The refused message (the last one sent) still reaches all four.
    let refused = format!("[erin] to four at once {n}");
    for c in others.iter_mut() {
        c.wait_for(T, |e| body_of(e).as_deref() == Some(refused.as_str()))
            .await;
    }
    assert!(tg.log().contains("multicast_batch=2"), "{}", tg.log());
    erin.send_message(LOBBY, "in pairs now").await;
    for c in others.iter_mut() {
        c.wait_for(T, |e| body_of(e).as_deref() == Some("[erin] in pairs now"))
            .await;
    }
    let log = tg.log();
    assert_eq!(
        log.matches("refused that many recipients").count(),
        1,
        "{log}"
    );
    assert!(!log.contains("until restart"), "multicast stays on:\n{log}");

    if kind == Kind::Prosody {
        // mod_talkgroups_multicast serves only the components it lists
        // (ejabberd's mod_multicast serves local users too, by design): a
        // user who tries is refused, and nobody gets the message.
        const NS_ADDRESS: &str = "http://jabber.org/protocol/address";
        let spam = support::el(
            "message",
            ns::CLIENT,
            &[
                ("to", "multicast.localhost"),
                ("type", "chat"),
                ("id", "mc-1"),
            ],
        )
        .append(
            support::el("addresses", NS_ADDRESS, &[]).append(support::el(
                "address",
                NS_ADDRESS,
                &[("type", "bcc"), ("jid", "frank@localhost")],
            )),
        )
        .append(support::el("body", ns::CLIENT, &[]).append("amplified"))
        .build();
        erin.send(spam).await;
        let err = erin
            .wait_for(T, |e| {
                e.attr("type") == Some("error") && e.attr("id") == Some("mc-1")
            })
            .await;
        assert!(
            err.children()
                .any(|c| c.name() == "error" && c.children().any(|x| x.name() == "forbidden")),
            "{}",
            support::xml(&err)
        );
        let frank = &mut others[0];
        let got = frank.drain_for(QUIET).await;
        assert!(
            !got.iter()
                .any(|e| body_of(e).as_deref() == Some("amplified")),
            "a user's multicast was relayed"
        );
    }
}

fn group(join: &str) -> String {
    format!(
        "[service]\nadmins = [\"root@localhost\"]\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"{join}\"\nadmins = [\"alice@localhost\"]\n"
    )
}

/// Sends a command and returns the group's reply.
async fn cmd(c: &mut TestClient, to: &str, body: &str) -> String {
    c.send_message(to, body).await;
    c.expect_body_from(to, T).await
}

async fn open_group_relay_commands_and_catchup(kind: Kind) {
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "*** bob joined");

    // Relay, no echo, /me.
    alice.send_message(LOBBY, "hello all").await;
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "[alice] hello all");
    bob.send_message(LOBBY, "/me waves").await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "* bob waves");
    alice.expect_no_body_from(LOBBY, QUIET).await;

    // Commands answer the sender only.
    assert_eq!(
        cmd(&mut bob, LOBBY, "//nick Bobby").await,
        "OK, you are now Bobby."
    );
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "*** bob is now Bobby"
    );
    assert_eq!(
        cmd(&mut bob, LOBBY, "//online").await,
        "Online (2 of 2): alice (alice), Bobby (bob)"
    );
    assert_eq!(cmd(&mut alice, LOBBY, "//m bob psst").await, "OK");
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "[alice → you] psst");
    assert!(cmd(&mut bob, LOBBY, "//whois alice")
        .await
        .contains("for group admins"));
    assert!(cmd(&mut alice, LOBBY, "//whois bob")
        .await
        .ends_with("bob@localhost"));
    assert!(cmd(&mut bob, LOBBY, "//nope").await.contains("//help"));

    // //stop: nothing now, nothing later.
    assert!(cmd(&mut bob, LOBBY, "//stop 300").await.starts_with("OK"));
    alice.send_message(LOBBY, "while bob rests").await;
    bob.expect_no_body_from(LOBBY, QUIET).await;
    assert!(cmd(&mut bob, LOBBY, "//continue").await.starts_with("OK"));

    // Catch-up: bob goes offline, alice talks, bob comes back.
    bob.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.send_message(LOBBY, "missed one").await;
    alice.send_message(LOBBY, "missed two").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut bob = TestClient::connect_online(&p, "bob", "pw", "r2").await;
    let first = bob
        .wait_for(T, |e| is_from_bare(e, LOBBY) && body_of(e).is_some())
        .await;
    assert_eq!(body_of(&first).as_deref(), Some("[alice] missed one"));
    assert!(
        first.get_child("delay", "urn:xmpp:delay").is_some(),
        "catch-up carries a delay stamp: {}",
        support::xml(&first)
    );
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "[alice] missed two");
    bob.expect_no_body_from(LOBBY, QUIET).await;

    // History has everything relayed, including what bob missed while stopped.
    let h = cmd(&mut bob, LOBBY, "//history").await;
    assert!(
        h.contains("[alice] while bob rests") && h.contains("[alice] missed two"),
        "{h}"
    );
}

async fn approval_and_invitation(kind: Kind) {
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("approve"));
    let mut alice = join(&p, "alice", LOBBY).await; // config admin: accepted at once

    let mut bob = support::ask_to_join(&p, "bob", LOBBY).await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "bob@localhost asks to join — //add bob@localhost or //allok"
    );
    bob.send_message(LOBBY, "let me in").await;
    assert!(bob
        .expect_body_from(LOBBY, T)
        .await
        .contains("waits for an admin"));
    alice.expect_no_body_from(LOBBY, QUIET).await;

    assert_eq!(
        cmd(&mut alice, LOBBY, "//allok").await,
        "OK, approved 1: bob@localhost"
    );
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "*** bob joined");
    bob.wait_for(T, |e| {
        is_from_bare(e, LOBBY) && e.attr("type") == Some("subscribe")
    })
    .await;
    bob.send_presence(Some(LOBBY), Some("subscribed")).await;
    assert!(bob.expect_body_from(LOBBY, T).await.starts_with("Welcome"));
    bob.send_message(LOBBY, "thanks").await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "[bob] thanks");

    // Invitation: carol never asked; the group's request shows up in her client.
    p.register("carol", "pw");
    let mut carol = TestClient::connect_online(&p, "carol", "pw", "r").await;
    assert!(cmd(&mut alice, LOBBY, "//add carol@localhost")
        .await
        .contains("invited"));
    carol
        .wait_for(T, |e| {
            is_from_bare(e, LOBBY) && e.attr("type") == Some("subscribe")
        })
        .await;
    carol.send_presence(Some(LOBBY), Some("subscribed")).await;
    carol.send_presence(Some(LOBBY), Some("subscribe")).await;
    assert!(carol
        .expect_body_from(LOBBY, T)
        .await
        .starts_with("Welcome"));
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "*** carol joined");
    carol.send_message(LOBBY, "hi from carol").await;
    assert_eq!(
        bob.expect_body_from(LOBBY, T).await,
        "[carol] hi from carol"
    );

    // Blacklist: removed, cannot come back.
    alice.drain_for(QUIET).await;
    assert_eq!(
        cmd(&mut alice, LOBBY, "//blacklist carol@localhost").await,
        "OK, carol@localhost is blacklisted."
    );
    carol
        .wait_for(T, |e| {
            is_from_bare(e, LOBBY) && e.attr("type") == Some("unsubscribed")
        })
        .await;
    carol.drain();
    carol.send_presence(Some(LOBBY), Some("subscribe")).await;
    carol
        .wait_for(T, |e| {
            is_from_bare(e, LOBBY) && e.attr("type") == Some("unsubscribed")
        })
        .await;
    assert_eq!(
        bob.expect_body_from(LOBBY, T).await,
        "*** carol was removed"
    );
    carol.send_message(LOBBY, "sneaky").await;
    carol
        .wait_for(T, |e| {
            body_of(e).is_some_and(|b| b.contains("not a member"))
        })
        .await;
    bob.expect_no_body_from(LOBBY, QUIET).await;
}

async fn invite_only_refuses_strangers(kind: Kind) {
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("invite"));
    p.register("eve", "pw");
    let mut eve = TestClient::connect_online(&p, "eve", "pw", "r").await;
    eve.send_presence(Some(LOBBY), Some("subscribe")).await;
    eve.wait_for(T, |e| {
        is_from_bare(e, LOBBY) && e.attr("type") == Some("unsubscribed")
    })
    .await;
    assert!(eve.expect_body_from(LOBBY, T).await.contains("invitation"));
}

async fn restart_keeps_state_and_probes_find_online_members(kind: Kind) {
    let p = server(kind);
    let mut tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.expect_body_from(LOBBY, T).await; // bob joined
    assert!(cmd(&mut bob, LOBBY, "//nick Robert")
        .await
        .starts_with("OK"));
    alice.expect_body_from(LOBBY, T).await;
    alice.send_message(LOBBY, "before restart").await;
    bob.expect_body_from(LOBBY, T).await;

    assert_eq!(tg.stop(), Some(0), "SIGTERM exits 0");
    // Members see the group go offline.
    bob.wait_for(T, |e| {
        e.name() == "presence" && is_from_bare(e, LOBBY) && e.attr("type") == Some("unavailable")
    })
    .await;
    bob.drain();
    tg.restart();
    // The probe at start finds both online at once: relay works immediately.
    let p1 = bob
        .wait_for(T, |e| {
            e.name() == "presence" && is_from_bare(e, LOBBY) && e.attr("type").is_none()
        })
        .await;
    let status = p1
        .get_child("status", ns::CLIENT)
        .map(|s| s.text())
        .unwrap_or_default();
    assert!(
        status.starts_with("Lobby — ") && status.ends_with(" of 2 online"),
        "{status}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    bob.send_message(LOBBY, "after restart").await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "[Robert] after restart"
    );
    let h = cmd(&mut alice, LOBBY, "//history 5").await;
    assert!(h.contains("[alice] before restart"), "{h}");
    // No replay of what they had already seen.
    alice.expect_no_body_from(LOBBY, QUIET).await;
    // Once the probes are answered, online members get the true count.
    bob.wait_for(T, |e| {
        e.name() == "presence"
            && is_from_bare(e, LOBBY)
            && e.get_child("status", ns::CLIENT)
                .is_some_and(|s| s.text() == "Lobby — 2 of 2 online")
    })
    .await;
}

async fn kill_9_mid_burst_loses_nothing_that_was_relayed(kind: Kind) {
    let p = server(kind);
    let mut tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.expect_body_from(LOBBY, T).await;
    // Slow enough not to trip flood control (10 per 10 s).
    let mut received = Vec::new();
    for i in 0..8 {
        alice.send_message(LOBBY, &format!("burst {i}")).await;
    }
    // Kill while the burst is in flight.
    if let Some(first) = bob
        .try_wait_for(T, |e| is_from_bare(e, LOBBY) && body_of(e).is_some())
        .await
    {
        received.push(body_of(&first).unwrap_or_default());
    }
    tg.kill9();
    for e in bob.drain_for(QUIET).await {
        if is_from_bare(&e, LOBBY) {
            if let Some(b) = body_of(&e) {
                received.push(b);
            }
        }
    }
    assert!(!received.is_empty());
    tg.restart();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let h = cmd(&mut bob, LOBBY, "//history 50").await;
    for r in &received {
        assert!(
            h.contains(r.as_str()),
            "{r:?} was relayed but is not in the history:\n{h}"
        );
    }
    // The database is sound and the members are still members.
    alice.send_message(LOBBY, "after the crash").await;
    bob.wait_for(T, |e| {
        body_of(e).as_deref() == Some("[alice] after the crash")
    })
    .await;
}

async fn malformed_stanzas_never_knock_the_component_offline(kind: Kind) {
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.expect_body_from(LOBBY, T).await;
    bob.send_raw("<presence to='lobby@groups.localhost'><show>bogus</show></presence>")
        .await;
    bob.send_raw("<presence to='lobby@groups.localhost'><priority>300</priority></presence>")
        .await;
    bob.send_raw("<presence to='lobby@groups.localhost' type='bogus'/>")
        .await;
    bob.send_raw(
        "<message to='lobby@groups.localhost' type='bogus' id='b1'><body>x</body></message>",
    )
    .await;
    bob.send_raw(
        "<iq to='lobby@groups.localhost' type='get' id='b2'><query xmlns='urn:example:nope'/></iq>",
    )
    .await;
    let err = bob
        .wait_for(T, |e| e.name() == "iq" && e.attr("id") == Some("b2"))
        .await;
    assert_eq!(
        support::error_condition(&err).map(|c| c.0).as_deref(),
        Some("service-unavailable")
    );
    // Presence errors bob gets back from his server, not from the component.
    let presence_errors = match kind {
        // Prosody refuses `type='bogus'` itself (mod_presence: "Invalid
        // presence type") and passes the other presences on; the component
        // skips those it cannot parse and answers the message with
        // `bad-request`.
        Kind::Prosody => {
            let err = bob
                .wait_for(T, |e| e.name() == "message" && e.attr("id") == Some("b1"))
                .await;
            assert_eq!(
                support::error_condition(&err).map(|c| c.0).as_deref(),
                Some("bad-request"),
                "{}",
                support::xml(&err)
            );
            1
        }
        // ejabberd refuses `<show>bogus</show>` too (the component never sees
        // it), passes `<priority>300</priority>` on, and drops the unknown
        // `type` of the message: the component gets a message without a
        // type, i.e. `normal`, and relays it like any other.
        Kind::Ejabberd => {
            assert_eq!(alice.expect_body_from(LOBBY, T).await, "[bob] x");
            2
        }
    };
    for _ in 0..presence_errors {
        let err = bob
            .wait_for(T, |e| {
                e.name() == "presence" && e.attr("type") == Some("error")
            })
            .await;
        assert_eq!(
            support::error_condition(&err),
            Some(("bad-request".to_string(), "modify".to_string())),
            "{}",
            support::xml(&err)
        );
    }
    bob.send_message(LOBBY, "still alive?").await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "[bob] still alive?");
}

async fn service_domain_discovery_and_errors(kind: Kind) {
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("open"));
    p.register("root", "pw");
    let mut root = TestClient::connect_online(&p, "root", "pw", "r").await;
    assert!(cmd(&mut root, COMPONENT, "//newgroup dev invite")
        .await
        .starts_with("OK, created dev@groups.localhost"));
    let g = cmd(&mut root, COMPONENT, "//groups").await;
    assert!(
        g.contains("dev@groups.localhost") && g.contains(LOBBY),
        "{g}"
    );

    p.register("eve", "pw");
    let mut eve = TestClient::connect_online(&p, "eve", "pw", "r").await;
    let list = cmd(&mut eve, COMPONENT, "//newgroup x").await;
    assert!(list.contains(LOBBY) && !list.contains("dev@"), "{list}");

    // disco#items lists open/approve groups only.
    let items = eve
        .iq(
            COMPONENT,
            "get",
            support::el("query", ns::DISCO_ITEMS, &[]).build(),
        )
        .await;
    let jids: Vec<String> = items
        .children()
        .flat_map(|q| q.children())
        .filter_map(|i| i.attr("jid").map(str::to_string))
        .collect();
    assert_eq!(jids, vec![LOBBY.to_string()]);
    // disco#info on a group: client/bot.
    let info = eve
        .iq(
            LOBBY,
            "get",
            support::el("query", ns::DISCO_INFO, &[]).build(),
        )
        .await;
    let xml = support::xml(&info);
    assert!(
        xml.contains("category=\"client\"") || xml.contains("category='client'"),
        "{xml}"
    );
    // vCard with the title, version, ping.
    let v = eve
        .iq(
            LOBBY,
            "get",
            support::el("vCard", "vcard-temp", &[]).build(),
        )
        .await;
    assert!(support::xml(&v).contains("Lobby"));
    let ver = eve
        .iq(
            COMPONENT,
            "get",
            support::el("query", "jabber:iq:version", &[]).build(),
        )
        .await;
    assert!(support::xml(&ver).contains("talkgroups"));
    let pong = eve
        .iq(LOBBY, "get", support::el("ping", ns::PING, &[]).build())
        .await;
    assert_eq!(pong.attr("type"), Some("result"));

    // Unknown group: item-not-found.
    eve.send_message("nope@groups.localhost", "hello?").await;
    let e = eve
        .wait_for(T, |e| {
            is_from_bare(e, "nope@groups.localhost") && e.attr("type") == Some("error")
        })
        .await;
    assert_eq!(
        support::error_condition(&e).map(|c| c.0).as_deref(),
        Some("item-not-found")
    );

    // A group made at run time works like a configured one.
    assert!(
        cmd(&mut root, "dev@groups.localhost", "//add eve@localhost")
            .await
            .contains("invited")
    );
    eve.wait_for(T, |e| {
        is_from_bare(e, "dev@groups.localhost") && e.attr("type") == Some("subscribe")
    })
    .await;
    eve.send_presence(Some("dev@groups.localhost"), Some("subscribed"))
        .await;
    assert!(eve
        .expect_body_from("dev@groups.localhost", T)
        .await
        .starts_with("Welcome"));
    join_client(&mut root, "dev@groups.localhost").await;
    assert_eq!(
        eve.expect_body_from("dev@groups.localhost", T).await,
        "*** root joined"
    );
    root.send_message("dev@groups.localhost", "hi dev").await;
    assert_eq!(
        eve.expect_body_from("dev@groups.localhost", T).await,
        "[root] hi dev"
    );
}

#[test]
fn check_validates_config_and_database() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "[component]\njid = \"groups.localhost\"\nsecret = \"hunter2\"\n[storage]\ndatabase = \"{}\"\n",
            dir.path().join("db.sqlite3").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_talkgroups"))
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("component.jid = \"groups.localhost\""));
    assert!(!stdout.contains("hunter2"), "secret must be masked");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[component]\njid = \"groups.localhost\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_talkgroups"))
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("component.secret"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

async fn server_restart_reconnects_and_relaying_resumes(kind: Kind) {
    let mut p = server(kind);
    let mut tg = Talkgroups::start(&p, &group("open"));
    let alice = join(&p, "alice", LOBBY).await;
    let bob = join(&p, "bob", LOBBY).await;
    alice.close().await;
    bob.close().await;

    p.stop();
    tg.wait_log_count("lost the server connection", 1, T);
    p.start_again();
    tg.wait_log_count("connected to the server", 2, Duration::from_secs(30));

    let mut alice = TestClient::connect_online(&p, "alice", "pw", "r").await;
    let mut bob = TestClient::connect_online(&p, "bob", "pw", "r").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.send_message(LOBBY, "we are back").await;
    bob.wait_for(T, |e| body_of(e).as_deref() == Some("[alice] we are back"))
        .await;
}

async fn idle_component_stays_connected(kind: Kind) {
    // keepalive_secs = 5 in the test config: 12 s of silence spans two
    // keepalive periods; without pings the stream would time out.
    let p = server(kind);
    let mut tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.expect_body_from(LOBBY, T).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        tg.log().matches("connected to the server").count(),
        1,
        "{}",
        tg.log()
    );
    let _ = &mut tg;
    bob.send_message(LOBBY, "still here").await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "[bob] still here");
}

async fn locked_database_gives_an_error_not_an_ok(kind: Kind) {
    let p = server(kind);
    let tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.expect_body_from(LOBBY, T).await; // bob joined

    // Another process holds the database's write lock.
    let other = rusqlite::Connection::open(&tg.db_path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    bob.send_message(LOBBY, "//nick Locked").await;
    let err = bob
        .wait_for(Duration::from_secs(20), |e| {
            e.name() == "message" && is_from_bare(e, LOBBY) && e.attr("type") == Some("error")
        })
        .await;
    assert_eq!(
        support::error_condition(&err),
        Some(("internal-server-error".to_string(), "wait".to_string()))
    );
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);

    // Nothing was acknowledged or announced, and nothing changed.
    bob.expect_no_body_from(LOBBY, QUIET).await;
    alice.expect_no_body_from(LOBBY, QUIET).await;
    let info = cmd(&mut bob, LOBBY, "//showinfo bob").await;
    assert!(info.starts_with("bob (id bob)"), "{info}");
    // Once the lock is gone, the same command works.
    assert_eq!(
        cmd(&mut bob, LOBBY, "//nick Locked").await,
        "OK, you are now Locked."
    );
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "*** bob is now Locked"
    );
}

async fn member_who_never_accepts_the_groups_request_still_gets_messages(kind: Kind) {
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    p.register("bob", "pw");
    let mut bob = TestClient::connect_online(&p, "bob", "pw", "r").await;
    // Bob adds the group but ignores its contact request (as a cautious
    // user of a client that asks first would).
    bob.send_presence(Some(LOBBY), Some("subscribe")).await;
    assert!(bob.expect_body_from(LOBBY, T).await.starts_with("Welcome"));
    alice.expect_body_from(LOBBY, T).await; // bob joined
    bob.close().await;
    // Next login: his server probes the group from the new session.
    let mut bob = TestClient::connect_online(&p, "bob", "pw", "r2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.send_message(LOBBY, "can you hear me?").await;
    assert_eq!(
        bob.expect_body_from(LOBBY, T).await,
        "[alice] can you hear me?"
    );
}

/// The commands the other scenarios do not reach, each through a real
/// server: success and a refusal.
async fn remaining_commands_through_a_real_server(kind: Kind) {
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.expect_body_from(LOBBY, T).await; // bob joined
    let mut carol = join(&p, "carol", LOBBY).await;
    alice.expect_body_from(LOBBY, T).await; // carol joined
    bob.expect_body_from(LOBBY, T).await;

    let help = cmd(&mut bob, LOBBY, "//help").await;
    assert!(
        help.contains("//setid") && !help.contains("//kick"),
        "{help}"
    );
    assert!(cmd(&mut alice, LOBBY, "//help").await.contains("//kick"));

    // //setid once.
    assert_eq!(
        cmd(&mut bob, LOBBY, "//setid bobby").await,
        "OK, your id is now bobby."
    );
    assert!(cmd(&mut bob, LOBBY, "//setid again")
        .await
        .contains("only once"));

    // //block / //unblock.
    assert_eq!(cmd(&mut carol, LOBBY, "//block bobby").await, "OK");
    bob.send_message(LOBBY, "carol won't see this").await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "[bob] carol won't see this"
    );
    carol.expect_no_body_from(LOBBY, QUIET).await;
    assert_eq!(cmd(&mut carol, LOBBY, "//unblock bobby").await, "OK");
    bob.send_message(LOBBY, "now she does").await;
    assert_eq!(carol.expect_body_from(LOBBY, T).await, "[bob] now she does");
    alice.expect_body_from(LOBBY, T).await;

    // //mute / //unmute.
    assert!(cmd(&mut bob, LOBBY, "//mute carol")
        .await
        .contains("for group admins"));
    assert_eq!(cmd(&mut alice, LOBBY, "/mute bobby").await, "OK");
    // Told at once, and again when speaking.
    assert!(bob
        .expect_body_from(LOBBY, T)
        .await
        .starts_with("An admin muted you"));
    bob.send_message(LOBBY, "muted").await;
    assert!(bob.expect_body_from(LOBBY, T).await.contains("muted"));
    carol.expect_no_body_from(LOBBY, QUIET).await;
    assert_eq!(cmd(&mut alice, LOBBY, "//unmute bobby").await, "OK");
    assert!(bob
        .expect_body_from(LOBBY, T)
        .await
        .starts_with("An admin unmuted you"));

    // //admin / //unadmin, //listuser.
    assert_eq!(cmd(&mut alice, LOBBY, "//admin bob@localhost").await, "OK");
    assert!(bob
        .expect_body_from(LOBBY, T)
        .await
        .contains("now an admin"));
    let list = cmd(&mut bob, LOBBY, "//listuser").await;
    assert!(
        list.contains("bob@localhost — member, admin, nick bob, id bobby"),
        "{list}"
    );
    assert_eq!(
        cmd(&mut alice, LOBBY, "//unadmin bob@localhost").await,
        "OK"
    );
    assert!(bob
        .expect_body_from(LOBBY, T)
        .await
        .contains("no longer an admin"));
    assert!(cmd(&mut bob, LOBBY, "//listuser")
        .await
        .contains("for group admins"));

    // //kick (rejoin allowed), //blacklist + //pass.
    assert_eq!(
        cmd(&mut alice, LOBBY, "//kick carol@localhost").await,
        "OK, carol@localhost was removed."
    );
    assert!(carol
        .wait_for(T, |e| body_of(e).is_some_and(|b| b.contains("removed")))
        .await
        .attr("from")
        .is_some());
    carol.drain_for(QUIET).await;
    join_client(&mut carol, LOBBY).await;
    alice.drain_for(QUIET).await;
    assert_eq!(
        cmd(&mut alice, LOBBY, "//blacklist carol@localhost").await,
        "OK, carol@localhost is blacklisted."
    );
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "*** carol was removed"
    );
    assert_eq!(
        cmd(&mut alice, LOBBY, "//pass carol@localhost").await,
        "OK, carol@localhost may join again."
    );
    assert!(cmd(&mut alice, LOBBY, "//pass carol@localhost")
        .await
        .contains("not blacklisted"));
    carol.drain_for(QUIET).await;
    join_client(&mut carol, LOBBY).await;

    // //leave.
    bob.drain_for(QUIET).await;
    bob.send_message(LOBBY, "//leave").await;
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "You left Lobby.");
    bob.wait_for(T, |e| {
        is_from_bare(e, LOBBY) && e.attr("type") == Some("unsubscribe")
    })
    .await;
    assert!(cmd(&mut bob, LOBBY, "//online")
        .await
        .contains("not a member"));

    // //delgroup from the service domain.
    p.register("root", "pw");
    let mut root = TestClient::connect_online(&p, "root", "pw", "r").await;
    assert!(cmd(&mut root, COMPONENT, "//delgroup lobby")
        .await
        .starts_with("OK, deleted"));
    carol
        .wait_for(T, |e| body_of(e).is_some_and(|b| b.contains("was deleted")))
        .await;
    assert!(cmd(&mut root, COMPONENT, "//delgroup lobby")
        .await
        .contains("No group"));
    carol.send_message(LOBBY, "anyone?").await;
    let e = carol
        .wait_for(T, |e| {
            is_from_bare(e, LOBBY) && e.attr("type") == Some("error")
        })
        .await;
    assert_eq!(
        support::error_condition(&e).map(|c| c.0).as_deref(),
        Some("item-not-found")
    );
}

async fn offline_modes_server_and_drop(kind: Kind) {
    for (mode, expect) in [("server", true), ("drop", false)] {
        let p = server(kind);
        let _tg = Talkgroups::start(
            &p,
            &format!("[relay]\noffline = \"{mode}\"\n\n{}", group("open")),
        );
        let mut alice = join(&p, "alice", LOBBY).await;
        let bob = join(&p, "bob", LOBBY).await;
        alice.expect_body_from(LOBBY, T).await; // bob joined
        bob.close().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        alice.send_message(LOBBY, "while bob is away").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut bob = TestClient::connect_online(&p, "bob", "pw", "r2").await;
        if expect {
            // Stored by Prosody, delivered at login.
            assert_eq!(
                bob.expect_body_from(LOBBY, T).await,
                "[alice] while bob is away",
                "{mode}"
            );
        } else {
            bob.expect_no_body_from(LOBBY, Duration::from_secs(1)).await;
        }
    }
}

/// `talkgroups_online_members` from `/metrics`.
async fn online_metric(port: u16) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    support::procfs::sample(&text, "talkgroups_online_members")
        .unwrap_or_else(|| panic!("no online gauge in {text}"))
}

/// Waits until the online gauge reads `want` (it is updated as the core
/// runs; presences take a moment through the server).
async fn wait_online(port: u16, want: u64) {
    let deadline = std::time::Instant::now() + T;
    loop {
        let n = online_metric(port).await;
        if n == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "online members: {n}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The online count follows what the server knows: members who log out
/// are offline, also one whose client never accepted the group's own
/// contact request (the group then gets no presence from them at all).
async fn online_count_follows_logins_and_logouts(kind: Kind) {
    let p = server(kind);
    let port = support::free_port();
    // The group pings sessions it knows only from a probe or a message
    // every second here (default 120 s).
    let _tg = Talkgroups::start(
        &p,
        &group("open").replace(
            "[[group]]",
            &format!("[relay]\nping_secs = 1\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[[group]]"),
        ),
    );
    let mut alice = join(&p, "alice", LOBBY).await;
    p.register("bob", "pw");
    let mut bob = TestClient::connect_online(&p, "bob", "pw", "r").await;
    bob.send_presence(Some(LOBBY), Some("subscribe")).await;
    assert!(bob.expect_body_from(LOBBY, T).await.starts_with("Welcome"));
    wait_online(port, 1).await;
    // Bob's first words show his session; he hears alice from then on.
    bob.send_message(LOBBY, "hello").await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "*** bob joined");
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "[bob] hello");
    wait_online(port, 2).await;
    alice.send_message(LOBBY, "hi bob").await;
    assert_eq!(bob.expect_body_from(LOBBY, T).await, "[alice] hi bob");
    alice.close().await;
    bob.close().await;
    wait_online(port, 0).await;
    // Both log in again (bob's server probes the group: his only sign of
    // life), then out.
    let alice = TestClient::connect_online(&p, "alice", "pw", "r2").await;
    let bob = TestClient::connect_online(&p, "bob", "pw", "r2").await;
    wait_online(port, 2).await;
    alice.close().await;
    bob.close().await;
    wait_online(port, 0).await;
}

/// What the clients people use act on, through a real server: the group's
/// contact request names it (XEP-0172), its presence comes from a full JID
/// with its status and its avatar's hash (XEP-0153), the vCard carries that
/// picture, commands typed as those clients send them (`/help` for a
/// typed `//help`) run, a correction replaces its history row, and the
/// service domain refuses a non-admin's service command clearly.
async fn what_real_clients_act_on(kind: Kind) {
    use base64::Engine as _;
    use sha1::Digest as _;
    const FULL: &str = "lobby@groups.localhost/talkgroups";
    let p = server(kind);
    let _tg = Talkgroups::start(&p, &group("open"));
    p.register("alice", "pw");
    let mut alice = TestClient::connect_online(&p, "alice", "pw", "r").await;
    alice.send_presence(Some(LOBBY), Some("subscribe")).await;
    let request = alice
        .wait_for(T, |e| {
            e.name() == "presence" && is_from_bare(e, LOBBY) && e.attr("type") == Some("subscribe")
        })
        .await;
    let nick = request.get_child("nick", "http://jabber.org/protocol/nick");
    assert_eq!(nick.map(|n| n.text()).as_deref(), Some("Lobby"));
    alice.send_presence(Some(LOBBY), Some("subscribed")).await;
    let online = alice
        .wait_for(T, |e| {
            e.name() == "presence" && e.attr("from") == Some(FULL) && e.attr("type").is_none()
        })
        .await;
    let status = online.get_child("status", ns::CLIENT).map(|s| s.text());
    assert_eq!(status.as_deref(), Some("Lobby — 1 of 1 online"));
    let photo = online
        .get_child("x", "vcard-temp:x:update")
        .and_then(|x| x.get_child("photo", "vcard-temp:x:update"))
        .map(|p| p.text())
        .expect("avatar hash in presence");
    assert!(alice
        .expect_body_from(LOBBY, T)
        .await
        .starts_with("Welcome"));
    let vcard = alice
        .iq(
            LOBBY,
            "get",
            support::el("vCard", "vcard-temp", &[]).build(),
        )
        .await;
    let binval = vcard
        .get_child("vCard", "vcard-temp")
        .and_then(|v| v.get_child("PHOTO", "vcard-temp"))
        .and_then(|p| p.get_child("BINVAL", "vcard-temp"))
        .map(|b| b.text())
        .expect("PHOTO in the vCard");
    let data = base64::engine::general_purpose::STANDARD
        .decode(binval.trim())
        .expect("base64");
    assert_eq!(hex::encode(sha1::Sha1::digest(&data)), photo);

    let mut bob = join(&p, "bob", LOBBY).await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "*** bob joined");
    // `/help` and `//help` are both commands; `/me` and `/path` are text.
    for typed in ["/help", "//help", "/HELP"] {
        let r = cmd(&mut bob, LOBBY, typed).await;
        assert!(r.starts_with("Commands:") && r.contains("//nick"), "{r}");
    }
    assert_eq!(
        cmd(&mut bob, LOBBY, "/nick Bobby").await,
        "OK, you are now Bobby."
    );
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "*** bob is now Bobby"
    );
    bob.send_message(LOBBY, "/tmp is full").await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "[Bobby] /tmp is full"
    );

    // A correction replaces the row it corrects.
    let mut m = support::message(LOBBY, "chat", "helo");
    support::set_attr(&mut m, "id", "typo-1");
    bob.send(m).await;
    assert_eq!(alice.expect_body_from(LOBBY, T).await, "[Bobby] helo");
    let mut fix = support::message(LOBBY, "chat", "hello");
    fix.append_child(
        support::el("replace", "urn:xmpp:message-correct:0", &[("id", "typo-1")]).build(),
    );
    bob.send(fix).await;
    let corrected = alice
        .wait_for(T, |e| is_from_bare(e, LOBBY) && body_of(e).is_some())
        .await;
    assert_eq!(body_of(&corrected).as_deref(), Some("[Bobby] hello"));
    assert!(corrected
        .get_child("replace", "urn:xmpp:message-correct:0")
        .is_some());
    let h = cmd(&mut alice, LOBBY, "/history").await;
    assert!(h.contains("[Bobby] hello (corrected)"), "{h}");
    assert!(!h.contains("helo"), "{h}");

    // The service domain: a clear refusal, answered every time.
    let r = cmd(&mut bob, COMPONENT, "/newgroup cafe open").await;
    assert!(
        r.starts_with("Refused: //newgroup is for the service's admins."),
        "{r}"
    );
    assert!(
        r.contains("Your groups:\nlobby@groups.localhost — Lobby"),
        "{r}"
    );
    let r = cmd(&mut bob, COMPONENT, "//groups").await;
    assert!(r.contains("No other groups are open to join here."), "{r}");
}
