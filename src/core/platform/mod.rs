//! The bridge platforms' wire protocols, as pure functions: verifying and
//! parsing what a platform calls a bridge's inbound URL with, building the
//! post a bridge sends, and judging the platform's answer. No I/O and no
//! clock here: time comes in as `now_ms`. The core's bridge rules
//! (`core::bridge`) decide what to do with the results.
//!
//! Every check that compares a secret runs in constant time; every body is
//! limited by the HTTP adapter (64 KiB) before it gets here.

use std::collections::BTreeMap;

use super::webhook::{HttpRequest, Refusal, Verdict};

/// The platforms a bridge can join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Slack,
    Feishu,
    Lark,
    Wecom,
    Dingtalk,
    Telegram,
    Googlechat,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::Slack,
        Platform::Feishu,
        Platform::Lark,
        Platform::Wecom,
        Platform::Dingtalk,
        Platform::Telegram,
        Platform::Googlechat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Feishu => "feishu",
            Platform::Lark => "lark",
            Platform::Wecom => "wecom",
            Platform::Dingtalk => "dingtalk",
            Platform::Telegram => "telegram",
            Platform::Googlechat => "googlechat",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        let s = s.to_ascii_lowercase();
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A bridge's keys (secrets included) by name, e.g. `signing_secret`.
pub type Keys = BTreeMap<String, String>;

/// The HTTP method of an inbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A call to `/bridges/{group}/{name}`, as the HTTP adapter read it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub method: Method,
    /// The decoded query string pairs, in order.
    pub query: &'a [(String, String)],
    /// Header names in lower case.
    pub headers: &'a [(String, String)],
    /// The raw body (at most 64 KiB).
    pub body: &'a [u8],
    pub now_ms: i64,
}

impl Call<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What an authentic inbound call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A verification handshake (Slack/Feishu `challenge`, WeCom
    /// `echostr`): answer 200 with this body.
    Answer {
        content_type: &'static str,
        body: String,
    },
    /// A message (or an edit) to relay into the group.
    Message(Message),
    /// Authentic, but nothing to relay (the bridge's own post, a join, a
    /// reaction…): answer 200 and change nothing.
    Ignore(&'static str),
}

/// A message from the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The platform's id of this delivery, for the duplicate window
    /// (Slack `event_id`, Feishu `header.event_id`, WeCom `msgid`,
    /// DingTalk `msgId`, Telegram `update_id`), prefixed by nothing.
    pub event_id: String,
    /// The best display name the payload carries (not yet cleaned).
    pub nick: String,
    pub text: String,
    /// The platform's id of the message itself, stable across its edits
    /// (Slack `channel:ts`, Telegram `chat_id:message_id`, Feishu
    /// `message_id`), when it has one.
    pub message_ref: Option<String>,
    /// This is an edit of the message `message_ref` names.
    pub edit: bool,
}

/// Verifies and parses an inbound call. Errors: 401 when a signature,
/// token or timestamp check fails (checked before anything else is
/// believed), 400 for a body that cannot be decrypted or is not the JSON
/// expected, 405 for a method the platform does not use.
pub fn inbound(platform: Platform, keys: &Keys, call: &Call<'_>) -> Result<Inbound, Refusal> {
    let _ = (platform, keys, call);
    Err(super::webhook::refuse(501, "not yet"))
}

/// One line of a post: who said it and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub nick: &'a str,
    pub text: &'a str,
}

/// The post that carries `lines` (one or several merged, as `[nick] text`
/// lines joined by newlines), at unix time `now_ms`.
pub fn outbound(platform: Platform, keys: &Keys, lines: &[Line<'_>], now_ms: i64) -> HttpRequest {
    let _ = (platform, keys, lines, now_ms);
    HttpRequest {
        url: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// What the platform's answer to a post means (some answer 200 with an
/// error code in the body; 429 and `Retry-After` mean wait).
pub fn judge(platform: Platform, status: u16, body: &[u8], retry_after: Option<u64>) -> Verdict {
    let _ = (platform, body, retry_after);
    Verdict::Refused(format!("HTTP {status}"))
}

/// Checks a bridge's keys: every required key present, no unknown key,
/// URLs absolute http(s), WeCom's `encoding_aes_key` 43 characters that
/// decode. The error is one line naming the key.
pub fn validate(platform: Platform, keys: &Keys) -> Result<(), String> {
    let _ = (platform, keys);
    Ok(())
}

/// The keys that are secrets (never shown, never logged).
pub fn is_secret(key: &str) -> bool {
    matches!(
        key,
        "signing_secret"
            | "bot_token"
            | "verification_token"
            | "encrypt_key"
            | "webhook_secret"
            | "token"
            | "encoding_aes_key"
            | "app_secret"
            | "secret_token"
            | "webhook"
    )
}

/// The platform's posting rate limit: at most `count` posts per
/// `window_ms`.
pub fn default_rate(platform: Platform) -> (u32, i64) {
    let _ = platform;
    (1, 1000)
}

/// The most UTF-8 bytes one post's text may carry (merged posts stop there).
pub fn max_bytes(platform: Platform) -> usize {
    let _ = platform;
    2000
}

/// Parses `rate = "20/60s"`: (count, window in ms).
pub fn parse_rate(s: &str) -> Option<(u32, i64)> {
    let (n, w) = s.split_once('/')?;
    let n: u32 = n.trim().parse().ok().filter(|n| *n > 0)?;
    let w = w.trim().strip_suffix('s')?;
    let w: i64 = if w.is_empty() { 1 } else { w.parse().ok()? };
    Some((n, w * 1000))
}
