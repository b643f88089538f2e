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
