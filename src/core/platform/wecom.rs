//! WeCom (企业微信): the intelligent-bot callback inbound (WXBizMsgCrypt:
//! SHA-1 signature, AES-256-CBC), the group-bot webhook outbound.

use serde_json::{json, Value};

use super::super::webhook::{refuse, HttpRequest, Refusal};
use super::crypto::{self, WecomError};
use super::{json_request, key, merged, message, parse_json, secret, str_at};
use super::{Call, Inbound, Keys, Line, Method};

fn query<'a>(call: &'a Call<'_>, name: &str) -> Result<&'a str, Refusal> {
    call.query(name)
        .ok_or_else(|| refuse(401, format!("missing query parameter {name}")))
}

/// Checks the signature over `encrypted`, then decrypts it.
fn open(keys: &Keys, call: &Call<'_>, encrypted: &str) -> Result<Vec<u8>, Refusal> {
    let token = secret(keys, "token")?;
    let sig = query(call, "msg_signature")?;
    let ts = query(call, "timestamp")?;
    let nonce = query(call, "nonce")?;
    let want = crypto::wecom_signature(&[token, ts, nonce, encrypted]);
    if !crypto::same_hex(&want, sig) {
        return Err(refuse(401, "msg_signature does not match"));
    }
    let aes_key = key(keys, "encoding_aes_key")
        .and_then(crypto::wecom_key)
        .ok_or_else(|| refuse(401, "bridge has no usable encoding_aes_key"))?;
    match crypto::wecom_decrypt(&aes_key, encrypted) {
        Ok((msg, _receive_id)) => Ok(msg),
        Err(WecomError::Undecryptable) => Err(refuse(400, "encrypt does not decrypt")),
        Err(WecomError::LengthLies) => Err(refuse(400, "decrypted length field is wrong")),
    }
}

/// The `Encrypt` element of WXBizMsgCrypt's XML envelope, CDATA or not.
fn xml_encrypt(body: &str) -> Option<&str> {
    let start = body.find("<Encrypt>")? + "<Encrypt>".len();
    let len = body.get(start..)?.find("</Encrypt>")?;
    let inner = body.get(start..start + len)?.trim();
    Some(
        inner
            .strip_prefix("<![CDATA[")
            .and_then(|s| s.strip_suffix("]]>"))
            .unwrap_or(inner),
    )
}

pub(crate) fn inbound(keys: &Keys, call: &Call<'_>) -> Result<Inbound, Refusal> {
    match call.method {
        Method::Get => {
            let echostr = call
                .query("echostr")
                .ok_or_else(|| refuse(400, "missing query parameter echostr"))?;
            let plain = open(keys, call, echostr)?;
            let body = String::from_utf8(plain).map_err(|_| refuse(400, "echostr is not UTF-8"))?;
            Ok(Inbound::Answer {
                content_type: "text/plain; charset=utf-8",
                body,
            })
        }
        Method::Post => {
            let text =
                std::str::from_utf8(call.body).map_err(|_| refuse(400, "body is not UTF-8"))?;
            let encrypted = if text.trim_start().starts_with('<') {
                xml_encrypt(text)
                    .ok_or_else(|| refuse(400, "XML body without <Encrypt>"))?
                    .to_string()
            } else {
                let v = parse_json(call.body)?;
                str_at(&v, &["encrypt"])
                    .ok_or_else(|| refuse(400, "body without encrypt"))?
                    .to_string()
            };
            let plain = open(keys, call, &encrypted)?;
            event(&parse_json(&plain)?)
        }
    }
}

fn event(v: &Value) -> Result<Inbound, Refusal> {
    let event_id = match v.get("msgid") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(refuse(400, "message without msgid")),
    };
    if str_at(v, &["msgtype"]) != Some("text") {
        return Ok(Inbound::Ignore("not a text message"));
    }
    let text = str_at(v, &["text", "content"])
        .ok_or_else(|| refuse(400, "text message without text.content"))?;
    let nick = str_at(v, &["from", "userid"])
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("wecom");
    Ok(message(event_id, nick, text.to_string(), None, false))
}

