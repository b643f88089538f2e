//! Bridge scenarios: the outbox side (merging under the rate, deliveries
//! and retries), the commands, and calls from the platforms. The
//! platforms' own wire formats are tested in `core::platform`.

use super::*;
use crate::core::platform::Method;

const GCHAT: &str = "//addbridge gc googlechat webhook=http://127.0.0.1:9/chat rate=1/10s";

impl T {
    /// A platform's call to `/bridges/lobby/{bridge}`.
    fn call(
        &mut self,
        bridge: &str,
        method: Method,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &str,
    ) -> &mut Self {
        self.input(Input::BridgeCall(crate::core::bridge::BridgeCall {
            token: 7,
            group: "lobby".into(),
            bridge: bridge.into(),
            method,
            query: (query.iter())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            headers: (headers.iter())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }))
    }
}

#[test]
fn queued_messages_merge_into_one_post_under_the_rate() {
    let mut t = routed();
    let r = t.cmd("alice", GCHAT);
    assert!(r.starts_with("OK, bridge gc (googlechat) added."), "{r}");
    assert!(r.contains("message archive"), "{r}");
    t.later(10).say("bob", "one");
    let h = t.https();
    assert_eq!(h.len(), 1, "the first goes at once");
    let first = h[0].clone();
    assert_eq!(first.first_id, first.outbox_id);
    // Two more while the first is in flight, then it is delivered: the
    // rate (1 per 10 s) holds the rest back, to go as one post.
    t.later(10).say("carol", "two");
    t.later(10).say("bob", "three");
    assert!(t.https().is_empty());
    t.later(10).ok(&first);
    assert!(t.https().is_empty(), "held by the rate");
    assert!(t.core.next_deadline() <= t.now + 10_500);
    t.later(10_500).input(Input::Tick);
    let h = t.https();
    assert_eq!(h.len(), 1);
    let merged = h[0].clone();
    assert_eq!(
        merged.outbox_id - merged.first_id,
        1,
        "two rows in one post"
    );
    t.later(10).ok(&merged);
    let dequeued = t
        .stores()
        .iter()
        .filter(|s| matches!(s, StoreOp::Dequeue { .. }))
        .count();
    assert_eq!(dequeued, 2);
    assert_eq!(t.core.outbox_depth(), 0);
    let s = &t.core.bridge_stats;
    use crate::core::platform::Platform::Googlechat;
    assert_eq!(s.outbound.get(&(Googlechat, "delivered")), Some(&2));
    assert_eq!(s.merged_posts.get(&Googlechat), Some(&1));
    assert_eq!(s.merged_messages.get(&Googlechat), Some(&2));
}

#[test]
fn a_failed_merged_post_is_retried_whole_with_what_came_since() {
    let mut t = routed();
    t.cmd(
        "alice",
        "//addbridge gc googlechat webhook=http://127.0.0.1:9/chat rate=100/1s",
    );
    t.later(10).say("bob", "one");
    let h = t.https()[0].clone();
    t.later(10).say("bob", "two");
    t.later(10).deliver(
        &h,
        Outcome::Response {
            status: 429,
            body: Vec::new(),
            retry_after: Some(3),
        },
    );
    assert!(t.https().is_empty());
    t.later(1000).input(Input::Tick);
    assert!(t.https().is_empty(), "Retry-After is honoured");
    t.later(2000).input(Input::Tick);
    let h = t.https()[0].clone();
    assert_eq!(h.outbox_id - h.first_id, 1, "both, in one post");
    t.later(10).ok(&h);
    assert_eq!(t.core.outbox_depth(), 0);
}

