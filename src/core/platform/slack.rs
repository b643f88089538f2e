//! Slack: the Events API inbound (signed with the app's signing secret),
//! an incoming webhook or `chat.postMessage` outbound.

use serde_json::{json, Value};

use super::super::webhook::{refuse, HttpRequest, Refusal, Verdict};
use super::{crypto, json_request, key, merged, message, parse_json, secret, str_at};
use super::{Call, Inbound, Keys, Line};

const DEFAULT_API: &str = "https://slack.com/api";
/// Slack's replay window: a request older (or newer) than this is refused.
const MAX_SKEW_SECS: i64 = 300;

/// `v0=` + hex HMAC-SHA256(secret, "v0:{timestamp}:{body}").
#[cfg(test)]
pub(crate) fn signature(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let tag = crypto::hmac_sha256_tag(
        signing_secret.as_bytes(),
        &[b"v0:", timestamp.as_bytes(), b":", body],
    );
    format!("v0={}", hex::encode(tag))
}

fn verify(keys: &Keys, call: &Call<'_>) -> Result<(), Refusal> {
    let signing_secret = secret(keys, "signing_secret")?;
    let ts = call
        .header("x-slack-request-timestamp")
        .ok_or_else(|| refuse(401, "missing X-Slack-Request-Timestamp"))?
        .trim();
    let sig = call
        .header("x-slack-signature")
        .ok_or_else(|| refuse(401, "missing X-Slack-Signature"))?;
    let secs: i64 = ts
        .parse()
        .map_err(|_| refuse(401, "X-Slack-Request-Timestamp is not a number"))?;
    if (call.now_ms / 1000).abs_diff(secs) > MAX_SKEW_SECS as u64 {
        return Err(refuse(
            401,
            "X-Slack-Request-Timestamp is not within 5 minutes",
        ));
    }
    let tag = sig
        .trim()
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| refuse(401, "X-Slack-Signature is not v0=<hex>"))?;
    let parts: [&[u8]; 4] = [b"v0:", ts.as_bytes(), b":", call.body];
    if crypto::hmac_sha256_verify(signing_secret.as_bytes(), &parts, &tag) {
        Ok(())
    } else {
        Err(refuse(401, "X-Slack-Signature does not match"))
    }
}

pub(crate) fn inbound(keys: &Keys, call: &Call<'_>) -> Result<Inbound, Refusal> {
    super::require_post(call, "slack")?;
    verify(keys, call)?;
    let v = parse_json(call.body)?;
    match v.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = str_at(&v, &["challenge"])
                .ok_or_else(|| refuse(400, "url_verification without a challenge"))?;
            Ok(Inbound::Answer {
                content_type: "application/json",
                body: json!({ "challenge": challenge }).to_string(),
            })
        }
        Some("event_callback") => event(&v),
        Some(_) => Ok(Inbound::Ignore("not an event callback")),
        None => Err(refuse(400, "missing type")),
    }
}

fn event(v: &Value) -> Result<Inbound, Refusal> {
    let event_id = str_at(v, &["event_id"])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(400, "event_callback without event_id"))?;
    let ev = v
        .get("event")
        .filter(|e| e.is_object())
        .ok_or_else(|| refuse(400, "event_callback without event"))?;
    if str_at(ev, &["type"]) != Some("message") {
        return Ok(Inbound::Ignore("not a message event"));
    }
    let channel = str_at(ev, &["channel"]);
    let is_bot = |m: &Value| m.get("bot_id").is_some_and(|b| !b.is_null());
    let (m, edit) = match str_at(ev, &["subtype"]) {
        None => (ev, false),
        Some("message_changed") => {
            let m = ev
                .get("message")
                .filter(|m| m.is_object())
                .ok_or_else(|| refuse(400, "message_changed without message"))?;
            (m, true)
        }
        Some("bot_message") => return Ok(Inbound::Ignore("bot message")),
        Some(_) => return Ok(Inbound::Ignore("message subtype not relayed")),
    };
    if is_bot(ev) || is_bot(m) || str_at(m, &["subtype"]) == Some("bot_message") {
        return Ok(Inbound::Ignore("bot message"));
    }
    let nick = super::first_nonblank(&[
        str_at(m, &["user_profile", "display_name"]),
        str_at(m, &["user_profile", "real_name"]),
        str_at(m, &["user"]),
    ])
    .unwrap_or("slack");
    let text = unescape(str_at(m, &["text"]).unwrap_or_default());
    let message_ref = match (channel, str_at(m, &["ts"])) {
        (Some(c), Some(ts)) => Some(format!("{c}:{ts}")),
        _ => None,
    };
    Ok(message(event_id.to_string(), nick, text, message_ref, edit))
}

