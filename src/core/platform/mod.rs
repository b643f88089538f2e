//! The bridge platforms' wire protocols, as pure functions: verifying and
//! parsing what a platform calls a bridge's inbound URL with, building the
//! post a bridge sends, and judging the platform's answer. No I/O and no
//! clock here: time comes in as `now_ms`. The core's bridge rules
//! (`core::bridge`) decide what to do with the results.
//!
//! Every check that compares a secret runs in constant time; every body is
//! limited by the HTTP adapter (64 KiB) before it gets here.

use std::collections::BTreeMap;

use super::i18n::Msg;
use super::text::format_line;
use super::webhook::{refuse, HttpRequest, Refusal, Verdict};

pub(crate) mod crypto;
mod dingtalk;
mod feishu;
mod googlechat;
mod slack;
mod telegram;
mod wecom;

#[cfg(test)]
mod tests;

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
    match platform {
        Platform::Slack => slack::inbound(keys, call),
        Platform::Feishu | Platform::Lark => feishu::inbound(keys, call),
        Platform::Wecom => wecom::inbound(keys, call),
        Platform::Dingtalk => dingtalk::inbound(keys, call),
        Platform::Telegram => telegram::inbound(keys, call),
        Platform::Googlechat => Err(refuse(405, "googlechat bridges are send-only")),
    }
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
    match platform {
        Platform::Slack => slack::outbound(keys, lines),
        Platform::Feishu | Platform::Lark => feishu::outbound(keys, lines, now_ms),
        Platform::Wecom => wecom::outbound(keys, lines),
        Platform::Dingtalk => dingtalk::outbound(keys, lines, now_ms),
        Platform::Telegram => telegram::outbound(keys, lines),
        Platform::Googlechat => googlechat::outbound(keys, lines),
    }
}

/// What the platform's answer to a post means (some answer 200 with an
/// error code in the body; 429 and `Retry-After` mean wait).
pub fn judge(platform: Platform, status: u16, body: &[u8], retry_after: Option<u64>) -> Verdict {
    match platform {
        Platform::Slack => slack::judge(status, body, retry_after),
        Platform::Feishu | Platform::Lark => {
            super::webhook::judge(RouteFormat::Feishu, status, body, retry_after)
        }
        // DingTalk answers like WeCom: `errcode` 0 or not.
        Platform::Wecom | Platform::Dingtalk => {
            super::webhook::judge(RouteFormat::Wecom, status, body, retry_after)
        }
        Platform::Telegram => telegram::judge(status, body, retry_after),
        Platform::Googlechat => {
            super::webhook::judge(RouteFormat::Slack, status, body, retry_after)
        }
    }
}

/// Checks a bridge's keys: every required key present, no unknown key,
/// URLs absolute http(s), WeCom's `encoding_aes_key` 43 characters that
/// decode. The error is one line naming the key.
pub fn validate(platform: Platform, keys: &Keys) -> Result<(), Msg> {
    let (required, optional): (&[&str], &[&str]) = match platform {
        // Slack's either-or (webhook, or bot_token + channel) is checked below.
        Platform::Slack => (
            &["signing_secret"],
            &["webhook", "bot_token", "channel", "api"],
        ),
        Platform::Feishu | Platform::Lark => (
            &["verification_token", "webhook"],
            &["encrypt_key", "webhook_secret"],
        ),
        Platform::Wecom => (&["token", "encoding_aes_key", "webhook"], &[]),
        Platform::Dingtalk => (&["app_secret", "webhook"], &["webhook_secret"]),
        Platform::Telegram => (&["bot_token", "chat_id", "secret_token"], &["api"]),
        Platform::Googlechat => (&["webhook"], &[]),
    };
    for k in keys.keys() {
        if !required.contains(&k.as_str()) && !optional.contains(&k.as_str()) && k != "rate" {
            return Err(Msg::new(
                "bridge-key-unknown",
                &[("key", k), ("platform", platform.as_str())],
            ));
        }
    }
    for (k, v) in keys {
        if v.trim().is_empty() {
            return Err(Msg::new("bridge-key-empty", &[("key", k)]));
        }
    }
    for k in required {
        if !keys.contains_key(*k) {
            return Err(Msg::new("bridge-key-missing", &[("key", k)]));
        }
    }
    for k in ["webhook", "api"] {
        if let Some(v) = keys.get(k) {
            if !super::route::valid_url(v.trim()) {
                // The webhook URL is a secret: never echoed.
                return Err(Msg::new("bridge-key-url", &[("key", k)]));
            }
        }
    }
    if let Some(r) = keys.get("rate") {
        if parse_rate(r).is_none() {
            let got: String = r.chars().take(40).collect();
            return Err(Msg::new("bridge-key-rate", &[("got", &got)]));
        }
    }
    match platform {
        Platform::Slack if !keys.contains_key("webhook") => {
            if !keys.contains_key("bot_token") {
                return Err(Msg::new("bridge-slack-webhook", &[]));
            }
            if !keys.contains_key("channel") {
                return Err(Msg::new("bridge-key-missing", &[("key", "channel")]));
            }
        }
        Platform::Wecom => {
            let k = keys.get("encoding_aes_key").map_or("", |k| k.trim());
            let n = k.chars().count();
            if n != 43 {
                return Err(Msg::new(
                    "bridge-wecom-key-length",
                    &[("n", &n.to_string())],
                ));
            }
            if crypto::wecom_key(k).is_none() {
                return Err(Msg::new("bridge-wecom-key-base64", &[]));
            }
        }
        Platform::Telegram => {
            let t = keys.get("secret_token").map_or("", |k| k.trim());
            // Telegram's setWebhook takes 1-256 characters of these only.
            if t.len() > 256
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Msg::new("bridge-telegram-secret", &[]));
            }
            let c = keys.get("chat_id").map_or("", |k| k.trim());
            // Updates name the chat by its number; an @name would never match.
            if c.parse::<i64>().is_err() {
                let got: String = c.chars().take(40).collect();
                return Err(Msg::new("bridge-telegram-chat", &[("got", &got)]));
            }
        }
        _ => {}
    }
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
    match platform {
        // Slack incoming webhooks and chat.postMessage: about one per second.
        Platform::Slack | Platform::Googlechat => (1, 1000),
        // Feishu custom bots: 5 per second (and 100 per minute).
        Platform::Feishu | Platform::Lark => (5, 1000),
        // WeCom and DingTalk group robots: 20 per minute; Telegram: 20 per
        // minute in a group.
        Platform::Wecom | Platform::Dingtalk | Platform::Telegram => (20, 60_000),
    }
}