#[test]
fn bridge_commands_check_and_never_show_secrets() {
    let mut t = routed();
    let r = t.cmd("alice", "//addbridge x irc a=b");
    assert!(r.contains("Unknown platform irc"), "{r}");
    let r = t.cmd("alice", "//addbridge x slack secret");
    assert!(r.contains("key=value"), "{r}");
    let r = t.cmd(
        "alice",
        "//addbridge Bad.Name googlechat webhook=http://h/x",
    );
    assert!(r.contains("bridge names"), "{r}");
    assert!(t.stores().is_empty());
    let r = t.cmd("bob", GCHAT);
    assert!(!r.starts_with("OK"), "{r}");
    t.cmd("alice", GCHAT);
    let r = t.cmd("alice", GCHAT);
    assert!(r.contains("exists"), "{r}");
    let r = t.cmd("alice", "//bridges");
    assert!(r.contains("gc (googlechat)"), "{r}");
    assert!(r.contains("webhook=…"), "{r}");
    assert!(!r.contains("127.0.0.1:9/chat"), "{r}");
    assert!(r.contains("rate=1/10s"), "{r}");
    let r = t.cmd("alice", "//routes");
    assert!(r.starts_with("No routes"), "{r}");
    let r = t.cmd("alice", "//delroute gc");
    assert!(r.contains("//delbridge gc"), "{r}");
    let r = t.cmd("alice", "//delbridge gc");
    assert_eq!(r, "OK, bridge gc deleted.");
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::DeleteRoute { name, .. } if name == "gc")));
    let r = t.cmd("alice", "//bridges");
    assert!(r.starts_with("No bridges"), "{r}");
}

#[test]
fn calls_to_unknown_bridges_are_404_and_change_nothing() {
    let mut t = routed();
    t.call("nope", Method::Post, &[], &[], "{}");
    assert_eq!(t.status(), 404);
    assert!(t.stores().is_empty());
    // A route of that name is not a bridge.
    t.cmd("alice", "//addrouterecv froma password2");
    t.call("froma", Method::Post, &[], &[], "{}");
    assert_eq!(t.status(), 404);
}

const TG: &str =
    "//addbridge tg telegram bot_token=1:x chat_id=-100 secret_token=s3cret api=http://127.0.0.1:9";

/// A Telegram update for the `tg` bridge above.
fn update(id: i64, key: &str, message_id: i64, user: &str, text: &str) -> String {
    serde_json::json!({
        "update_id": id,
        key: {
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": -100, "type": "supergroup"},
            "from": {"id": 42, "is_bot": false, "first_name": "Dora", "username": user},
            "text": text
        }
    })
    .to_string()
}

impl T {
    fn telegram(&mut self, body: &str, secret: &str) -> &mut Self {
        self.call(
            "tg",
            Method::Post,
            &[],
            &[
                ("content-type", "application/json"),
                ("x-telegram-bot-api-secret-token", secret),
            ],
            body,
        )
    }
}

#[test]
fn inbound_is_relayed_once_stored_and_forwarded_but_not_back() {
    let mut t = routed();
    t.cmd("alice", TG);
    t.cmd("alice", GCHAT);
    t.cmd(
        "alice",
        "//addroutesend toa password1 http://a.example/routes/lobby/b",
    );
    t.later(10)
        .telegram(&update(1, "message", 501, "dora", "hi all"), "s3cret");
    assert_eq!(t.status(), 200);
    for who in [A, B, C] {
        assert_eq!(t.bodies(who), ["[dora@tg] hi all"], "{who}");
    }
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::AppendHistory(r) if r.text == "hi all")));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::BridgeRef { .. })));
    let mut to: Vec<&str> = t.https().iter().map(|h| h.route.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["gc", "toa"], "to the others, not back to tg");
    for h in t.https() {
        let body = String::from_utf8_lossy(&h.req.body).into_owned();
        if h.route == "gc" {
            // A text post shows the line as members saw it.
            assert!(body.contains("[dora@tg] hi all"), "{body}");
        } else {
            // The native format keeps the nick; the far side labels it.
            assert!(body.contains("\"nick\":\"dora\""), "{body}");
        }
    }
    // The platform retries: 200, and nothing again.
    t.later(10)
        .telegram(&update(1, "message", 501, "dora", "hi all"), "s3cret");
    assert_eq!(t.status(), 200);
    assert!(t.sent().is_empty() && t.https().is_empty());
    assert!(!t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::AppendHistory(_))));
    // A forged secret: 401, and nothing changes.
    t.later(10)
        .telegram(&update(2, "message", 502, "eve", "forged"), "wrong");
    assert_eq!(t.status(), 401);
    assert!(t.sent().is_empty() && t.stores().is_empty());
    // A bot's message (the bridge's own post, echoed): ignored.
    let echo = update(3, "message", 503, "tgbot", "[bob] hi")
        .replace("\"is_bot\":false", "\"is_bot\":true");
    t.later(10).telegram(&echo, "s3cret");
    assert_eq!(t.status(), 200);
    assert!(t.sent().is_empty());
    let s = &t.core.bridge_stats;
    use crate::core::platform::Platform::Telegram;
    assert_eq!(s.inbound.get(&(Telegram, "relayed")), Some(&1));
    assert_eq!(s.inbound.get(&(Telegram, "duplicate")), Some(&1));
    assert_eq!(s.inbound.get(&(Telegram, "rejected")), Some(&1));
}