fn unescape_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Slack's message markup to plain text: `<url|label>` → `label (url)`,
/// `<url>` → `url`, `<@U1|name>` → `@name`, `<!here>` → `@here`, and the
/// `&lt; &gt; &amp;` escapes undone (after the markup, whose brackets are
/// never escaped).
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(len) = rest[open..].find('>') else {
            break;
        };
        out.push_str(&unescape_entities(&rest[..open]));
        let inner = &rest[open + 1..open + len];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        let target_text = unescape_entities(target);
        let label = label.map(unescape_entities);
        match (target.chars().next(), label) {
            (Some('@' | '#'), Some(l)) if l.starts_with(['@', '#']) => out.push_str(&l),
            (Some(c @ ('@' | '#')), Some(l)) => {
                out.push(c);
                out.push_str(&l);
            }
            (Some('!'), Some(l)) => out.push_str(&l),
            (Some('!'), None) => {
                out.push('@');
                out.push_str(&target_text[1..]);
            }
            (_, Some(l)) if !l.is_empty() && l != target_text => {
                out.push_str(&format!("{l} ({target_text})"));
            }
            _ => out.push_str(&target_text),
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(&unescape_entities(rest));
    out
}

/// Slack's three escapes, so text is never read as markup.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn outbound(keys: &Keys, lines: &[Line<'_>]) -> HttpRequest {
    let text = escape(&merged(lines));
    if let Some(hook) = key(keys, "webhook") {
        return json_request(hook.to_string(), json!({ "text": text }));
    }
    let api = key(keys, "api")
        .unwrap_or(DEFAULT_API)
        .trim_end_matches('/');
    let username = match lines.split_first() {
        Some((first, rest)) if rest.iter().all(|l| l.nick == first.nick) => first.nick,
        _ => "talkgroups",
    };
    let mut req = json_request(
        format!("{api}/chat.postMessage"),
        json!({
            "channel": key(keys, "channel").unwrap_or_default(),
            "text": text,
            "username": username,
        }),
    );
    req.headers.push((
        "authorization".into(),
        format!("Bearer {}", key(keys, "bot_token").unwrap_or_default()),
    ));
    req
}

