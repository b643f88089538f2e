//! DingTalk (钉钉): the outgoing robot inbound (signed headers), the custom
//! robot webhook outbound (optionally signed in its URL).

use base64::Engine as _;
use serde_json::json;

use super::super::webhook::{refuse, HttpRequest, Refusal};
use super::crypto::{self, B64};
use super::{json_request, key, merged, message, parse_json, secret, str_at};
use super::{Call, Inbound, Keys, Line};

/// DingTalk refuses (and so do we) a timestamp more than an hour off.
const MAX_SKEW_MS: u64 = 3_600_000;

/// Base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)):
/// the same construction signs both directions.
pub(crate) fn sign(secret: &str, timestamp_ms: &str) -> String {
    let tag = crypto::hmac_sha256_tag(
        secret.as_bytes(),
        &[timestamp_ms.as_bytes(), b"\n", secret.as_bytes()],
    );
    B64.encode(tag)
}

pub(crate) fn inbound(keys: &Keys, call: &Call<'_>) -> Result<Inbound, Refusal> {
    super::require_post(call, "dingtalk")?;
    let app_secret = secret(keys, "app_secret")?;
    let ts = call
        .header("timestamp")
        .ok_or_else(|| refuse(401, "missing timestamp header"))?
        .trim();
    let sig = call
        .header("sign")
        .ok_or_else(|| refuse(401, "missing sign header"))?;
    let ms: i64 = ts
        .parse()
        .map_err(|_| refuse(401, "timestamp header is not a number"))?;
    if call.now_ms.abs_diff(ms) > MAX_SKEW_MS {
        return Err(refuse(401, "timestamp is not within 1 hour"));
    }
    let tag = B64
        .decode(sig.trim())
        .map_err(|_| refuse(401, "sign is not Base64"))?;
    let parts: [&[u8]; 3] = [ts.as_bytes(), b"\n", app_secret.as_bytes()];
    if !crypto::hmac_sha256_verify(app_secret.as_bytes(), &parts, &tag) {
        return Err(refuse(401, "sign does not match"));
    }
    let v = parse_json(call.body)?;
    let event_id = str_at(&v, &["msgId"])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(400, "message without msgId"))?;
    if str_at(&v, &["msgtype"]) != Some("text") {
        return Ok(Inbound::Ignore("not a text message"));
    }
    let text = str_at(&v, &["text", "content"])
        .ok_or_else(|| refuse(400, "text message without text.content"))?;
    let nick = super::first_nonblank(&[
        str_at(&v, &["senderNick"]),
        str_at(&v, &["senderStaffId"]),
        str_at(&v, &["senderId"]),
    ])
    .unwrap_or("dingtalk");
    // DingTalk pads the text (a leading space after the @robot mention).
    Ok(message(
        event_id.to_string(),
        nick,
        text.trim().to_string(),
        None,
        false,
    ))
}

