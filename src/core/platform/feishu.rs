//! Feishu and Lark (one protocol, two brands): event subscription inbound,
//! optionally encrypted with the app's Encrypt Key; the custom-bot webhook
//! outbound.

use serde_json::{json, Value};

use super::super::webhook::{feishu_sign, refuse, same_secret, HttpRequest, Refusal};
use super::{crypto, json_request, key, merged, message, parse_json, secret, str_at};
use super::{Call, Inbound, Keys, Line};

/// hex SHA-256(timestamp + nonce + encrypt_key + body), the
/// `X-Lark-Signature` of encrypted deliveries.
pub(crate) fn signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    crypto::sha256_hex(&[
        timestamp.as_bytes(),
        nonce.as_bytes(),
        encrypt_key.as_bytes(),
        body,
    ])
}

/// Checks `X-Lark-Signature`: `None` when the headers are absent.
fn signature_ok(call: &Call<'_>, encrypt_key: &str) -> Option<bool> {
    let sig = call.header("x-lark-signature")?;
    let ts = call.header("x-lark-request-timestamp").unwrap_or_default();
    let nonce = call.header("x-lark-request-nonce").unwrap_or_default();
    Some(crypto::same_hex(
        &signature(ts, nonce, encrypt_key, call.body),
        sig,
    ))
}

pub(crate) fn inbound(keys: &Keys, call: &Call<'_>) -> Result<Inbound, Refusal> {
    super::require_post(call, "feishu")?;
    let token = secret(keys, "verification_token")?;
    let v = match key(keys, "encrypt_key") {
        None => parse_json(call.body)?,
        Some(encrypt_key) => {
            // The signature covers the raw body, so it is checked before the
            // body is decrypted; only the URL check may come without one.
            let signed = signature_ok(call, encrypt_key);
            if signed == Some(false) {
                return Err(refuse(401, "X-Lark-Signature does not match"));
            }
            let outer = parse_json(call.body)?;
            let enc = str_at(&outer, &["encrypt"])
                .ok_or_else(|| refuse(400, "expected an encrypted body {\"encrypt\": …}"))?;
            let plain = crypto::feishu_decrypt(encrypt_key, enc)
                .ok_or_else(|| refuse(400, "encrypt does not decrypt with encrypt_key"))?;
            let v = parse_json(&plain)?;
            // Feishu's own SDKs answer the challenge without a signature.
            if signed.is_none() && str_at(&v, &["type"]) != Some("url_verification") {
                return Err(refuse(401, "missing X-Lark-Signature"));
            }
            v
        }
    };
    let given = str_at(&v, &["header", "token"])
        .or_else(|| str_at(&v, &["token"]))
        .ok_or_else(|| refuse(401, "missing verification token"))?;
    if !same_secret(token, given) {
        return Err(refuse(401, "verification token does not match"));
    }
    if str_at(&v, &["type"]) == Some("url_verification") {
        let challenge = str_at(&v, &["challenge"])
            .ok_or_else(|| refuse(400, "url_verification without a challenge"))?;
        return Ok(Inbound::Answer {
            content_type: "application/json",
            body: json!({ "challenge": challenge }).to_string(),
        });
    }
    event(&v)
}

fn event(v: &Value) -> Result<Inbound, Refusal> {
    if str_at(v, &["header", "event_type"]) != Some("im.message.receive_v1") {
        return Ok(Inbound::Ignore("not a message event"));
    }
    let event_id = str_at(v, &["header", "event_id"])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(400, "event without header.event_id"))?;
    let ev = v
        .get("event")
        .filter(|e| e.is_object())
        .ok_or_else(|| refuse(400, "event without event"))?;
    if str_at(ev, &["sender", "sender_type"]) == Some("app") {
        return Ok(Inbound::Ignore("bot message"));
    }
    if str_at(ev, &["message", "message_type"]) != Some("text") {
        return Ok(Inbound::Ignore("not a text message"));
    }
    let content = str_at(ev, &["message", "content"])
        .ok_or_else(|| refuse(400, "text message without content"))?;
    let content: Value =
        serde_json::from_str(content).map_err(|_| refuse(400, "message content is not JSON"))?;
    let text =
        str_at(&content, &["text"]).ok_or_else(|| refuse(400, "message content has no text"))?;
    let nick = super::first_nonblank(&[
        str_at(ev, &["sender", "sender_id", "user_id"]),
        str_at(ev, &["sender", "sender_id", "open_id"]),
        str_at(ev, &["sender", "sender_id", "union_id"]),
    ])
    .unwrap_or("feishu");
    let message_ref = str_at(ev, &["message", "message_id"]).map(String::from);
    Ok(message(
        event_id.to_string(),
        nick,
        text.to_string(),
        message_ref,
        false,
    ))
}

