//! Any call to a bridge's inbound URL — method, query string, headers and
//! body all arbitrary — for every platform, with fixed keys (Feishu/Lark
//! with and without an encrypt key): no panic, and only 400/401/405 refuse.
//! Each input is also tried with the authentic signature or token each
//! platform wants, so the parsers behind the checks are reached too.
#![no_main]

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use talkgroups::core::platform::{self, Call, Keys, Method, Platform};

const NOW_MS: i64 = 1_700_000_000_000;

fn keys(p: &[(&str, &str)]) -> Keys {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn all_keys() -> Vec<(Platform, Keys)> {
    let feishu = [
        ("verification_token", "vtok"),
        ("webhook", "https://open.feishu.cn/open-apis/bot/v2/hook/x"),
    ];
    let mut feishu_enc = feishu.to_vec();
    feishu_enc.push(("encrypt_key", "test key"));
    vec![
        (
            Platform::Slack,
            keys(&[
                ("signing_secret", "sekrit"),
                ("webhook", "https://h.example/x"),
            ]),
        ),
        (Platform::Feishu, keys(&feishu)),
        (Platform::Lark, keys(&feishu_enc)),
        (Platform::Feishu, keys(&feishu_enc)),
        (
            Platform::Wecom,
            keys(&[
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
        ),
        (
            Platform::Dingtalk,
            keys(&[
                ("app_secret", "appsecret"),
                (
                    "webhook",
                    "https://oapi.dingtalk.com/robot/send?access_token=x",
                ),
            ]),
        ),
        (
            Platform::Telegram,
            keys(&[
                ("bot_token", "1:x"),
                ("chat_id", "-1001"),
                ("secret_token", "s3cret"),
            ]),
        ),
        (
            Platform::Googlechat,
            keys(&[("webhook", "https://chat.googleapis.com/v1/spaces/x")]),
        ),
    ]
}

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The headers (and query) that make `body` authentic for `p`, as far as
/// they can be computed without the body's inner encryption.
fn authentic(
    p: Platform,
    query: &[(String, String)],
    body: &[u8],
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let pair = |a: &str, b: String| (a.to_string(), b);
    let secs = (NOW_MS / 1000).to_string();
    let ms = NOW_MS.to_string();
    match p {
        Platform::Slack => {
            let sig = hmac256(b"sekrit", &[b"v0:", secs.as_bytes(), b":", body]);
            (
                vec![
                    pair("x-slack-request-timestamp", secs),
                    pair("x-slack-signature", format!("v0={}", hex(&sig))),
                ],
                Vec::new(),
            )
        }
        Platform::Feishu | Platform::Lark => {
            let sig = Sha256::new()
                .chain_update(b"1n")
                .chain_update(b"test key")
                .chain_update(body)
                .finalize();
            (
                vec![
                    pair("x-lark-request-timestamp", "1".into()),
                    pair("x-lark-request-nonce", "n".into()),
                    pair("x-lark-signature", hex(&sig)),
                ],
                Vec::new(),
            )
        }
        Platform::Dingtalk => {
            let sig = hmac256(b"appsecret", &[ms.as_bytes(), b"\n", b"appsecret"]);
            let sig = base64::engine::general_purpose::STANDARD.encode(sig);
            (vec![pair("timestamp", ms), pair("sign", sig)], Vec::new())
        }
        Platform::Telegram => (
            vec![pair("x-telegram-bot-api-secret-token", "s3cret".into())],
            Vec::new(),
        ),
        Platform::Wecom => {
            // Sign whatever the query's echostr or the body's encrypt may
            // be: the query's echostr for a GET, the raw body otherwise.
            let encrypt = query.iter().find(|(n, _)| n == "echostr").map_or_else(
                || String::from_utf8_lossy(body).into_owned(),
                |(_, v)| v.clone(),
            );
            let mut parts = ["QDG6eK", "1", "n", encrypt.as_str()];
            parts.sort_unstable();
            let mut d = Sha1::new();
            for p in parts {
                d.update(p.as_bytes());
            }
            let mut q = query.to_vec();
            q.push(pair("msg_signature", hex(&d.finalize())));
            q.push(pair("timestamp", "1".into()));
            q.push(pair("nonce", "n".into()));
            (Vec::new(), q)
        }
        Platform::Googlechat => (Vec::new(), Vec::new()),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `a=b&c=d` (no decoding: the adapter decodes before the platform sees it).
fn pairs(s: &str, sep: char, eq: char) -> Vec<(String, String)> {
    s.split(sep)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(eq) {
            Some((a, b)) => (a.to_ascii_lowercase(), b.to_string()),
            None => (p.to_ascii_lowercase(), String::new()),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // flags byte, then "query\nheaders\nbody": headers as `name:value;…`.
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let query = pairs(
        &String::from_utf8_lossy(parts.next().unwrap_or_default()),
        '&',
        '=',
    );
    let headers = pairs(
        &String::from_utf8_lossy(parts.next().unwrap_or_default()),
        ';',
        ':',
    );
    let body = parts.next().unwrap_or_default();
    let method = if flags & 1 == 0 {
        Method::Post
    } else {
        Method::Get
    };
    for (p, k) in all_keys() {
        let (mut h, q) = authentic(p, &query, body);
        h.extend(headers.iter().cloned());
        for (hs, qs) in [
            (&headers, &query),
            (&h, if q.is_empty() { &query } else { &q }),
        ] {
            let call = Call {
                method,
                query: qs,
                headers: hs,
                body,
                now_ms: if flags & 2 == 0 {
                    NOW_MS
                } else {
                    i64::from(flags) << 40
                },
            };
            if let Err(r) = platform::inbound(p, &k, &call) {
                assert!(matches!(r.status, 400 | 401 | 405), "{p:?}: {r:?}");
            }
        }
    }
    let _ = platform::validate(
        Platform::Slack,
        &keys(&[("rate", &String::from_utf8_lossy(body))]),
    );
    let _ = platform::parse_rate(&String::from_utf8_lossy(body));
});