pub(crate) fn judge(status: u16, body: &[u8], retry_after: Option<u64>) -> Verdict {
    if (200..300).contains(&status) {
        // chat.postMessage answers 200 with {"ok": false, "error": …}
        // (ratelimited included); a webhook answers the text "ok".
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            if v.get("ok").and_then(Value::as_bool) == Some(false) {
                let e = str_at(&v, &["error"]).unwrap_or("unknown error");
                return Verdict::Retry {
                    error: format!("slack: {e}"),
                    after_secs: retry_after,
                };
            }
        }
        return Verdict::Delivered;
    }
    super::super::webhook::judge(
        super::super::model::RouteFormat::Slack,
        status,
        body,
        retry_after,
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{call, keys, status};
    use super::super::{Inbound, Message, Method, Platform};
    use super::*;

    const NOW_MS: i64 = 1_700_000_000_000;

    #[test]
    fn signature_matches_slacks_published_example() {
        // Slack's docs, "Verifying requests from Slack"
        // (https://api.slack.com/authentication/verifying-requests-from-slack):
        // signing secret, timestamp and slash-command body as published.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let want = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(
            signature(
                "8f742231b10e8888abcd99yyyzzz85a5",
                "1531420618",
                body.as_bytes()
            ),
            want
        );
        let k = keys(&[("signing_secret", "8f742231b10e8888abcd99yyyzzz85a5")]);
        let h = [
            ("x-slack-request-timestamp", "1531420618"),
            ("x-slack-signature", want),
        ];
        // Authentic, but a slash command is not JSON.
        let c = call(Method::Post, &[], &h, body.as_bytes(), 1_531_420_618_000);
        assert_eq!(status(inbound(&k, &c.call())), 400);
    }

    fn signed(body: &str, now_ms: i64) -> Result<Inbound, Refusal> {
        let ts = (now_ms / 1000).to_string();
        let sig = signature("sekrit", &ts, body.as_bytes());
        let h = [
            ("x-slack-request-timestamp", ts.as_str()),
            ("x-slack-signature", sig.as_str()),
        ];
        let c = call(Method::Post, &[], &h, body.as_bytes(), NOW_MS);
        inbound(&keys(&[("signing_secret", "sekrit")]), &c.call())
    }

    #[test]
    fn url_verification() {
        let r = signed(
            r#"{"type":"url_verification","challenge":"3eZbrw1aB","token":"x"}"#,
            NOW_MS,
        );
        assert_eq!(
            r,
            Ok(Inbound::Answer {
                content_type: "application/json",
                body: r#"{"challenge":"3eZbrw1aB"}"#.into()
            })
        );
    }

    #[test]
    fn message_round_trip() {
        let body = json!({
            "type": "event_callback", "event_id": "Ev1",
            "event": {"type": "message", "channel": "C1", "user": "U1", "ts": "1.2",
                "text": "a &lt;b&gt; &amp; <https://x.example/?a=1&amp;b=2|site> <https://y.example> <@U2|bob> <!here>",
                "user_profile": {"display_name": "", "real_name": "Alice A"}}
        });
        let r = signed(&body.to_string(), NOW_MS);
        assert_eq!(
            r,
            Ok(Inbound::Message(Message {
                event_id: "Ev1".into(),
                nick: "Alice A".into(),
                text: "a <b> & site (https://x.example/?a=1&b=2) https://y.example @bob @here"
                    .into(),
                message_ref: Some("C1:1.2".into()),
                edit: false,
            }))
        );
        let body = json!({"type":"event_callback","event_id":"Ev2","event":{"type":"message","channel":"C1","user":"U1","ts":"1","text":"x"}});
        let Ok(Inbound::Message(m)) = signed(&body.to_string(), NOW_MS) else {
            panic!("message");
        };
        assert_eq!(m.nick, "U1");
    }

    #[test]
    fn edits_and_ignores() {
        let edit = json!({"type":"event_callback","event_id":"Ev3","event":{"type":"message","subtype":"message_changed","channel":"C1",
            "message":{"user":"U1","text":"fixed","ts":"1.2","user_profile":{"display_name":"al"}}}});
        let Ok(Inbound::Message(m)) = signed(&edit.to_string(), NOW_MS) else {
            panic!("edit");
        };
        assert_eq!(
            (
                m.edit,
                m.text.as_str(),
                m.message_ref.as_deref(),
                m.nick.as_str()
            ),
            (true, "fixed", Some("C1:1.2"), "al")
        );
        for ev in [
            json!({"type":"message","bot_id":"B1","text":"echo","channel":"C","ts":"1"}),
            json!({"type":"message","subtype":"bot_message","text":"echo"}),
            json!({"type":"message","subtype":"message_changed","message":{"bot_id":"B1","text":"x"}}),
            json!({"type":"message","subtype":"channel_join","text":"joined"}),
            json!({"type":"reaction_added"}),
            json!({"type":"message","text":"  "}),
        ] {
            let body = json!({"type":"event_callback","event_id":"Ev","event":ev});
            assert!(
                matches!(signed(&body.to_string(), NOW_MS), Ok(Inbound::Ignore(_))),
                "{ev}"
            );
        }
        assert!(matches!(
            signed(r#"{"type":"app_rate_limited"}"#, NOW_MS),
            Ok(Inbound::Ignore(_))
        ));
    }

    #[test]
    fn refusals() {
        let body =
            r#"{"type":"event_callback","event_id":"E","event":{"type":"message","text":"x"}}"#;
        // Stale, either way.
        assert_eq!(status(signed(body, NOW_MS - 301_000)), 401);
        assert_eq!(status(signed(body, NOW_MS + 301_000)), 401);
        assert!(signed(body, NOW_MS - 299_000).is_ok());
        // Bad signature, missing headers, GET.
        let ts = (NOW_MS / 1000).to_string();
        let k = keys(&[("signing_secret", "sekrit")]);
        let bad = signature("other", &ts, body.as_bytes());
        for h in [
            vec![
                ("x-slack-request-timestamp", ts.as_str()),
                ("x-slack-signature", bad.as_str()),
            ],
            vec![
                ("x-slack-request-timestamp", ts.as_str()),
                ("x-slack-signature", "v0=zz"),
            ],
            vec![("x-slack-request-timestamp", ts.as_str())],
            vec![("x-slack-signature", bad.as_str())],
            vec![
                ("x-slack-request-timestamp", "soon"),
                ("x-slack-signature", bad.as_str()),
            ],
        ] {
            let c = call(Method::Post, &[], &h, body.as_bytes(), NOW_MS);
            assert_eq!(status(inbound(&k, &c.call())), 401, "{h:?}");
        }
        let c = call(Method::Get, &[], &[], b"", NOW_MS);
        assert_eq!(status(inbound(&k, &c.call())), 405);
        // Authentic but malformed.
        for b in [
            "not json",
            "[1]",
            r#"{"event_id":"E"}"#,
            r#"{"type":"event_callback","event":{"type":"message","text":"x"}}"#,
            r#"{"type":"event_callback","event_id":"E"}"#,
            r#"{"type":"url_verification"}"#,
            r#"{"type":"event_callback","event_id":"E","event":{"type":"message","subtype":"message_changed"}}"#,
        ] {
            assert_eq!(status(signed(b, NOW_MS)), 400, "{b}");
        }
    }

    #[test]
    fn outbound_shapes() {
        let lines = [
            Line {
                nick: "alice",
                text: "a < b & c",
            },
            Line {
                nick: "alice",
                text: "/me waves",
            },
        ];
        let hook = keys(&[
            ("signing_secret", "s"),
            ("webhook", "https://hooks.slack.com/x"),
        ]);
        let r = super::super::outbound(Platform::Slack, &hook, &lines, 0);
        assert_eq!(r.url, "https://hooks.slack.com/x");
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            v,
            json!({"text": "[alice] a &lt; b &amp; c\n* alice waves"})
        );
        let bot = keys(&[
            ("signing_secret", "s"),
            ("bot_token", "xoxb-1"),
            ("channel", "C1"),
        ]);
        let r = super::super::outbound(Platform::Slack, &bot, &lines, 0);
        assert_eq!(r.url, "https://slack.com/api/chat.postMessage");
        assert!(r
            .headers
            .contains(&("authorization".into(), "Bearer xoxb-1".into())));
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["channel"], "C1");
        assert_eq!(v["username"], "alice");
        let mixed = [
            Line {
                nick: "a",
                text: "1",
            },
            Line {
                nick: "b",
                text: "2",
            },
        ];
        let mut local = bot.clone();
        local.insert("api".into(), "http://127.0.0.1:9/api/".into());
        let r = super::super::outbound(Platform::Slack, &local, &mixed, 0);
        assert_eq!(r.url, "http://127.0.0.1:9/api/chat.postMessage");
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            (v["username"].as_str(), v["text"].as_str()),
            (Some("talkgroups"), Some("[a] 1\n[b] 2"))
        );
    }

    #[test]
    fn verdicts() {
        assert_eq!(judge(200, b"ok", None), Verdict::Delivered);
        assert_eq!(
            judge(200, br#"{"ok":true,"ts":"1"}"#, None),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(200, br#"{"ok":false,"error":"ratelimited"}"#, Some(3)),
            Verdict::Retry {
                after_secs: Some(3),
                ..
            }
        ));
        assert!(matches!(
            judge(200, br#"{"ok":false,"error":"channel_not_found"}"#, None),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            judge(429, b"", Some(30)),
            Verdict::Retry {
                after_secs: Some(30),
                ..
            }
        ));
        for s in [400, 413, 422] {
            assert!(matches!(
                judge(s, b"invalid_payload", None),
                Verdict::Refused(_)
            ));
        }
        for s in [403, 404, 410, 500, 503] {
            assert!(matches!(judge(s, b"", None), Verdict::Retry { .. }));
        }
    }
}