#[test]
fn platform_edits_correct_each_members_copy_or_arrive_marked_edited() {
    let mut t = routed();
    t.cmd("alice", TG);
    t.later(10)
        .telegram(&update(1, "message", 501, "dora", "helo"), "s3cret");
    let copies: Vec<(String, String)> = (t.sent().iter())
        .filter(|e| e.name() == "message")
        .map(|e| {
            let to = e.attr("to").unwrap_or_default();
            (
                to.split('/').next().unwrap_or_default().to_string(),
                e.attr("id").unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(copies.len(), 3);
    t.later(10)
        .telegram(&update(2, "edited_message", 501, "dora", "hello"), "s3cret");
    assert_eq!(t.status(), 200);
    for (who, id) in &copies {
        let el = t.first_to(who);
        assert_eq!(
            crate::core::stanza::body(&el).as_deref(),
            Some("[dora@tg] hello")
        );
        let replace = el
            .get_child("replace", "urn:xmpp:message-correct:0")
            .and_then(|r| r.attr("id"));
        assert_eq!(replace, Some(id.as_str()), "{who}");
    }
    // An edit of a message nobody here saw: a new line, marked edited.
    t.later(10)
        .telegram(&update(3, "edited_message", 999, "dora", "what"), "s3cret");
    assert_eq!(t.status(), 200);
    let b = t.bodies(A);
    assert_eq!(b.len(), 1);
    assert!(
        b[0].contains("[dora@tg] what") && b[0].contains("edited"),
        "{b:?}"
    );
    assert!(t
        .first_to(A)
        .get_child("replace", "urn:xmpp:message-correct:0")
        .is_none());
}

#[test]
fn a_platforms_edit_of_a_message_beyond_the_held_rows_resolves_after_a_restart() {
    let mut t = super::moderation::stored();
    t.cmd("alice", TG);
    t.later(10)
        .telegram(&update(1, "message", 501, "dora", "helo"), "s3cret");
    let bob_knows = t.id_to(B);
    for i in 0..(crate::core::RING + 5) {
        t.chat_from("carol", &format!("c-{i}"), "filler");
    }
    super::moderation::restart(&mut t);
    t.later(10)
        .telegram(&update(2, "edited_message", 501, "dora", "hello"), "s3cret");
    assert_eq!(t.status(), 200);
    let el = t.first_to(B);
    assert_eq!(
        crate::core::stanza::body(&el).as_deref(),
        Some("[dora@tg] hello")
    );
    let replace = el
        .get_child("replace", "urn:xmpp:message-correct:0")
        .and_then(|r| r.attr("id"));
    assert_eq!(replace, Some(bob_knows.as_str()));
}
