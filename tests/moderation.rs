//! Moderation and long memory through a real server: an admin's
//! `//delete`, sent as a reply the way Conversations and Gajim send one
//! (XEP-0461 with the quote marked as fallback), retracts each member's
//! copy by the id that member's client knows; and a correction of a
//! message 2 000 messages back, across a restart, reaches the others as a
//! correction of their copy. Against Prosody and ejabberd.

mod support;

use std::time::Duration;

use minidom::Element;
use support::{el, is_from_bare, join, message, Kind, Server, Talkgroups, TestClient};

const T: Duration = Duration::from_secs(10);
const LOBBY: &str = "lobby@groups.localhost";
const RETRACT: &str = "urn:xmpp:message-retract:1";

support::for_each_server!(
    delete_retracts_each_copy_by_its_own_id,
    a_correction_2000_messages_back_survives_a_restart
);

fn config() -> &'static str {
    "[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"ann@localhost\"]\n"
}

/// A chat message to the group with this id and extra children.
fn chat(id: &str, body: &str, extra: Vec<Element>) -> Element {
    let mut m = message(LOBBY, "chat", body);
    support::set_attr(&mut m, "id", id);
    for e in extra {
        m.append_child(e);
    }
    m
}

/// The next message from the group with a body containing `needle`.
async fn copy_of(c: &mut TestClient, needle: &str) -> Element {
    c.wait_for(T, |e| {
        is_from_bare(e, LOBBY) && support::body_of(e).is_some_and(|b| b.contains(needle))
    })
    .await
}

async fn retracted_id(c: &mut TestClient) -> String {
    let m = c
        .wait_for(T, |e| {
            is_from_bare(e, LOBBY) && e.get_child("retract", RETRACT).is_some()
        })
        .await;
    m.get_child("retract", RETRACT)
        .and_then(|r| r.attr("id"))
        .unwrap_or_default()
        .to_string()
}

async fn delete_retracts_each_copy_by_its_own_id(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, support::SECRET)]);
    let _tg = Talkgroups::start(&p, config());
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    let mut cat = join(&p, "cat", LOBBY).await;
    for c in [&mut ann, &mut bob, &mut cat] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    bob.send(chat("bob-secret-1", "the password is hunter2", vec![]))
        .await;
    let ann_id = copy_of(&mut ann, "hunter2")
        .await
        .attr("id")
        .unwrap()
        .to_string();
    let cat_id = copy_of(&mut cat, "hunter2")
        .await
        .attr("id")
        .unwrap()
        .to_string();
    assert_ne!(ann_id, cat_id, "each copy has its own id");
    // Cat is no admin: refused.
    let quote = "> bob: the password is hunter2\n";
    let reply = |to: &str, id: &str| {
        chat(
            id,
            &format!("{quote}//delete"),
            vec![
                el("reply", "urn:xmpp:reply:0", &[("id", to), ("to", LOBBY)]).build(),
                el(
                    "fallback",
                    "urn:xmpp:fallback:0",
                    &[("for", "urn:xmpp:reply:0")],
                )
                .append(
                    el(
                        "body",
                        "urn:xmpp:fallback:0",
                        &[("start", "0"), ("end", &quote.chars().count().to_string())],
                    )
                    .build(),
                )
                .build(),
            ],
        )
    };
    cat.send(reply(&cat_id, "cat-del")).await;
    assert!(cat
        .expect_body_from(LOBBY, T)
        .await
        .contains("for group admins"));
    ann.send(reply(&ann_id, "ann-del")).await;
    assert_eq!(retracted_id(&mut bob).await, "bob-secret-1", "bob's own id");
    assert_eq!(retracted_id(&mut cat).await, cat_id);
    assert_eq!(retracted_id(&mut ann).await, ann_id);
    let ok = copy_of(&mut ann, "removed for everyone").await;
    assert!(ok.get_child("retract", RETRACT).is_none());
    cat.send_message(LOBBY, "//history").await;
    let h = copy_of(&mut cat, "messages (UTC)").await;
    let h = support::body_of(&h).unwrap_or_default();
    assert!(
        h.contains("(message removed)") && !h.contains("hunter2"),
        "{h}"
    );
}

async fn a_correction_2000_messages_back_survives_a_restart(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, support::SECRET)]);
    let mut tg = Talkgroups::start(&p, config());
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    for c in [&mut ann, &mut bob] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    ann.send(chat("ann-old-1", "helo wrld", vec![])).await;
    let bob_id = copy_of(&mut bob, "helo wrld")
        .await
        .attr("id")
        .unwrap()
        .to_string();
    // 2 000 messages said since (written as the component writes them,
    // while it is stopped: through the relay they would take minutes).
    assert_eq!(tg.stop(), Some(0));
    {
        let db = rusqlite::Connection::open(&tg.db_path).unwrap();
        let tx = db.unchecked_transaction().unwrap();
        for i in 0..2000 {
            tx.execute(
                "INSERT INTO history(group_name, sender, nick, text, at, origin_id)
                 VALUES ('lobby', 'bob@localhost', 'bob', ?1, 0, ?2)",
                rusqlite::params![format!("filler {i}"), format!("f-{i}")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    tg.restart();
    // Back online for the component: its probes are answered.
    for c in [&mut ann, &mut bob] {
        c.wait_for(T, |e| e.name() == "presence" && is_from_bare(e, LOBBY))
            .await;
        c.drain_for(Duration::from_millis(300)).await;
    }
    ann.send(chat(
        "ann-fix-1",
        "hello world",
        vec![el(
            "replace",
            "urn:xmpp:message-correct:0",
            &[("id", "ann-old-1")],
        )
        .build()],
    ))
    .await;
    let fix = copy_of(&mut bob, "hello world").await;
    assert_eq!(
        fix.get_child("replace", "urn:xmpp:message-correct:0")
            .and_then(|r| r.attr("id")),
        Some(bob_id.as_str()),
        "a correction of bob's copy, not a new message"
    );
    // And bob's reply to his copy reaches ann with her own id.
    bob.send(chat(
        "bob-re-1",
        "nice",
        vec![el(
            "reply",
            "urn:xmpp:reply:0",
            &[("id", &bob_id), ("to", LOBBY)],
        )
        .build()],
    ))
    .await;
    let re = copy_of(&mut ann, "nice").await;
    assert_eq!(
        re.get_child("reply", "urn:xmpp:reply:0")
            .and_then(|r| r.attr("id")),
        Some("ann-old-1")
    );
}
