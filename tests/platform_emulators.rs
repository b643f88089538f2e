//! Self-tests of the platform emulators (tests/support/platforms.rs): their
//! crypto against the platforms' own published examples, their inbound
//! builders against the documented formulas, and their outbound receivers'
//! checks and rate-limit answers.

mod support;

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use support::platforms::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// ---------------------------------------------------------------------------
// Published vectors
// ---------------------------------------------------------------------------

/// Slack, "Verifying requests from Slack"
/// (https://api.slack.com/authentication/verifying-requests-from-slack), the
/// worked example with the slash-command body. Confirmed through the code
/// search: many independent verifiers quote the same secret, timestamp,
/// body and signature from that page.
#[test]
fn slack_signature_matches_the_published_example() {
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    assert_eq!(
        Slack::signature(secret, 1531420618, body.as_bytes()),
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    );
}

/// Feishu, "接收事件" / "Encrypt Key" decryption example
/// (https://open.feishu.cn/document/ukTMukTMukTM/uYDNxYjL2QTM24iN0EjN/event-subscription-configure-/encrypt-key-encryption-configuration-case):
/// key "test key", encrypt "P37w+…ghk=" → "hello world". Confirmed through
/// the code search (the official SDK examples and several SDKs' tests).
#[test]
fn feishu_decryption_matches_the_published_example() {
    let plain = Feishu::decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
        .expect("decrypts");
    assert_eq!(plain, b"hello world");
    assert!(Feishu::decrypt("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=").is_err());
    // And our encryption is its inverse.
    let enc = Feishu::encrypt("test key", b"hello world");
    assert_ne!(
        enc, "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=",
        "fresh IV"
    );
    assert_eq!(Feishu::decrypt("test key", &enc).unwrap(), b"hello world");
}

/// WeCom, the WXBizMsgCrypt samples ("加解密库下载与返回码", Sample.cpp /
/// Sample.cs / Sample.py, "使用示例一：验证回调URL"): token QDG6eK,
/// EncodingAESKey jWmYm7…B2C, receive id wx5823bf96d3bd56c7. Confirmed
/// through the code search (the samples as vendored in many projects).
#[test]
fn wecom_verify_url_matches_the_published_sample() {
    let key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let echostr =
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
    assert_eq!(
        Wecom::signature("QDG6eK", "1409659589", "263014780", echostr),
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    );
    let (msg, rid) = Wecom::decrypt(key, echostr).expect("decrypts");
    assert_eq!(String::from_utf8(msg).unwrap(), "1616140317555161061");
    assert_eq!(rid, "wx5823bf96d3bd56c7");
    // The key's last digit has non-zero trailing bits: a strict decoder
    // refuses it, which is why the emulator decodes leniently.
    assert!(B64.decode(format!("{key}=")).is_err());
    assert_eq!(Wecom::aes_key(key).len(), 32);
}

/// WeCom, the same samples' "使用示例二：对用户回复的消息解密" (DecryptMsg):
/// msg_signature 477715d1…f3e6, timestamp 1409659813, nonce 1372623149.
/// Confirmed through the code search (the samples and SDK tests quoting them).
#[test]
fn wecom_decrypt_msg_matches_the_published_sample() {
    let key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let encrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
    assert_eq!(
        Wecom::signature("QDG6eK", "1409659813", "1372623149", encrypt),
        "477715d11cdb4164915debcba66cb864d751f3e6"
    );
    let (msg, rid) = Wecom::decrypt(key, encrypt).expect("decrypts");
    let msg = String::from_utf8(msg).unwrap();
    assert_eq!(rid, "wx5823bf96d3bd56c7");
    assert!(msg.starts_with("<xml>"), "{msg}");
    assert!(
        msg.contains("<Content><![CDATA[hello]]></Content>"),
        "{msg}"
    );
    assert!(msg.contains("4561255354251345929"), "{msg}");
}

/// DingTalk publishes the signing formula ("自定义机器人安全设置" / "加签",
/// and the outgoing robot's "接收消息") with sample code that signs the
/// current time, but no fixed (timestamp, secret, sign) triple: no published
/// vector could be confirmed. This checks the emulator against the formula
/// as written in the docs' Python sample instead.
#[test]
fn dingtalk_sign_follows_the_documented_formula() {
    let secret = "this is secret"; // the docs' sample secret
    let ts = 1_700_000_000_000_i64;
    let want = B64.encode(hmac_sha256(
        secret.as_bytes(),
        format!("{ts}\n{secret}").as_bytes(),
    ));
    assert_eq!(Dingtalk::sign(secret, ts), want);
    // The key is the secret, not the string to sign.
    let swapped = B64.encode(hmac_sha256(
        format!("{ts}\n{secret}").as_bytes(),
        secret.as_bytes(),
    ));
    assert_ne!(Dingtalk::sign(secret, ts), swapped);
}

