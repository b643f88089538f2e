//! The wire formats of HTTP routes, as pure functions: building
//! the request a send route posts, judging the far side's answer, signing
//! and verifying, and parsing what receive routes accept. No I/O here; the
//! HTTP adapters (`crate::http`, `crate::sender`) move the bytes.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{Millis, RouteFormat, RouteMessage};
use super::stanza;
use super::text::format_line;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the unix time a native post was signed at.
pub const TIMESTAMP_HEADER: &str = "x-talkgroups-timestamp";
/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-talkgroups-signature";
/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Largest clock difference a signed post may show (either direction).
pub const MAX_SKEW_SECS: i64 = 300;
/// A trail with more instance ids than this is dropped.
pub const MAX_TRAIL: usize = 8;

/// The loop rule's length limit. It counts instance ids, not the group
/// JIDs recorded beside them, so linking groups of one instance does not
/// shorten the chain of instances a message may cross; the total is capped
/// as well, so a trail of JIDs alone cannot grow without bound.
pub fn trail_too_long(trail: &[String]) -> bool {
    let instances = trail.iter().filter(|t| !t.contains('@')).count();
    instances > MAX_TRAIL || trail.len() > 4 * MAX_TRAIL
}

/// A request for the HTTP client to send (always a POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a far side's answer means for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again later (after at least `after_secs` when the far side said).
    Retry {
        error: String,
        after_secs: Option<u64>,
    },
    /// The far side refuses this message itself: retrying cannot help.
    Refused(String),
}

