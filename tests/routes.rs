//! HTTP routes end to end: real talkgroups binaries as components of one
//! real Prosody or ejabberd (each scenario runs against both), real c2s clients, linked over loopback HTTP; and send
//! routes into a local HTTP sink that checks what each format posts.

mod support;

use std::time::Duration;

use hmac::{KeyInit, Mac};
use support::sink::Sink;
use support::{
    body_of, free_port, is_from_bare, join, Kind, Server, Talkgroups, TestClient, SECRET,
};

const T: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(1500);

support::for_each_server!(
    linked_instances_cross_once_and_a_triangle_does_not_loop,
    outbox_waits_for_a_far_side_that_is_down_and_survives_a_restart,
    every_webhook_format_posts_its_shape_and_outgoing_webhooks_come_in,
);

fn instance(p: &Server, domain: &str, admin: &str, http: u16) -> Talkgroups {
    Talkgroups::start_as(
        p,
        domain,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby {domain}\"\njoin = \"open\"\nadmins = [\"{admin}@localhost\"]\n"
        ),
    )
}

async fn cmd(c: &mut TestClient, to: &str, body: &str) -> String {
    c.send_message(to, body).await;
    c.expect_body_from(to, T).await
}

async fn ok(c: &mut TestClient, to: &str, body: &str) {
    let r = cmd(c, to, body).await;
    assert!(r.starts_with("OK"), "{body} → {r}");
}

/// Every message body from `group` that arrives within `quiet` of the last.
async fn bodies_from(c: &mut TestClient, group: &str, quiet: Duration) -> Vec<String> {
    c.drain_for(quiet)
        .await
        .iter()
        .filter(|e| e.name() == "message" && is_from_bare(e, group))
        .filter_map(body_of)
        .collect()
}

