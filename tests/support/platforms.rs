//! Local emulators of the chat platforms a bridge talks to (docs/bridges.md),
//! written from each platform's own documentation and independent of the
//! product code, so the product is checked against the platforms' rules and
//! not against itself.
//!
//! Two halves:
//! - **inbound** ([`Slack`], [`Feishu`] (= [`Lark`]), [`Wecom`],
//!   [`Dingtalk`], [`Telegram`]): builders of the HTTP calls a platform makes
//!   to a bridge's URL (`/bridges/{group}/{name}`), signed and encrypted as
//!   the platform does, plus forged variants; [`send`] delivers one;
//! - **outbound** ([`PlatformServer`]): a local axum server that accepts the
//!   posts a bridge makes, checks their shape and signature as the platform
//!   would, answers with the platform's own success or error, records the good
//!   ones ([`PlatformServer::posts`]) and the bad ones
//!   ([`PlatformServer::violations`]), and can be switched at run time to
//!   [`Mode::Down`] or [`Mode::RateLimit`].
//!
//! Randomness (AES IVs, WeCom's 16 random bytes, nonces) comes from a counter
//! hashed with SHA-256: unpredictable enough for tests, reproducible in a
//! run's order, and no extra dependency.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// WeCom's EncodingAESKeys (its own samples too) end in a Base64 digit whose
/// low bits are not zero, which the strict decoder rejects.
const B64_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::general_purpose::PAD.with_decode_allow_trailing_bits(true),
);

// ---------------------------------------------------------------------------
// Small primitives (all on RustCrypto; nothing hand-rolled)
// ---------------------------------------------------------------------------

/// HMAC-SHA256(key, msg).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Hex SHA-1.
pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

/// `n` bytes from a process-wide counter hashed with SHA-256.
pub fn pseudo_random(n: usize) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let c = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut h = Sha256::new();
        h.update(b"talkgroups platform emulator");
        h.update(c.to_be_bytes());
        out.extend_from_slice(&h.finalize());
    }
    out.truncate(n);
    out
}

/// A short unique token (hex) for ids, nonces and the like.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(pseudo_random(6)))
}

fn next_number() -> u64 {
    static N: AtomicU64 = AtomicU64::new(1000);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the epoch.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Inbound calls
// ---------------------------------------------------------------------------

/// One HTTP request a platform makes to a bridge's inbound URL.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: reqwest::Method,
    /// Appended to the bridge's URL: "" or "?a=b…".
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The platform's id of the message this call carries (Slack `ts`,
    /// Telegram `message_id`, Feishu `message_id`, WeCom `msgid`, DingTalk
    /// `msgId`), for a later `edit`; "" when none.
    pub message_id: String,
}

impl Call {
    fn post_json(path_and_query: String, headers: Vec<(String, String)>, body: Vec<u8>) -> Call {
        let mut headers = headers;
        headers.insert(0, ("Content-Type".into(), "application/json".into()));
        Call {
            method: reqwest::Method::POST,
            path_and_query,
            headers,
            body,
            message_id: String::new(),
        }
    }

    fn with_id(mut self, id: impl Into<String>) -> Call {
        self.message_id = id.into();
        self
    }

