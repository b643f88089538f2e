//! Route scenarios: commands, the outbox schedule, and posts received.

use super::*;
use crate::core::model::{RouteFormat, RouteKind};
use crate::core::route::{Delivery, HttpSend, Outcome, PostReply, RoutePost};
use crate::core::webhook;

const INSTANCE: &str = "inst-b";

#[path = "tests_bridges.rs"]
mod bridges;
#[path = "tests_mucs.rs"]
mod mucs;

/// Alice (admin), Bob and Carol online in an open group, on instance `inst-b`.
fn routed() -> T {
    let cfg = config(
        "[routes]\nmax_age_hours = 1\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n",
    );
    let snap = Snapshot {
        instance_id: INSTANCE.into(),
        ..Snapshot::default()
    };
    let mut out = Vec::new();
    let core = Core::new(cfg.core(), snap, 1_000_000_000, &mut out);
    let mut t = T {
        core,
        now: 1_000_000_000,
        out,
        fanouts: 0,
        store: None,
    };
    t.join("alice").join("bob").join("carol");
    t
}

impl T {
    fn https(&self) -> Vec<&HttpSend> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Http(h) => Some(h),
                _ => None,
            })
            .collect()
    }

    fn post_reply(&self) -> &PostReply {
        let r: Vec<&PostReply> = self
            .out
            .iter()
            .filter_map(|o| match o {
                Output::Reply(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(r.len(), 1, "one reply expected: {:#?}", self.out);
        r[0]
    }

    fn deliver(&mut self, h: &HttpSend, outcome: Outcome) -> &mut Self {
        self.input(Input::Delivery(Delivery {
            outbox_id: h.outbox_id,
            group: h.group.clone(),
            route: h.route.clone(),
            outcome,
        }))
    }

    fn ok(&mut self, h: &HttpSend) -> &mut Self {
        self.deliver(
            h,
            Outcome::Response {
                status: 200,
                body: b"{}".to_vec(),
                retry_after: None,
            },
        )
    }

    fn post(&mut self, route: &str, body: &str, password: &str) -> &mut Self {
        let ts = (self.now / 1000).to_string();
        let sig = webhook::sign(password, &ts, body.as_bytes());
        self.raw_post("lobby", route, body, Some(ts), Some(sig), false)
    }

    fn raw_post(
        &mut self,
        group: &str,
        route: &str,
        body: &str,
        ts: Option<String>,
        sig: Option<String>,
        form: bool,
    ) -> &mut Self {
        self.input(Input::RoutePost(RoutePost {
            token: 7,
            group: group.into(),
            route: route.into(),
            body: body.as_bytes().to_vec(),
            form,
            timestamp: ts,
            signature: sig,
        }))
    }

    fn status(&self) -> u16 {
        assert_eq!(self.post_reply().token, 7);
        self.post_reply().status
    }
}

fn native(id: &str, nick: &str, body: &str, trail: &[&str]) -> String {
    serde_json::json!({
        "id": id, "origin": "lobby@a.example", "nick": nick, "body": body,
        "sent_at": "1970-01-01T00:00:00Z", "trail": trail,
    })
    .to_string()
}

#[test]
fn route_commands_validate_and_list_without_secrets() {
    let mut t = routed();
    let cases = [
        ("//addroutesend toa short http://a/x", "at least 8"),
        ("//addroutesend toa password1 ftp://a/x", "Not a valid"),
        (
            "//addroutesend toa password1 http://a/x irc",
            "Unknown format irc",
        ),
        ("//addroutesend toa - http://a/x", "signed"),
        (
            "//addroutesend Bad/Name password1 http://a/x",
            "Route names",
        ),
        ("//addroutesend toa password1", "usage: //addroutesend"),
        ("//addrouterecv froma short", "at least 8"),
        ("//addrouterecv froma", "usage: //addrouterecv"),
    ];
    for (cmd, want) in cases {
        let r = t.cmd("alice", cmd);
        assert!(r.contains(want), "{cmd} → {r}");
        assert!(t.stores().is_empty(), "{cmd} stored something");
    }
    assert!(t
        .cmd(
            "alice",
            "//addroutesend ToA password1 http://a:1/routes/lobby/fromb"
        )
        .starts_with("OK, route toa sends"));
    assert!(matches!(t.stores()[..], [StoreOp::UpsertRoute(_)]));
    assert!(t
        .cmd("alice", "//addroutesend toa password2 http://a/y")
        .contains("exists"));
    assert!(t
        .cmd(
            "alice",
            "//addroutesend hook - https://hooks.slack.com/services/T/B/SECRET SLACK"
        )
        .starts_with("OK"));
    assert!(t
        .cmd("alice", "//addrouterecv froma password9 toa")
        .contains("POST /routes/lobby/froma"));
    let list = t.cmd("alice", "//routes");
    assert!(
        list.contains("send toa → http://a:1/routes/lobby/fromb (talkgroups)"),
        "{list}"
    );
    assert!(
        list.contains("last success never, last error never, 0 queued"),
        "{list}"
    );
    assert!(
        list.contains("send hook → https://hooks.slack.com/… (slack)"),
        "{list}"
    );
    assert!(
        list.contains("recv froma ← POST /routes/lobby/froma, not sent back on toa"),
        "{list}"
    );
    for secret in ["password1", "password9", "SECRET"] {
        assert!(!list.contains(secret), "{list}");
    }
    // Only admins.
    assert!(t.cmd("bob", "//routes").contains("for group admins"));
    assert!(t
        .cmd("bob", "//addrouterecv x password1")
        .contains("for group admins"));
    assert!(t.cmd("alice", "//delroute nosuch").contains("No route"));
    assert_eq!(t.cmd("alice", "//delroute hook"), "OK, route hook deleted.");
    assert!(matches!(t.stores()[..], [StoreOp::DeleteRoute { .. }]));
    assert!(!t.cmd("alice", "//routes").contains("hook"));
}

#[test]
fn said_messages_go_out_in_order_one_at_a_time() {
    let mut t = routed();
    t.cmd(
        "alice",
        "//addroutesend toa password1 http://a/routes/lobby/fromb",
    );
    t.later(1000).say("bob", "first");
    let enq = t
        .stores()
        .into_iter()
        .filter(|s| matches!(s, StoreOp::Enqueue(_)))
        .count();
    assert_eq!(enq, 1);
    let h1 = t.https()[0].clone();
    assert_eq!(h1.req.url, "http://a/routes/lobby/fromb");
    let ts = h1
        .req
        .headers
        .iter()
        .find(|(n, _)| n == webhook::TIMESTAMP_HEADER)
        .map(|(_, v)| v.clone())
        .unwrap();
    let sig = h1
        .req
        .headers
        .iter()
        .find(|(n, _)| n == webhook::SIGNATURE_HEADER)
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(webhook::verify("password1", &ts, &h1.req.body, &sig));
    let m = webhook::parse_native(&h1.req.body, 0).unwrap();
    assert_eq!((m.nick.as_str(), m.body.as_str()), ("bob", "first"));
    assert_eq!(m.origin, G);
    // The instance, and the group (groups of one instance may be linked).
    assert_eq!(m.trail, vec![INSTANCE.to_string(), G.to_string()]);
    // A second message waits for the first.
    t.later(10).say("carol", "second");
    assert!(t.https().is_empty());
    t.ok(&h1);
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::Dequeue { id } if *id == h1.outbox_id)));
    let h2 = t.https()[0].clone();
    assert_eq!(
        webhook::parse_native(&h2.req.body, 0).unwrap().body,
        "second"
    );
    assert_ne!(
        webhook::parse_native(&h2.req.body, 0).unwrap().id,
        m.id,
        "each message has its own id"
    );
    t.ok(&h2);
    assert!(t.https().is_empty());
    assert_eq!(t.core.outbox_depth(), 0);
    assert_eq!(t.core.route_stats.delivered, 2);
    assert!(t.cmd("alice", "//routes").contains("0 queued"));
}