pub(crate) fn outbound(keys: &Keys, lines: &[Line<'_>], now_ms: i64) -> HttpRequest {
    let mut url = key(keys, "webhook").unwrap_or_default().to_string();
    if let Some(secret) = key(keys, "webhook_secret") {
        let ts = now_ms.to_string();
        let sig: String =
            url::form_urlencoded::byte_serialize(sign(secret, &ts).as_bytes()).collect();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("timestamp={ts}&sign={sig}"));
    }
    json_request(
        url,
        json!({ "msgtype": "text", "text": { "content": merged(lines) } }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::webhook::Verdict;
    use super::super::tests::{call, keys, status};
    use super::super::{judge, Message, Method, Platform};
    use super::*;
    use serde_json::Value;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn sign_known_vector() {
        // DingTalk's docs ("自定义机器人安全设置 / 加签", and the outgoing
        // robot's "接收消息" page) publish the algorithm and sample code with
        // the secret "this is secret" but no fixed timestamp, so no published
        // vector exists. This one was computed independently with openssl:
        //   printf '1700000000000\nthis is secret' |
        //     openssl dgst -sha256 -hmac 'this is secret' -binary | base64
        assert_eq!(
            sign("this is secret", "1700000000000"),
            "sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0="
        );
    }

    fn k() -> Keys {
        keys(&[
            ("app_secret", "appsecret"),
            (
                "webhook",
                "https://oapi.dingtalk.com/robot/send?access_token=t",
            ),
        ])
    }

    fn post(body: &str, ts_ms: i64, secret: &str) -> Result<Inbound, Refusal> {
        let ts = ts_ms.to_string();
        let s = sign(secret, &ts);
        let h = [("timestamp", ts.as_str()), ("sign", s.as_str())];
        inbound(
            &k(),
            &call(Method::Post, &[], &h, body.as_bytes(), NOW).call(),
        )
    }

    const TEXT: &str = r#"{"msgtype":"text","text":{"content":" hello "},"msgId":"msg1","senderNick":"张三","senderStaffId":"s1","senderId":"$:LWCP_v1:$x","conversationId":"c"}"#;

    #[test]
    fn round_trip() {
        assert_eq!(
            post(TEXT, NOW - 1000, "appsecret"),
            Ok(Inbound::Message(Message {
                event_id: "msg1".into(),
                nick: "张三".into(),
                text: "hello".into(),
                message_ref: None,
                edit: false,
            }))
        );
        let no_nick = TEXT.replace("张三", "");
        let Ok(Inbound::Message(m)) = post(&no_nick, NOW, "appsecret") else {
            panic!("message");
        };
        assert_eq!(m.nick, "s1");
        let pic = r#"{"msgtype":"picture","content":{},"msgId":"m2","senderNick":"a"}"#;
        assert!(matches!(
            post(pic, NOW, "appsecret"),
            Ok(Inbound::Ignore(_))
        ));
    }

    #[test]
    fn refusals() {
        assert_eq!(status(post(TEXT, NOW, "wrong")), 401);
        assert_eq!(status(post(TEXT, NOW - 3_600_001, "appsecret")), 401);
        assert_eq!(status(post(TEXT, NOW + 3_600_001, "appsecret")), 401);
        assert!(post(TEXT, NOW - 3_599_000, "appsecret").is_ok());
        let ts = NOW.to_string();
        for h in [
            vec![("timestamp", ts.as_str())],
            vec![("sign", "AAAA")],
            vec![("timestamp", "now"), ("sign", "AAAA")],
            vec![("timestamp", ts.as_str()), ("sign", "!!")],
        ] {
            let r = inbound(
                &k(),
                &call(Method::Post, &[], &h, TEXT.as_bytes(), NOW).call(),
            );
            assert_eq!(status(r), 401, "{h:?}");
        }
        for b in [
            "nope",
            "[]",
            r#"{"msgtype":"text","text":{"content":"x"}}"#,
            r#"{"msgtype":"text","msgId":"m"}"#,
        ] {
            assert_eq!(status(post(b, NOW, "appsecret")), 400, "{b}");
        }
        let r = inbound(&k(), &call(Method::Get, &[], &[], b"", NOW).call());
        assert_eq!(status(r), 405);
    }

    #[test]
    fn outbound_and_verdicts() {
        let lines = [Line {
            nick: "a",
            text: "1",
        }];
        let r = super::super::outbound(Platform::Dingtalk, &k(), &lines, NOW);
        assert_eq!(r.url, "https://oapi.dingtalk.com/robot/send?access_token=t");
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v, json!({"msgtype": "text", "text": {"content": "[a] 1"}}));
        let mut signed = k();
        signed.insert("webhook_secret".into(), "this is secret".into());
        let r = super::super::outbound(Platform::Dingtalk, &signed, &lines, NOW);
        let sig: String = url::form_urlencoded::byte_serialize(
            sign("this is secret", "1700000000000").as_bytes(),
        )
        .collect();
        assert_eq!(
            r.url,
            format!("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&sign={sig}")
        );
        assert!(!sig.contains(['+', '/', '=']));
        signed.insert("webhook".into(), "http://127.0.0.1:9/send".into());
        let r = super::super::outbound(Platform::Dingtalk, &signed, &lines, NOW);
        assert!(r
            .url
            .starts_with("http://127.0.0.1:9/send?timestamp=1700000000000&sign="));
        assert_eq!(
            judge(Platform::Dingtalk, 200, br#"{"errcode":0}"#, None),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(
                Platform::Dingtalk,
                200,
                br#"{"errcode":130101,"errmsg":"send too fast"}"#,
                None
            ),
            Verdict::Retry { .. }
        ));
    }
}