    /// The value of a header (first match, case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The same call with header `name` removed.
    pub fn without_header(mut self, name: &str) -> Call {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// The same call with header `name` set to `value` (replacing it).
    pub fn with_header(self, name: &str, value: &str) -> Call {
        let mut c = self.without_header(name);
        c.headers.push((name.to_string(), value.to_string()));
        c
    }

    /// The same headers and query over another body (not re-signed: a
    /// tampered request).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Call {
        self.body = body.into();
        self
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Sends `call` to `bridge_url` (the bridge's inbound URL, to which the
/// call's `path_and_query` is appended); returns the status and body.
pub async fn send(client: &reqwest::Client, bridge_url: &str, call: &Call) -> (u16, String) {
    let url = format!("{bridge_url}{}", call.path_and_query);
    let mut req = client.request(call.method.clone(), &url);
    for (k, v) in &call.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if call.method != reqwest::Method::GET {
        req = req.body(call.body.clone());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{} {url}: {e}", call.method));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

// --- Slack ----------------------------------------------------------------

/// Slack's Events API (docs: "Verifying requests from Slack", "The Events
/// API", event types `message`, `message_changed`, `bot_message`,
/// `member_joined_channel`).
#[derive(Clone, Debug)]
pub struct Slack {
    pub signing_secret: String,
    /// The channel id events come from.
    pub channel: String,
    pub team_id: String,
    pub api_app_id: String,
}

impl Slack {
    pub fn new(signing_secret: &str) -> Slack {
        Slack {
            signing_secret: signing_secret.into(),
            channel: "C0EMULATOR".into(),
            team_id: "T0EMULATOR".into(),
            api_app_id: "A0EMULATOR".into(),
        }
    }

    /// `v0=` + hex HMAC-SHA256(secret, `v0:{ts}:{body}`).
    pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let mut base = format!("v0:{timestamp}:").into_bytes();
        base.extend_from_slice(body);
        format!("v0={}", hex::encode(hmac_sha256(secret.as_bytes(), &base)))
    }

    /// A call signed with `secret` at `timestamp`.
    pub fn signed(&self, secret: &str, timestamp: i64, body: &Value) -> Call {
        let body = body.to_string().into_bytes();
        let sig = Slack::signature(secret, timestamp, &body);
        Call::post_json(
            String::new(),
            vec![
                ("X-Slack-Request-Timestamp".into(), timestamp.to_string()),
                ("X-Slack-Signature".into(), sig),
            ],
            body,
        )
    }

    fn sign_now(&self, body: &Value) -> Call {
        self.signed(&self.signing_secret, now_secs(), body)
    }

    /// A fresh message `ts` ("seconds.micro", Slack's message id).
    pub fn new_ts() -> String {
        format!("{}.{:06}", now_secs(), next_number() % 1_000_000)
    }

    fn callback(&self, event_id: &str, event: Value) -> Value {
        json!({
            "token": "XXYYZZ",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": now_secs(),
            "authorizations": [{"team_id": self.team_id, "user_id": "U0BOTUSER", "is_bot": true}],
            "is_ext_shared_channel": false,
            "event_context": format!("4-{event_id}"),
        })
    }

    /// The URL-verification handshake (answered by echoing `challenge`).
    pub fn verification(&self, challenge: &str) -> Call {
        self.sign_now(&json!({
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": challenge,
            "type": "url_verification",
        }))
    }

    /// A message by `user` (user id `U…`, display name `user`).
    pub fn message(&self, event_id: &str, user: &str, text: &str) -> Call {
        self.message_from(event_id, &Slack::user_id(user), Some(user), text)
    }

    /// The user id `message` gives `user`.
    pub fn user_id(user: &str) -> String {
        format!(
            "U{}",
            user.to_ascii_uppercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        )
    }

    /// A message with an explicit user id and (optional) display name.
    pub fn message_from(
        &self,
        event_id: &str,
        user_id: &str,
        display_name: Option<&str>,
        text: &str,
    ) -> Call {
        let ts = Slack::new_ts();
        let mut event = json!({
            "type": "message",
            "channel": self.channel,
            "user": user_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
            "team": self.team_id,
            "client_msg_id": unique("cm-"),
        });
        if let Some(name) = display_name {
            event["user_profile"] = json!({
                "display_name": name,
                "real_name": format!("{name} (real)"),
                "name": name.to_lowercase(),
                "team": self.team_id,
            });
        }
        self.sign_now(&self.callback(event_id, event)).with_id(ts)
    }

    /// `message_changed` of the message `original_ts` (Slack sends the edit
    /// as a hidden message whose `message` is the new version).
    pub fn edit(&self, event_id: &str, original_ts: &str, user: &str, new_text: &str) -> Call {
        let ts = Slack::new_ts();
        let uid = Slack::user_id(user);
        let event = json!({
            "type": "message",
            "subtype": "message_changed",
            "hidden": true,
            "channel": self.channel,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
            "message": {
                "type": "message",
                "user": uid,
                "text": new_text,
                "ts": original_ts,
                "edited": {"user": uid, "ts": ts},
            },
            "previous_message": {
                "type": "message",
                "user": uid,
                "text": "(previous text)",
                "ts": original_ts,
            },
        });
        self.sign_now(&self.callback(event_id, event))
            .with_id(original_ts)
    }

    /// The event Slack sends for the bridge's own post (subtype
    /// `bot_message`, with `bot_id`).
    pub fn own_post_echo(&self, event_id: &str, text: &str) -> Call {
        let ts = Slack::new_ts();
        let event = json!({
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B0EMULATOR",
            "username": "talkgroups",
            "text": text,
            "channel": self.channel,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        });
        self.sign_now(&self.callback(event_id, event)).with_id(ts)
    }

    /// A chat.postMessage echo: a plain `message` with `bot_id` and the bot
    /// user (no subtype), as posts made with a bot token come back.
    pub fn own_post_echo_bot_user(&self, event_id: &str, text: &str) -> Call {
        let ts = Slack::new_ts();
        let event = json!({
            "type": "message",
            "user": "U0BOTUSER",
            "bot_id": "B0EMULATOR",
            "app_id": self.api_app_id,
            "text": text,
            "channel": self.channel,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        });
        self.sign_now(&self.callback(event_id, event)).with_id(ts)
    }

    /// `member_joined_channel` (a non-message event).
    pub fn join_event(&self, event_id: &str, user: &str) -> Call {
        let event = json!({
            "type": "member_joined_channel",
            "user": Slack::user_id(user),
            "channel": self.channel,
            "channel_type": "C",
            "team": self.team_id,
            "event_ts": Slack::new_ts(),
        });
        self.sign_now(&self.callback(event_id, event))
    }

    /// A message signed with another secret.
    pub fn forged(&self, event_id: &str, user: &str, text: &str) -> Call {
        let good = self.message(event_id, user, text);
        let ts: i64 = good
            .header("X-Slack-Request-Timestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(now_secs);
        let sig = Slack::signature("not-the-signing-secret", ts, &good.body);
        good.with_header("X-Slack-Signature", &sig)
    }

    /// A correctly signed message whose timestamp is 10 minutes old
    /// (Slack's docs: reject requests older than five minutes).
    pub fn stale(&self, event_id: &str, user: &str, text: &str) -> Call {
        let good = self.message(event_id, user, text);
        let body: Value = good.json();
        self.signed(&self.signing_secret, now_secs() - 600, &body)
            .with_id(good.message_id)
    }
}

// --- Feishu / Lark --------------------------------------------------------

/// Feishu's event subscription v2 (docs: "Receive events"/"接收事件",
/// "Encrypt Key", event `im.message.receive_v1`). Lark is the same protocol.
#[derive(Clone, Debug)]
pub struct Feishu {
    pub verification_token: String,
    pub encrypt_key: Option<String>,
    pub chat_id: String,
    pub app_id: String,
    pub tenant_key: String,
}

/// Lark speaks Feishu's protocol.
pub type Lark = Feishu;

impl Feishu {
    pub fn new(verification_token: &str, encrypt_key: Option<&str>) -> Feishu {
        Feishu {
            verification_token: verification_token.into(),
            encrypt_key: encrypt_key.map(str::to_string),
            chat_id: "oc_emulatorchat".into(),
            app_id: "cli_emulator".into(),
            tenant_key: "tenant-emulator".into(),
        }
    }

    /// base64(iv ‖ AES-256-CBC(key = SHA-256(encrypt_key), PKCS#7)).
    pub fn encrypt(encrypt_key: &str, plaintext: &[u8]) -> String {
        let key = Sha256::digest(encrypt_key.as_bytes());
        let iv = pseudo_random(16);
        let ct = Aes256CbcEnc::new_from_slices(&key, &iv)
            .expect("key and IV sizes")
            .encrypt_padded_vec::<Pkcs7>(plaintext);
        let mut out = iv;
        out.extend_from_slice(&ct);
        B64.encode(out)
    }

    /// The inverse of [`Feishu::encrypt`].
    pub fn decrypt(encrypt_key: &str, encrypted: &str) -> Result<Vec<u8>, String> {
        let raw = B64.decode(encrypted).map_err(|e| format!("base64: {e}"))?;
        if raw.len() < 32 || raw.len() % 16 != 0 {
            return Err(format!("ciphertext of {} bytes", raw.len()));
        }
        let key = Sha256::digest(encrypt_key.as_bytes());
        Aes256CbcDec::new_from_slices(&key, &raw[..16])
            .expect("key and IV sizes")
            .decrypt_padded_vec::<Pkcs7>(&raw[16..])
            .map_err(|e| format!("padding: {e}"))
    }

    /// hex SHA-256(timestamp + nonce + encrypt_key + body).
    pub fn signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
        let mut b = format!("{timestamp}{nonce}{encrypt_key}").into_bytes();
        b.extend_from_slice(body);
        sha256_hex(&b)
    }

    /// The body as the platform sends it: encrypted and signed when an
    /// encrypt key is set, plain JSON otherwise.
    fn wrap(&self, plain: &Value, signed: bool) -> Call {
        match &self.encrypt_key {
            None => Call::post_json(String::new(), vec![], plain.to_string().into_bytes()),
            Some(key) => {
                let body = json!({"encrypt": Feishu::encrypt(key, plain.to_string().as_bytes())})
                    .to_string()
                    .into_bytes();
                let mut headers = vec![];
                if signed {
                    let ts = now_secs().to_string();
                    let nonce = next_number().to_string();
                    let sig = Feishu::signature(&ts, &nonce, key, &body);
                    headers.push(("X-Lark-Request-Timestamp".into(), ts));
                    headers.push(("X-Lark-Request-Nonce".into(), nonce));
                    headers.push(("X-Lark-Signature".into(), sig));
                }
                Call::post_json(String::new(), headers, body)
            }
        }
    }

    /// The request-URL check: `{"challenge","token","type":"url_verification"}`
    /// (encrypted when a key is set). Sent **without** the signature headers:
    /// the docs exclude the URL check from signature verification ("不包括请求
    /// 网址校验"), so a bridge that demands them fails the real handshake.
    pub fn verification(&self, challenge: &str) -> Call {
        self.wrap(
            &self.verification_json(challenge, &self.verification_token),
            false,
        )
    }

    /// As `verification`, with the signature headers too.
    pub fn verification_signed(&self, challenge: &str) -> Call {
        self.wrap(
            &self.verification_json(challenge, &self.verification_token),
            true,
        )
    }

    /// A URL check carrying another token.
    pub fn verification_forged(&self, challenge: &str) -> Call {
        self.wrap(&self.verification_json(challenge, "not-the-token"), false)
    }

    fn verification_json(&self, challenge: &str, token: &str) -> Value {
        json!({"challenge": challenge, "token": token, "type": "url_verification"})
    }

    fn envelope(&self, event_id: &str, event_type: &str, token: &str, event: Value) -> Value {
        json!({
            "schema": "2.0",
            "header": {
                "event_id": event_id,
                "token": token,
                "create_time": now_millis().to_string(),
                "event_type": event_type,
                "tenant_key": self.tenant_key,
                "app_id": self.app_id,
            },
            "event": event,
        })
    }

    /// The open id `message` gives `user`.
    pub fn open_id(user: &str) -> String {
        format!("ou_{user}")
    }

    fn message_event(&self, sender_type: &str, sender_id: Value, text: &str, mid: &str) -> Value {
        let now = now_millis().to_string();
        json!({
            "sender": {
                "sender_id": sender_id,
                "sender_type": sender_type,
                "tenant_key": self.tenant_key,
            },
            "message": {
                "message_id": mid,
                "root_id": "",
                "parent_id": "",
                "create_time": now,
                "update_time": now,
                "chat_id": self.chat_id,
                "chat_type": "group",
                "message_type": "text",
                "content": json!({"text": text}).to_string(),
                "mentions": [],
            },
        })
    }

    fn user_message(&self, event_id: &str, user: &str, text: &str, token: &str) -> (Value, String) {
        let mid = unique("om_");
        let sender = json!({
            "union_id": format!("on_{user}"),
            "user_id": user,
            "open_id": Feishu::open_id(user),
        });
        let ev = self.message_event("user", sender, text, &mid);
        (
            self.envelope(event_id, "im.message.receive_v1", token, ev),
            mid,
        )
    }

    /// `im.message.receive_v1`, a text message by `user` (user id `user`,
    /// open id `ou_{user}`).
    pub fn message(&self, event_id: &str, user: &str, text: &str) -> Call {
        let (v, mid) = self.user_message(event_id, user, text, &self.verification_token);
        self.wrap(&v, true).with_id(mid)
    }

    /// The receive event for the bridge's own post (`sender_type = app`).
    pub fn own_post_echo(&self, event_id: &str, text: &str) -> Call {
        let mid = unique("om_");
        let sender = json!({"open_id": "", "user_id": "", "union_id": "", "app_id": self.app_id});
        let ev = self.message_event("app", sender, text, &mid);
        let v = self.envelope(
            event_id,
            "im.message.receive_v1",
            &self.verification_token,
            ev,
        );
        self.wrap(&v, true).with_id(mid)
    }

    /// `im.chat.member.user.added_v1` (a non-message event).
    pub fn join_event(&self, event_id: &str, user: &str) -> Call {
        let ev = json!({
            "chat_id": self.chat_id,
            "operator_id": {"open_id": "ou_admin", "user_id": "admin", "union_id": "on_admin"},
            "external": false,
            "operator_tenant_key": self.tenant_key,
            "users": [{
                "name": user,
                "tenant_key": self.tenant_key,
                "user_id": {"open_id": Feishu::open_id(user), "user_id": user, "union_id": format!("on_{user}")},
            }],
        });
        let v = self.envelope(
            event_id,
            "im.chat.member.user.added_v1",
            &self.verification_token,
            ev,
        );
        self.wrap(&v, true)
    }

    /// A message whose `header.token` is wrong (signature, if any, valid).
    pub fn forged_token(&self, event_id: &str, user: &str, text: &str) -> Call {
        let (v, mid) = self.user_message(event_id, user, text, "not-the-token");
        self.wrap(&v, true).with_id(mid)
    }

    /// A message whose `X-Lark-Signature` is wrong (only meaningful with an
    /// encrypt key; without one it equals `message` plus a bogus header).
    pub fn forged(&self, event_id: &str, user: &str, text: &str) -> Call {
        let c = self.message(event_id, user, text);
        let bogus = sha256_hex(b"forged");
        c.with_header("X-Lark-Signature", &bogus)
    }

    /// The schema 1.0 form (`token` at the top, `event.type = message`),
    /// which older apps still receive.
    pub fn message_v1(&self, uuid: &str, user: &str, text: &str) -> Call {
        let v = json!({
            "uuid": uuid,
            "token": self.verification_token,
            "ts": format!("{}.000000", now_secs()),
            "type": "event_callback",
            "event": {
                "type": "message",
                "app_id": self.app_id,
                "tenant_key": self.tenant_key,
                "chat_type": "group",
                "msg_type": "text",
                "open_chat_id": self.chat_id,
                "open_id": Feishu::open_id(user),
                "user_open_id": Feishu::open_id(user),
                "text": text,
                "text_without_at_bot": text,
            },
        });
        self.wrap(&v, true)
    }
}

// --- WeCom (intelligent bot) ----------------------------------------------

/// WeCom's intelligent-bot callback (docs: "智能机器人 > 接收消息",
/// https://developer.work.weixin.qq.com/document/path/100719, and
/// "加解密方案说明", the WXBizMsgCrypt samples). Messages are JSON; in a
/// group the bot only hears messages that @-mention it, and the mention stays
/// in `text.content` ("@RobotA hello robot" in the docs' example).
#[derive(Clone, Debug)]
pub struct Wecom {
    pub token: String,
    /// 43 characters.
    pub encoding_aes_key: String,
    /// The receive id appended to every plaintext: "" for an enterprise's
    /// internal intelligent bot, the corp id elsewhere.
    pub receive_id: String,
    pub aibotid: String,
    pub chatid: String,
}

impl Wecom {
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Wecom {
        Wecom {
            token: token.into(),
            encoding_aes_key: encoding_aes_key.into(),
            receive_id: receive_id.into(),
            aibotid: "AIBOTEMULATOR".into(),
            chatid: "wrchatemulator".into(),
        }
    }

    /// Base64-decode(encoding_aes_key + "="), leniently (32 bytes).
    pub fn aes_key(encoding_aes_key: &str) -> Vec<u8> {
        let k = B64_LENIENT
            .decode(format!("{encoding_aes_key}="))
            .expect("EncodingAESKey is Base64");
        assert_eq!(k.len(), 32, "EncodingAESKey must decode to 32 bytes");
        k
    }

    /// hex SHA-1 of the sorted concatenation of token, timestamp, nonce and
    /// the encrypted text.
    pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        let mut parts = [token, timestamp, nonce, encrypt];
        parts.sort_unstable();
        sha1_hex(parts.concat().as_bytes())
    }

    /// The plaintext layout: 16 random bytes ‖ u32 BE length ‖ msg ‖
    /// receive id; `length` overrides the length field (to lie).
    pub fn plaintext(msg: &[u8], receive_id: &str, length: Option<u32>) -> Vec<u8> {
        let mut p = pseudo_random(16);
        let len = length.unwrap_or(msg.len() as u32);
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(msg);
        p.extend_from_slice(receive_id.as_bytes());
        p
    }

    /// AES-256-CBC with IV = key[..16] over `plaintext` padded PKCS#7 to a
    /// multiple of 32 (WeCom's block size for the padding), Base64.
    pub fn encrypt_raw(encoding_aes_key: &str, plaintext: &[u8]) -> String {
        let key = Wecom::aes_key(encoding_aes_key);
        let pad = 32 - plaintext.len() % 32;
        let mut buf = plaintext.to_vec();
        buf.extend(std::iter::repeat_n(pad as u8, pad));
        let ct = Aes256CbcEnc::new_from_slices(&key, &key[..16])
            .expect("key and IV sizes")
            .encrypt_padded_vec::<NoPadding>(&buf);
        B64.encode(ct)
    }

    /// Encrypts a message for `receive_id`.
    pub fn encrypt(encoding_aes_key: &str, msg: &[u8], receive_id: &str) -> String {
        Wecom::encrypt_raw(encoding_aes_key, &Wecom::plaintext(msg, receive_id, None))
    }

    /// Decrypts and unpacks: (message, receive id).
    pub fn decrypt(encoding_aes_key: &str, encrypted: &str) -> Result<(Vec<u8>, String), String> {
        let key = Wecom::aes_key(encoding_aes_key);
        let ct = B64.decode(encrypted).map_err(|e| format!("base64: {e}"))?;
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(format!("ciphertext of {} bytes", ct.len()));
        }
        let mut p = Aes256CbcDec::new_from_slices(&key, &key[..16])
            .expect("key and IV sizes")
            .decrypt_padded_vec::<NoPadding>(&ct)
            .map_err(|e| format!("decrypt: {e}"))?;
        let pad = *p.last().ok_or("empty")? as usize;
        if !(1..=32).contains(&pad) || pad > p.len() {
            return Err(format!("bad padding {pad}"));
        }
        p.truncate(p.len() - pad);
        if p.len() < 20 {
            return Err("plaintext too short".into());
        }
        let len = u32::from_be_bytes([p[16], p[17], p[18], p[19]]) as usize;
        if 20 + len > p.len() {
            return Err(format!("length field {len} beyond the plaintext"));
        }
        let msg = p[20..20 + len].to_vec();
        let rid = String::from_utf8(p[20 + len..].to_vec()).map_err(|_| "receive id not UTF-8")?;
        Ok((msg, rid))
    }

    fn query(&self, timestamp: &str, nonce: &str, sig: &str, echostr: Option<&str>) -> String {
        let mut q = vec![
            ("msg_signature", sig),
            ("timestamp", timestamp),
            ("nonce", nonce),
        ];
        if let Some(e) = echostr {
            q.push(("echostr", e));
        }
        format!("?{}", serde_urlencoded::to_string(q).expect("query"))
    }

    /// A POST carrying `encrypt` signed with `token`.
    pub fn post_encrypted(&self, token: &str, encrypt: &str) -> Call {
        let ts = now_secs().to_string();
        let nonce = next_number().to_string();
        let sig = Wecom::signature(token, &ts, &nonce, encrypt);
        Call::post_json(
            self.query(&ts, &nonce, &sig, None),
            vec![],
            json!({"encrypt": encrypt}).to_string().into_bytes(),
        )
    }

    /// The URL check: `GET ?msg_signature&timestamp&nonce&echostr`; the
    /// bridge must answer the decrypted `echo_plain`.
    pub fn verification(&self, echo_plain: &str) -> Call {
        self.verification_with(&self.token, echo_plain)
    }

    /// As `verification`, signed with another token.
    pub fn verification_forged(&self, echo_plain: &str) -> Call {
        self.verification_with("not-the-token", echo_plain)
    }

    fn verification_with(&self, token: &str, echo_plain: &str) -> Call {
        let echostr = Wecom::encrypt(
            &self.encoding_aes_key,
            echo_plain.as_bytes(),
            &self.receive_id,
        );
        let ts = now_secs().to_string();
        let nonce = next_number().to_string();
        let sig = Wecom::signature(token, &ts, &nonce, &echostr);
        Call {
            method: reqwest::Method::GET,
            path_and_query: self.query(&ts, &nonce, &sig, Some(&echostr)),
            headers: vec![],
            body: vec![],
            message_id: String::new(),
        }
    }

    /// The JSON of a text message by `user`.
    pub fn message_json(&self, msgid: &str, user: &str, text: &str) -> Value {
        json!({
            "msgid": msgid,
            "aibotid": self.aibotid,
            "chatid": self.chatid,
            "chattype": "group",
            "from": {"userid": user},
            "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=EMULATOR",
            "msgtype": "text",
            "text": {"content": text},
        })
    }

    /// A text message by `user` (nick = user id).
    pub fn message(&self, msgid: &str, user: &str, text: &str) -> Call {
        let m = self.message_json(msgid, user, text).to_string();
        let enc = Wecom::encrypt(&self.encoding_aes_key, m.as_bytes(), &self.receive_id);
        self.post_encrypted(&self.token, &enc).with_id(msgid)
    }

    /// A group message as the docs show it: `@{bot_name} ` before the text.
    pub fn message_at_bot(&self, msgid: &str, user: &str, bot_name: &str, text: &str) -> Call {
        self.message(msgid, user, &format!("@{bot_name} {text}"))
    }

    /// `msgtype: event`, `enter_chat` (a non-message event).
    pub fn join_event(&self, msgid: &str, user: &str) -> Call {
        let m = json!({
            "msgid": msgid,
            "create_time": now_secs(),
            "aibotid": self.aibotid,
            "from": {"userid": user},
            "msgtype": "event",
            "event": {"eventtype": "enter_chat"},
        })
        .to_string();
        let enc = Wecom::encrypt(&self.encoding_aes_key, m.as_bytes(), &self.receive_id);
        self.post_encrypted(&self.token, &enc).with_id(msgid)
    }

    /// A message signed with another token.
    pub fn forged(&self, msgid: &str, user: &str, text: &str) -> Call {
        let m = self.message_json(msgid, user, text).to_string();
        let enc = Wecom::encrypt(&self.encoding_aes_key, m.as_bytes(), &self.receive_id);
        self.post_encrypted("not-the-token", &enc).with_id(msgid)
    }

    /// A message encrypted for another receive id (correctly signed).
    pub fn wrong_receive_id(&self, msgid: &str, user: &str, text: &str) -> Call {
        let m = self.message_json(msgid, user, text).to_string();
        let enc = Wecom::encrypt(&self.encoding_aes_key, m.as_bytes(), "wwsomebodyelse");
        self.post_encrypted(&self.token, &enc).with_id(msgid)
    }

    /// A correctly signed message whose length field claims far more bytes
    /// than there are.
    pub fn lying_length(&self, msgid: &str, user: &str, text: &str) -> Call {
        let m = self.message_json(msgid, user, text).to_string();
        let p = Wecom::plaintext(m.as_bytes(), &self.receive_id, Some(m.len() as u32 + 4096));
        let enc = Wecom::encrypt_raw(&self.encoding_aes_key, &p);
        self.post_encrypted(&self.token, &enc).with_id(msgid)
    }

    /// A correctly signed body whose ciphertext is random bytes.
    pub fn garbage(&self) -> Call {
        let enc = B64.encode(pseudo_random(64));
        self.post_encrypted(&self.token, &enc)
    }
}

// --- DingTalk (outgoing robot) --------------------------------------------

/// DingTalk's outgoing (enterprise-internal) robot callback (docs: "接收消息"
/// / "Receive messages", the `timestamp` and `sign` headers).
#[derive(Clone, Debug)]
pub struct Dingtalk {
    pub app_secret: String,
    pub conversation_id: String,
}

impl Dingtalk {
    pub fn new(app_secret: &str) -> Dingtalk {
        Dingtalk {
            app_secret: app_secret.into(),
            conversation_id: "cidEmulator==".into(),
        }
    }

    /// Base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret));
    /// the same formula signs the custom robot's webhook (URL-encoded there).
    pub fn sign(secret: &str, timestamp_ms: i64) -> String {
        let msg = format!("{timestamp_ms}\n{secret}");
        B64.encode(hmac_sha256(secret.as_bytes(), msg.as_bytes()))
    }

    /// The JSON of a text message by `nick`.
    pub fn message_json(&self, msg_id: &str, nick: &str, text: &str) -> Value {
        json!({
            "conversationId": self.conversation_id,
            "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}],
            "chatbotCorpId": "dingemulatorcorp",
            "chatbotUserId": "$:LWCP_v1:$robot",
            "msgId": msg_id,
            "senderNick": nick,
            "isAdmin": false,
            "senderStaffId": format!("staff-{nick}"),
            "sessionWebhookExpiredTime": now_millis() + 3_600_000,
            "createAt": now_millis(),
            "senderCorpId": "dingemulatorcorp",
            "conversationType": "2",
            "senderId": format!("$:LWCP_v1:${nick}"),
            "conversationTitle": "emulated group",
            "isInAtList": true,
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=emulator",
            "text": {"content": text},
            "robotCode": "dingemulatorrobot",
            "msgtype": "text",
        })
    }

    /// A call with the given headers' inputs.
    pub fn signed(&self, secret: &str, timestamp_ms: i64, body: &Value) -> Call {
        Call::post_json(
            String::new(),
            vec![
                ("timestamp".into(), timestamp_ms.to_string()),
                ("sign".into(), Dingtalk::sign(secret, timestamp_ms)),
            ],
            body.to_string().into_bytes(),
        )
    }

    /// A text message by `nick`.
    pub fn message(&self, msg_id: &str, nick: &str, text: &str) -> Call {
        self.signed(
            &self.app_secret,
            now_millis(),
            &self.message_json(msg_id, nick, text),
        )
        .with_id(msg_id)
    }

    /// A picture message (no text; the bridge should ignore it).
    pub fn non_text(&self, msg_id: &str, nick: &str) -> Call {
        let mut v = self.message_json(msg_id, nick, "");
        let o = v.as_object_mut().expect("object");
        o.remove("text");
        o.insert("msgtype".into(), json!("picture"));
        o.insert(
            "content".into(),
            json!({"downloadCode": "emulator", "pictureDownloadCode": "emulator"}),
        );
        self.signed(&self.app_secret, now_millis(), &v)
            .with_id(msg_id)
    }

    /// Signed with another secret.
    pub fn forged(&self, msg_id: &str, nick: &str, text: &str) -> Call {
        self.signed(
            "not-the-app-secret",
            now_millis(),
            &self.message_json(msg_id, nick, text),
        )
        .with_id(msg_id)
    }

    /// Correctly signed, timestamp two hours old (the docs: within 1 hour).
    pub fn stale(&self, msg_id: &str, nick: &str, text: &str) -> Call {
        self.signed(
            &self.app_secret,
            now_millis() - 7_200_000,
            &self.message_json(msg_id, nick, text),
        )
        .with_id(msg_id)
    }
}

// --- Telegram -------------------------------------------------------------

/// Telegram's webhook (Bot API: `setWebhook` with `secret_token`, the
/// `Update`, `Message`, `User` and `Chat` objects).
#[derive(Clone, Debug)]
pub struct Telegram {
    pub secret_token: String,
    pub chat_id: i64,
}

impl Telegram {
    pub fn new(secret_token: &str, chat_id: i64) -> Telegram {
        Telegram {
            secret_token: secret_token.into(),
            chat_id,
        }
    }

    fn call(&self, secret: Option<&str>, update: &Value) -> Call {
        let mut headers = vec![];
        if let Some(s) = secret {
            headers.push(("X-Telegram-Bot-Api-Secret-Token".into(), s.to_string()));
        }
        Call::post_json(String::new(), headers, update.to_string().into_bytes())
    }

    /// The user id `message` gives `user`.
    pub fn user_id(user: &str) -> i64 {
        let h = Sha256::digest(user.as_bytes());
        i64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]) & 0x7fff_ffff) + 1
    }

    fn user(user: &str, is_bot: bool) -> Value {
        json!({
            "id": Telegram::user_id(user),
            "is_bot": is_bot,
            "first_name": user,
            "username": user,
            "language_code": "en",
        })
    }

    fn chat(&self) -> Value {
        json!({"id": self.chat_id, "title": "emulated group", "type": "group", "all_members_are_administrators": false})
    }

    /// A fresh `message_id`.
    pub fn new_message_id() -> i64 {
        next_number() as i64
    }

    fn message_value(&self, message_id: i64, from: Value, text: &str) -> Value {
        json!({
            "message_id": message_id,
            "from": from,
            "chat": self.chat(),
            "date": now_secs(),
            "text": text,
        })
    }

    /// An update with a text message by `user` (username and first name).
    pub fn message(&self, update_id: i64, user: &str, text: &str) -> Call {
        let mid = Telegram::new_message_id();
        let m = self.message_value(mid, Telegram::user(user, false), text);
        self.call(
            Some(&self.secret_token),
            &json!({"update_id": update_id, "message": m}),
        )
        .with_id(mid.to_string())
    }

    /// A message from a user with no username (nick = first name).
    pub fn message_without_username(&self, update_id: i64, first_name: &str, text: &str) -> Call {
        let mid = Telegram::new_message_id();
        let mut from = Telegram::user(first_name, false);
        from.as_object_mut().expect("object").remove("username");
        let m = self.message_value(mid, from, text);
        self.call(
            Some(&self.secret_token),
            &json!({"update_id": update_id, "message": m}),
        )
        .with_id(mid.to_string())
    }

    /// `edited_message` of `message_id`.
    pub fn edit(&self, update_id: i64, message_id: &str, user: &str, new_text: &str) -> Call {
        let mid: i64 = message_id
            .parse()
            .expect("Telegram message ids are integers");
        let mut m = self.message_value(mid, Telegram::user(user, false), new_text);
        m["date"] = json!(now_secs() - 5);
        m["edit_date"] = json!(now_secs());
        self.call(
            Some(&self.secret_token),
            &json!({"update_id": update_id, "edited_message": m}),
        )
        .with_id(message_id)
    }

    /// A message sent by a bot (`from.is_bot`).
    pub fn own_post_echo(&self, update_id: i64, text: &str) -> Call {
        let mid = Telegram::new_message_id();
        let m = self.message_value(mid, Telegram::user("talkgroups_bot", true), text);
        self.call(
            Some(&self.secret_token),
            &json!({"update_id": update_id, "message": m}),
        )
        .with_id(mid.to_string())
    }

    /// A service message: `new_chat_members` (no text).
    pub fn join_event(&self, update_id: i64, user: &str) -> Call {
        let mid = Telegram::new_message_id();
        let m = json!({
            "message_id": mid,
            "from": Telegram::user(user, false),
            "chat": self.chat(),
            "date": now_secs(),
            "new_chat_participant": Telegram::user(user, false),
            "new_chat_member": Telegram::user(user, false),
            "new_chat_members": [Telegram::user(user, false)],
        });
        self.call(
            Some(&self.secret_token),
            &json!({"update_id": update_id, "message": m}),
        )
    }

    /// A message with the wrong secret-token header.
    pub fn forged(&self, update_id: i64, user: &str, text: &str) -> Call {
        self.message(update_id, user, text)
            .with_header("X-Telegram-Bot-Api-Secret-Token", "not-the-secret")
    }

    /// A message without the secret-token header.
    pub fn unsigned(&self, update_id: i64, user: &str, text: &str) -> Call {
        self.message(update_id, user, text)
            .without_header("X-Telegram-Bot-Api-Secret-Token")
    }
}