pub(crate) fn outbound(keys: &Keys, lines: &[Line<'_>], now_ms: i64) -> HttpRequest {
    let mut body = json!({ "msg_type": "text", "content": { "text": merged(lines) } });
    if let Some(secret) = key(keys, "webhook_secret") {
        let secs = now_ms.div_euclid(1000);
        body["timestamp"] = secs.to_string().into();
        body["sign"] = feishu_sign(secret, secs).into();
    }
    json_request(key(keys, "webhook").unwrap_or_default().to_string(), body)
}

#[cfg(test)]
mod tests {
    use super::super::super::webhook::Verdict;
    use super::super::tests::{call, keys, status};
    use super::super::{judge, Message, Method, Platform};
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn k(encrypted: bool) -> Keys {
        let mut k = keys(&[
            ("verification_token", "vtok"),
            ("webhook", "https://open.feishu.cn/open-apis/bot/v2/hook/x"),
        ]);
        if encrypted {
            k.insert("encrypt_key".into(), "ekey".into());
        }
        k
    }

    fn msg_event(sender_type: &str, message_type: &str, content: &str) -> Value {
        json!({
            "schema": "2.0",
            "header": {"event_id": "evt-1", "event_type": "im.message.receive_v1", "token": "vtok"},
            "event": {
                "sender": {"sender_id": {"open_id": "ou_1", "user_id": ""}, "sender_type": sender_type},
                "message": {"message_id": "om_1", "message_type": message_type, "content": content}
            }
        })
    }

    fn post(keys: &Keys, body: &[u8], headers: &[(&str, &str)]) -> Result<Inbound, Refusal> {
        inbound(keys, &call(Method::Post, &[], headers, body, NOW).call())
    }

    /// An encrypted, signed delivery of `plain`.
    fn sealed(plain: &Value, sign: bool) -> (Vec<u8>, Vec<(String, String)>) {
        let enc = crypto::feishu_encrypt("ekey", &[3; 16], plain.to_string().as_bytes());
        let body = json!({ "encrypt": enc }).to_string().into_bytes();
        let mut h = Vec::new();
        if sign {
            h.push(("x-lark-request-timestamp".into(), "1700000000".into()));
            h.push(("x-lark-request-nonce".into(), "n0nce".into()));
            h.push((
                "x-lark-signature".into(),
                signature("1700000000", "n0nce", "ekey", &body),
            ));
        }
        (body, h)
    }

    fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
        h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
    }

    fn expected() -> Inbound {
        Inbound::Message(Message {
            event_id: "evt-1".into(),
            nick: "ou_1".into(),
            text: "hi there".into(),
            message_ref: Some("om_1".into()),
            edit: false,
        })
    }

    #[test]
    fn plain_round_trip() {
        let ev = msg_event("user", "text", r#"{"text":"hi there"}"#);
        assert_eq!(
            post(&k(false), ev.to_string().as_bytes(), &[]),
            Ok(expected())
        );
        let mut named = ev.clone();
        named["event"]["sender"]["sender_id"]["user_id"] = "u_1".into();
        let Ok(Inbound::Message(m)) = post(&k(false), named.to_string().as_bytes(), &[]) else {
            panic!("message");
        };
        assert_eq!(m.nick, "u_1");
        let challenge = json!({"challenge": "c1", "token": "vtok", "type": "url_verification"});
        assert_eq!(
            post(&k(false), challenge.to_string().as_bytes(), &[]),
            Ok(Inbound::Answer {
                content_type: "application/json",
                body: r#"{"challenge":"c1"}"#.into()
            })
        );
    }

    #[test]
    fn encrypted_round_trip() {
        let ev = msg_event("user", "text", r#"{"text":"hi there"}"#);
        let (body, h) = sealed(&ev, true);
        assert_eq!(post(&k(true), &body, &refs(&h)), Ok(expected()));
        // The challenge may come unsigned; a signed one is checked.
        let challenge = json!({"challenge": "c2", "token": "vtok", "type": "url_verification"});
        let (body, _) = sealed(&challenge, false);
        assert!(matches!(
            post(&k(true), &body, &[]),
            Ok(Inbound::Answer { .. })
        ));
        let (body, h) = sealed(&challenge, true);
        assert!(matches!(
            post(&k(true), &body, &refs(&h)),
            Ok(Inbound::Answer { .. })
        ));
        let mut bad = h.clone();
        bad[2].1 = "00".repeat(32);
        assert_eq!(status(post(&k(true), &body, &refs(&bad))), 401);
    }

    #[test]
    fn refusals() {
        let ev = msg_event("user", "text", r#"{"text":"x"}"#);
        // Wrong or missing token.
        let mut wrong = ev.clone();
        wrong["header"]["token"] = "nope".into();
        assert_eq!(
            status(post(&k(false), wrong.to_string().as_bytes(), &[])),
            401
        );
        let mut none = ev.clone();
        none["header"]
            .as_object_mut()
            .expect("object")
            .remove("token");
        assert_eq!(
            status(post(&k(false), none.to_string().as_bytes(), &[])),
            401
        );
        let challenge = json!({"challenge": "c", "token": "nope", "type": "url_verification"});
        assert_eq!(
            status(post(&k(false), challenge.to_string().as_bytes(), &[])),
            401
        );
        // Encrypted: unsigned event, bad signature, tampered body.
        let (body, h) = sealed(&ev, false);
        assert_eq!(status(post(&k(true), &body, &refs(&h))), 401);
        let (body, mut h) = sealed(&ev, true);
        h[2].1 = "ab".repeat(32);
        assert_eq!(status(post(&k(true), &body, &refs(&h))), 401);
        let (mut body, h) = sealed(&ev, true);
        body.push(b' ');
        assert_eq!(status(post(&k(true), &body, &refs(&h))), 401);
        // Authentic but undecryptable, or not the JSON expected.
        for outer in [
            json!({"encrypt": "AAAA"}),
            json!({"encrypt": "%%%"}),
            json!({"encrypt": crypto::feishu_encrypt("other", &[1; 16], b"{}")}),
            json!({"encrypt": crypto::feishu_encrypt("ekey", &[1; 16], b"not json")}),
            json!({"plain": true}),
        ] {
            let body = outer.to_string().into_bytes();
            let h = [
                ("x-lark-request-timestamp", "1"),
                ("x-lark-request-nonce", "n"),
            ];
            let sig = signature("1", "n", "ekey", &body);
            let mut h = h.to_vec();
            h.push(("x-lark-signature", &sig));
            assert_eq!(status(post(&k(true), &body, &h)), 400, "{outer}");
        }
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"token":"vtok","type":"url_verification"}"#,
        ] {
            assert_eq!(status(post(&k(false), bad, &[])), 400);
        }
        let no_id = {
            let mut e = ev.clone();
            e["header"]
                .as_object_mut()
                .expect("object")
                .remove("event_id");
            e
        };
        assert_eq!(
            status(post(&k(false), no_id.to_string().as_bytes(), &[])),
            400
        );
        let bad_content = msg_event("user", "text", "{not json");
        assert_eq!(
            status(post(&k(false), bad_content.to_string().as_bytes(), &[])),
            400
        );
        let c = call(Method::Get, &[], &[], b"", NOW);
        assert_eq!(status(inbound(&k(false), &c.call())), 405);
    }

    #[test]
    fn ignores() {
        for ev in [
            msg_event("app", "text", r#"{"text":"echo"}"#),
            msg_event("user", "image", r#"{"image_key":"k"}"#),
            json!({"schema":"2.0","header":{"event_type":"im.chat.member.user.added_v1","token":"vtok","event_id":"e"}}),
        ] {
            assert!(
                matches!(
                    post(&k(false), ev.to_string().as_bytes(), &[]),
                    Ok(Inbound::Ignore(_))
                ),
                "{ev}"
            );
        }
    }

    #[test]
    fn outbound_and_verdicts() {
        let lines = [
            Line {
                nick: "a",
                text: "1",
            },
            Line {
                nick: "b",
                text: "2",
            },
        ];
        let r = super::super::outbound(Platform::Lark, &k(false), &lines, NOW);
        assert_eq!(r.url, "https://open.feishu.cn/open-apis/bot/v2/hook/x");
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            v,
            json!({"msg_type": "text", "content": {"text": "[a] 1\n[b] 2"}})
        );
        let mut signed = k(false);
        signed.insert("webhook_secret".into(), "secret".into());
        let r = super::super::outbound(Platform::Feishu, &signed, &lines, 1_599_360_473_999);
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["timestamp"], "1599360473");
        assert_eq!(v["sign"], feishu_sign("secret", 1_599_360_473));
        assert_eq!(
            judge(Platform::Feishu, 200, br#"{"code":0}"#, None),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(
                Platform::Lark,
                200,
                br#"{"code":9499,"msg":"too many"}"#,
                None
            ),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            judge(Platform::Feishu, 200, br#"{"StatusCode":1}"#, None),
            Verdict::Retry { .. }
        ));
    }
}
