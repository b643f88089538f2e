//! Moderation (`//delete` as a reply, the API's DELETE) and long memory:
//! references to messages older than the rows the core holds, read back
//! from a real store, also after a restart.

use super::*;
use crate::core::api::{ApiCall, ApiMethod, Scope};
use crate::core::stanza::{NS_CORRECT, NS_REPLY, NS_RETRACT};
use crate::store::Store;

const RELAY: &str = "burst = 100000";

/// alice (admin), bob and carol, online, with the store attached first.
pub(super) fn stored() -> T {
    let mut t = open_group(RELAY);
    let mut s = Store::open_in_memory().unwrap();
    let ops: Vec<StoreOp> = (t.out.iter())
        .filter_map(|o| match o {
            Output::Store(op) => Some(op.clone()),
            _ => None,
        })
        .collect();
    s.apply(&ops).unwrap();
    t.store = Some(s);
    t.join("alice").join("bob").join("carol");
    t
}

/// A restart: the core starts from what the store holds, and the members'
/// presences come again.
pub(super) fn restart(t: &mut T) {
    let snap = t.store.as_ref().unwrap().load(crate::core::RING).unwrap();
    let mut out = Vec::new();
    t.core = Core::new(
        config(&format!(
            "[relay]\n{RELAY}\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n"
        ))
        .core(),
        snap,
        t.now,
        &mut out,
    );
    for u in ["alice", "bob", "carol"] {
        t.pres(&format!("{u}@localhost/r"), G, None);
    }
}

/// The id each retraction sent to `to` names.
fn retracted_for(t: &T, to: &str) -> Vec<String> {
    t.sent()
        .into_iter()
        .filter(|e| e.attr("to") == Some(to))
        .filter_map(|e| e.get_child("retract", NS_RETRACT))
        .filter_map(|r| r.attr("id").map(str::to_string))
        .collect()
}

/// `user` replies to `of` with `body` (as Conversations and Gajim do: the
/// quote first, marked as the reply's fallback).
fn reply(t: &mut T, user: &str, id: &str, of: &str, quote: &str, body: &str) {
    let text = format!("{quote}\n{body}");
    let mut fb = fallback_el(NS_REPLY);
    fb.append_child(ns_el(
        "body",
        "urn:xmpp:fallback:0",
        &[
            ("start", "0"),
            ("end", &(quote.chars().count() + 1).to_string()),
        ],
    ));
    t.message(user, id, vec![body_el(&text), reply_el(of), fb]);
}

fn api_delete(t: &mut T, id: &str) -> u16 {
    t.input(Input::Api(ApiCall {
        token: 3,
        scope: Scope::Group("lobby".into()),
        method: ApiMethod::Delete,
        path: ["groups", "lobby", "messages", id]
            .map(str::to_string)
            .to_vec(),
        query: vec![],
        body: vec![],
    }));
    t.out
        .iter()
        .find_map(|o| match o {
            Output::Reply(r) => Some(r.status),
            _ => None,
        })
        .unwrap()
}

#[test]
fn an_admins_delete_reply_retracts_each_copy_by_the_id_its_member_knows() {
    let mut t = stored();
    t.chat_from("bob", "b-1", "my password is hunter2");
    let to_alice = t.id_to(A);
    let to_carol = t.id_to(C);
    assert_ne!(to_alice, to_carol);
    // Carol is no admin: refused, nothing retracted.
    reply(
        &mut t,
        "carol",
        "c-1",
        &to_carol,
        "> bob: my password…",
        "//delete",
    );
    assert!(t.one_body(C).contains("for group admins"), "{:?}", t.sent());
    assert!(retracted_for(&t, B).is_empty());
    reply(
        &mut t,
        "alice",
        "a-1",
        &to_alice,
        "> bob: my password…",
        "//delete",
    );
    assert_eq!(retracted_for(&t, B), ["b-1"], "bob's own id");
    assert_eq!(retracted_for(&t, C), std::slice::from_ref(&to_carol));
    assert_eq!(retracted_for(&t, A), std::slice::from_ref(&to_alice));
    assert!(t
        .bodies(A)
        .iter()
        .any(|b| b == "OK, the message is removed for everyone."));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::RemoveHistory { .. })));
    let h = t.cmd("carol", "//history");
    assert!(
        h.contains("[bob] (message removed)") && !h.contains("hunter2"),
        "{h}"
    );
    // Twice: said so, nothing sent again.
    reply(&mut t, "alice", "a-2", &to_alice, "> bob: …", "//delete");
    assert!(t.one_body(A).contains("removed already"));
    assert!(retracted_for(&t, C).is_empty());
}