pub(crate) fn outbound(keys: &Keys, lines: &[Line<'_>]) -> HttpRequest {
    json_request(
        key(keys, "webhook").unwrap_or_default().to_string(),
        json!({ "msgtype": "text", "text": { "content": merged(lines) } }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::webhook::Verdict;
    use super::super::tests::{call, keys, status};
    use super::super::{judge, Message, Platform};
    use super::*;

    // WeCom's WXBizMsgCrypt samples (linked from WeCom's developer document
    // "加解密库下载与返回码", https://developer.work.weixin.qq.com/document/path/90307).
    const TOKEN: &str = "QDG6eK";
    const AES: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    fn k() -> Keys {
        keys(&[
            ("token", TOKEN),
            ("encoding_aes_key", AES),
            (
                "webhook",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x",
            ),
        ])
    }

    #[test]
    fn verify_url_sample() {
        let q = [
            ("msg_signature", "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"),
            ("timestamp", "1409659589"),
            ("nonce", "263014780"),
            ("echostr", "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="),
        ];
        let c = call(Method::Get, &q, &[], b"", 0);
        assert_eq!(
            inbound(&k(), &c.call()),
            Ok(Inbound::Answer {
                content_type: "text/plain; charset=utf-8",
                body: "1616140317555161061".into()
            })
        );
        let mut bad = q;
        bad[0].1 = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4";
        assert_eq!(
            status(inbound(&k(), &call(Method::Get, &bad, &[], b"", 0).call())),
            401
        );
        let mut bad = q;
        bad[2].1 = "263014781";
        assert_eq!(
            status(inbound(&k(), &call(Method::Get, &bad, &[], b"", 0).call())),
            401
        );
        assert_eq!(
            status(inbound(
                &k(),
                &call(Method::Get, &q[..3], &[], b"", 0).call()
            )),
            400
        );
        assert_eq!(
            status(inbound(
                &k(),
                &call(Method::Get, &q[1..], &[], b"", 0).call()
            )),
            401
        );
    }

    #[test]
    fn decrypt_msg_sample_xml_envelope() {
        // The DecryptMsg sample's POST: its plaintext is an XML message, not
        // the intelligent bot's JSON, so it is authentic and then a 400.
        let body = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>";
        let q = [
            ("msg_signature", "477715d11cdb4164915debcba66cb864d751f3e6"),
            ("timestamp", "1409659813"),
            ("nonce", "1372623149"),
        ];
        let r = inbound(
            &k(),
            &call(Method::Post, &q, &[], body.as_bytes(), 0).call(),
        );
        assert_eq!(r.map_err(|e| e.status), Err(400));
        let mut bad = q;
        bad[1].1 = "1409659814";
        let r = inbound(
            &k(),
            &call(Method::Post, &bad, &[], body.as_bytes(), 0).call(),
        );
        assert_eq!(status(r), 401);
    }

    fn aes() -> [u8; 32] {
        crypto::wecom_key(AES).expect("key")
    }

    /// A signed POST carrying `plain`, as JSON or XML.
    fn post(plain: &[u8], len: Option<u32>, xml: bool) -> Result<Inbound, Refusal> {
        let enc = crypto::wecom_encrypt(&aes(), &[9; 16], plain, b"", len);
        post_encrypted(&enc, xml)
    }

    fn post_encrypted(enc: &str, xml: bool) -> Result<Inbound, Refusal> {
        let sig = crypto::wecom_signature(&[TOKEN, "1700000000", "nonce1", enc]);
        let q = [
            ("msg_signature", sig.as_str()),
            ("timestamp", "1700000000"),
            ("nonce", "nonce1"),
        ];
        let body = if xml {
            format!("<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>")
        } else {
            json!({ "encrypt": enc }).to_string()
        };
        inbound(
            &k(),
            &call(Method::Post, &q, &[], body.as_bytes(), 0).call(),
        )
    }

    #[test]
    fn message_round_trip() {
        let m = json!({"msgid": "m1", "aibotid": "b", "chatid": "c", "chattype": "group",
            "from": {"userid": "zhangsan"}, "msgtype": "text", "text": {"content": "你好"}});
        let want = Ok(Inbound::Message(Message {
            event_id: "m1".into(),
            nick: "zhangsan".into(),
            text: "你好".into(),
            message_ref: None,
            edit: false,
        }));
        let plain = m.to_string();
        assert_eq!(post(plain.as_bytes(), None, false), want);
        assert_eq!(post(plain.as_bytes(), None, true), want);
        let img = json!({"msgid": "m2", "from": {"userid": "z"}, "msgtype": "image", "image": {"url": "u"}});
        assert!(matches!(
            post(img.to_string().as_bytes(), None, false),
            Ok(Inbound::Ignore(_))
        ));
    }

    #[test]
    fn refusals() {
        let plain = json!({"msgid": "m1", "from": {"userid": "z"}, "msgtype": "text", "text": {"content": "x"}}).to_string();
        // The length field lies (longer than the plaintext).
        let n = plain.len() as u32;
        assert_eq!(status(post(plain.as_bytes(), Some(n + 1), false)), 400);
        assert_eq!(status(post(plain.as_bytes(), Some(u32::MAX), false)), 400);
        // Shorter: the message is cut, and is no longer JSON.
        assert_eq!(status(post(plain.as_bytes(), Some(n - 1), false)), 400);
        // Undecryptable, but correctly signed.
        for enc in ["AAAA", "%%%", ""] {
            assert_eq!(status(post_encrypted(enc, false)), 400, "{enc:?}");
        }
        // Not the JSON expected.
        for p in [&b"[1]"[..], b"{}", br#"{"msgid":"m","msgtype":"text"}"#] {
            assert_eq!(status(post(p, None, false)), 400);
        }
        // Bad signature, missing query.
        let enc = crypto::wecom_encrypt(&aes(), &[9; 16], plain.as_bytes(), b"", None);
        let body = json!({ "encrypt": enc }).to_string();
        let q = [("msg_signature", "00"), ("timestamp", "1"), ("nonce", "n")];
        let r = inbound(
            &k(),
            &call(Method::Post, &q, &[], body.as_bytes(), 0).call(),
        );
        assert_eq!(status(r), 401);
        let r = inbound(
            &k(),
            &call(Method::Post, &[], &[], body.as_bytes(), 0).call(),
        );
        assert_eq!(status(r), 401);
        // Bodies without an encrypt value.
        for b in ["{}", "<xml></xml>", "nope", "<xml><Encrypt>"] {
            let r = inbound(&k(), &call(Method::Post, &q, &[], b.as_bytes(), 0).call());
            assert_eq!(status(r), 400, "{b}");
        }
    }

    #[test]
    fn outbound_and_verdicts() {
        let lines = [Line {
            nick: "a",
            text: "1",
        }];
        let r = super::super::outbound(Platform::Wecom, &k(), &lines, 0);
        assert_eq!(
            r.url,
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"
        );
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v, json!({"msgtype": "text", "text": {"content": "[a] 1"}}));
        assert_eq!(
            judge(
                Platform::Wecom,
                200,
                br#"{"errcode":0,"errmsg":"ok"}"#,
                None
            ),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(
                Platform::Wecom,
                200,
                br#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
                None
            ),
            Verdict::Retry { .. }
        ));
    }
}
