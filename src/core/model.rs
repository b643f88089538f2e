//! Plain data shared by the core and the store: the rows the core asks the
//! store to write (`StoreOp`) and the snapshot the store loads at start.
//! No behaviour lives here.

use std::sync::Arc;

/// Milliseconds since the Unix epoch. All time in the core is this, passed in.
pub type Millis = i64;

/// How a group admits new members (`open`, `approve`, `invite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinPolicy {
    Open,
    Approve,
    Invite,
}

impl JoinPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            JoinPolicy::Open => "open",
            JoinPolicy::Approve => "approve",
            JoinPolicy::Invite => "invite",
        }
    }

    pub fn parse(s: &str) -> Option<JoinPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "open" => Some(JoinPolicy::Open),
            "approve" => Some(JoinPolicy::Approve),
            "invite" => Some(JoinPolicy::Invite),
            _ => None,
        }
    }
}

/// Where a JID stands with a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Asked to join, waits for an admin (`//add`, `//allok`).
    Pending,
    /// Invited by an admin (`//add`); becomes a member when they accept.
    Invited,
    /// A member.
    Member,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Pending => "pending",
            MemberState::Invited => "invited",
            MemberState::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<MemberState> {
        match s {
            "pending" => Some(MemberState::Pending),
            "invited" => Some(MemberState::Invited),
            "member" => Some(MemberState::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub name: String,
    pub title: String,
    pub join: JoinPolicy,
    pub created_at: Millis,
}

/// One row of `members`: everything about a JID in a group except its blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// Stable number the core assigns (unique across all groups); used in
    /// relayed stanza ids.
    pub id: i64,
    /// Shared by the members of a group in the core (one allocation).
    pub group: Arc<str>,
    /// Bare JID, lowercase local part and domain.
    /// Shared with the fan-outs that address the member (no copy per
    /// relayed message).
    pub jid: std::sync::Arc<str>,
    pub state: MemberState,
    pub admin: bool,
    pub nick: String,
    pub fid: String,
    /// `//setid` was used (it may be used once).
    pub fid_changed: bool,
    pub muted: bool,
    /// `//stop` in force until then (ms); `None` when not stopped.
    pub stop_until: Option<Millis>,
    pub joined_at: Millis,
    pub last_seen: Millis,
    /// Newest history id this member had when they went offline; `None`
    /// while they are online (a crash leaves `None`: the store's loader then
    /// treats them as having seen everything).
    pub offline_seq: Option<i64>,
    /// Chosen with `//lang` (`None`: their client's, else the group's).
    pub lang: Option<super::i18n::Lang>,
}

/// A history row a reference names, to be read from the store because the
/// core no longer holds it (older than its newest `RING` rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recall {
    /// By history id (from a copy id `tgm-{id}-…`, or the API).
    Row { group: String, id: i64 },
    /// A member's own message, by the id their client gave it.
    Origin {
        group: String,
        sender: String,
        origin_id: String,
    },
    /// A message that came from a room or platform, by the reference the
    /// room bridge or bridge `route` stored for it (`bridge_refs`).
    Ref {
        group: String,
        route: String,
        key: String,
    },
}

/// One relayed message in a group's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// Global, increasing, assigned by the core.
    pub id: i64,
    pub group: String,
    pub sender: String,
    pub nick: String,
    /// The text as the sender wrote it (`/me waves` stays `/me waves`).
    pub text: String,
    pub at: Millis,
    /// The sender's own stanza id, for corrections and retractions.
    pub origin_id: Option<String>,
    /// When the sender last corrected it (XEP-0308); `text` is then the
    /// corrected text.
    pub edited_at: Option<Millis>,
    /// Retracted (XEP-0424): `text` is empty.
    pub removed: bool,
}

/// A write the core asks for. The app applies a batch of these in one
/// transaction, and only then sends the stanzas produced with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Insert the group or update its title and policy.
    UpsertGroup(GroupRecord),
    /// Delete the group and (by cascade) its members, blocks, blacklist and history.
    DeleteGroup {
        group: String,
    },
    /// Insert or replace the member row keyed by (group, jid).
    UpsertMember(MemberRecord),
    /// Remove the member row and its blocks (blacklist untouched).
    DeleteMember {
        group: String,
        jid: String,
    },
    /// Add or remove a blacklist entry.
    SetBlacklisted {
        group: String,
        jid: String,
        on: bool,
    },
    /// `jid` blocks (or unblocks) `blocked` in `group`.
    SetBlock {
        group: String,
        jid: String,
        blocked: String,
        on: bool,
    },
    AppendHistory(HistoryRecord),
    AddToken(TokenRecord),
    RevokeToken {
        id: String,
    },
    /// A correction: the row's text becomes `text`.
    EditHistory {
        id: i64,
        text: String,
        at: Millis,
    },
    /// A retraction: the row's text is wiped and it shows as removed.
    RemoveHistory {
        id: i64,
    },
    /// Drop history older than `before` and keep at most `keep_max` rows per group.
    PruneHistory {
        before: Millis,
        keep_max: u32,
    },
    /// Insert the route, or update everything but its creation time (an
    /// upsert: replacing the row would cascade to its outbox).
    UpsertRoute(RouteRecord),
    /// Delete the route and (by cascade) its queued deliveries.
    DeleteRoute {
        group: String,
        name: String,
    },
    /// Queue a delivery on a send route.
    Enqueue(OutboxRecord),
    /// A queued delivery is done (delivered, refused or given up).
    Dequeue {
        id: i64,
    },
    /// Remember a message id received on a route (duplicate window).
    Seen {
        group: String,
        id: String,
        at: Millis,
    },
    /// Forget received message ids older than `before`.
    PruneSeen {
        before: Millis,
    },
    /// A bridge's message `message_ref` is history row `history_id` (for
    /// the platform's later edits; deleted with the history row).
    BridgeRef {
        group: String,
        bridge: String,
        message_ref: String,
        history_id: i64,
    },
}

