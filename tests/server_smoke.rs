//! Smoke test of the test support: a private Prosody / ejabberd and the raw
//! c2s client, with no talkgroups involved.

mod support;

use std::time::Duration;

use support::{ns, Kind, Server, TestClient};

const T: Duration = Duration::from_secs(5);

support::for_each_server!(
    chat_between_users_and_bounce_from_absent_component,
    restart_keeps_ports_and_accounts,
);

async fn chat_between_users_and_bounce_from_absent_component(kind: Kind) {
    let p = Server::start(kind, &[("groups.localhost", "secret")]);
    p.register("alice", "pw-a");
    p.register("bob", "pw-b");

    let mut alice = TestClient::connect_online(&p, "alice", "pw-a", "phone").await;
    let mut bob = TestClient::connect_online(&p, "bob", "pw-b", "laptop").await;
    assert_eq!(alice.jid, "alice@localhost/phone");
    assert_eq!(bob.bare, "bob@localhost");

    // Typed element path.
    alice.send_message(&bob.bare, "hello bob").await;
    assert_eq!(
        bob.expect_body_from("alice@localhost", T).await,
        "hello bob"
    );

    // Raw bytes path (unprefixed elements are in jabber:client).
    bob.send_raw("<message to='alice@localhost/phone' type='chat' id='raw1'><body>hi &amp; bye</body></message>")
        .await;
    assert_eq!(alice.expect_body_from("bob@localhost", T).await, "hi & bye");

    // IQ round trip with the server.
    let pong = alice
        .iq(
            "localhost",
            "get",
            support::el("ping", ns::PING, &[]).build(),
        )
        .await;
    assert_eq!(pong.attr("type"), Some("result"), "{}", support::xml(&pong));

    // The component is configured but not connected: the server bounces.
    alice
        .send_message("nobody@groups.localhost", "anyone there?")
        .await;
    let err = alice
        .wait_for(T, |e| {
            e.name() == "message"
                && support::from_of(e) == "nobody@groups.localhost"
                && e.attr("type") == Some("error")
        })
        .await;
    let (cond, type_) = support::error_condition(&err).expect("error element");
    let expected = match kind {
        // Prosody 0.12: <remote-server-timeout/> type='wait', text "Component
        // unavailable", plus <not-connected xmlns='xmpp:prosody.im/protocol/component'/>.
        Kind::Prosody => ("remote-server-timeout", "wait"),
        // ejabberd 23.01: no route to the domain, so it is treated as a
        // remote server it cannot reach.
        Kind::Ejabberd => ("remote-server-not-found", "cancel"),
    };
    assert_eq!(
        (cond.as_str(), type_.as_str()),
        expected,
        "{}",
        support::xml(&err)
    );

    bob.expect_no_body_from("alice@localhost", Duration::from_millis(200))
        .await;
    alice.close().await;
    bob.close().await;
}

async fn restart_keeps_ports_and_accounts(kind: Kind) {
    let mut p = Server::start(kind, &[("groups.localhost", "secret")]);
    p.register("carol", "pw-c");
    assert_eq!(
        TestClient::try_connect(&p, "carol", "wrong", "r")
            .await
            .err(),
        Some("not-authorized".to_string())
    );
    if let Server::Ejabberd(e) = &p {
        // The ejabberdctl wiring (its own Erlang node reaching ours over the
        // private distribution port) works too.
        let out = e.ctl(&["register", "dave", "localhost", "pw-d"]);
        assert!(out.contains("successfully registered"), "{out}");
        TestClient::connect(&p, "dave", "pw-d", "r")
            .await
            .close()
            .await;
    }

    let mut carol = TestClient::connect(&p, "carol", "pw-c", "r").await;
    let (c2s, comp) = (p.c2s_addr(), p.component_port());
    p.stop();
    assert!(!p.is_running());
    carol.drain_for(T).await; // returns as soon as the stream ends
    assert!(carol.is_closed(), "client should see the server go away");

    p.start_again();
    assert_eq!((p.c2s_addr(), p.component_port()), (c2s, comp));
    let mut carol = TestClient::connect_online(&p, "carol", "pw-c", "r").await;
    carol
        .send_message(&carol.bare.clone(), "note to self")
        .await;
    assert_eq!(
        carol.expect_body_from("carol@localhost", T).await,
        "note to self"
    );
    carol.close().await;
}