// ---------------------------------------------------------------------------
// Outbound receiver
// ---------------------------------------------------------------------------

/// The platforms a [`PlatformServer`] can stand in for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Slack,
    Feishu,
    Lark,
    Wecom,
    Dingtalk,
    Telegram,
    GoogleChat,
}

impl Platform {
    /// The documented rate limits as (posts, per window); all must hold.
    /// Slack: incoming webhooks and chat.postMessage ~1 message/s per
    /// channel ("Rate limits"); Feishu/Lark custom bot: 100/min and 5/s
    /// ("自定义机器人使用指南"); WeCom group bot: 20/min ("群机器人配置说明");
    /// DingTalk custom robot: 20/min ("自定义机器人发送群消息"); Telegram: 20
    /// messages/min to one group (Bot FAQ); Google Chat: 1 write/s per space
    /// ("Usage limits").
    pub fn documented_limits(self) -> Vec<(u32, Duration)> {
        let s = Duration::from_secs(1);
        let m = Duration::from_secs(60);
        match self {
            Platform::Slack => vec![(1, s)],
            Platform::Feishu | Platform::Lark => vec![(5, s), (100, m)],
            Platform::Wecom | Platform::Dingtalk | Platform::Telegram => vec![(20, m)],
            Platform::GoogleChat => vec![(1, s), (60, m)],
        }
    }
}

