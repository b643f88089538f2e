//! The core's settings: what it needs to know, in its own types. The
//! config adapter (`crate::config`) builds them from the TOML file, as
//! the app builds the XMPP adapter's; nothing here reads a file or knows
//! of TOML.

use super::avatar::Avatar;
use super::model::{JoinPolicy, Millis};

/// The core's settings.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub domain: String,
    pub service_name: String,
    /// Replies' language where nothing else chooses one (`[service] lang`).
    pub lang: super::i18n::Lang,
    pub version: String,
    pub service_admins: Vec<String>,
    pub offline: OfflineMode,
    pub catchup_max: usize,
    pub burst: usize,
    pub window_ms: Millis,
    pub max_body: usize,
    /// How often sessions known only from a probe or a message are pinged.
    pub ping_ms: Millis,
    pub history_days: u32,
    pub history_max: u32,
    /// Undelivered route messages older than this are given up.
    pub route_max_age_ms: Millis,
    pub groups: Vec<GroupSettings>,
    /// Every copy of a relayed message carries the same id (`tgm-SEQ-0`)
    /// instead of one per recipient: needed when the server fans messages
    /// out (XEP-0033 multicast, `component.multicast`).
    pub shared_copy_ids: bool,
    /// The server's XEP-0033 service and the most recipients per stanza.
    pub multicast: Option<(String, usize)>,
    /// `[[bridge]]` tables, checked, secrets resolved.
    pub bridges: Vec<BridgeSettings>,
    pub mucs: Vec<MucSettings>,
}

/// A bridge the config defines (it replaces one of the same name at
/// start; a config bridge no longer in the config is removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSettings {
    pub group: String,
    pub name: String,
    pub platform: super::platform::Platform,
    pub keys: super::platform::Keys,
}

/// A room bridge the config defines (`[[muc]]`; replaced and removed at
/// start as bridges are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MucSettings {
    pub group: String,
    pub name: String,
    pub room: String,
    /// `None`: the group's title.
    pub nick: Option<String>,
    pub password: Option<String>,
    pub puppets: bool,
}

/// A group the config ensures at start.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub name: String,
    pub title: String,
    pub join: JoinPolicy,
    pub admins: Vec<String>,
    /// The configured picture, checked; `None` draws one from the title.
    pub avatar: Option<Avatar>,
    /// `[[group]] lang` (default `[service] lang`).
    pub lang: super::i18n::Lang,
}

/// What to do with messages for members who are offline (`relay.offline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineMode {
    /// Send what they missed when they come back.
    Catchup,
    /// Send anyway; their server stores it.
    Server,
    /// Nothing for offline members.
    Drop,
}

impl OfflineMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OfflineMode::Catchup => "catchup",
            OfflineMode::Server => "server",
            OfflineMode::Drop => "drop",
        }
    }
}