#[test]
fn delete_without_a_reply_says_how_and_a_quote_without_fallback_still_works() {
    let mut t = stored();
    assert!(t.cmd("alice", "//delete").contains("as a reply"));
    t.chat_from("bob", "b-1", "spam");
    let to_alice = t.id_to(A);
    // A client that quotes with `>` lines but marks no fallback.
    t.message(
        "alice",
        "a-1",
        vec![body_el("> bob: spam\n//delete"), reply_el(&to_alice)],
    );
    assert_eq!(retracted_for(&t, B), ["b-1"]);
    // A reply that is no command is relayed as it is.
    t.chat_from("bob", "b-2", "hello");
    let to_carol = t.id_to(C);
    reply(&mut t, "carol", "c-1", &to_carol, "> bob: hello", "hi bob");
    assert_eq!(t.bodies(B), ["[carol]\n> bob: hello\nhi bob"]);
}

#[test]
fn the_api_removes_a_message_as_delete_does() {
    let mut t = stored();
    t.chat_from("bob", "b-1", "oops");
    let to_carol = t.id_to(C);
    let id = t.core.groups["lobby"].history[0].id.to_string();
    assert_eq!(api_delete(&mut t, &id), 200);
    assert_eq!(retracted_for(&t, C), [to_carol]);
    assert_eq!(retracted_for(&t, B), ["b-1"]);
    assert_eq!(api_delete(&mut t, &id), 404, "gone already");
    assert_eq!(api_delete(&mut t, "999"), 404);
    assert_eq!(api_delete(&mut t, "x"), 422);
}

#[test]
fn references_to_messages_beyond_the_held_rows_resolve_also_after_a_restart() {
    let mut t = stored();
    t.chat_from("alice", "old-1", "helo");
    let carol_knows = t.id_to(C);
    let bob_knows = t.id_to(B);
    for i in 0..(crate::core::RING + 5) {
        t.chat_from("bob", &format!("b-{i}"), "filler");
    }
    assert!(t.core.groups["lobby"].row(1).is_none(), "beyond the ring");
    // Her correction reaches each member as a correction of their copy.
    t.correct("alice", "fix-1", "hello", "old-1");
    let fix = t.first_to(C);
    assert_eq!(
        fix.get_child("replace", NS_CORRECT)
            .and_then(|r| r.attr("id")),
        Some(carol_knows.as_str())
    );
    restart(&mut t);
    assert!(t.core.groups["lobby"].row(1).is_none());
    // Bob replies to his copy: alice's client gets her own id.
    let mut m = vec![body_el("nice"), reply_el(&bob_knows)];
    m.push(fallback_el(NS_REPLY));
    t.message("bob", "b-r", m);
    let to_alice = t.first_to(A);
    assert_eq!(
        to_alice
            .get_child("reply", NS_REPLY)
            .and_then(|r| r.attr("id")),
        Some("old-1")
    );
    // And the admin removes it: the corrected row, found again.
    let alice_knows = "old-1";
    reply(
        &mut t,
        "alice",
        "a-del",
        alice_knows,
        "> alice: hello",
        "//delete",
    );
    assert_eq!(retracted_for(&t, C), [carol_knows]);
    assert_eq!(retracted_for(&t, B), [bob_knows]);
    let s = t.store.as_ref().unwrap();
    let row = s.history("lobby", 100_000).unwrap();
    assert!(row.iter().find(|h| h.id == 1).unwrap().removed);
}