#[test]
fn failures_back_off_then_resume_with_the_same_message() {
    let mut t = routed();
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    t.later(1000).say("bob", "one");
    let h = t.https()[0].clone();
    t.deliver(&h, Outcome::Failed("cannot connect".into()));
    assert!(t.https().is_empty());
    // 1 s later: the same message again.
    t.later(500).input(Input::Tick);
    assert!(t.https().is_empty());
    t.later(600).input(Input::Tick);
    let again = t.https()[0].clone();
    assert_eq!(again.outbox_id, h.outbox_id);
    t.deliver(
        &again,
        Outcome::Response {
            status: 503,
            body: vec![],
            retry_after: None,
        },
    );
    t.later(1500).input(Input::Tick);
    assert!(t.https().is_empty(), "second failure waits 2 s");
    t.later(600).input(Input::Tick);
    let third = t.https()[0].clone();
    // Retry-After wins when longer.
    t.deliver(
        &third,
        Outcome::Response {
            status: 429,
            body: vec![],
            retry_after: Some(30),
        },
    );
    t.later(29_000).input(Input::Tick);
    assert!(t.https().is_empty());
    t.later(1_100).input(Input::Tick);
    let fourth = t.https()[0].clone();
    let list = t.cmd("alice", "//routes");
    assert!(list.contains("HTTP 429"), "{list}");
    assert!(list.contains("1 queued"), "{list}");
    t.ok(&fourth);
    assert!(t.cmd("alice", "//routes").contains("0 queued"));
    assert_eq!(t.core.route_stats.failed, 3);
}

