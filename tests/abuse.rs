//! Hostile input through a real Prosody or ejabberd: floods, strangers, blacklisted
//! JIDs trying every way back in.

mod support;

use std::time::Duration;

use support::{
    body_of, is_from_bare, join, Kind, Server, Talkgroups, TestClient, COMPONENT, SECRET,
};

const T: Duration = Duration::from_secs(10);

// Each scenario runs against both servers: `prosody::NAME`, `ejabberd::NAME`.
support::for_each_server!(
    a_thousand_messages_a_second_from_one_account_relay_only_the_burst,
    blacklisted_jids_cannot_come_back_by_any_path,
);
const LOBBY: &str = "lobby@groups.localhost";

fn group(join: &str) -> String {
    format!(
        "[service]\nadmins = [\"root@localhost\"]\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"{join}\"\nadmins = [\"alice@localhost\"]\n"
    )
}

async fn bodies_from(c: &mut TestClient, from: &str, quiet: Duration) -> Vec<String> {
    c.drain_for(quiet)
        .await
        .iter()
        .filter(|e| e.name() == "message" && is_from_bare(e, from))
        .filter_map(body_of)
        .collect()
}

async fn a_thousand_messages_a_second_from_one_account_relay_only_the_burst(kind: Kind) {
    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    let _tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.drain_for(Duration::from_millis(300)).await;
    let start = std::time::Instant::now();
    for i in 0..1000 {
        bob.send_message(LOBBY, &format!("flood {i}")).await;
    }
    let took = start.elapsed();
    // The default limit: 10 messages in any 10 s.
    let got = bodies_from(&mut alice, LOBBY, Duration::from_secs(2)).await;
    assert!(
        took < Duration::from_secs(10),
        "the flood took {took:?}, longer than the window"
    );
    let want: Vec<String> = (0..10).map(|i| format!("[bob] flood {i}")).collect();
    assert_eq!(got, want);
    // One warning to the flooder, not one per message.
    let warnings: Vec<String> = bodies_from(&mut bob, LOBBY, Duration::from_millis(500))
        .await
        .into_iter()
        .filter(|b| b.starts_with("Slow down"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // The group still answers at once.
    alice.send_message(LOBBY, "//online").await;
    let r = alice.expect_body_from(LOBBY, T).await;
    assert!(r.starts_with("Online (2 of 2)"), "{r}");
}

async fn blacklisted_jids_cannot_come_back_by_any_path(kind: Kind) {
    let p = Server::start(kind, &[(COMPONENT, SECRET)]);
    let _tg = Talkgroups::start(&p, &group("open"));
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    let mut mallory = join(&p, "mallory", LOBBY).await;
    alice.drain_for(Duration::from_millis(300)).await;
    bob.drain_for(Duration::from_millis(300)).await;
    alice
        .send_message(LOBBY, "//blacklist mallory@localhost")
        .await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "OK, mallory@localhost is blacklisted."
    );
    mallory.drain_for(Duration::from_millis(500)).await;
    for c in [&mut alice, &mut bob] {
        assert_eq!(
            bodies_from(c, LOBBY, Duration::from_millis(500)).await,
            ["*** mallory was removed"]
        );
    }
    // Subscribing again is refused.
    mallory.send_presence(Some(LOBBY), Some("subscribe")).await;
    mallory
        .wait_for(T, |e| {
            e.name() == "presence"
                && is_from_bare(e, LOBBY)
                && e.attr("type") == Some("unsubscribed")
        })
        .await;
    // A non-admin member cannot //add them.
    bob.send_message(LOBBY, "//add mallory@localhost").await;
    assert_eq!(
        bob.expect_body_from(LOBBY, T).await,
        "//add is for group admins."
    );
    // An admin must lift the ban first.
    alice.send_message(LOBBY, "//add mallory@localhost").await;
    assert_eq!(
        alice.expect_body_from(LOBBY, T).await,
        "mallory@localhost is blacklisted: //pass mallory@localhost first."
    );
    // Their messages and commands do not reach anyone.
    mallory.send_message(LOBBY, "let me in").await;
    mallory.send_message(LOBBY, "//nick alice2").await;
    assert!(bodies_from(&mut bob, LOBBY, Duration::from_secs(1))
        .await
        .is_empty());
    alice.send_message(LOBBY, "//listuser").await;
    let list = alice.expect_body_from(LOBBY, T).await;
    assert!(list.starts_with("2 entries:"), "{list}");
    assert!(list.ends_with("blacklisted: mallory@localhost"), "{list}");
}