/// How the server answers, switchable while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Check, record and accept.
    Normal,
    /// Answer every request 503 (nothing recorded as a post).
    Down,
    /// As `Normal`, and over the rate limit answer as the platform does.
    RateLimit,
}

/// How a [`PlatformServer`] checks posts.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub platform: Platform,
    /// Slack `Authorization: Bearer`, Telegram's `/bot{token}/`.
    pub bot_token: String,
    /// Feishu/Lark `sign`, DingTalk `sign` query: checked when set and then
    /// required.
    pub webhook_secret: Option<String>,
    /// Slack `channel` / Telegram `chat_id` the posts must name, when set.
    pub channel: Option<String>,
    /// Limits for [`Mode::RateLimit`] (default: the documented ones).
    pub limits: Vec<(u32, Duration)>,
}

impl ServerConfig {
    pub fn new(platform: Platform) -> ServerConfig {
        ServerConfig {
            platform,
            bot_token: match platform {
                Platform::Telegram => "123456:EMULATOR-token".into(),
                _ => "xoxb-emulator-token".into(),
            },
            webhook_secret: None,
            channel: None,
            limits: platform.documented_limits(),
        }
    }
    pub fn bot_token(mut self, t: &str) -> Self {
        self.bot_token = t.into();
        self
    }
    pub fn webhook_secret(mut self, s: &str) -> Self {
        self.webhook_secret = Some(s.into());
        self
    }
    pub fn channel(mut self, c: &str) -> Self {
        self.channel = Some(c.into());
        self
    }
    /// Replaces the limits with one: `n` posts per `per`.
    pub fn rate(mut self, n: u32, per: Duration) -> Self {
        self.limits = vec![(n, per)];
        self
    }
}