#[test]
fn refused_messages_are_dropped_and_old_ones_given_up() {
    let mut t = routed();
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    t.later(1000).say("bob", "one");
    let h = t.https()[0].clone();
    t.later(10).say("bob", "two");
    t.later(10).say("bob", "three");
    t.deliver(
        &h,
        Outcome::Response {
            status: 400,
            body: b"{\"error\":\"malformed\"}".to_vec(),
            retry_after: None,
        },
    );
    assert_eq!(t.core.route_stats.refused, 1);
    let h2 = t.https()[0].clone();
    assert_eq!(webhook::parse_native(&h2.req.body, 0).unwrap().body, "two");
    t.deliver(&h2, Outcome::Failed("down".into()));
    // max_age_hours = 1: after an hour both waiting messages are given up.
    t.later(3_600_000 + 1000).input(Input::Tick);
    assert!(t.https().is_empty());
    assert_eq!(t.core.route_stats.given_up, 2);
    assert_eq!(
        t.stores()
            .iter()
            .filter(|s| matches!(s, StoreOp::Dequeue { .. }))
            .count(),
        2
    );
    assert_eq!(t.core.outbox_depth(), 0);
}

#[test]
fn deleting_a_route_mid_delivery_drops_its_queue() {
    let mut t = routed();
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    t.later(1000).say("bob", "one");
    let h = t.https()[0].clone();
    t.say("bob", "two");
    assert_eq!(
        t.cmd("alice", "//delroute toa"),
        "OK, route toa deleted; 2 undelivered messages dropped."
    );
    t.ok(&h);
    assert!(t.https().is_empty() && t.stores().is_empty());
}