/// The native JSON body. Unknown fields are ignored.
#[derive(Debug, Serialize, Deserialize)]
struct NativeBody {
    id: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    nick: String,
    body: String,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    trail: Vec<String>,
}

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// `sha256=<hex>` of HMAC-SHA256(password, timestamp + "." + body).
pub fn sign(password: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = hmac(password.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a `sha256=<hex>` header in constant time.
pub fn verify(password: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = hmac(password.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// Compares two secrets in constant time (for the length of the longer).
pub fn same_secret(a: &str, b: &str) -> bool {
    // Comparing fixed-length MACs of both, in constant time, makes the time
    // independent of where (and whether) they differ.
    const KEY: &[u8] = b"talkgroups secret comparison";
    let mut ma = hmac(KEY);
    ma.update(a.as_bytes());
    let tag_a = ma.finalize().into_bytes();
    let mut mb = hmac(KEY);
    mb.update(b.as_bytes());
    mb.verify_slice(&tag_a).is_ok()
}

/// Feishu's custom-bot signature: Base64(HMAC-SHA256(key = timestamp +
/// "\n" + secret, message = empty)).
pub fn feishu_sign(secret: &str, timestamp: i64) -> String {
    let key = format!("{timestamp}\n{secret}");
    let mac = hmac(key.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn json_request(url: String, body: serde_json::Value) -> HttpRequest {
    HttpRequest {
        url,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// The request a send route posts for `msg`, at unix time `now_secs`.
/// `name` is the route's name (Matterbridge's gateway).
pub fn build_request(
    format: RouteFormat,
    url: &str,
    password: Option<&str>,
    name: &str,
    msg: &RouteMessage,
    now_secs: i64,
) -> HttpRequest {
    let line = format_line(&msg.nick, &msg.body);
    let url = url.to_string();
    match format {
        RouteFormat::Talkgroups => {
            let body = NativeBody {
                id: msg.id.clone(),
                origin: msg.origin.clone(),
                nick: msg.nick.clone(),
                body: msg.body.clone(),
                sent_at: Some(rfc3339(msg.sent_at)),
                trail: msg.trail.clone(),
            };
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let ts = now_secs.to_string();
            let sig = sign(password.unwrap_or_default(), &ts, &body);
            HttpRequest {
                url,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    (TIMESTAMP_HEADER.into(), ts),
                    (SIGNATURE_HEADER.into(), sig),
                ],
                body,
            }
        }
        RouteFormat::Slack => json_request(url, serde_json::json!({ "text": line })),
        RouteFormat::Discord => json_request(
            url,
            serde_json::json!({ "content": line, "username": discord_username(&msg.nick) }),
        ),
        RouteFormat::Wecom => json_request(
            url,
            serde_json::json!({ "msgtype": "text", "text": { "content": line } }),
        ),
        RouteFormat::Feishu => {
            let mut body = serde_json::json!({ "msg_type": "text", "content": { "text": line } });
            if let Some(secret) = password {
                body["timestamp"] = now_secs.to_string().into();
                body["sign"] = feishu_sign(secret, now_secs).into();
            }
            json_request(url, body)
        }
        RouteFormat::Matterbridge => {
            let endpoint = format!("{}/api/message", url.trim_end_matches('/'));
            let mut req = json_request(
                endpoint,
                serde_json::json!({ "text": msg.body, "username": msg.nick, "gateway": name }),
            );
            if let Some(token) = password {
                req.headers
                    .push(("authorization".into(), format!("Bearer {token}")));
            }
            req
        }
    }
}

/// Whether a native message arriving at group `group_jid` of instance
/// `instance` has been here before. Trails record the instances a message
/// passed and, since groups of one instance may be linked by routes too,
/// the JIDs of the groups. An instance id without any group JID of that
/// instance after it (an older sender, or a trail built by hand) still
/// counts as this instance, as the native format's loop rule says.
pub fn is_loop(trail: &[String], instance: &str, group_jid: &str) -> bool {
    if trail.iter().any(|t| t == group_jid) {
        return true;
    }
    let domain = group_jid.split_once('@').map_or("", |(_, d)| d);
    let ours = |t: &String| t.split_once('@').is_some_and(|(_, d)| d == domain);
    trail.iter().any(|t| t == instance) && !trail.iter().any(ours)
}

/// Adds this hop to a trail: the instance id (once per instance in a row)
/// and the group's JID.
pub fn extend_trail(trail: &mut Vec<String>, instance: &str, group_jid: &str) {
    if !trail.iter().any(|t| t == instance) {
        trail.push(instance.to_string());
    }
    trail.push(group_jid.to_string());
}

/// Discord refuses usernames over 80 characters or containing "discord".
fn discord_username(nick: &str) -> String {
    let n: String = nick.chars().take(80).collect();
    if n.to_lowercase().contains("discord") || n.trim().is_empty() {
        "talkgroups".into()
    } else {
        n
    }
}

/// What the far side's answer means. Some services (WeCom, Feishu) answer
/// 200 with an error code in the body.
pub fn judge(format: RouteFormat, status: u16, body: &[u8], retry_after: Option<u64>) -> Verdict {
    let snippet = || {
        let s = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        let s = s.trim().replace(['\n', '\r'], " ");
        if s.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {s}")
        }
    };
    if (200..300).contains(&status) {
        let code = match format {
            RouteFormat::Wecom => json_code(body, &["errcode"]),
            RouteFormat::Feishu => json_code(body, &["code", "StatusCode"]),
            _ => None,
        };
        return match code {
            Some(c) if c != 0 => Verdict::Retry {
                error: snippet(),
                after_secs: None,
            },
            _ => Verdict::Delivered,
        };
    }
    match status {
        // This message itself is refused; the next one may pass.
        400 | 413 | 422 => Verdict::Refused(snippet()),
        _ => Verdict::Retry {
            error: snippet(),
            after_secs: retry_after,
        },
    }
}

fn json_code(body: &[u8], keys: &[&str]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    keys.iter().find_map(|k| v.get(*k).and_then(|c| c.as_i64()))
}

/// RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: Millis) -> String {
    stanza::xep0082(ms)
}

fn parse_rfc3339(s: &str) -> Option<Millis> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// Why a post was not accepted, as an HTTP status and a short reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub error: String,
}

pub fn refuse(status: u16, error: impl Into<String>) -> Refusal {
    Refusal {
        status,
        error: error.into(),
    }
}

/// Parses a native body. `now` fills a missing or unreadable `sent_at`.
pub fn parse_native(body: &[u8], now: Millis) -> Result<RouteMessage, Refusal> {
    let b: NativeBody =
        serde_json::from_slice(body).map_err(|e| refuse(400, format!("malformed JSON: {e}")))?;
    if b.id.trim().is_empty() || b.id.len() > 200 {
        return Err(refuse(
            400,
            "id must be a non-empty string of at most 200 bytes",
        ));
    }
    let sent_at = match b.sent_at.as_deref() {
        None => now,
        Some(s) => parse_rfc3339(s).ok_or_else(|| refuse(400, "sent_at is not RFC 3339"))?,
    };
    Ok(RouteMessage {
        id: b.id,
        origin: b.origin,
        nick: b.nick,
        body: b.body,
        sent_at,
        trail: b.trail,
    })
}

/// The outgoing-webhook shape of Rocket.Chat and Mattermost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPost {
    pub text: String,
    pub user_name: String,
    pub token: String,
    /// The sender's id for the post when it gives one (`post_id`,
    /// `message_id`), else a hash of the whole body: retried posts repeat it.
    pub dedup_id: String,
    /// Posted by a bot (Rocket.Chat marks those): not relayed, so a
    /// webhook pair cannot echo.
    pub from_bot: bool,
}

#[derive(Deserialize)]
struct RawWebhook {
    text: Option<String>,
    user_name: Option<String>,
    token: Option<String>,
    post_id: Option<String>,
    message_id: Option<String>,
    #[serde(default)]
    bot: serde_json::Value,
}

/// Parses an outgoing-webhook post, JSON or form-encoded.
pub fn parse_webhook(body: &[u8], form: bool) -> Result<WebhookPost, Refusal> {
    let raw: RawWebhook = if form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| refuse(400, format!("malformed form: {e}")))?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        RawWebhook {
            text: get("text"),
            user_name: get("user_name"),
            token: get("token"),
            post_id: get("post_id"),
            message_id: get("message_id"),
            bot: get("bot").map_or(serde_json::Value::Null, serde_json::Value::String),
        }
    } else {
        serde_json::from_slice(body).map_err(|e| refuse(400, format!("malformed JSON: {e}")))?
    };
    let token = raw
        .token
        .ok_or_else(|| refuse(401, "missing signature (X-Talkgroups-Signature) or token"))?;
    let dedup_id = match raw.post_id.or(raw.message_id) {
        Some(id) if !id.is_empty() => format!("hook:{id}"),
        _ => format!("hook-sha256:{}", hex::encode(Sha256::digest(body))),
    };
    let from_bot = match &raw.bot {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) => !s.is_empty() && s != "false",
        _ => true,
    };
    Ok(WebhookPost {
        text: raw.text.unwrap_or_default(),
        user_name: raw.user_name.unwrap_or_default(),
        token,
        dedup_id,
        from_bot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> RouteMessage {
        RouteMessage {
            id: "8c1f0a9e-0000-8000-8000-000000000001".into(),
            origin: "lobby@a.example".into(),
            nick: "alice".into(),
            body: "hello \"world\"".into(),
            sent_at: 1_700_000_000_000,
            trail: vec!["inst-a".into()],
        }
    }

    fn json(req: &HttpRequest) -> serde_json::Value {
        serde_json::from_slice(&req.body).expect("json body")
    }

    fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
        req.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn hmac_matches_rfc4231_vector() {
        // RFC 4231, test case 2.
        let mut mac = hmac(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sign_and_verify() {
        let body = br#"{"id":"x","body":"hi"}"#;
        let sig = sign("correct horse", "1700000000", body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify("correct horse", "1700000000", body, &sig));
        assert!(!verify("wrong horse!", "1700000000", body, &sig));
        assert!(!verify("correct horse", "1700000001", body, &sig));
        assert!(!verify("correct horse", "1700000000", b"{}", &sig));
        assert!(!verify("correct horse", "1700000000", body, &sig[7..]));
        assert!(!verify("correct horse", "1700000000", body, "sha256=zz"));
        assert!(!verify("correct horse", "1700000000", body, "sha256="));
    }

    #[test]
    fn signature_is_over_timestamp_dot_body() {
        // Independent computation: HMAC(key, "1700000000.{}") by hand.
        let mut mac = hmac(b"secret12");
        mac.update(b"1700000000.{}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sign("secret12", "1700000000", b"{}"), expected);
    }

    #[test]
    fn same_secret_compares() {
        assert!(same_secret("abcdefgh", "abcdefgh"));
        assert!(!same_secret("abcdefgh", "abcdefgi"));
        assert!(!same_secret("abcdefgh", "abcdefghi"));
        assert!(!same_secret("", "x"));
    }

    #[test]
    fn feishu_signature_known_vector() {
        // Computed independently with openssl (hex ab88ecc0…):
        // printf "" | openssl dgst -sha256 -hmac "1599360473<LF>secret" -binary | base64
        assert_eq!(
            feishu_sign("secret", 1_599_360_473),
            "q4jswNiMy51J5JuQV566yJat0/lQ/c+22kINzUgKsGU="
        );
    }

    #[test]
    fn native_request_round_trips_and_verifies() {
        let req = build_request(
            RouteFormat::Talkgroups,
            "http://b/routes/lobby/froma",
            Some("password1"),
            "tob",
            &msg(),
            1_700_000_005,
        );
        assert_eq!(req.url, "http://b/routes/lobby/froma");
        let ts = header(&req, TIMESTAMP_HEADER).expect("timestamp");
        assert_eq!(ts, "1700000005");
        let sig = header(&req, SIGNATURE_HEADER).expect("signature");
        assert!(verify("password1", ts, &req.body, sig));
        let back = parse_native(&req.body, 0).expect("parses");
        assert_eq!(back, msg());
        let j = json(&req);
        assert_eq!(j["sent_at"], "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn webhook_shapes() {
        let m = msg();
        let line = "[alice] hello \"world\"";
        let slack = build_request(RouteFormat::Slack, "http://s/h", None, "s", &m, 0);
        assert_eq!(json(&slack), serde_json::json!({ "text": line }));
        assert_eq!(header(&slack, "content-type"), Some("application/json"));
        let discord = build_request(RouteFormat::Discord, "http://d/h", None, "d", &m, 0);
        assert_eq!(
            json(&discord),
            serde_json::json!({ "content": line, "username": "alice" })
        );
        let wecom = build_request(RouteFormat::Wecom, "http://w/h", None, "w", &m, 0);
        assert_eq!(
            json(&wecom),
            serde_json::json!({ "msgtype": "text", "text": { "content": line } })
        );
        let feishu = build_request(RouteFormat::Feishu, "http://f/h", None, "f", &m, 5);
        assert_eq!(
            json(&feishu),
            serde_json::json!({ "msg_type": "text", "content": { "text": line } })
        );
        let signed = build_request(
            RouteFormat::Feishu,
            "http://f/h",
            Some("secret"),
            "f",
            &m,
            1_599_360_473,
        );
        let j = json(&signed);
        assert_eq!(j["timestamp"], "1599360473");
        assert_eq!(j["sign"], "q4jswNiMy51J5JuQV566yJat0/lQ/c+22kINzUgKsGU=");
        assert_eq!(j["content"]["text"], line);
        let mb = build_request(
            RouteFormat::Matterbridge,
            "http://mb:4242/",
            Some("tok"),
            "gw1",
            &m,
            0,
        );
        assert_eq!(mb.url, "http://mb:4242/api/message");
        assert_eq!(header(&mb, "authorization"), Some("Bearer tok"));
        assert_eq!(
            json(&mb),
            serde_json::json!({ "text": m.body, "username": "alice", "gateway": "gw1" })
        );
        let mb = build_request(RouteFormat::Matterbridge, "http://mb", None, "g", &m, 0);
        assert_eq!(header(&mb, "authorization"), None);
    }

    #[test]
    fn me_lines_and_discord_names() {
        let mut m = msg();
        m.body = "/me waves".into();
        let slack = build_request(RouteFormat::Slack, "http://s", None, "s", &m, 0);
        assert_eq!(json(&slack)["text"], "* alice waves");
        m.nick = "my discord bot".into();
        let d = build_request(RouteFormat::Discord, "http://d", None, "d", &m, 0);
        assert_eq!(json(&d)["username"], "talkgroups");
    }

    #[test]
    fn verdicts() {
        use RouteFormat::*;
        assert_eq!(judge(Slack, 200, b"ok", None), Verdict::Delivered);
        assert_eq!(judge(Discord, 204, b"", None), Verdict::Delivered);
        assert_eq!(
            judge(Wecom, 200, br#"{"errcode":0}"#, None),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(
                Wecom,
                200,
                br#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
                None
            ),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            judge(
                Feishu,
                200,
                br#"{"code":19021,"msg":"sign match fail"}"#,
                None
            ),
            Verdict::Retry { .. }
        ));
        assert_eq!(
            judge(Feishu, 200, br#"{"StatusCode":0}"#, None),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(Talkgroups, 400, b"{}", None),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            judge(Talkgroups, 413, b"", None),
            Verdict::Refused(_)
        ));
        assert_eq!(
            judge(Slack, 429, b"slow down", Some(30)),
            Verdict::Retry {
                error: "HTTP 429: slow down".into(),
                after_secs: Some(30)
            }
        );
        assert!(matches!(
            judge(Talkgroups, 401, b"", None),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            judge(Talkgroups, 503, b"", None),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn native_parse_errors() {
        for bad in [
            &b"not json"[..],
            br#"{"body":"x"}"#,
            br#"{"id":"","body":"x"}"#,
            br#"{"id":"a"}"#,
            br#"{"id":"a","body":"x","sent_at":"yesterday"}"#,
            br#"{"id":"a","body":"x","trail":"abc"}"#,
            br#"{"id":5,"body":"x"}"#,
            br#"[1,2]"#,
        ] {
            assert_eq!(
                parse_native(bad, 0).map_err(|r| r.status),
                Err(400),
                "{bad:?}"
            );
        }
        let ok = parse_native(br#"{"id":"a","body":"x","extra":{"y":1}}"#, 42).expect("ok");
        assert_eq!((ok.sent_at, ok.trail.len(), ok.nick.as_str()), (42, 0, ""));
    }

    #[test]
    fn outgoing_webhooks() {
        let mm =
            br#"{"token":"tok12345","user_name":"bob","text":"hi","post_id":"p1","timestamp":1}"#;
        let p = parse_webhook(mm, false).expect("mattermost");
        assert_eq!(
            (p.text.as_str(), p.user_name.as_str(), p.token.as_str()),
            ("hi", "bob", "tok12345")
        );
        assert_eq!(p.dedup_id, "hook:p1");
        assert!(!p.from_bot);
        let rc = br#"{"token":"t","user_name":"rc","text":"x","message_id":"m9","bot":{"i":"x"}}"#;
        let p = parse_webhook(rc, false).expect("rocket.chat");
        assert_eq!(p.dedup_id, "hook:m9");
        assert!(p.from_bot);
        let form = b"token=tok&user_name=carol&text=hello+there";
        let p = parse_webhook(form, true).expect("form");
        assert_eq!(p.text, "hello there");
        assert!(p.dedup_id.starts_with("hook-sha256:"));
        assert_eq!(
            parse_webhook(br#"{"text":"x"}"#, false).map_err(|r| r.status),
            Err(401)
        );
        assert_eq!(parse_webhook(b"{", false).map_err(|r| r.status), Err(400));
    }
}