/// A post the platform accepted.
#[derive(Clone, Debug)]
pub struct Post {
    /// The message text (Slack/Telegram/Google Chat `text`, Feishu
    /// `content.text`, WeCom/DingTalk `text.content`).
    pub text: String,
    pub json: Value,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub at: Instant,
}

impl Post {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A post the platform would have refused, and why.
#[derive(Clone, Debug)]
pub struct Violation {
    pub reason: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

#[derive(Default)]
struct State {
    posts: Vec<Post>,
    violations: Vec<Violation>,
    rate_limited: usize,
    down_refused: usize,
    accepted_at: VecDeque<Instant>,
}

struct Shared {
    config: ServerConfig,
    mode: Mutex<Mode>,
    state: Mutex<State>,
}

/// A local stand-in for a platform's outbound endpoints (see the module
/// docs). Stops on drop.
pub struct PlatformServer {
    shared: Arc<Shared>,
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

/// A refusal: status, body, extra headers, and the violation to record
/// (None for refusals that are not the client's fault, e.g. rate limits).
struct Refusal {
    status: StatusCode,
    body: String,
    retry_after: Option<u64>,
    violation: Option<String>,
}

fn refuse(status: u16, body: impl Into<String>, why: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::from_u16(status).expect("status"),
        body: body.into(),
        retry_after: None,
        violation: Some(why.into()),
    }
}

type Checked = Result<(String, Value, String), Refusal>;

impl PlatformServer {
    /// Listens on 127.0.0.1:`port` with the platform's defaults.
    pub async fn start(platform: Platform, port: u16) -> PlatformServer {
        PlatformServer::start_with(ServerConfig::new(platform), port).await
    }