// ---------------------------------------------------------------------------
// Inbound builders follow their formulas
// ---------------------------------------------------------------------------

#[test]
fn slack_builders() {
    let s = Slack::new("sekrit");
    let c = s.message("Ev1", "alice", "hi there");
    let ts: i64 = c
        .header("X-Slack-Request-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!((now_secs() - ts).abs() < 5);
    assert_eq!(
        c.header("X-Slack-Signature").unwrap(),
        Slack::signature("sekrit", ts, &c.body)
    );
    let v = c.json();
    assert_eq!(v["type"], "event_callback");
    assert_eq!(v["event_id"], "Ev1");
    assert_eq!(v["event"]["type"], "message");
    assert_eq!(v["event"]["user_profile"]["display_name"], "alice");
    assert_eq!(v["event"]["ts"], c.message_id.as_str());
    let e = s.edit("Ev2", &c.message_id, "alice", "hi!");
    assert_eq!(e.json()["event"]["subtype"], "message_changed");
    assert_eq!(e.json()["event"]["message"]["ts"], c.message_id.as_str());
    assert_eq!(
        s.own_post_echo("Ev3", "x").json()["event"]["subtype"],
        "bot_message"
    );
    assert_eq!(s.verification("ch").json()["challenge"], "ch");
    let f = s.forged("Ev4", "alice", "x");
    let fts: i64 = f
        .header("X-Slack-Request-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(
        f.header("X-Slack-Signature").unwrap(),
        Slack::signature("sekrit", fts, &f.body)
    );
    let st = s.stale("Ev5", "alice", "x");
    let sts: i64 = st
        .header("X-Slack-Request-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(now_secs() - sts > 300);
    assert_eq!(
        st.header("X-Slack-Signature").unwrap(),
        Slack::signature("sekrit", sts, &st.body)
    );
}

#[test]
fn feishu_builders() {
    let plain = Feishu::new("vtoken", None);
    let v = plain.message("ev1", "bob", "hello \"quoted\"").json();
    assert_eq!(v["schema"], "2.0");
    assert_eq!(v["header"]["token"], "vtoken");
    assert_eq!(v["header"]["event_type"], "im.message.receive_v1");
    let content: Value =
        serde_json::from_str(v["event"]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"text": "hello \"quoted\""}));

    let enc = Feishu::new("vtoken", Some("ekey"));
    let c = enc.message("ev2", "bob", "secret text");
    let sig = Feishu::signature(
        c.header("X-Lark-Request-Timestamp").unwrap(),
        c.header("X-Lark-Request-Nonce").unwrap(),
        "ekey",
        &c.body,
    );
    assert_eq!(c.header("X-Lark-Signature").unwrap(), sig);
    let inner = Feishu::decrypt("ekey", c.json()["encrypt"].as_str().unwrap()).unwrap();
    let inner: Value = serde_json::from_slice(&inner).unwrap();
    assert_eq!(inner["header"]["event_id"], "ev2");
    assert_eq!(inner["event"]["sender"]["sender_type"], "user");
    let echo = enc.own_post_echo("ev3", "x");
    let inner = Feishu::decrypt("ekey", echo.json()["encrypt"].as_str().unwrap()).unwrap();
    assert!(String::from_utf8(inner)
        .unwrap()
        .contains(r#""sender_type":"app""#));
    assert!(enc.verification("c").header("X-Lark-Signature").is_none());
    let forged = enc.forged("ev4", "bob", "x");
    assert_ne!(
        forged.header("X-Lark-Signature").unwrap(),
        Feishu::signature(
            forged.header("X-Lark-Request-Timestamp").unwrap(),
            forged.header("X-Lark-Request-Nonce").unwrap(),
            "ekey",
            &forged.body
        )
    );
}

#[test]
fn wecom_builders() {
    let key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let w = Wecom::new("tok", key, "");
    let c = w.message("m1", "carol", "ni hao");
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(c.path_and_query.trim_start_matches('?')).unwrap();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let encrypt = c.json()["encrypt"].as_str().unwrap().to_string();
    assert_eq!(
        get("msg_signature"),
        Wecom::signature("tok", &get("timestamp"), &get("nonce"), &encrypt)
    );
    let (msg, rid) = Wecom::decrypt(key, &encrypt).unwrap();
    assert_eq!(rid, "");
    let msg: Value = serde_json::from_slice(&msg).unwrap();
    assert_eq!(msg["msgid"], "m1");
    assert_eq!(msg["from"]["userid"], "carol");
    assert_eq!(msg["text"]["content"], "ni hao");
    // Padding to 32-byte blocks: the ciphertext is a multiple of 32.
    assert_eq!(B64.decode(&encrypt).unwrap().len() % 32, 0);

    let v = w.verification("echo-123");
    assert_eq!(v.method, reqwest::Method::GET);
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(v.path_and_query.trim_start_matches('?')).unwrap();
    let echostr = &q.iter().find(|(n, _)| n == "echostr").unwrap().1;
    assert_eq!(Wecom::decrypt(key, echostr).unwrap().0, b"echo-123");

    let lie = w.lying_length("m2", "carol", "x").json()["encrypt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(Wecom::decrypt(key, &lie).is_err());
    let garbage = w.garbage().json()["encrypt"].as_str().unwrap().to_string();
    assert!(Wecom::decrypt(key, &garbage).is_err());
}

#[test]
fn dingtalk_and_telegram_builders() {
    let d = Dingtalk::new("appsecret");
    let c = d.message("msgA", "Dave", "hey");
    let ts: i64 = c.header("timestamp").unwrap().parse().unwrap();
    assert_eq!(c.header("sign").unwrap(), Dingtalk::sign("appsecret", ts));
    assert_eq!(c.json()["text"]["content"], "hey");
    assert_eq!(c.json()["senderNick"], "Dave");
    let st = d.stale("msgB", "Dave", "x");
    assert!(now_millis() - st.header("timestamp").unwrap().parse::<i64>().unwrap() > 3_600_000);

    let t = Telegram::new("tgsecret", -100123);
    let m = t.message(7, "erin", "yo");
    assert_eq!(
        m.header("X-Telegram-Bot-Api-Secret-Token"),
        Some("tgsecret")
    );
    assert_eq!(m.json()["update_id"], 7);
    assert_eq!(m.json()["message"]["from"]["username"], "erin");
    assert_eq!(m.json()["message"]["chat"]["type"], "group");
    let e = t.edit(8, &m.message_id, "erin", "yo!");
    assert_eq!(
        e.json()["edited_message"]["message_id"].to_string(),
        m.message_id
    );
    assert_eq!(
        t.own_post_echo(9, "x").json()["message"]["from"]["is_bot"],
        true
    );
    assert!(t
        .unsigned(10, "erin", "x")
        .header("X-Telegram-Bot-Api-Secret-Token")
        .is_none());
}

// ---------------------------------------------------------------------------
// Outbound receivers
// ---------------------------------------------------------------------------

async fn post_json(
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, String, Option<String>) {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.body(body.to_string()).send().await.expect("post");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.text().await.unwrap(), retry)
}

#[tokio::test]
async fn slack_receiver() {
    let s = PlatformServer::start_with(
        ServerConfig::new(Platform::Slack)
            .bot_token("xoxb-1")
            .channel("C1")
            .rate(1, Duration::from_secs(30)),
        support::free_port(),
    )
    .await;
    let (st, body, _) = post_json(&s.webhook_url(), &[], &json!({"text": "hello"})).await;
    assert_eq!((st, body.as_str()), (200, "ok"));
    let (st, body, _) = post_json(&s.webhook_url(), &[], &json!({"txt": "x"})).await;
    assert_eq!((st, body.as_str()), (400, "no_text"));
    s.assert_violations_then_clear(1);

    let api = format!("{}/chat.postMessage", s.api_url());
    let msg = json!({"channel": "C1", "text": "hi", "username": "alice"});
    let (st, body, _) = post_json(&api, &[("Authorization", "Bearer xoxb-1")], &msg).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st, 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["channel"], "C1");
    assert!(v["ts"].as_str().is_some());
    let (_, body, _) = post_json(&api, &[("Authorization", "Bearer wrong")], &msg).await;
    assert!(body.contains("invalid_auth"), "{body}");
    let (_, body, _) = post_json(&api, &[], &msg).await;
    assert!(body.contains("not_authed"), "{body}");
    let (_, body, _) = post_json(
        &api,
        &[("Authorization", "Bearer xoxb-1")],
        &json!({"channel": "C2", "text": "x"}),
    )
    .await;
    assert!(body.contains("channel_not_found"), "{body}");
    assert_eq!(s.violations().len(), 3);
    assert_eq!(s.texts(), ["hi"]);

    s.clear();
    s.set_mode(Mode::RateLimit);
    let (st, _, _) = post_json(&s.webhook_url(), &[], &json!({"text": "1"})).await;
    assert_eq!(st, 200);
    let (st, _, retry) = post_json(&s.webhook_url(), &[], &json!({"text": "2"})).await;
    assert_eq!(st, 429);
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(s.rate_limited(), 1);
    s.assert_no_violations();

    s.set_mode(Mode::Down);
    let (st, _, _) = post_json(&s.webhook_url(), &[], &json!({"text": "3"})).await;
    assert_eq!(st, 503);
    assert_eq!(s.down_refused(), 1);
    assert_eq!(s.texts(), ["1"]);
}

#[tokio::test]
async fn feishu_receiver() {
    let s = PlatformServer::start_with(
        ServerConfig::new(Platform::Feishu)
            .webhook_secret("fsecret")
            .rate(2, Duration::from_secs(30)),
        support::free_port(),
    )
    .await;
    let ts = now_secs().to_string();
    let sign = B64.encode(hmac_sha256(format!("{ts}\nfsecret").as_bytes(), b""));
    let good =
        json!({"timestamp": ts, "sign": sign, "msg_type": "text", "content": {"text": "hi"}});
    let (st, body, _) = post_json(&s.webhook_url(), &[], &good).await;
    assert_eq!(st, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 0);
    let mut bad = good.clone();
    bad["sign"] = json!("AAAA");
    let (_, body, _) = post_json(&s.webhook_url(), &[], &bad).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 19021);
    let unsigned = json!({"msg_type": "text", "content": {"text": "hi"}});
    let (_, body, _) = post_json(&s.webhook_url(), &[], &unsigned).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 19021);
    s.assert_violations_then_clear(2);

    s.set_mode(Mode::RateLimit);
    for _ in 0..2 {
        let (_, body, _) = post_json(&s.webhook_url(), &[], &good).await;
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 0);
    }
    let (st, body, _) = post_json(&s.webhook_url(), &[], &good).await;
    assert_eq!(st, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 11232);
    assert_eq!(s.posts().len(), 2);
}

