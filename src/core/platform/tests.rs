//! Helpers for the platforms' tests, and the checks that span them all:
//! keys, rates, and arbitrary input never panicking.

use proptest::prelude::*;

use super::super::webhook::Refusal;
use super::*;

/// An owned call, so tests can build one in a line.
pub(crate) struct OwnedCall {
    method: Method,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    now_ms: i64,
}

impl OwnedCall {
    pub(crate) fn call(&self) -> Call<'_> {
        Call {
            method: self.method,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
            now_ms: self.now_ms,
        }
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

pub(crate) fn call(
    method: Method,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &[u8],
    now_ms: i64,
) -> OwnedCall {
    OwnedCall {
        method,
        query: pairs(query),
        headers: pairs(headers),
        body: body.to_vec(),
        now_ms,
    }
}

pub(crate) fn keys(p: &[(&str, &str)]) -> Keys {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The HTTP status a result answers with (200 for any success).
pub(crate) fn status(r: Result<Inbound, Refusal>) -> u16 {
    r.map_or_else(|e| e.status, |_| 200)
}

#[test]
fn platform_names() {
    for p in Platform::ALL {
        assert_eq!(Platform::parse(p.as_str()), Some(p));
    }
    assert_eq!(Platform::parse("SLACK"), Some(Platform::Slack));
    assert_eq!(Platform::parse("irc"), None);
}

#[test]
fn rates() {
    assert_eq!(parse_rate("20/60s"), Some((20, 60_000)));
    assert_eq!(parse_rate("5/1s"), Some((5, 1000)));
    assert_eq!(parse_rate("1/s"), Some((1, 1000)));
    assert_eq!(parse_rate("20/min"), Some((20, 60_000)));
    assert_eq!(parse_rate(" 3 / 2min "), Some((3, 120_000)));
    assert_eq!(parse_rate("10/500ms"), Some((10, 500)));
    assert_eq!(parse_rate("100/1h"), Some((100, 3_600_000)));
    for bad in [
        "",
        "20",
        "0/1s",
        "-1/1s",
        "1/0s",
        "1/0ms",
        "1/5",
        "1/5y",
        "a/1s",
        "1/s/s",
        "1/99999999999999999999s",
        "1/9223372036854775807h",
        "4294967296/1s",
    ] {
        assert_eq!(parse_rate(bad), None, "{bad}");
    }
    for p in Platform::ALL {
        let (n, w) = default_rate(p);
        assert!(n >= 1 && w >= 1);
        assert!(max_bytes(p) >= 2048);
    }
    assert_eq!(default_rate(Platform::Wecom), (20, 60_000));
    assert_eq!(max_bytes(Platform::Wecom), 2048);
}

fn good(p: Platform) -> Keys {
    match p {
        Platform::Slack => keys(&[("signing_secret", "s"), ("webhook", "https://h.example/x")]),
        Platform::Feishu | Platform::Lark => keys(&[
            ("verification_token", "v"),
            ("webhook", "https://open.feishu.cn/open-apis/bot/v2/hook/x"),
        ]),
        Platform::Wecom => keys(&[
            ("token", "QDG6eK"),
            (
                "encoding_aes_key",
                "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            ),
            (
                "webhook",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x",
            ),
        ]),
        Platform::Dingtalk => keys(&[
            ("app_secret", "a"),
            (
                "webhook",
                "https://oapi.dingtalk.com/robot/send?access_token=x",
            ),
        ]),
        Platform::Telegram => keys(&[
            ("bot_token", "1:x"),
            ("chat_id", "-1001"),
            ("secret_token", "abc_DEF-1"),
        ]),
        Platform::Googlechat => keys(&[("webhook", "https://chat.googleapis.com/v1/spaces/x")]),
    }
}

#[test]
fn validation() {
    // The refusals in English, as the config file's errors show them.
    let validate = |p, k: &Keys| super::validate(p, k).map_err(|m| m.to_string());
    for p in Platform::ALL {
        let k = good(p);
        assert_eq!(validate(p, &k), Ok(()), "{p:?}");
        let mut with_rate = k.clone();
        with_rate.insert("rate".into(), "3/10s".into());
        assert_eq!(validate(p, &with_rate), Ok(()));
        with_rate.insert("rate".into(), "fast".into());
        assert!(validate(p, &with_rate).is_err_and(|e| e.contains("rate")));
        let mut extra = k.clone();
        extra.insert("colour".into(), "blue".into());
        assert!(validate(p, &extra).is_err_and(|e| e.contains("unknown key colour")));
        for name in k.keys() {
            let mut missing = k.clone();
            missing.remove(name);
            let e = validate(p, &missing).expect_err("missing key refused");
            assert!(e.contains(name.as_str()) && !e.contains('\n'), "{e}");
            let mut empty = k.clone();
            empty.insert(name.clone(), " ".into());
            assert!(validate(p, &empty).is_err_and(|e| e.contains(name.as_str())));
        }
        if k.contains_key("webhook") {
            for bad in ["ftp://x.example/", "/relative", "http://", "not a url"] {
                let mut u = k.clone();
                u.insert("webhook".into(), bad.into());
                let e = validate(p, &u).expect_err("bad url");
                assert!(e.contains("webhook") && !e.contains(bad), "{e}");
            }
        }
    }
    // Slack: bot_token + channel instead of a webhook.
    let bot = keys(&[
        ("signing_secret", "s"),
        ("bot_token", "xoxb"),
        ("channel", "C1"),
    ]);
    assert_eq!(validate(Platform::Slack, &bot), Ok(()));
    let mut b = bot.clone();
    b.remove("channel");
    assert_eq!(
        validate(Platform::Slack, &b),
        Err("missing key channel".into())
    );
    b.insert("api".into(), "http://127.0.0.1:8080/api".into());
    b.insert("channel".into(), "C1".into());
    assert_eq!(validate(Platform::Slack, &b), Ok(()));
    b.insert("api".into(), "slack.com".into());
    assert!(validate(Platform::Slack, &b).is_err_and(|e| e.starts_with("api ")));
    // WeCom's key: length first, then decoding; the value never shown.
    let mut w = good(Platform::Wecom);
    w.insert("encoding_aes_key".into(), "x".repeat(42));
    assert_eq!(
        validate(Platform::Wecom, &w),
        Err("encoding_aes_key must be 43 characters (got 42)".into())
    );
    w.insert("encoding_aes_key".into(), "*".repeat(43));
    let e = validate(Platform::Wecom, &w).expect_err("undecodable");
    assert!(e.starts_with("encoding_aes_key") && !e.contains('*'), "{e}");
    // Telegram: a numeric chat id, a token Telegram accepts.
    let mut t = good(Platform::Telegram);
    t.insert("chat_id".into(), "@mychannel".into());
    assert!(validate(Platform::Telegram, &t).is_err_and(|e| e.starts_with("chat_id")));
    let mut t = good(Platform::Telegram);
    t.insert("secret_token".into(), "has space".into());
    let e = validate(Platform::Telegram, &t).expect_err("bad token");
    assert!(e.starts_with("secret_token") && !e.contains("has space"));
}

#[test]
fn secrets() {
    for k in [
        "webhook",
        "signing_secret",
        "encoding_aes_key",
        "secret_token",
        "token",
    ] {
        assert!(is_secret(k), "{k}");
    }
    for k in ["channel", "chat_id", "api", "rate"] {
        assert!(!is_secret(k), "{k}");
    }
}

#[test]
fn googlechat_is_send_only() {
    let k = good(Platform::Googlechat);
    for m in [Method::Get, Method::Post] {
        let c = call(m, &[], &[], b"{}", 0);
        assert_eq!(status(inbound(Platform::Googlechat, &k, &c.call())), 405);
    }
}

/// Keys for every platform, with and without encryption, that the
/// arbitrary-input check (and the fuzz target, which repeats them) uses.
pub(crate) fn fuzz_keys() -> Vec<(Platform, Keys)> {
    let mut feishu_enc = good(Platform::Feishu);
    feishu_enc.insert("encrypt_key".into(), "test key".into());
    let mut all: Vec<(Platform, Keys)> = Platform::ALL.iter().map(|&p| (p, good(p))).collect();
    all.push((Platform::Feishu, feishu_enc.clone()));
    all.push((Platform::Lark, feishu_enc));
    all
}

fn arb_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let names = prop::sample::select(vec![
        "x-slack-signature",
        "x-slack-request-timestamp",
        "x-lark-signature",
        "x-lark-request-timestamp",
        "x-lark-request-nonce",
        "x-telegram-bot-api-secret-token",
        "timestamp",
        "sign",
        "nonce",
        "msg_signature",
        "echostr",
    ]);
    prop::collection::vec((names.prop_map(String::from), ".{0,80}"), 0..6)
}

fn arb_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        ".{0,300}".prop_map(String::into_bytes),
        // JSON-looking bodies reach further than random bytes.
        (
            prop::sample::select(vec![
                "url_verification",
                "event_callback",
                "im.message.receive_v1",
                "text",
                "message"
            ]),
            ".{0,40}"
        )
            .prop_map(|(t, s)| format!(
                r#"{{"type":"{t}","schema":"2.0","encrypt":"{s}","header":{{"event_type":"{t}","token":"v"}},"token":"v","update_id":1,"message":{{"chat":{{"id":-1001}},"text":"{s}"}},"msgtype":"{t}","event":{{"type":"{t}","message":{{"content":"{s}"}}}}}}"#
            )
            .into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// No input makes `inbound` panic, and nothing unauthenticated passes.
    #[test]
    fn arbitrary_input_is_refused_or_parsed(
        get in any::<bool>(),
        query in arb_pairs(),
        headers in arb_pairs(),
        body in arb_body(),
        now_ms in prop_oneof![Just(1_700_000_000_000i64), any::<i64>()],
    ) {
        for (p, k) in fuzz_keys() {
            let c = Call {
                method: if get { Method::Get } else { Method::Post },
                query: &query,
                headers: &headers,
                body: &body,
                now_ms,
            };
            match inbound(p, &k, &c) {
                Err(r) => prop_assert!(matches!(r.status, 400 | 401 | 405), "{p:?} {r:?}"),
                // Only Feishu's unencrypted token sits in the body, where a
                // random body can carry the fixed test token "v".
                Ok(_) => prop_assert!(matches!(p, Platform::Feishu | Platform::Lark), "{p:?}"),
            }
        }
    }
}

/// Calls that pass each platform's signature or token check, carrying
/// `plain` (encrypted where the platform encrypts), so the parsers behind
/// the checks see arbitrary input too.
fn authentic_calls(plain: &[u8]) -> Vec<(Platform, Keys, OwnedCall)> {
    const NOW: i64 = 1_700_000_000_000;
    let secs = (NOW / 1000).to_string();
    let ms = NOW.to_string();
    let mut out = Vec::new();
    let slack_sig = slack::signature("s", &secs, plain);
    out.push((
        Platform::Slack,
        good(Platform::Slack),
        call(
            Method::Post,
            &[],
            &[
                ("x-slack-request-timestamp", &secs),
                ("x-slack-signature", &slack_sig),
            ],
            plain,
            NOW,
        ),
    ));
    out.push((
        Platform::Feishu,
        good(Platform::Feishu),
        call(Method::Post, &[], &[], plain, NOW),
    ));
    let mut enc_keys = good(Platform::Lark);
    enc_keys.insert("encrypt_key".into(), "test key".into());
    let body =
        serde_json::json!({ "encrypt": crypto::feishu_encrypt("test key", &[5; 16], plain) })
            .to_string()
            .into_bytes();
    let lark_sig = feishu::signature("1", "n", "test key", &body);
    out.push((
        Platform::Lark,
        enc_keys,
        call(
            Method::Post,
            &[],
            &[
                ("x-lark-request-timestamp", "1"),
                ("x-lark-request-nonce", "n"),
                ("x-lark-signature", &lark_sig),
            ],
            &body,
            NOW,
        ),
    ));
    let w = good(Platform::Wecom);
    let aes = crypto::wecom_key(&w["encoding_aes_key"]).unwrap_or([0; 32]);
    let enc = crypto::wecom_encrypt(&aes, &[5; 16], plain, b"", None);
    let sig = crypto::wecom_signature(&[&w["token"], "1", "n", &enc]);
    let body = serde_json::json!({ "encrypt": enc })
        .to_string()
        .into_bytes();
    let q = [
        ("msg_signature", sig.as_str()),
        ("timestamp", "1"),
        ("nonce", "n"),
    ];
    out.push((
        Platform::Wecom,
        w.clone(),
        call(Method::Post, &q, &[], &body, NOW),
    ));
    let mut q = q.to_vec();
    q.push(("echostr", &enc));
    out.push((Platform::Wecom, w, call(Method::Get, &q, &[], b"", NOW)));
    let ding = dingtalk::sign("a", &ms);
    out.push((
        Platform::Dingtalk,
        good(Platform::Dingtalk),
        call(
            Method::Post,
            &[],
            &[("timestamp", &ms), ("sign", &ding)],
            plain,
            NOW,
        ),
    ));
    out.push((
        Platform::Telegram,
        good(Platform::Telegram),
        call(
            Method::Post,
            &[],
            &[("x-telegram-bot-api-secret-token", "abc_DEF-1")],
            plain,
            NOW,
        ),
    ));
    out
}

#[test]
fn authentic_calls_are_authentic() {
    // Guards the property below: its calls must get past the checks.
    let plain = br#"{"type":"url_verification","challenge":"c","token":"v"}"#;
    for (p, k, c) in authentic_calls(plain) {
        assert_ne!(status(inbound(p, &k, &c.call())), 401, "{p:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Authentic calls with arbitrary contents: parsed, ignored or 400.
    #[test]
    fn authentic_arbitrary_bodies_never_panic(plain in arb_body()) {
        for (p, k, c) in authentic_calls(&plain) {
            if let Err(r) = inbound(p, &k, &c.call()) {
                // Unencrypted Feishu carries its token in the body itself.
                let token_in_body = p == Platform::Feishu && r.status == 401;
                prop_assert!(r.status == 400 || token_in_body, "{:?} {:?}", p, r);
            }
        }
    }
}