    /// Listens on 127.0.0.1:`port` with `config`.
    pub async fn start_with(config: ServerConfig, port: u16) -> PlatformServer {
        let shared = Arc::new(Shared {
            config,
            mode: Mutex::new(Mode::Normal),
            state: Mutex::default(),
        });
        let s = shared.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let s = s.clone();
                async move { handle(&s, method, uri, headers, body.to_vec()) }
            },
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind platform emulator");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PlatformServer { shared, port, task }
    }

    pub fn platform(&self) -> Platform {
        self.shared.config.platform
    }

    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A webhook URL of the platform's shape (Slack incoming webhook,
    /// Feishu/Lark custom bot, WeCom group bot, DingTalk custom robot,
    /// Google Chat space webhook). Telegram has none (use `api_url`).
    pub fn webhook_url(&self) -> String {
        let b = self.base_url();
        match self.platform() {
            Platform::Slack => format!("{b}/services/T0EMULATOR/B0EMULATOR/emulatorwebhooktoken"),
            Platform::Feishu | Platform::Lark => {
                format!("{b}/open-apis/bot/v2/hook/00000000-emulator")
            }
            Platform::Wecom => format!("{b}/cgi-bin/webhook/send?key=00000000-emulator"),
            Platform::Dingtalk => format!("{b}/robot/send?access_token=emulatortoken"),
            Platform::Telegram => format!("{b}/bot{}/sendMessage", self.shared.config.bot_token),
            Platform::GoogleChat => {
                format!("{b}/v1/spaces/AAAAemulator/messages?key=emulator-key&token=emulator-token")
            }
        }
    }

    /// The `api` key's value: Slack `http://…/api`, Telegram `http://…`.
    pub fn api_url(&self) -> String {
        match self.platform() {
            Platform::Slack => format!("{}/api", self.base_url()),
            _ => self.base_url(),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().unwrap()
    }

    /// The accepted posts, in arrival order.
    pub fn posts(&self) -> Vec<Post> {
        self.shared.state.lock().unwrap().posts.clone()
    }

    /// The texts of the accepted posts.
    pub fn texts(&self) -> Vec<String> {
        self.posts().into_iter().map(|p| p.text).collect()
    }

    /// Posts the platform would have refused (bad shape, signature, token).
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.state.lock().unwrap().violations.clone()
    }

    /// Panics listing the violations, if any.
    pub fn assert_no_violations(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "{:?} emulator saw bad posts: {v:#?}",
            self.platform()
        );
    }

    /// How many posts were refused for the rate limit.
    pub fn rate_limited(&self) -> usize {
        self.shared.state.lock().unwrap().rate_limited
    }

    /// How many requests were refused while `Down`.
    pub fn down_refused(&self) -> usize {
        self.shared.state.lock().unwrap().down_refused
    }

    /// Forgets the posts, violations and counters.
    pub fn clear(&self) {
        *self.shared.state.lock().unwrap() = State::default();
    }