#[tokio::test]
async fn wecom_receiver() {
    let s = PlatformServer::start_with(
        ServerConfig::new(Platform::Wecom).rate(1, Duration::from_secs(30)),
        support::free_port(),
    )
    .await;
    let code = |body: &str| serde_json::from_str::<Value>(body).unwrap()["errcode"].clone();
    let good = json!({"msgtype": "text", "text": {"content": "hi"}});
    let (_, body, _) = post_json(&s.webhook_url(), &[], &good).await;
    assert_eq!(code(&body), 0);
    let long = json!({"msgtype": "text", "text": {"content": "é".repeat(1025)}});
    let (_, body, _) = post_json(&s.webhook_url(), &[], &long).await;
    assert_ne!(code(&body), 0, "2050 bytes is over 2048");
    let (_, body, _) = post_json(&s.webhook_url(), &[], &json!({"text": {"content": "x"}})).await;
    assert_ne!(code(&body), 0);
    s.assert_violations_then_clear(2);
    s.set_mode(Mode::RateLimit);
    let (_, body, _) = post_json(&s.webhook_url(), &[], &good).await;
    assert_eq!(code(&body), 0);
    let (_, body, _) = post_json(&s.webhook_url(), &[], &good).await;
    assert_eq!(code(&body), 45009);
}