#[test]
fn outbox_resumes_from_the_snapshot() {
    let mut t = routed();
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    t.later(1000).say("bob", "kept");
    let stored: Vec<StoreOp> = t.stores().into_iter().cloned().collect();
    let route = t.core.groups["lobby"].routes["toa"].rec.clone();
    let outbox: Vec<_> = stored
        .into_iter()
        .filter_map(|s| match s {
            StoreOp::Enqueue(o) => Some(o),
            _ => None,
        })
        .collect();
    let snap = Snapshot {
        groups: vec![t.core.groups["lobby"].record()],
        routes: vec![route],
        max_outbox_id: outbox[0].id,
        outbox,
        instance_id: INSTANCE.into(),
        ..Snapshot::default()
    };
    let cfg = config("");
    let mut out = Vec::new();
    let mut core = Core::new(cfg.core(), snap, t.now + 5000, &mut out);
    assert_eq!(core.outbox_depth(), 1);
    out.clear();
    core.handle(t.now + 5000, Input::Tick, &mut out);
    let h: Vec<&HttpSend> = out
        .iter()
        .filter_map(|o| match o {
            Output::Http(h) => Some(h),
            _ => None,
        })
        .collect();
    assert_eq!(h.len(), 1);
    assert_eq!(
        webhook::parse_native(&h[0].req.body, 0).unwrap().body,
        "kept"
    );
}

#[test]
fn signed_posts_are_relayed_once_and_forwarded_except_noloop() {
    let mut t = routed();
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    t.cmd("alice", "//addroutesend toc password3 http://c/x");
    t.cmd("alice", "//addrouterecv froma password2 toa");
    let body = native("id-1", "dave", "hi from A", &["inst-a"]);
    t.later(1000).post("froma", &body, "password2");
    assert_eq!(t.status(), 200, "{:?}", t.post_reply());
    assert!(t.post_reply().body.contains("\"ok\""));
    for to in [A, B, C] {
        assert_eq!(t.one_body(to), "[dave@froma] hi from A");
    }
    // Sent long ago: clients see the original time.
    assert!(t.sent().iter().all(|e| e
        .get_child("delay", crate::core::stanza::NS_DELAY)
        .is_some()));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::Seen { id, .. } if id == "id-1")));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::AppendHistory(h) if h.nick == "dave@froma")));
    // Forwarded to toc only (toa is froma's NOLOOP), same id, trail extended.
    let h = t.https();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].route, "toc");
    let fwd = webhook::parse_native(&h[0].req.body, 0).unwrap();
    assert_eq!(fwd.id, "id-1");
    assert_eq!(fwd.nick, "dave");
    assert_eq!(fwd.origin, "lobby@a.example");
    assert_eq!(
        fwd.trail,
        vec!["inst-a".to_string(), INSTANCE.to_string(), G.to_string()]
    );
    // The same id again: 200, not relayed, not forwarded.
    t.later(10).post("froma", &body, "password2");
    assert_eq!(t.status(), 200);
    assert!(t.post_reply().body.contains("duplicate"));
    assert!(t.sent().is_empty() && t.https().is_empty() && t.stores().is_empty());
    // History shows it.
    assert!(t.cmd("bob", "//history 1").contains("dave@froma"));
}