    /// Waits until at least `n` posts were accepted or `timeout` passed;
    /// returns the posts either way.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Post> {
        let deadline = Instant::now() + timeout;
        loop {
            let posts = self.posts();
            if posts.len() >= n || Instant::now() > deadline {
                return posts;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for PlatformServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn handle(s: &Shared, method: Method, uri: Uri, headers: HeaderMap, body: Vec<u8>) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let mode = *s.mode.lock().unwrap();
    if mode == Mode::Down {
        s.state.lock().unwrap().down_refused += 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    let platform = s.config.platform;
    let checked = if method != Method::POST {
        Err(refuse(
            405,
            "Method Not Allowed",
            format!("{method} instead of POST"),
        ))
    } else {
        check(&s.config, &path, &query, &headers, &body)
    };
    let (text, json, answer) = match checked {
        Ok(ok) => ok,
        Err(r) => return refusal(s, r, &path, &query, &body),
    };
    let now = Instant::now();
    {
        let mut st = s.state.lock().unwrap();
        if mode == Mode::RateLimit {
            if let Some(wait) = over_limit(&st.accepted_at, &s.config.limits, now) {
                st.rate_limited += 1;
                drop(st);
                return refusal(s, rate_answer(platform, wait), &path, &query, &body);
            }
        }
        st.accepted_at.push_back(now);
        let keep = s
            .config
            .limits
            .iter()
            .map(|(_, w)| *w)
            .max()
            .unwrap_or(Duration::from_secs(60));
        while st
            .accepted_at
            .front()
            .is_some_and(|t| now.duration_since(*t) > keep)
        {
            st.accepted_at.pop_front();
        }
        st.posts.push(Post {
            text,
            json,
            path,
            query,
            headers,
            at: now,
        });
    }
    let ct = if platform == Platform::Slack && answer == "ok" {
        "text/html"
    } else {
        "application/json"
    };
    let mut resp = (StatusCode::OK, answer).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(ct));
    resp
}

fn refusal(s: &Shared, r: Refusal, path: &str, query: &str, body: &[u8]) -> Response {
    if let Some(reason) = r.violation {
        s.state.lock().unwrap().violations.push(Violation {
            reason,
            path: path.into(),
            query: query.into(),
            body: String::from_utf8_lossy(body).into_owned(),
        });
    }
    let json_body = r.body.starts_with('{');
    let mut resp = (r.status, r.body).into_response();
    if json_body {
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
    }
    if let Some(secs) = r.retry_after {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    resp
}

/// Seconds until a post would fit under every limit, if one is exceeded.
fn over_limit(
    accepted: &VecDeque<Instant>,
    limits: &[(u32, Duration)],
    now: Instant,
) -> Option<u64> {
    let mut wait: Option<Duration> = None;
    for (n, per) in limits {
        let recent: Vec<&Instant> = accepted
            .iter()
            .filter(|t| now.duration_since(**t) < *per)
            .collect();
        if recent.len() >= *n as usize {
            // The post that would free a slot: the n-th most recent.
            let oldest = recent[recent.len() - *n as usize];
            let w = per.saturating_sub(now.duration_since(*oldest));
            wait = Some(wait.map_or(w, |x| x.max(w)));
        }
    }
    wait.map(|w| w.as_secs_f64().ceil().max(1.0) as u64)
}

/// The platform's own answer to a post over its limit.
fn rate_answer(platform: Platform, secs: u64) -> Refusal {
    let (status, body, retry_after) = match platform {
        // Slack: HTTP 429 with Retry-After ("Rate limits"); webhooks answer
        // plain text, Web API methods `{"ok":false,"error":"ratelimited"}`.
        Platform::Slack => (429, r#"{"ok":false,"error":"ratelimited"}"#.to_string(), true),
        // Feishu custom bot: code 11232 ("自定义机器人使用指南" names the
        // 11232 limit error), HTTP 200.
        Platform::Feishu | Platform::Lark => (
            200,
            r#"{"code":11232,"data":{},"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[-1]"}"#.into(),
            false,
        ),
        // WeCom global error code 45009 "接口调用超过限制", HTTP 200.
        Platform::Wecom => (
            200,
            r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#.into(),
            false,
        ),
        // DingTalk: 130101 "send too fast, exceed 20 times per minute".
        Platform::Dingtalk => (
            200,
            r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#.into(),
            false,
        ),
        // Telegram Bot API: 429 with ResponseParameters.retry_after.
        Platform::Telegram => (
            429,
            json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {secs}"),
                "parameters": {"retry_after": secs},
            })
            .to_string(),
            true,
        ),
        // Google APIs: 429 RESOURCE_EXHAUSTED.
        Platform::GoogleChat => (
            429,
            json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}).to_string(),
            true,
        ),
    };
    Refusal {
        status: StatusCode::from_u16(status).expect("status"),
        body,
        retry_after: retry_after.then_some(secs),
        violation: None,
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn is_json_type(headers: &HeaderMap) -> bool {
    header(headers, "content-type")
        .to_ascii_lowercase()
        .starts_with("application/json")
}

fn check(c: &ServerConfig, path: &str, query: &str, headers: &HeaderMap, body: &[u8]) -> Checked {
    match c.platform {
        Platform::Slack if path == "/api/chat.postMessage" => check_slack_api(c, headers, body),
        Platform::Slack => check_slack_webhook(path, body),
        Platform::Feishu | Platform::Lark => check_feishu(c, path, body),
        Platform::Wecom => check_wecom(path, query, body),
        Platform::Dingtalk => check_dingtalk(c, path, query, body),
        Platform::Telegram => check_telegram(c, path, headers, body),
        Platform::GoogleChat => check_googlechat(path, query, headers, body),
    }
}

/// Slack incoming webhook ("Sending messages using incoming webhooks"):
/// JSON `{"text"}`; errors are plain-text codes.
fn check_slack_webhook(path: &str, body: &[u8]) -> Checked {
    if !path.starts_with("/services/") {
        return Err(refuse(
            404,
            "no_service",
            format!("not a webhook path: {path}"),
        ));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| refuse(400, "invalid_payload", format!("not JSON: {e}")))?;
    let text = v.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() && v.get("blocks").is_none() {
        return Err(refuse(400, "no_text", "no text"));
    }
    Ok((text.to_string(), v, "ok".into()))
}

/// Slack `chat.postMessage`: `Authorization: Bearer`, JSON (or form) with
/// `channel` and `text`; errors are HTTP 200 `{"ok":false,"error"}`.
fn check_slack_api(c: &ServerConfig, headers: &HeaderMap, body: &[u8]) -> Checked {
    let err = |e: &str, why: String| refuse(200, json!({"ok": false, "error": e}).to_string(), why);
    let auth = header(headers, "authorization");
    let v: Value = if is_json_type(headers) {
        serde_json::from_slice(body).map_err(|e| err("invalid_json", format!("bad JSON: {e}")))?
    } else if header(headers, "content-type").starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| err("invalid_form_data", format!("bad form: {e}")))?;
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        return Err(err(
            "invalid_form_data",
            format!("content-type {:?}", header(headers, "content-type")),
        ));
    };
    let token = auth
        .strip_prefix("Bearer ")
        .map(str::to_string)
        .or_else(|| v.get("token").and_then(Value::as_str).map(str::to_string));
    match token {
        None => return Err(err("not_authed", "no token".into())),
        Some(t) if t != c.bot_token => return Err(err("invalid_auth", format!("token {t:?}"))),
        _ => {}
    }
    let channel = v.get("channel").and_then(Value::as_str).unwrap_or_default();
    if channel.is_empty() {
        return Err(err("channel_not_found", "no channel".into()));
    }
    if c.channel.as_deref().is_some_and(|want| want != channel) {
        return Err(err("channel_not_found", format!("channel {channel:?}")));
    }
    let text = v.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() && v.get("blocks").is_none() {
        return Err(err("no_text", "no text".into()));
    }
    if text.chars().count() > 40_000 {
        return Err(err(
            "msg_too_long",
            format!("{} characters", text.chars().count()),
        ));
    }
    let ts = Slack::new_ts();
    let answer = json!({
        "ok": true,
        "channel": channel,
        "ts": ts,
        "message": {
            "type": "message",
            "subtype": "bot_message",
            "text": text,
            "username": v.get("username").cloned().unwrap_or(Value::Null),
            "bot_id": "B0EMULATOR",
            "ts": ts,
        },
    });
    Ok((text.to_string(), v, answer.to_string()))
}