/// Parses a rate such as `20/60s`, `5/1s`, `1/s`, `20/min`, `100/500ms`,
/// `1000/1h`: (count, window in milliseconds), count ≥ 1, window ≥ 1 ms.
pub fn parse_rate(s: &str) -> Option<(u32, i64)> {
    let (count, window) = s.trim().split_once('/')?;
    let count: u32 = count.trim().parse().ok()?;
    let window = window.trim();
    let digits = window.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = window.split_at(digits);
    let n: i64 = if n.is_empty() { 1 } else { n.parse().ok()? };
    let unit_ms: i64 = match unit.trim() {
        "ms" => 1,
        "s" | "sec" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    let window_ms = n.checked_mul(unit_ms)?;
    (count >= 1 && window_ms >= 1).then_some((count, window_ms))
}

/// The most UTF-8 bytes the merged text of one post may carry (merged
/// posts stop there).
pub fn max_bytes(platform: Platform) -> usize {
    match platform {
        // Slack truncates past 40 000 characters but advises 4 000.
        Platform::Slack => 4000,
        // Feishu refuses request bodies over 20 KB; JSON escaping needs room.
        Platform::Feishu | Platform::Lark => 16_000,
        // WeCom group robots: text content at most 2048 bytes.
        Platform::Wecom => 2048,
        Platform::Dingtalk => 4000,
        // Telegram: 4096 characters, so 4096 bytes always fit.
        Platform::Telegram | Platform::Googlechat => 4096,
    }
}

// ---- helpers shared by the platforms ----------------------------------------

use super::model::RouteFormat;

/// The merged text of a post: one `[nick] text` line per line.
pub(crate) fn merged(lines: &[Line<'_>]) -> String {
    lines
        .iter()
        .map(|l| format_line(l.nick, l.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A key's value when set and not blank.
pub(crate) fn key<'a>(keys: &'a Keys, name: &str) -> Option<&'a str> {
    keys.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A key inbound verification needs: without it nothing can be authentic.
pub(crate) fn secret<'a>(keys: &'a Keys, name: &str) -> Result<&'a str, Refusal> {
    key(keys, name).ok_or_else(|| refuse(401, format!("bridge has no {name} to verify with")))
}

pub(crate) fn json_request(url: String, body: serde_json::Value) -> HttpRequest {
    HttpRequest {
        url,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

pub(crate) fn parse_json(body: &[u8]) -> Result<serde_json::Value, Refusal> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| refuse(400, format!("malformed JSON: {e}")))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(refuse(400, "expected a JSON object"))
    }
}

/// The string at `path` in `v`, if there is one.
pub(crate) fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The first non-blank of several candidate names.
pub(crate) fn first_nonblank<'a>(names: &[Option<&'a str>]) -> Option<&'a str> {
    names
        .iter()
        .flatten()
        .copied()
        .find(|n| !n.trim().is_empty())
}

pub(crate) fn require_post(call: &Call<'_>, platform: &str) -> Result<(), Refusal> {
    match call.method {
        Method::Post => Ok(()),
        Method::Get => Err(refuse(405, format!("{platform} calls with POST only"))),
    }
}

/// An answer's body for an error message: at most 200 bytes, one line.
pub(crate) fn snippet(status: u16, body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body.get(..body.len().min(200)).unwrap_or_default());
    let s = s.trim().replace(['\n', '\r'], " ");
    if s.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {s}")
    }
}

/// A relayable message, or Ignore when its text is blank.
pub(crate) fn message(
    event_id: String,
    nick: &str,
    text: String,
    message_ref: Option<String>,
    edit: bool,
) -> Inbound {
    if text.trim().is_empty() {
        return Inbound::Ignore("empty message");
    }
    Inbound::Message(Message {
        event_id,
        nick: nick.to_string(),
        text,
        message_ref,
        edit,
    })
}