async fn linked_instances_cross_once_and_a_triangle_does_not_loop(kind: Kind) {
    let (da, db, dc) = (
        "groups-a.localhost",
        "groups-b.localhost",
        "groups-c.localhost",
    );
    // One Prosody with three components; for ejabberd, one listener each.
    let p = Server::start(kind, &[(da, SECRET), (db, SECRET), (dc, SECRET)]);
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    let tga = instance(&p, da, "ann", pa);
    let tgb = instance(&p, db, "ben", pb);
    let tgc = instance(&p, dc, "cat", pc);
    let (la, lb, lc) = (
        format!("lobby@{da}"),
        format!("lobby@{db}"),
        format!("lobby@{dc}"),
    );
    let mut ann = join(&p, "ann", &la).await;
    let mut al = join(&p, "al", &la).await;
    let mut ben = join(&p, "ben", &lb).await;
    let mut bo = join(&p, "bo", &lb).await;
    let mut cat = join(&p, "cat", &lc).await;
    let mut cy = join(&p, "cy", &lc).await;
    for c in [&mut ann, &mut al, &mut ben, &mut bo, &mut cat, &mut cy] {
        c.drain_for(Duration::from_millis(300)).await;
    }

    // A and B linked both ways, by their admins, from their chat clients.
    let url = |port: u16, from: &str| format!("http://127.0.0.1:{port}/routes/lobby/{from}");
    ok(
        &mut ann,
        &la,
        &format!("//addroutesend tob pw-a-to-b {}", url(pb, "froma")),
    )
    .await;
    ok(&mut ann, &la, "//addrouterecv fromb pw-b-to-a tob").await;
    ok(
        &mut ben,
        &lb,
        &format!("//addroutesend toa pw-b-to-a {}", url(pa, "fromb")),
    )
    .await;
    ok(&mut ben, &lb, "//addrouterecv froma pw-a-to-b toa").await;

    al.send_message(&la, "one from A").await;
    assert_eq!(bodies_from(&mut ann, &la, QUIET).await, ["[al] one from A"]);
    assert_eq!(
        bodies_from(&mut bo, &lb, QUIET).await,
        ["[al@froma] one from A"]
    );
    assert_eq!(
        bodies_from(&mut ben, &lb, QUIET).await,
        ["[al@froma] one from A"]
    );
    bo.send_message(&lb, "one from B").await;
    assert_eq!(
        bodies_from(&mut al, &la, QUIET).await,
        ["[bo@fromb] one from B"]
    );
    assert_eq!(
        bodies_from(&mut ann, &la, QUIET).await,
        ["[bo@fromb] one from B"]
    );
    assert_eq!(bodies_from(&mut ben, &lb, QUIET).await, ["[bo] one from B"]);
    assert!(bodies_from(&mut bo, &lb, QUIET).await.is_empty());

    // Close a triangle A → B → C → A (B → A stays too).
    ok(
        &mut ben,
        &lb,
        &format!("//addroutesend toc pw-b-to-c {}", url(pc, "fromb")),
    )
    .await;
    ok(&mut cat, &lc, "//addrouterecv fromb pw-b-to-c").await;
    ok(
        &mut cat,
        &lc,
        &format!("//addroutesend toa pw-c-to-a {}", url(pa, "fromc")),
    )
    .await;
    ok(&mut ann, &la, "//addrouterecv fromc pw-c-to-a").await;

    al.send_message(&la, "round the triangle").await;
    cy.send_message(&lc, "from C").await;
    let quiet = Duration::from_secs(3);
    let mut a = bodies_from(&mut ann, &la, quiet).await;
    a.sort();
    assert_eq!(a, ["[al] round the triangle", "[cy@fromc] from C"]);
    assert_eq!(
        bodies_from(&mut al, &la, quiet).await,
        ["[cy@fromc] from C"]
    );
    for (c, g) in [(&mut ben, &lb), (&mut bo, &lb)] {
        let mut b = bodies_from(c, g, quiet).await;
        b.sort();
        assert_eq!(b, ["[al@froma] round the triangle", "[cy@froma] from C"]);
    }
    let mut c = bodies_from(&mut cat, &lc, quiet).await;
    c.sort();
    assert_eq!(c, ["[al@fromb] round the triangle", "[cy] from C"]);
    assert_eq!(
        bodies_from(&mut cy, &lc, quiet).await,
        ["[al@fromb] round the triangle"]
    );

    // Status is visible to the admin; nothing is left queued.
    let routes = cmd(&mut ann, &la, "//routes").await;
    assert!(routes.contains("send tob →"), "{routes}");
    assert!(routes.contains("0 queued"), "{routes}");
    assert!(!routes.contains("pw-a-to-b"), "{routes}");
    let metrics = reqwest::get(format!("http://127.0.0.1:{pa}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("talkgroups_outbox_depth 0"), "{metrics}");
    assert!(
        metrics.contains("talkgroups_route_sends_total{outcome=\"delivered\"}"),
        "{metrics}"
    );
    // Route passwords never reach the logs (which run at debug level).
    for tg in [&tga, &tgb, &tgc] {
        let log = tg.log();
        for pw in ["pw-a-to-b", "pw-b-to-a", "pw-b-to-c", "pw-c-to-a"] {
            assert!(!log.contains(pw), "{pw} in the log:\n{log}");
        }
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

fn one_group() -> String {
    "[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n"
        .into()
}

const LOBBY: &str = "lobby@groups.localhost";

async fn outbox_waits_for_a_far_side_that_is_down_and_survives_a_restart(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, SECRET)]);
    let mut tg = Talkgroups::start(&p, &one_group());
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.drain_for(Duration::from_millis(300)).await;
    let port = free_port();
    ok(
        &mut alice,
        LOBBY,
        &format!("//addroutesend far password1 http://127.0.0.1:{port}/routes/lobby/near"),
    )
    .await;
    for i in 1..=5 {
        bob.send_message(LOBBY, &format!("m{i}")).await;
    }
    assert_eq!(bodies_from(&mut alice, LOBBY, QUIET).await.len(), 5);
    let routes = cmd(&mut alice, LOBBY, "//routes").await;
    assert!(routes.contains("5 queued"), "{routes}");
    assert!(routes.contains("cannot connect"), "{routes}");

    // The sender restarts while the far side is still down.
    assert_eq!(tg.stop(), Some(0));
    tg.restart();
    bob.wait_for(T, |e| {
        e.name() == "presence" && is_from_bare(e, LOBBY) && e.attr("type").is_none()
    })
    .await;
    bob.send_message(LOBBY, "m6").await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The far side comes up: everything arrives, in order, once.
    let sink = Sink::start(port).await;
    let hits = sink.wait_for(6, Duration::from_secs(40)).await;
    tokio::time::sleep(QUIET).await;
    let hits = if sink.hits().len() > hits.len() {
        sink.hits()
    } else {
        hits
    };
    let bodies: Vec<String> = hits
        .iter()
        .map(|h| h.json()["body"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(bodies, ["m1", "m2", "m3", "m4", "m5", "m6"]);
    let mut ids: Vec<String> = hits.iter().map(|h| h.json()["id"].to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "each message has its own id");
    for h in &hits {
        assert_eq!(h.path, "/routes/lobby/near");
        let ts = h.header("x-talkgroups-timestamp");
        let want = format!(
            "sha256={}",
            hex::encode(hmac_sha256(b"password1", &[ts.as_bytes(), b".", &h.body]))
        );
        assert_eq!(h.header("x-talkgroups-signature"), want);
        let j = h.json();
        assert_eq!(j["origin"], LOBBY);
        assert_eq!(j["nick"], "bob");
        // This instance's id, then the group's JID.
        assert_eq!(j["trail"].as_array().map(Vec::len), Some(2));
        assert_eq!(j["trail"][1], LOBBY);
    }
    assert_eq!(bodies_from(&mut alice, LOBBY, QUIET).await, ["[bob] m6"]);
    let routes = cmd(&mut alice, LOBBY, "//routes").await;
    assert!(routes.contains("0 queued"), "{routes}");
}

async fn every_webhook_format_posts_its_shape_and_outgoing_webhooks_come_in(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, SECRET)]);
    let http = free_port();
    let _tg = Talkgroups::start(
        &p,
        &format!("[http]\nlisten = \"127.0.0.1:{http}\"\n\n{}", one_group()),
    );
    let mut alice = join(&p, "alice", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    alice.drain_for(Duration::from_millis(300)).await;
    let sp = free_port();
    let sink = Sink::start(sp).await;
    let base = format!("http://127.0.0.1:{sp}");
    for (name, pass, path, format) in [
        ("s", "-", "/slack", "slack"),
        ("d", "-", "/discord", "discord"),
        ("w", "-", "/wecom", "wecom"),
        ("f", "feishu-secret", "/feishu", "feishu"),
        ("mb", "bridge-token", "/mb", "matterbridge"),
    ] {
        ok(
            &mut alice,
            LOBBY,
            &format!("//addroutesend {name} {pass} {base}{path} {format}"),
        )
        .await;
    }
    bob.send_message(LOBBY, "hello formats").await;
    let hits = sink.wait_for(5, T).await;
    assert_eq!(hits.len(), 5, "{hits:?}");
    assert_eq!(
        bodies_from(&mut alice, LOBBY, QUIET).await,
        ["[bob] hello formats"]
    );
    let by = |p: &str| {
        hits.iter()
            .find(|h| h.path == p)
            .unwrap_or_else(|| panic!("nothing posted to {p}: {hits:?}"))
    };
    let line = "[bob] hello formats";
    assert_eq!(by("/slack").json(), serde_json::json!({ "text": line }));
    assert_eq!(
        by("/discord").json(),
        serde_json::json!({ "content": line, "username": "bob" })
    );
    assert_eq!(
        by("/wecom").json(),
        serde_json::json!({ "msgtype": "text", "text": { "content": line } })
    );
    let f = by("/feishu").json();
    assert_eq!(f["msg_type"], "text");
    assert_eq!(f["content"]["text"], line);
    let ts = f["timestamp"].as_str().expect("feishu timestamp");
    let key = format!("{ts}\nfeishu-secret");
    let want = base64_std(&hmac_sha256(key.as_bytes(), &[]));
    assert_eq!(f["sign"], want);
    let mb = by("/mb/api/message");
    assert_eq!(mb.header("authorization"), "Bearer bridge-token");
    assert_eq!(
        mb.json(),
        serde_json::json!({ "text": "hello formats", "username": "bob", "gateway": "mb" })
    );
    for h in &hits {
        assert!(h.header("content-type").starts_with("application/json"));
    }

    // Outgoing webhooks (Mattermost, Rocket.Chat) post into a receive route.
    ok(&mut alice, LOBBY, "//addrouterecv mm hook-token-1 s").await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{http}/routes/lobby/mm");
    let post = serde_json::json!({
        "token": "hook-token-1", "user_name": "erin", "text": "from mattermost", "post_id": "p-1"
    });
    for _ in 0..2 {
        // The retry of the same post is not relayed twice.
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .body(post.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=hook-token-1&user_name=fay&text=a+form")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"token":"wrong-token","user_name":"x","text":"no"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        bodies_from(&mut bob, LOBBY, QUIET).await,
        ["[erin@mm] from mattermost", "[fay@mm] a form"]
    );
    // Sent on to the other routes, but not back to slack route `s` (NOLOOP).
    let hits = sink.wait_for(5 + 2 * 4, T).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(sink.hits().len(), hits.len());
    assert_eq!(hits.iter().filter(|h| h.path == "/slack").count(), 1);
    assert_eq!(hits.iter().filter(|h| h.path == "/discord").count(), 3);
    let health = reqwest::get(format!("http://127.0.0.1:{http}/healthz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(health.contains("\"connected\""), "{health}");
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