/// Feishu/Lark custom bot ("自定义机器人使用指南"): `{"msg_type":"text",
/// "content":{"text"}}`, optional `timestamp` + `sign` =
/// Base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = "")), within an
/// hour; body ≤ 20 KB.
fn check_feishu(c: &ServerConfig, path: &str, body: &[u8]) -> Checked {
    let bad = |why: String| refuse(200, r#"{"code":9499,"data":{},"msg":"Bad Request"}"#, why);
    if !path.starts_with("/open-apis/bot/v2/hook/") {
        return Err(refuse(
            404,
            "404 page not found",
            format!("not a hook path: {path}"),
        ));
    }
    if body.len() > 20 * 1024 {
        return Err(bad(format!("body of {} bytes (> 20 KB)", body.len())));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    if let Some(secret) = &c.webhook_secret {
        let sign_fail = |why: String| {
            refuse(
                200,
                r#"{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}"#,
                why,
            )
        };
        let ts = match v.get("timestamp") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(sign_fail("no timestamp".into())),
        };
        let sign = v.get("sign").and_then(Value::as_str).unwrap_or_default();
        let secs: i64 = ts
            .parse()
            .map_err(|_| sign_fail(format!("timestamp {ts:?}")))?;
        if (now_secs() - secs).abs() > 3600 {
            return Err(sign_fail(format!("timestamp {secs} not within an hour")));
        }
        let want = B64.encode(hmac_sha256(format!("{ts}\n{secret}").as_bytes(), b""));
        if sign != want {
            return Err(sign_fail(format!("sign {sign:?}, want {want:?}")));
        }
    }
    if v.get("msg_type").and_then(Value::as_str) != Some("text") {
        return Err(refuse(
            200,
            r#"{"code":19002,"data":{},"msg":"params error, msg_type need"}"#,
            format!("msg_type {:?} (the emulator takes text)", v.get("msg_type")),
        ));
    }
    let text = v
        .pointer("/content/text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.is_empty() {
        return Err(bad("no content.text".into()));
    }
    Ok((
        text.to_string(),
        v.clone(),
        r#"{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}"#.into(),
    ))
}

/// WeCom group bot ("群机器人配置说明"): `?key=`, `{"msgtype":"text",
/// "text":{"content"}}`, content ≤ 2048 bytes UTF-8.
fn check_wecom(path: &str, query: &str, body: &[u8]) -> Checked {
    let e = |code: u32, msg: &str, why: String| {
        refuse(
            200,
            json!({"errcode": code, "errmsg": msg}).to_string(),
            why,
        )
    };
    if path != "/cgi-bin/webhook/send" {
        return Err(refuse(404, "", format!("not the webhook path: {path}")));
    }
    if query_param(query, "key").unwrap_or_default().is_empty() {
        return Err(e(93000, "invalid webhook url", "no key".into()));
    }
    text_message(
        body,
        2048,
        e,
        [
            (40035, "invalid parameter"),
            (40008, "invalid message type"),
            (44004, "empty content"),
            (40058, "content exceed max length 2048"),
        ],
    )
}

/// The `{"msgtype":"text","text":{"content"}}` body WeCom's and DingTalk's
/// robots take, checked in the platform's order: JSON, the type, an empty
/// content, the length (bytes). `codes` are the platform's `(errcode,
/// errmsg)` for each of those four, in that order.
fn text_message(
    body: &[u8],
    max_bytes: usize,
    e: impl Fn(u32, &str, String) -> Refusal,
    codes: [(u32, &str); 4],
) -> Checked {
    let [json_err, type_err, empty_err, long_err] = codes;
    let v: Value = serde_json::from_slice(body)
        .map_err(|x| e(json_err.0, json_err.1, format!("not JSON: {x}")))?;
    if v.get("msgtype").and_then(Value::as_str) != Some("text") {
        return Err(e(
            type_err.0,
            type_err.1,
            format!("msgtype {:?} (the emulator takes text)", v.get("msgtype")),
        ));
    }
    let text = v
        .pointer("/text/content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.is_empty() {
        return Err(e(empty_err.0, empty_err.1, "no text.content".into()));
    }
    if text.len() > max_bytes {
        return Err(e(
            long_err.0,
            long_err.1,
            format!("content of {} bytes (> {max_bytes})", text.len()),
        ));
    }
    Ok((
        text.to_string(),
        v.clone(),
        r#"{"errcode":0,"errmsg":"ok"}"#.into(),
    ))
}

/// DingTalk custom robot ("自定义机器人发送群消息", "加签"):
/// `?access_token=`, with a secret also `&timestamp=<ms>&sign=<urlencoded
/// Base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret))>`
/// within an hour; `{"msgtype":"text","text":{"content"}}`.
fn check_dingtalk(c: &ServerConfig, path: &str, query: &str, body: &[u8]) -> Checked {
    let e = |code: u32, msg: &str, why: String| {
        refuse(
            200,
            json!({"errcode": code, "errmsg": msg}).to_string(),
            why,
        )
    };
    if path != "/robot/send" {
        return Err(refuse(404, "", format!("not the robot path: {path}")));
    }
    if query_param(query, "access_token")
        .unwrap_or_default()
        .is_empty()
    {
        return Err(e(
            300001,
            "description:token is not exist",
            "no access_token".into(),
        ));
    }
    if let Some(secret) = &c.webhook_secret {
        let ts = query_param(query, "timestamp").unwrap_or_default();
        let sign = query_param(query, "sign").unwrap_or_default();
        let ms: i64 = ts
            .parse()
            .map_err(|_| e(310000, "invalid timestamp", format!("timestamp {ts:?}")))?;
        if (now_millis() - ms).abs() > 3_600_000 {
            return Err(e(
                310000,
                "invalid timestamp",
                format!("timestamp {ms} not within an hour"),
            ));
        }
        let want = Dingtalk::sign(secret, ms);
        if sign != want {
            return Err(e(
                310000,
                "sign not match",
                format!("sign {sign:?}, want {want:?}"),
            ));
        }
    }
    text_message(
        body,
        20_000,
        e,
        [
            (40035, "缺少参数 json"),
            (40035, "缺少参数 msgtype"),
            (40035, "缺少参数 content"),
            (460101, "message too long"),
        ],
    )
}

/// Telegram Bot API `sendMessage` ("Making requests"): `POST
/// /bot<token>/sendMessage`, JSON or form, `chat_id` and `text` (1-4096
/// characters); errors `{"ok":false,"error_code","description"}`.
fn check_telegram(c: &ServerConfig, path: &str, headers: &HeaderMap, body: &[u8]) -> Checked {
    let e = |code: u16, desc: &str, why: String| {
        refuse(
            code,
            json!({"ok": false, "error_code": code, "description": desc}).to_string(),
            why,
        )
    };
    let rest = path
        .strip_prefix("/bot")
        .ok_or_else(|| e(404, "Not Found", format!("path {path}")))?;
    let (token, method) = rest
        .split_once('/')
        .ok_or_else(|| e(404, "Not Found", format!("path {path}")))?;
    if token != c.bot_token {
        return Err(e(401, "Unauthorized", format!("token {token:?}")));
    }
    if !method.eq_ignore_ascii_case("sendMessage") {
        return Err(e(404, "Not Found", format!("method {method}")));
    }
    let v: Value = if is_json_type(headers) {
        serde_json::from_slice(body).map_err(|x| {
            e(
                400,
                "Bad Request: can't parse JSON",
                format!("bad JSON: {x}"),
            )
        })?
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|x| e(400, "Bad Request", format!("bad form: {x}")))?;
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    };
    let chat_id = match v.get("chat_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(e(400, "Bad Request: chat_id is empty", "no chat_id".into())),
    };
    if c.channel.as_deref().is_some_and(|want| want != chat_id) {
        return Err(e(
            400,
            "Bad Request: chat not found",
            format!("chat_id {chat_id}"),
        ));
    }
    let text = v.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() {
        return Err(e(
            400,
            "Bad Request: message text is empty",
            "no text".into(),
        ));
    }
    if text.chars().count() > 4096 {
        return Err(e(
            400,
            "Bad Request: message is too long",
            format!("{} characters (> 4096)", text.chars().count()),
        ));
    }
    let chat: Value = chat_id
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(chat_id.clone()));
    let answer = json!({
        "ok": true,
        "result": {
            "message_id": next_number(),
            "from": {"id": 123456, "is_bot": true, "first_name": "talkgroups", "username": "talkgroups_bot"},
            "chat": {"id": chat, "title": "emulated group", "type": "group"},
            "date": now_secs(),
            "text": text,
        },
    });
    Ok((text.to_string(), v, answer.to_string()))
}

/// Google Chat incoming webhook ("Build a Google Chat app as a webhook"):
/// `POST /v1/spaces/{space}/messages?key=…&token=…`, `Content-Type:
/// application/json`, `{"text"}`; answers the created Message.
fn check_googlechat(path: &str, query: &str, headers: &HeaderMap, body: &[u8]) -> Checked {
    let e = |code: u16, status: &str, msg: &str, why: String| {
        refuse(
            code,
            json!({"error": {"code": code, "message": msg, "status": status}}).to_string(),
            why,
        )
    };
    let space = path
        .strip_prefix("/v1/spaces/")
        .and_then(|r| r.strip_suffix("/messages"))
        .ok_or_else(|| {
            e(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                format!("path {path}"),
            )
        })?
        .to_string();
    if query_param(query, "key").unwrap_or_default().is_empty()
        || query_param(query, "token").unwrap_or_default().is_empty()
    {
        return Err(e(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
            "webhook without key or token".into(),
        ));
    }
    if !is_json_type(headers) {
        return Err(e(
            400,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
            format!("content-type {:?}", header(headers, "content-type")),
        ));
    }
    let v: Value = serde_json::from_slice(body).map_err(|x| {
        e(
            400,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
            format!("bad JSON: {x}"),
        )
    })?;
    let text = v.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() && v.get("cardsV2").is_none() {
        return Err(e(
            400,
            "INVALID_ARGUMENT",
            "Message cannot be empty.",
            "no text".into(),
        ));
    }
    if text.len() > 32_000 {
        return Err(e(
            400,
            "INVALID_ARGUMENT",
            "Message text is too long.",
            format!("{} bytes (> 32000)", text.len()),
        ));
    }
    let name = format!("spaces/{space}/messages/{}", unique("m"));
    let answer = json!({
        "name": name,
        "sender": {"name": "users/114022495153014004089", "displayName": "talkgroups", "type": "BOT"},
        "text": text,
        "createTime": "2024-01-01T00:00:00.000000Z",
        "space": {"name": format!("spaces/{space}"), "type": "ROOM"},
        "thread": {"name": format!("spaces/{space}/threads/{}", unique("t"))},
    });
    Ok((text.to_string(), v, answer.to_string()))
}