#[tokio::test]
async fn dingtalk_receiver() {
    let s = PlatformServer::start_with(
        ServerConfig::new(Platform::Dingtalk)
            .webhook_secret("SECdd")
            .rate(1, Duration::from_secs(30)),
        support::free_port(),
    )
    .await;
    let code = |body: &str| serde_json::from_str::<Value>(body).unwrap()["errcode"].clone();
    let signed_url = || {
        let ts = now_millis();
        let sign = Dingtalk::sign("SECdd", ts);
        format!(
            "{}&{}",
            s.webhook_url(),
            serde_urlencoded::to_string([("timestamp", ts.to_string()), ("sign", sign)]).unwrap()
        )
    };
    let good = json!({"msgtype": "text", "text": {"content": "hi"}});
    let (_, body, _) = post_json(&signed_url(), &[], &good).await;
    assert_eq!(code(&body), 0, "{body}");
    let (_, body, _) = post_json(&s.webhook_url(), &[], &good).await;
    assert_eq!(code(&body), 310000);
    let (_, body, _) = post_json(
        &format!("{}&timestamp={}&sign=AAAA", s.webhook_url(), now_millis()),
        &[],
        &good,
    )
    .await;
    assert_eq!(code(&body), 310000);
    s.assert_violations_then_clear(2);
    s.set_mode(Mode::RateLimit);
    let (_, body, _) = post_json(&signed_url(), &[], &good).await;
    assert_eq!(code(&body), 0);
    let (_, body, _) = post_json(&signed_url(), &[], &good).await;
    assert_eq!(code(&body), 130101);
}