#[test]
fn loops_and_long_trails_are_dropped() {
    let mut t = routed();
    t.cmd("alice", "//addrouterecv froma password2");
    t.later(1000).post(
        "froma",
        &native("x1", "d", "loop", &["inst-a", INSTANCE]),
        "password2",
    );
    assert_eq!(t.status(), 200);
    assert!(t.post_reply().body.contains("loop"));
    assert!(t.sent().is_empty());
    let nine: Vec<String> = (0..9).map(|i| format!("i{i}")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    t.post("froma", &native("x2", "d", "far", &nine), "password2");
    assert_eq!(t.status(), 200);
    assert!(t.post_reply().body.contains("trail"));
    assert!(t.sent().is_empty());
    let eight: Vec<String> = (0..8).map(|i| format!("i{i}")).collect();
    let eight: Vec<&str> = eight.iter().map(String::as_str).collect();
    t.post("froma", &native("x3", "d", "near", &eight), "password2");
    assert_eq!(t.bodies(A), ["[d@froma] near"]);
    // Group JIDs recorded beside the instance ids do not count as hops.
    let jids: Vec<String> = (0..8)
        .flat_map(|i| [format!("i{i}"), format!("g@groups{i}.example")])
        .collect();
    let jids: Vec<&str> = jids.iter().map(String::as_str).collect();
    t.post("froma", &native("x4", "d", "via", &jids), "password2");
    assert_eq!(t.bodies(A), ["[d@froma] via"]);
    // ... but a trail cannot grow without bound.
    let many: Vec<String> = (0..40).map(|i| format!("g{i}@x.example")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    t.post("froma", &native("x5", "d", "many", &many), "password2");
    assert!(t.post_reply().body.contains("trail"));
    assert!(t.sent().is_empty());
}

#[test]
fn post_errors_have_their_status() {
    let mut t = routed();
    t.cmd("alice", "//addrouterecv froma password2");
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    let good = native("e1", "d", "x", &[]);
    let now_s = (t.now / 1000).to_string();
    let sig = |body: &str, ts: &str| Some(webhook::sign("password2", ts, body.as_bytes()));
    type Case<'a> = (
        &'a str,
        &'a str,
        String,
        Option<String>,
        Option<String>,
        u16,
    );
    let cases: Vec<Case> = vec![
        (
            "nosuch",
            "froma",
            good.clone(),
            Some(now_s.clone()),
            sig(&good, &now_s),
            404,
        ),
        (
            "lobby",
            "nosuch",
            good.clone(),
            Some(now_s.clone()),
            sig(&good, &now_s),
            404,
        ),
        (
            "lobby",
            "toa",
            good.clone(),
            Some(now_s.clone()),
            sig(&good, &now_s),
            404,
        ),
        (
            "lobby",
            "froma",
            good.clone(),
            Some(now_s.clone()),
            Some("sha256=00".into()),
            401,
        ),
        (
            "lobby",
            "froma",
            good.clone(),
            None,
            sig(&good, &now_s),
            401,
        ),
        (
            "lobby",
            "froma",
            good.clone(),
            Some(now_s.clone()),
            None,
            401,
        ),
        (
            "lobby",
            "froma",
            "{nope".into(),
            Some(now_s.clone()),
            sig("{nope", &now_s),
            400,
        ),
        (
            "lobby",
            "froma",
            native("e2", "d", " ", &[]),
            Some(now_s.clone()),
            sig(&native("e2", "d", " ", &[]), &now_s),
            400,
        ),
    ];
    for (group, route, body, ts, s, want) in cases {
        t.raw_post(group, route, &body, ts, s, false);
        assert_eq!(
            t.status(),
            want,
            "{group}/{route} {body}: {:?}",
            t.post_reply()
        );
        assert!(t.post_reply().body.contains("\"error\""));
        assert!(t.sent().is_empty() && t.stores().is_empty() && t.https().is_empty());
    }
    // Clock skew: more than 5 minutes either way is 409; 5 minutes is fine.
    for (delta, want) in [(-301, 409), (301, 409), (300, 200), (-300, 200)] {
        let ts = (t.now / 1000 + delta).to_string();
        let body = native(&format!("skew{delta}"), "d", "x", &[]);
        let s = sig(&body, &ts);
        t.raw_post("lobby", "froma", &body, Some(ts), s, false);
        assert_eq!(t.status(), want, "delta {delta}");
    }
    // Over relay.max_body characters.
    let long = native("big", "d", &"x".repeat(10_001), &[]);
    t.post("froma", &long, "password2");
    assert_eq!(t.status(), 413);
}

#[test]
fn outgoing_webhook_posts_are_authenticated_by_token_and_deduplicated() {
    let mut t = routed();
    t.cmd("alice", "//addrouterecv mm password2");
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    let body =
        r#"{"token":"password2","user_name":"erin","text":"from mattermost","post_id":"p1"}"#;
    t.later(1000)
        .raw_post("lobby", "mm", body, None, None, false);
    assert_eq!(t.status(), 200);
    assert_eq!(t.one_body(B), "[erin@mm] from mattermost");
    // Forwarded as a new message of this instance.
    let fwd = webhook::parse_native(&t.https()[0].req.body, 0).unwrap();
    assert_eq!(fwd.trail, vec![INSTANCE.to_string(), G.to_string()]);
    assert_eq!(fwd.origin, G);
    t.raw_post("lobby", "mm", body, None, None, false);
    assert!(t.post_reply().body.contains("duplicate"));
    let bad = r#"{"token":"wrongpass","user_name":"erin","text":"x"}"#;
    t.raw_post("lobby", "mm", bad, None, None, false);
    assert_eq!(t.status(), 401);
    let form = "token=password2&user_name=fay&text=form+post";
    t.raw_post("lobby", "mm", form, None, None, true);
    assert_eq!(t.status(), 200);
    assert_eq!(t.one_body(B), "[fay@mm] form post");
    let bot = r#"{"token":"password2","user_name":"bot","text":"echo","bot":{"i":"1"}}"#;
    t.raw_post("lobby", "mm", bot, None, None, false);
    assert!(t.post_reply().body.contains("bot"));
    assert!(t.sent().is_empty());
}

#[test]
fn remote_nicks_cannot_fake_a_speaker() {
    let mut t = routed();
    t.cmd("alice", "//addrouterecv froma password2");
    let body = native("n1", "bob] [alice\u{202E}", "x", &[]);
    t.later(1000).post("froma", &body, "password2");
    assert_eq!(t.one_body(B), "[bob alice@froma] x");
}

#[test]
fn route_formats_parse() {
    for f in RouteFormat::ALL {
        assert_eq!(RouteFormat::parse(&f.as_str().to_uppercase()), Some(f));
    }
    let t = routed();
    assert!(t.core.groups["lobby"].routes.is_empty());
    let _ = RouteKind::Recv { noloop: None };
}

#[test]
fn the_next_deadline_is_a_failed_deliverys_retry() {
    let mut t = routed();
    t.cmd("alice", "//addroutesend toa password1 http://a/x");
    // The joins and the command changed the group: its status is due once
    // settled.
    assert_eq!(t.core.next_deadline(), t.now + 500);
    t.later(500).input(Input::Tick);
    assert_eq!(
        t.core.next_deadline(),
        t.now - 500 + 3_600_000,
        "only the pruning"
    );
    t.say("alice", "one");
    let h = t.https()[0].clone();
    t.deliver(&h, Outcome::Failed("down".into()));
    // Backoff: the first retry a second later; the core wants a tick then.
    let retry = t.now + 1000;
    assert_eq!(t.core.next_deadline(), retry);
    t.now = retry;
    t.input(Input::Tick);
    assert_eq!(t.https().len(), 1, "retried at the deadline");
    // In flight: the result is an input, no deadline for it.
    assert!(t.core.next_deadline() > t.now + 60_000);
}

#[test]
fn two_groups_of_one_instance_link_by_routes_without_a_loop() {
    let mut t = routed();
    t.cmd("alice", "//addrouterecv fromcafe password2");
    // A post from group cafe of this same instance: the trail names the
    // instance and the group it passed.
    let cafe = "cafe@groups.localhost";
    t.later(1000).post(
        "fromcafe",
        &native("c1", "dora", "hello lobby", &[INSTANCE, cafe]),
        "password2",
    );
    assert_eq!(t.status(), 200);
    assert_eq!(t.bodies(A), ["[dora@fromcafe] hello lobby"]);
    // Back at a group it passed: a loop.
    t.post(
        "fromcafe",
        &native("c2", "dora", "round trip", &[INSTANCE, cafe, INSTANCE, G]),
        "password2",
    );
    assert!(t.post_reply().body.contains("loop"), "{:?}", t.post_reply());
    assert!(t.sent().is_empty());
    // This instance without any group of it named: still a loop (older trails).
    t.post(
        "fromcafe",
        &native("c3", "dora", "old trail", &["inst-a", INSTANCE]),
        "password2",
    );
    assert!(t.post_reply().body.contains("loop"));
    assert!(t.sent().is_empty());
}
