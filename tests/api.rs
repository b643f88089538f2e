//! The operations API end to end (first slice): tokens made with the real
//! binary's `talkgroups token` while the component runs, 401 and 403, the
//! groups and members as JSON, a message posted through the API reaching
//! real XMPP clients, and the history read back. Against Prosody and
//! ejabberd.

mod support;

use std::time::Duration;

use support::{body_of, free_port, is_from_bare, join, Kind, Server, Talkgroups};

const T: Duration = Duration::from_secs(10);
const LOBBY: &str = "lobby@groups.localhost";

support::for_each_server!(
    tokens_scopes_groups_and_messages,
    events_stream_live_and_resume
);

async fn tokens_scopes_groups_and_messages(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, support::SECRET)]);
    let http = free_port();
    let tg = Talkgroups::start(
        &p,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"ann@localhost\"]\n\n[[group]]\nname = \"den\"\njoin = \"open\"\n"
        ),
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    for c in [&mut ann, &mut bob] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    // Tokens made while the component runs work at once.
    let (ok, service, err) = tg.token(&["add", "--scope", "service", "--label", "ops"]);
    assert!(ok, "{err}");
    assert!(service.starts_with("tg_"), "{service}");
    let (ok, group, _) = tg.token(&["add", "--scope", "group:lobby"]);
    assert!(ok);
    let (ok, _, err) = tg.token(&["add", "--scope", "admin"]);
    assert!(!ok && err.contains("--scope"), "{err}");
    let (_, list, _) = tg.token(&["list"]);
    assert!(list.contains("service") && list.contains("group:lobby") && list.contains("ops"));
    assert!(
        !list.contains(&service) && !list.contains(&group),
        "never the tokens"
    );

    let base = format!("http://127.0.0.1:{http}/api/v1");
    let c = reqwest::Client::new();
    let get = |path: &str, tok: &str| c.get(format!("{base}/{path}")).bearer_auth(tok).send();
    let r = c.get(format!("{base}/groups")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = get("groups", "tg_wrong").await.unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r
        .text()
        .await
        .unwrap()
        .parse::<serde_json::Value>()
        .unwrap();
    assert_eq!(v["error"], "unauthorized");
    let r = get("groups/den", &group).await.unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = get("groups", &service)
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse::<serde_json::Value>()
        .unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    let v: serde_json::Value = get("groups", &group)
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse::<serde_json::Value>()
        .unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["name"], "lobby");
    assert_eq!(v[0]["members"], 2);
    let v: serde_json::Value = get("groups/lobby/members", &group)
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse::<serde_json::Value>()
        .unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");

    // A message through the API reaches the members' clients, once.
    let r = c
        .post(format!("{base}/groups/lobby/messages"))
        .bearer_auth(&group)
        .header("content-type", "application/json")
        .body(serde_json::json!({"body": "deploy done", "nick": "ci"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    for cl in [&mut ann, &mut bob] {
        let got: Vec<String> = cl
            .drain_for(Duration::from_millis(1200))
            .await
            .iter()
            .filter(|e| e.name() == "message" && is_from_bare(e, LOBBY))
            .filter_map(body_of)
            .collect();
        assert_eq!(got, ["[ci] deploy done"]);
    }
    bob.send_message(LOBBY, "thanks").await;
    ann.expect_body_from(LOBBY, T).await;
    let v: serde_json::Value = get("groups/lobby/messages?limit=2", &group)
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse::<serde_json::Value>()
        .unwrap();
    let bodies: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(bodies, ["deploy done", "thanks"]);
    // A group admin makes a token from their client; it works at once.
    ann.send_message(LOBBY, "//token new from chat").await;
    let reply = ann.expect_body_from(LOBBY, T).await;
    let chat_token = reply.lines().nth(1).map(str::to_string).unwrap_or_default();
    assert!(chat_token.starts_with("tg_"), "{reply}");
    assert_eq!(
        get("groups/lobby", &chat_token).await.unwrap().status(),
        200
    );
    assert_eq!(get("groups/den", &chat_token).await.unwrap().status(), 403);
    // A PUT of a new member: their client gets the group's request.
    p.register("dora", "pw");
    let mut dora = support::TestClient::connect_online(&p, "dora", "pw", "r").await;
    let r = c
        .put(format!("{base}/groups/lobby/members/dora@localhost"))
        .bearer_auth(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    dora.wait_for(T, |e| {
        e.name() == "presence" && is_from_bare(e, LOBBY) && e.attr("type") == Some("subscribe")
    })
    .await;
    // An unknown field is refused by name; a revoked token is refused.
    let r = c
        .post(format!("{base}/groups/lobby/messages"))
        .bearer_auth(&group)
        .header("content-type", "application/json")
        .body(serde_json::json!({"body": "x", "colour": "red"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r
        .text()
        .await
        .unwrap()
        .parse::<serde_json::Value>()
        .unwrap();
    assert!(v["message"].as_str().unwrap_or_default().contains("colour"));
    let id = list
        .lines()
        .find(|l| l.contains("group:lobby"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    // The chat's `//token list` shows the token made on the command line
    // while the component ran, and no longer once it is revoked there.
    ann.send_message(LOBBY, "//token list").await;
    let listed = ann.expect_body_from(LOBBY, T).await;
    assert!(listed.contains(&id), "{listed}");
    let (ok, _, err) = tg.token(&["revoke", &id]);
    assert!(ok, "{err}");
    assert_eq!(get("groups", &group).await.unwrap().status(), 401);
    ann.send_message(LOBBY, "//token list").await;
    let listed = ann.expect_body_from(LOBBY, T).await;
    assert!(!listed.contains(&id), "{listed}");
    assert!(!tg.log().contains(&service) && !tg.log().contains(&group));
}

/// Reads an SSE response until `pred` holds for the text so far.
async fn read_until(r: &mut reqwest::Response, pred: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + T;
    while !pred(&text) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, r.chunk()).await {
            Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
            other => panic!("stream ended or timed out ({other:?}); got:\n{text}"),
        }
    }
    text
}

async fn events_stream_live_and_resume(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, support::SECRET)]);
    let http = free_port();
    let tg = Talkgroups::start(
        &p,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"ann@localhost\"]\n\n[[group]]\nname = \"den\"\njoin = \"open\"\n"
        ),
    );
    let (_, tok, _) = tg.token(&["add", "--scope", "group:lobby"]);
    let mut ann = join(&p, "ann", LOBBY).await;
    ann.drain_for(Duration::from_millis(300)).await;
    let c = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{http}/api/v1/groups/lobby/events");
    let r = c
        .get(url.replace("lobby", "den"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let mut r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    // A member's message, then a join: live.
    ann.send_message(LOBBY, "live one").await;
    let text = read_until(&mut r, |t| t.contains("live one")).await;
    assert!(text.contains("event: message"), "{text}");
    let id: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("an id");
    let _bob = join(&p, "bob", LOBBY).await;
    let text = read_until(&mut r, |t| t.contains("event: join")).await;
    assert!(text.contains("bob@localhost"), "{text}");
    drop(r);
    // Gone while two more were said: they come back with Last-Event-ID.
    ann.send_message(LOBBY, "missed two").await;
    ann.send_message(LOBBY, "missed three").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut r = c
        .get(&url)
        .bearer_auth(&tok)
        .header("last-event-id", id.to_string())
        .send()
        .await
        .unwrap();
    let text = read_until(&mut r, |t| t.contains("missed three")).await;
    assert!(text.contains("missed two"), "{text}");
    assert!(
        !text.contains("live one"),
        "only what came after the id: {text}"
    );
}