#[tokio::test]
async fn telegram_receiver() {
    let s = PlatformServer::start_with(
        ServerConfig::new(Platform::Telegram)
            .bot_token("42:tok")
            .channel("-100123")
            .rate(1, Duration::from_secs(30)),
        support::free_port(),
    )
    .await;
    let url = format!("{}/bot42:tok/sendMessage", s.api_url());
    let good = json!({"chat_id": -100123, "text": "hi"});
    let (st, body, _) = post_json(&url, &[], &good).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st, 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["result"]["chat"]["id"], -100123);
    let (st, _, _) = post_json(
        &format!("{}/bot42:bad/sendMessage", s.api_url()),
        &[],
        &good,
    )
    .await;
    assert_eq!(st, 401);
    let (st, body, _) = post_json(&url, &[], &json!({"chat_id": 5, "text": "x"})).await;
    assert_eq!(st, 400);
    assert!(body.contains("chat not found"));
    let (st, _, _) = post_json(
        &url,
        &[],
        &json!({"chat_id": -100123, "text": "x".repeat(4097)}),
    )
    .await;
    assert_eq!(st, 400);
    s.assert_violations_then_clear(3);
    s.set_mode(Mode::RateLimit);
    let (st, _, _) = post_json(&url, &[], &good).await;
    assert_eq!(st, 200);
    let (st, body, retry) = post_json(&url, &[], &good).await;
    assert_eq!(st, 429);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error_code"], 429);
    let after = v["parameters"]["retry_after"].as_u64().unwrap();
    assert!(after >= 1);
    assert_eq!(retry.unwrap(), after.to_string());
}

#[tokio::test]
async fn googlechat_receiver() {
    let s = PlatformServer::start(Platform::GoogleChat, support::free_port()).await;
    let (st, body, _) = post_json(&s.webhook_url(), &[], &json!({"text": "hi"})).await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["name"]
        .as_str()
        .unwrap()
        .starts_with("spaces/AAAAemulator/messages/"));
    let (st, _, _) = post_json(&s.webhook_url(), &[], &json!({"text": ""})).await;
    assert_eq!(st, 400);
    let no_token = s.webhook_url().replace("&token=emulator-token", "");
    let (st, _, _) = post_json(&no_token, &[], &json!({"text": "x"})).await;
    assert_eq!(st, 403);
    s.assert_violations_then_clear(2);
    // Documented limit: 1 per second per space.
    s.set_mode(Mode::RateLimit);
    let (st, _, _) = post_json(&s.webhook_url(), &[], &json!({"text": "a"})).await;
    assert_eq!(st, 200);
    let (st, body, retry) = post_json(&s.webhook_url(), &[], &json!({"text": "b"})).await;
    assert_eq!(st, 429);
    assert!(body.contains("RESOURCE_EXHAUSTED"));
    assert_eq!(retry.as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, _, _) = post_json(&s.webhook_url(), &[], &json!({"text": "c"})).await;
    assert_eq!(st, 200);
    assert_eq!(s.texts(), ["a", "c"]);
    let got = s.wait_for(2, Duration::from_millis(10)).await;
    assert_eq!(got.len(), 2);
}

/// `send` delivers a built call; checked against a plain sink.
#[tokio::test]
async fn send_delivers_a_call() {
    let port = support::free_port();
    let sink = support::sink::Sink::start(port).await;
    let call = Slack::new("s").message("Ev9", "zed", "over the wire");
    let (st, _) = send(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{port}/bridges/g/slack"),
        &call,
    )
    .await;
    assert_eq!(st, 200);
    let hits = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hits[0].path, "/bridges/g/slack");
    assert_eq!(hits[0].body, call.body);
    assert_eq!(
        hits[0].header("x-slack-signature"),
        call.header("X-Slack-Signature").unwrap()
    );
}

trait ViolationsExt {
    fn assert_violations_then_clear(&self, n: usize);
}

impl ViolationsExt for PlatformServer {
    fn assert_violations_then_clear(&self, n: usize) {
        let v = self.violations();
        assert_eq!(v.len(), n, "{v:#?}");
        self.clear();
    }
}
