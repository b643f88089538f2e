//! Telegram: the Bot API webhook inbound (its secret token header),
//! `sendMessage` outbound.

use serde_json::{json, Value};

use super::super::webhook::{refuse, same_secret, HttpRequest, Refusal, Verdict};
use super::{json_request, key, message, parse_json, secret, snippet, str_at};
use super::{Call, Inbound, Keys, Line};

const DEFAULT_API: &str = "https://api.telegram.org";

pub(crate) fn inbound(keys: &Keys, call: &Call<'_>) -> Result<Inbound, Refusal> {
    super::require_post(call, "telegram")?;
    let want = secret(keys, "secret_token")?;
    let given = call
        .header("x-telegram-bot-api-secret-token")
        .ok_or_else(|| refuse(401, "missing X-Telegram-Bot-Api-Secret-Token"))?;
    if !same_secret(want, given) {
        return Err(refuse(
            401,
            "X-Telegram-Bot-Api-Secret-Token does not match",
        ));
    }
    let v = parse_json(call.body)?;
    let update_id = v
        .get("update_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| refuse(400, "update without update_id"))?;
    let (m, edit) = match (v.get("message"), v.get("edited_message")) {
        (Some(m), _) => (m, false),
        (None, Some(m)) => (m, true),
        // Channel posts, callbacks, member updates: not relayed.
        (None, None) => return Ok(Inbound::Ignore("not a message update")),
    };
    if !m.is_object() {
        return Err(refuse(400, "message is not an object"));
    }
    let chat_id = m
        .get("chat")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_i64)
        .ok_or_else(|| refuse(400, "message without chat.id"))?;
    // The bot may sit in other chats; only the bridged one is relayed.
    if key(keys, "chat_id") != Some(chat_id.to_string().as_str()) {
        return Ok(Inbound::Ignore("another chat"));
    }
    let from = m.get("from");
    if from
        .and_then(|f| f.get("is_bot"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Ok(Inbound::Ignore("bot message"));
    }
    let Some(text) = str_at(m, &["text"]).or_else(|| str_at(m, &["caption"])) else {
        return Ok(Inbound::Ignore("no text"));
    };
    let full_name = from.and_then(|f| {
        let first = str_at(f, &["first_name"])?;
        Some(
            match str_at(f, &["last_name"]).filter(|l| !l.trim().is_empty()) {
                Some(last) => format!("{first} {last}"),
                None => first.to_string(),
            },
        )
    });
    let nick = super::first_nonblank(&[
        from.and_then(|f| str_at(f, &["username"])),
        full_name.as_deref(),
    ])
    .unwrap_or("telegram");
    let message_ref = m
        .get("message_id")
        .and_then(Value::as_i64)
        .map(|id| format!("{chat_id}:{id}"));
    Ok(message(
        update_id.to_string(),
        nick,
        text.to_string(),
        message_ref,
        edit,
    ))
}

pub(crate) fn outbound(keys: &Keys, lines: &[Line<'_>]) -> HttpRequest {
    let api = key(keys, "api")
        .unwrap_or(DEFAULT_API)
        .trim_end_matches('/');
    let token = key(keys, "bot_token").unwrap_or_default();
    json_request(
        format!("{api}/bot{token}/sendMessage"),
        json!({ "chat_id": key(keys, "chat_id").unwrap_or_default(), "text": super::merged(lines) }),
    )
}

pub(crate) fn judge(status: u16, body: &[u8], retry_after: Option<u64>) -> Verdict {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let ok = v
        .as_ref()
        .and_then(|v| v.get("ok"))
        .and_then(Value::as_bool);
    match status {
        200..=299 if ok != Some(false) => Verdict::Delivered,
        429 => Verdict::Retry {
            error: snippet(status, body),
            // Telegram says how long in the body; the header is a fallback.
            after_secs: v
                .as_ref()
                .and_then(|v| v.get("parameters"))
                .and_then(|p| p.get("retry_after"))
                .and_then(Value::as_u64)
                .or(retry_after),
        },
        // The message itself is refused (too long, bad entities…).
        400 => Verdict::Refused(snippet(status, body)),
        // 401/403/404 (token revoked, bot removed) may be fixed by the admin.
        _ => Verdict::Retry {
            error: snippet(status, body),
            after_secs: retry_after,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{call, keys, status};
    use super::super::{Message, Method, Platform};
    use super::*;

    fn k() -> Keys {
        keys(&[
            ("bot_token", "123:abc"),
            ("chat_id", "-1001"),
            ("secret_token", "s3cret"),
        ])
    }

    fn post(body: &Value, token: &str) -> Result<Inbound, Refusal> {
        let h = [("x-telegram-bot-api-secret-token", token)];
        inbound(
            &k(),
            &call(Method::Post, &[], &h, body.to_string().as_bytes(), 0).call(),
        )
    }

    fn update(field: &str, msg: Value) -> Value {
        let mut u = json!({ "update_id": 42 });
        u[field] = msg;
        u
    }

    fn msg() -> Value {
        json!({"message_id": 7, "chat": {"id": -1001, "type": "supergroup"},
            "from": {"id": 5, "is_bot": false, "first_name": "Ann", "last_name": "Lee"}, "text": "hi"})
    }

    #[test]
    fn round_trip() {
        let want = Message {
            event_id: "42".into(),
            nick: "Ann Lee".into(),
            text: "hi".into(),
            message_ref: Some("-1001:7".into()),
            edit: false,
        };
        assert_eq!(
            post(&update("message", msg()), "s3cret"),
            Ok(Inbound::Message(want.clone()))
        );
        assert_eq!(
            post(&update("edited_message", msg()), "s3cret"),
            Ok(Inbound::Message(Message { edit: true, ..want }))
        );
        let mut m = msg();
        m["from"]["username"] = "ann_l".into();
        m.as_object_mut().expect("object").remove("text");
        m["caption"] = "a photo".into();
        let Ok(Inbound::Message(got)) = post(&update("message", m), "s3cret") else {
            panic!("caption");
        };
        assert_eq!((got.nick.as_str(), got.text.as_str()), ("ann_l", "a photo"));
    }

    #[test]
    fn ignores() {
        let mut bot = msg();
        bot["from"]["is_bot"] = true.into();
        let mut other = msg();
        other["chat"]["id"] = (-1002).into();
        let mut sticker = msg();
        sticker.as_object_mut().expect("object").remove("text");
        for u in [
            update("message", bot),
            update("message", other),
            update("message", sticker),
            json!({"update_id": 1, "channel_post": msg()}),
        ] {
            assert!(matches!(post(&u, "s3cret"), Ok(Inbound::Ignore(_))), "{u}");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(status(post(&update("message", msg()), "wrong")), 401);
        assert_eq!(status(post(&update("message", msg()), "")), 401);
        let r = inbound(&k(), &call(Method::Post, &[], &[], b"{}", 0).call());
        assert_eq!(status(r), 401);
        let r = inbound(&k(), &call(Method::Get, &[], &[], b"", 0).call());
        assert_eq!(status(r), 405);
        let h = [("x-telegram-bot-api-secret-token", "s3cret")];
        for b in [
            &b"nope"[..],
            b"[]",
            br#"{"message":{}}"#,
            br#"{"update_id":"x"}"#,
            br#"{"update_id":1,"message":{"text":"x"}}"#,
            br#"{"update_id":1,"message":5}"#,
        ] {
            let r = inbound(&k(), &call(Method::Post, &[], &h, b, 0).call());
            assert_eq!(status(r), 400, "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn outbound_and_verdicts() {
        let lines = [Line {
            nick: "a",
            text: "1",
        }];
        let r = super::super::outbound(Platform::Telegram, &k(), &lines, 0);
        assert_eq!(r.url, "https://api.telegram.org/bot123:abc/sendMessage");
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v, json!({"chat_id": "-1001", "text": "[a] 1"}));
        let mut local = k();
        local.insert("api".into(), "http://127.0.0.1:9".into());
        let r = super::super::outbound(Platform::Telegram, &local, &lines, 0);
        assert_eq!(r.url, "http://127.0.0.1:9/bot123:abc/sendMessage");
        assert_eq!(
            judge(200, br#"{"ok":true,"result":{}}"#, None),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(200, br#"{"ok":false}"#, None),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            judge(
                429,
                br#"{"ok":false,"error_code":429,"parameters":{"retry_after":17}}"#,
                Some(3)
            ),
            Verdict::Retry {
                after_secs: Some(17),
                ..
            }
        ));
        assert!(matches!(
            judge(429, b"", Some(3)),
            Verdict::Retry {
                after_secs: Some(3),
                ..
            }
        ));
        assert!(matches!(
            judge(
                400,
                br#"{"ok":false,"description":"Bad Request: message is too long"}"#,
                None
            ),
            Verdict::Refused(_)
        ));
        for s in [401, 403, 404, 500, 502] {
            assert!(matches!(judge(s, b"", None), Verdict::Retry { .. }), "{s}");
        }
    }
}