/// How a send route encodes what it posts (its FORMAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteFormat {
    /// Native: signed JSON to another talkgroups instance.
    Talkgroups,
    /// Slack, Rocket.Chat and Mattermost incoming webhooks.
    Slack,
    Discord,
    /// WeCom (WeChat Work) group bots.
    Wecom,
    /// Feishu / Lark custom bots.
    Feishu,
    /// Matterbridge's API (`POST {url}/api/message`).
    Matterbridge,
}

impl RouteFormat {
    pub const ALL: [RouteFormat; 6] = [
        RouteFormat::Talkgroups,
        RouteFormat::Slack,
        RouteFormat::Discord,
        RouteFormat::Wecom,
        RouteFormat::Feishu,
        RouteFormat::Matterbridge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RouteFormat::Talkgroups => "talkgroups",
            RouteFormat::Slack => "slack",
            RouteFormat::Discord => "discord",
            RouteFormat::Wecom => "wecom",
            RouteFormat::Feishu => "feishu",
            RouteFormat::Matterbridge => "matterbridge",
        }
    }

    pub fn parse(s: &str) -> Option<RouteFormat> {
        let s = s.to_ascii_lowercase();
        RouteFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Which way a route goes, with what only that direction has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKind {
    /// Every message said in the group is posted to `url`.
    Send { url: String, format: RouteFormat },
    /// Messages posted to `/routes/{group}/{name}` are relayed into the
    /// group; those are not sent out again on the send route `noloop`.
    Recv { noloop: Option<String> },
    /// Both ways with a platform conversation (docs/bridges.md): calls to
    /// `/bridges/{group}/{name}` come in, every message said goes out.
    Bridge(BridgeSpec),
    /// The group is an occupant of an XMPP group chat room (XEP-0045,
    /// docs/behaviour.md "Rooms"); the room's password, if any, is the
    /// record's `password`.
    Muc(MucSpec),
}

/// A room a group is bridged with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MucSpec {
    /// The room's bare JID (`room@service`).
    pub room: String,
    /// The occupant nick asked for (a digit is appended on a conflict).
    pub nick: String,
    /// Each member who speaks gets an occupant of their own.
    pub puppets: bool,
    /// Defined by a `[[muc]]` table, not by `//addmuc`.
    pub from_config: bool,
}

/// A bridge's platform and keys (secrets included: never shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub platform: super::platform::Platform,
    pub keys: super::platform::Keys,
    /// Defined by a `[[bridge]]` table (replaced or removed at start as
    /// the config says), not by `//addbridge`.
    pub from_config: bool,
}

/// One row of `routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRecord {
    pub group: String,
    pub name: String,
    pub kind: RouteKind,
    /// `None` for `-` (formats whose URL is the secret).
    pub password: Option<String>,
    pub created_at: Millis,
    /// Send routes: the last delivery that worked.
    pub last_ok: Option<Millis>,
    /// Send routes: the last failure and when.
    pub last_error: Option<(Millis, String)>,
}

/// A message as it travels between instances (the native JSON body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMessage {
    pub id: String,
    /// The bare JID of the group it was first said in.
    pub origin: String,
    pub nick: String,
    pub body: String,
    pub sent_at: Millis,
    /// Instance ids it has passed through, oldest first.
    pub trail: Vec<String>,
}

/// One queued delivery on a send route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Increasing; the order of delivery per route.
    pub id: i64,
    pub group: String,
    pub route: String,
    pub msg: RouteMessage,
    pub created_at: Millis,
}

/// Everything the core needs at start, loaded by the store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub groups: Vec<GroupRecord>,
    pub members: Vec<MemberRecord>,
    /// (group, jid)
    pub blacklist: Vec<(String, String)>,
    /// (group, jid, blocked jid)
    pub blocks: Vec<(String, String, String)>,
    /// The newest `history_per_group` rows of each group, oldest first.
    pub history: Vec<HistoryRecord>,
    /// Highest history id ever used (0 if none).
    pub max_history_id: i64,
    /// Highest member id ever used (0 if none).
    pub max_member_id: i64,
    pub routes: Vec<RouteRecord>,
    /// Queued deliveries, by id.
    pub outbox: Vec<OutboxRecord>,
    /// (group, message id, when): ids received on routes, newest day.
    pub seen: Vec<(String, String, Millis)>,
    /// Highest outbox id in use (0 if none).
    pub max_outbox_id: i64,
    /// This installation's id (route trails).
    pub instance_id: String,
    /// (group, bridge, platform message ref, history id) for the history
    /// rows loaded.
    pub bridge_refs: Vec<(String, String, String, i64)>,
    /// API tokens (hashes only).
    pub tokens: Vec<TokenRecord>,
    /// Fresh randomness for the tokens `//token new` makes: the loader
    /// leaves zeros, the app draws it at start (`Store::random_seed`).
    pub token_seed: [u8; 32],
}

/// An API token as stored: never the token itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Short and public: what `token list` shows and `revoke` takes.
    pub id: String,
    /// `service` or `group:NAME`.
    pub scope: String,
    pub label: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub created_at: Millis,
}
