//! Configuration: raw TOML -> validated `Config`. Every problem surfaces at
//! start as one line that names the key and says how to fix it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::core::avatar::Avatar;
use crate::core::i18n::Lang;
use crate::core::model::JoinPolicy;
use crate::core::names;
use crate::core::platform::{Keys, Platform};
use crate::core::{BridgeSettings, CoreConfig, GroupSettings, MucSettings, OfflineMode};

/// A configuration problem, printed as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    component: Option<RawComponent>,
    #[serde(default)]
    storage: RawStorage,
    http: Option<RawHttp>,
    #[serde(default)]
    service: RawService,
    #[serde(default)]
    relay: RawRelay,
    #[serde(default)]
    routes: RawRoutes,
    #[serde(default)]
    group: Vec<RawGroup>,
    /// Keys vary by platform: read as a table, checked in `bridges`.
    #[serde(default)]
    bridge: Vec<toml::Table>,
    #[serde(default)]
    muc: Vec<RawMuc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMuc {
    group: String,
    name: String,
    room: String,
    nick: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
    password_env: Option<String>,
    #[serde(default)]
    puppets: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    jid: Option<String>,
    secret: Option<String>,
    #[serde(default = "default_server")]
    server: String,
    #[serde(default = "default_keepalive")]
    keepalive_secs: u64,
    #[serde(default = "default_reconnect_max")]
    reconnect_max_secs: u64,
    #[serde(default)]
    multicast: Option<String>,
    #[serde(default = "default_multicast_batch")]
    multicast_batch: u32,
}

/// ejabberd's `mod_multicast` limit for a sender that is not one of its
/// hosts (a component is not), unless its `limits: remote: message` is set.
fn default_multicast_batch() -> u32 {
    20
}

fn default_server() -> String {
    "127.0.0.1:5347".into()
}
fn default_keepalive() -> u64 {
    30
}
fn default_reconnect_max() -> u64 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStorage {
    database: String,
    history_days: u32,
    history_max: u32,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            database: "talkgroups.sqlite3".into(),
            history_days: 30,
            history_max: 10_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
    #[serde(default = "default_max_connections")]
    max_connections: u64,
    #[serde(default = "default_max_connections_per_ip")]
    max_connections_per_ip: u64,
    #[serde(default = "default_http_timeout")]
    header_timeout_secs: u64,
    #[serde(default = "default_http_timeout")]
    body_timeout_secs: u64,
    #[serde(default = "default_max_connection_secs")]
    max_connection_secs: u64,
}

fn default_max_connection_secs() -> u64 {
    300
}

fn default_max_connections() -> u64 {
    1024
}
fn default_max_connections_per_ip() -> u64 {
    64
}
fn default_http_timeout() -> u64 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawService {
    admins: Vec<String>,
    name: String,
    lang: String,
}

impl Default for RawService {
    fn default() -> Self {
        RawService {
            admins: Vec::new(),
            name: "talkgroups".into(),
            lang: "en".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRelay {
    offline: String,
    catchup_max: u32,
    burst: u32,
    window_secs: u32,
    max_body: u32,
    ping_secs: u32,
}

impl Default for RawRelay {
    fn default() -> Self {
        RawRelay {
            offline: "catchup".into(),
            catchup_max: 50,
            burst: 10,
            window_secs: 10,
            max_body: 10_000,
            ping_secs: 120,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRoutes {
    max_age_hours: u32,
}

impl Default for RawRoutes {
    fn default() -> Self {
        RawRoutes { max_age_hours: 24 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: Option<String>,
    title: Option<String>,
    join: Option<String>,
    #[serde(default)]
    admins: Vec<String>,
    avatar: Option<PathBuf>,
    lang: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ComponentConfig {
    pub jid: String,
    pub secret: String,
    pub server: String,
    pub keepalive: Duration,
    pub reconnect_max: Duration,
    /// The server's XEP-0033 service (ejabberd's `mod_multicast`): relayed
    /// messages go to it once per `multicast_batch` members instead of once
    /// per member. `None`: one stanza per member.
    pub multicast: Option<String>,
    pub multicast_batch: usize,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub database: PathBuf,
    pub history_days: u32,
    pub history_max: u32,
}

/// The HTTP listener's limits (`[http]`); the defaults apply without the
/// table too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Open connections at most; past it new ones are closed at once. The
    /// process may lower it to fit its file-descriptor limit
    /// (`app::FD_RESERVE`).
    pub max_connections: usize,
    /// Open connections at most from one client address (IPv6: one /64).
    pub max_connections_per_ip: usize,
    /// How long a connection may take to send a request's head, counted
    /// from when the server starts waiting for it: on a new connection and
    /// between keep-alive requests alike, so it is also the idle keep-alive
    /// timeout.
    pub header_timeout: Duration,
    /// How long reading a request's body may take.
    pub body_timeout: Duration,
    /// How long one connection may stay open at most, whatever it does
    /// (a client that sends requests and never reads the answers blocks
    /// hyper's writes, where no other timer runs).
    pub max_connection: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_connections: default_max_connections() as usize,
            max_connections_per_ip: default_max_connections_per_ip() as usize,
            header_timeout: Duration::from_secs(default_http_timeout()),
            body_timeout: Duration::from_secs(default_http_timeout()),
            max_connection: Duration::from_secs(default_max_connection_secs()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub offline: OfflineMode,
    pub catchup_max: u32,
    pub burst: u32,
    pub window_secs: u32,
    pub max_body: u32,
    pub ping_secs: u32,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub component: ComponentConfig,
    pub storage: StorageConfig,
    pub http_listen: Option<SocketAddr>,
    /// The listener's limits (used only with `http_listen`).
    pub http: HttpConfig,
    pub service_admins: Vec<String>,
    pub service_name: String,
    /// `[service] lang`: for groups without their own, and the bare domain.
    pub lang: Lang,
    pub relay: RelayConfig,
    pub routes_max_age_hours: u32,
    pub groups: Vec<GroupSettings>,
    pub bridges: Vec<BridgeSettings>,
    pub mucs: Vec<MucSettings>,
}

impl Config {
    /// The core's settings from this config.
    pub fn core(&self) -> CoreConfig {
        let c = self;
        CoreConfig {
            domain: c.component.jid.clone(),
            service_name: c.service_name.clone(),
            lang: c.lang,
            version: env!("CARGO_PKG_VERSION").to_string(),
            service_admins: c.service_admins.clone(),
            offline: c.relay.offline,
            catchup_max: c.relay.catchup_max as usize,
            burst: c.relay.burst as usize,
            window_ms: i64::from(c.relay.window_secs) * 1000,
            max_body: c.relay.max_body as usize,
            ping_ms: i64::from(c.relay.ping_secs) * 1000,
            history_days: c.storage.history_days,
            history_max: c.storage.history_max,
            route_max_age_ms: i64::from(c.routes_max_age_hours) * 3_600_000,
            groups: c.groups.clone(),
            shared_copy_ids: c.component.multicast.is_some(),
            multicast: (c.component.multicast.clone()).map(|s| (s, c.component.multicast_batch)),
            bridges: c.bridges.clone(),
            mucs: c.mucs.clone(),
        }
    }
}

impl Config {
    /// Reads and validates `path`. Relative database paths are taken
    /// relative to the current directory, as a shell user would expect.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read config file {}: {e}", path.display())))?;
        Config::parse(&text).map_err(|e| err(format!("config file {}: {}", path.display(), e.0)))
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().replace('\n', " ");
            match line {
                Some(l) => err(format!("line {l}: {msg}")),
                None => err(msg),
            }
        })?;
        validate(raw)
    }

    /// The effective settings, one per line, secret masked (for `check`).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let c = &self.component;
        out.push_str(&format!("component.jid = {:?}\n", c.jid));
        out.push_str("component.secret = \"********\"\n");
        out.push_str(&format!("component.server = {:?}\n", c.server));
        out.push_str(&format!(
            "component.keepalive_secs = {}\n",
            c.keepalive.as_secs()
        ));
        out.push_str(&format!(
            "component.reconnect_max_secs = {}\n",
            c.reconnect_max.as_secs()
        ));
        let s = &self.storage;
        out.push_str(&format!(
            "storage.database = {:?}\n",
            s.database.display().to_string()
        ));
        out.push_str(&format!("storage.history_days = {}\n", s.history_days));
        out.push_str(&format!("storage.history_max = {}\n", s.history_max));
        match self.http_listen {
            Some(a) => {
                let h = &self.http;
                out.push_str(&format!("http.listen = \"{a}\"\n"));
                out.push_str(&format!("http.max_connections = {}\n", h.max_connections));
                out.push_str(&format!(
                    "http.max_connections_per_ip = {}\n",
                    h.max_connections_per_ip
                ));
                out.push_str(&format!(
                    "http.header_timeout_secs = {}\n",
                    h.header_timeout.as_secs()
                ));
                out.push_str(&format!(
                    "http.body_timeout_secs = {}\n",
                    h.body_timeout.as_secs()
                ));
                out.push_str(&format!(
                    "http.max_connection_secs = {}\n",
                    h.max_connection.as_secs()
                ));
            }
            None => out.push_str("http = (disabled)\n"),
        }
        out.push_str(&format!("service.admins = {:?}\n", self.service_admins));
        out.push_str(&format!("service.name = {:?}\n", self.service_name));
        let r = &self.relay;
        out.push_str(&format!("relay.offline = {:?}\n", r.offline.as_str()));
        out.push_str(&format!("relay.catchup_max = {}\n", r.catchup_max));
        out.push_str(&format!("relay.burst = {}\n", r.burst));
        out.push_str(&format!("relay.window_secs = {}\n", r.window_secs));
        out.push_str(&format!("relay.max_body = {}\n", r.max_body));
        out.push_str(&format!("relay.ping_secs = {}\n", r.ping_secs));
        out.push_str(&format!(
            "routes.max_age_hours = {}\n",
            self.routes_max_age_hours
        ));
        for b in &self.bridges {
            out.push_str(&format!(
                "bridge {}/{}: {} {}\n",
                b.group,
                b.name,
                b.platform.as_str(),
                crate::core::bridge::shown_keys(&b.keys)
            ));
        }
        for m in &self.mucs {
            out.push_str(&format!(
                "muc {}/{}: room {}{}{}{}\n",
                m.group,
                m.name,
                m.room,
                m.nick
                    .as_ref()
                    .map_or(String::new(), |n| format!(", nick {n:?}")),
                if m.password.is_some() {
                    ", password=…"
                } else {
                    ""
                },
                if m.puppets { ", puppets" } else { "" },
            ));
        }
        for g in &self.groups {
            out.push_str(&format!(
                "group {:?}: title {:?}, join {:?}, admins {:?}, avatar {}\n",
                g.name,
                g.title,
                g.join.as_str(),
                g.admins,
                g.avatar
                    .as_ref()
                    .map_or("drawn from the title".to_string(), |a| format!(
                        "{} ({} bytes)",
                        a.mime,
                        a.data.len()
                    ))
            ));
        }
        out
    }
}

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let comp = raw
        .component
        .ok_or_else(|| err("missing [component] table: set component.jid and component.secret"))?;
    let jid = comp.jid.ok_or_else(|| {
        err("component.jid is missing: set it to the component's domain, e.g. \"groups.localhost\"")
    })?;
    let jid = jid.trim().to_ascii_lowercase();
    if !names::is_valid_domain(&jid) {
        return Err(err(format!(
            "component.jid {jid:?} is not a domain: use a bare domain like \"groups.example.org\" (no @ or /)"
        )));
    }
    let secret = comp.secret.ok_or_else(|| {
        err("component.secret is missing: set it to the secret registered with the server")
    })?;
    if secret.is_empty() {
        return Err(err(
            "component.secret is empty: set it to the secret registered with the server",
        ));
    }
    if comp.server.trim().is_empty() || !comp.server.contains(':') {
        return Err(err(format!(
            "component.server {:?} must be HOST:PORT, e.g. \"127.0.0.1:5347\"",
            comp.server
        )));
    }
    if comp.keepalive_secs == 0 {
        return Err(err("component.keepalive_secs must be at least 1"));
    }
    if comp.reconnect_max_secs == 0 {
        return Err(err("component.reconnect_max_secs must be at least 1"));
    }
    let multicast = match comp.multicast.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) if names::is_valid_domain(&m.to_ascii_lowercase()) => Some(m.to_ascii_lowercase()),
        Some(m) => {
            return Err(err(format!(
                "component.multicast {m:?} is not a domain: give the server's XEP-0033 service, e.g. \"multicast.example.org\""
            )))
        }
    };
    if !(1..=10_000).contains(&comp.multicast_batch) {
        return Err(err(
            "component.multicast_batch must be 1 to 10000 (ejabberd allows 20 unless its mod_multicast limits say more)",
        ));
    }

    let database = PathBuf::from(&raw.storage.database);
    if raw.storage.database.is_empty() {
        return Err(err("storage.database is empty: give a file path"));
    }
    let dir = match database.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(err(format!(
            "storage.database: directory {} does not exist: create it or choose another path",
            dir.display()
        )));
    }
    if raw.storage.history_max == 0 {
        return Err(err("storage.history_max must be at least 1"));
    }

    let (http_listen, http) = match raw.http {
        None => (None, HttpConfig::default()),
        Some(h) => {
            let l = h.listen.as_deref().ok_or_else(|| {
                err("http.listen is missing: set it (e.g. \"127.0.0.1:8470\") or remove the [http] table")
            })?;
            let addr = l.parse::<SocketAddr>().map_err(|_| {
                err(format!(
                    "http.listen {l:?} is not an address: use IP:PORT, e.g. \"127.0.0.1:8470\""
                ))
            })?;
            (Some(addr), validate_http(&h)?)
        }
    };

    let service_admins = normalize_jids("service.admins", &raw.service.admins)?;

    let offline = match raw.relay.offline.as_str() {
        "catchup" => OfflineMode::Catchup,
        "server" => OfflineMode::Server,
        "drop" => OfflineMode::Drop,
        other => {
            return Err(err(format!(
                "relay.offline {other:?} is not one of \"catchup\", \"server\", \"drop\""
            )))
        }
    };
    if raw.relay.burst == 0 {
        return Err(err("relay.burst must be at least 1"));
    }
    if raw.relay.window_secs == 0 {
        return Err(err("relay.window_secs must be at least 1"));
    }
    if raw.relay.ping_secs == 0 {
        return Err(err("relay.ping_secs must be at least 1"));
    }
    if raw.relay.max_body == 0 {
        return Err(err("relay.max_body must be at least 1"));
    }

    let lang_of = |key: &str, v: &str| {
        Lang::parse(v).ok_or_else(|| err(format!("{key} {v:?} is not one of \"en\", \"zh\"")))
    };
    let service_lang = lang_of("service.lang", &raw.service.lang)?;
    let mut groups: Vec<GroupSettings> = Vec::new();
    for (i, g) in raw.group.into_iter().enumerate() {
        let key = format!("group[{i}]");
        let name = g
            .name
            .ok_or_else(|| err(format!("{key}.name is missing")))?;
        if !names::is_valid_group_name(&name) {
            return Err(err(format!(
                "{key}.name {name:?} is not a valid group name: use lowercase [a-z0-9][a-z0-9._-]{{0,63}}"
            )));
        }
        if groups.iter().any(|o| o.name == name) {
            return Err(err(format!("{key}.name {name:?} is listed twice")));
        }
        let join = match g.join {
            None => JoinPolicy::Approve,
            Some(j) => JoinPolicy::parse(&j).ok_or_else(|| {
                err(format!(
                    "{key}.join {j:?} is not one of \"open\", \"approve\", \"invite\""
                ))
            })?,
        };
        let admins = normalize_jids(&format!("{key}.admins"), &g.admins)?;
        let title = g.title.unwrap_or_else(|| name.clone());
        let avatar = match g.avatar {
            None => None,
            Some(path) => {
                let data = std::fs::read(&path).map_err(|e| {
                    err(format!("{key}.avatar: cannot read {}: {e}", path.display()))
                })?;
                Some(Avatar::from_image(data).map_err(|e| {
                    err(format!(
                        "{key}.avatar: {}: {e}: give a PNG, JPEG, GIF or WebP file, or remove the key to draw one from the title",
                        path.display()
                    ))
                })?)
            }
        };
        let lang = match g.lang {
            None => service_lang,
            Some(l) => lang_of(&format!("{key}.lang"), &l)?,
        };
        groups.push(GroupSettings {
            name,
            title,
            join,
            admins,
            avatar,
            lang,
        });
    }

    let mucs = mucs(raw.muc, &jid)?;
    Ok(Config {
        component: ComponentConfig {
            jid,
            secret,
            server: comp.server,
            keepalive: Duration::from_secs(comp.keepalive_secs),
            reconnect_max: Duration::from_secs(comp.reconnect_max_secs),
            multicast,
            multicast_batch: comp.multicast_batch as usize,
        },
        storage: StorageConfig {
            database,
            history_days: raw.storage.history_days,
            history_max: raw.storage.history_max,
        },
        http_listen,
        http,
        service_admins,
        service_name: raw.service.name,
        lang: service_lang,
        relay: RelayConfig {
            offline,
            catchup_max: raw.relay.catchup_max,
            burst: raw.relay.burst,
            window_secs: raw.relay.window_secs,
            max_body: raw.relay.max_body,
            ping_secs: raw.relay.ping_secs,
        },
        routes_max_age_hours: raw.routes.max_age_hours,
        groups,
        bridges: bridges(raw.bridge)?,
        mucs,
    })
}

/// `[[muc]]` tables: `group`, `name`, `room`, and optionally `nick`,
/// `password` (or `password_file` / `password_env`) and `puppets`.
fn mucs(raw: Vec<RawMuc>, own_domain: &str) -> Result<Vec<MucSettings>, ConfigError> {
    let mut out: Vec<MucSettings> = Vec::new();
    for m in raw {
        let group = m.group.trim().to_lowercase();
        let name = m.name.trim().to_lowercase();
        let at = format!("muc {group}/{name}");
        if !crate::core::names::is_valid_bridge_name(&name) {
            return Err(err(format!(
                "{at}: names are 1-32 of a-z, 0-9, _ and -, starting with a letter or digit"
            )));
        }
        let room = crate::core::muc::check_room(m.room.trim(), own_domain)
            .map_err(|e| err(format!("{at}: room: {e}")))?;
        let password = match (m.password, m.password_file, m.password_env) {
            (Some(p), None, None) => Some(p),
            (None, Some(f), None) => {
                let text = std::fs::read_to_string(&f)
                    .map_err(|e| err(format!("{at}: password_file: cannot read {f}: {e}")))?;
                let text = text.strip_suffix('\n').unwrap_or(&text);
                Some(text.strip_suffix('\r').unwrap_or(text).to_string())
            }
            (None, None, Some(v)) => Some(std::env::var(&v).map_err(|_| {
                err(format!(
                    "{at}: password_env: the environment variable {v} is not set"
                ))
            })?),
            (None, None, None) => None,
            _ => {
                return Err(err(format!(
                    "{at}: give one of password, password_file and password_env"
                )))
            }
        };
        let nick = m
            .nick
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if let Some(n) = &nick {
            if n.chars().count() > 64 || n.chars().any(char::is_control) {
                return Err(err(format!("{at}: nick {n:?} is not a usable room nick")));
            }
        }
        if out.iter().any(|b| b.group == group && b.name == name) {
            return Err(err(format!("{at} is listed twice")));
        }
        out.push(MucSettings {
            group,
            name,
            room,
            nick,
            password,
            puppets: m.puppets,
        });
    }
    Ok(out)
}

/// `[[bridge]]` tables: `group`, `name`, `platform` and the platform's
/// keys, each secret `K` also as `K_file` (the file's contents, one
/// trailing newline trimmed) or `K_env` (an environment variable).
fn bridges(raw: Vec<toml::Table>) -> Result<Vec<BridgeSettings>, ConfigError> {
    let mut out: Vec<BridgeSettings> = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let at = format!("bridge[{i}]");
        let word = |k: &str| -> Result<String, ConfigError> {
            match t.get(k) {
                Some(toml::Value::String(v)) => Ok(v.trim().to_string()),
                Some(_) => Err(err(format!("{at}.{k} must be a string"))),
                None => Err(err(format!("{at}.{k} is missing"))),
            }
        };
        let group = word("group")?.to_lowercase();
        let name = word("name")?.to_lowercase();
        let at = format!("bridge {group}/{name}");
        let p = word("platform")?;
        let platform = Platform::parse(&p).ok_or_else(|| {
            let all: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
            err(format!(
                "{at}: platform {p:?} is not one of {}",
                all.join(", ")
            ))
        })?;
        let mut keys = Keys::new();
        for (k, v) in &t {
            if matches!(k.as_str(), "group" | "name" | "platform") {
                continue;
            }
            let toml::Value::String(v) = v else {
                return Err(err(format!("{at}: {k} must be a string")));
            };
            let (key, value) = if let Some(key) = k.strip_suffix("_file") {
                let text = std::fs::read_to_string(v)
                    .map_err(|e| err(format!("{at}: {k}: cannot read {v}: {e}")))?;
                let text = text.strip_suffix('\n').unwrap_or(&text);
                let text = text.strip_suffix('\r').unwrap_or(text);
                (key, text.to_string())
            } else if let Some(key) = k.strip_suffix("_env") {
                let value = std::env::var(v).map_err(|_| {
                    err(format!(
                        "{at}: {k}: the environment variable {v} is not set"
                    ))
                })?;
                (key, value)
            } else {
                (k.as_str(), v.clone())
            };
            if keys.insert(key.to_string(), value).is_some() {
                return Err(err(format!("{at}: {key} is given twice")));
            }
        }
        crate::core::bridge::check_bridge(&name, platform, &keys)
            .map_err(|e| err(format!("{at}: {e}")))?;
        if out.iter().any(|b| b.group == group && b.name == name) {
            return Err(err(format!("{at} is listed twice")));
        }
        out.push(BridgeSettings {
            group,
            name,
            platform,
            keys,
        });
    }
    Ok(out)
}

/// The most `http.max_connections` may say: far more than one process's
/// descriptors allow anyway.
const MAX_CONNECTIONS_LIMIT: u64 = 1_000_000;
/// The longest `http.*_timeout_secs` may be.
const HTTP_TIMEOUT_LIMIT: u64 = 3600;
/// The longest `http.max_connection_secs` may be (a day).
const MAX_CONNECTION_LIMIT: u64 = 86_400;

fn validate_http(h: &RawHttp) -> Result<HttpConfig, ConfigError> {
    if !(1..=MAX_CONNECTIONS_LIMIT).contains(&h.max_connections) {
        return Err(err(format!(
            "http.max_connections = {} must be 1 to {MAX_CONNECTIONS_LIMIT} (default 1024)",
            h.max_connections
        )));
    }
    if !(1..=h.max_connections).contains(&h.max_connections_per_ip) {
        return Err(err(format!(
            "http.max_connections_per_ip = {} must be 1 to http.max_connections ({}); default 64",
            h.max_connections_per_ip, h.max_connections
        )));
    }
    for (key, v) in [
        ("header_timeout_secs", h.header_timeout_secs),
        ("body_timeout_secs", h.body_timeout_secs),
    ] {
        if !(1..=HTTP_TIMEOUT_LIMIT).contains(&v) {
            return Err(err(format!(
                "http.{key} = {v} must be 1 to {HTTP_TIMEOUT_LIMIT} seconds (default 10)"
            )));
        }
    }
    if !(1..=MAX_CONNECTION_LIMIT).contains(&h.max_connection_secs) {
        return Err(err(format!(
            "http.max_connection_secs = {} must be 1 to {MAX_CONNECTION_LIMIT} seconds (default 300)",
            h.max_connection_secs
        )));
    }
    Ok(HttpConfig {
        max_connections: h.max_connections as usize,
        max_connections_per_ip: h.max_connections_per_ip as usize,
        header_timeout: Duration::from_secs(h.header_timeout_secs),
        body_timeout: Duration::from_secs(h.body_timeout_secs),
        max_connection: Duration::from_secs(h.max_connection_secs),
    })
}

fn normalize_jids(key: &str, jids: &[String]) -> Result<Vec<String>, ConfigError> {
    jids.iter()
        .map(|j| {
            names::normalize_bare_jid(j)
                .ok_or_else(|| err(format!("{key}: {j:?} is not a bare JID: use user@domain")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[component]
jid = "groups.localhost"
secret = "changeme"
"#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.component.server, "127.0.0.1:5347");
        assert_eq!(c.relay.offline, OfflineMode::Catchup);
        assert_eq!(c.relay.catchup_max, 50);
        assert_eq!(c.relay.burst, 10);
        assert_eq!(c.storage.history_max, 10_000);
        assert!(c.http_listen.is_none());
    }

    #[test]
    fn multicast_is_off_unless_named_and_checked() {
        let c = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.component.multicast, None);
        assert_eq!(c.component.multicast_batch, 20);
        let c = Config::parse(&format!(
            "{MINIMAL}multicast = \"Multicast.Localhost\"\nmulticast_batch = 500\n"
        ))
        .unwrap();
        assert_eq!(
            c.component.multicast.as_deref(),
            Some("multicast.localhost")
        );
        assert_eq!(c.component.multicast_batch, 500);
        let e = Config::parse(&format!("{MINIMAL}multicast = \"a@b\"\n")).unwrap_err();
        assert!(e.0.contains("component.multicast"), "{}", e.0);
        let e = Config::parse(&format!("{MINIMAL}multicast_batch = 0\n")).unwrap_err();
        assert!(e.0.contains("component.multicast_batch"), "{}", e.0);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = Config::parse(&format!("{MINIMAL}bogus = 1\n")).unwrap_err();
        assert!(e.0.contains("bogus"), "{}", e.0);
        assert!(e.0.starts_with("line 5"), "{}", e.0);
        assert!(!e.0.contains('\n'));
    }

    #[test]
    fn missing_secret_is_named() {
        let e = Config::parse("[component]\njid = \"g.localhost\"\n").unwrap_err();
        assert!(e.0.contains("component.secret"), "{}", e.0);
    }

    #[test]
    fn malformed_jid_and_group_are_refused() {
        let e = Config::parse("[component]\njid = \"a@b\"\nsecret = \"x\"\n").unwrap_err();
        assert!(e.0.contains("component.jid"), "{}", e.0);
        let e = Config::parse(&format!("{MINIMAL}[[group]]\nname = \"Bad Name\"\n")).unwrap_err();
        assert!(e.0.contains("group[0].name"), "{}", e.0);
        let e = Config::parse(&format!(
            "{MINIMAL}[[group]]\nname = \"ok\"\njoin = \"maybe\"\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("group[0].join"), "{}", e.0);
        let e = Config::parse(&format!(
            "{MINIMAL}[[group]]\nname = \"ok\"\nadmins = [\"nope\"]\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("group[0].admins"), "{}", e.0);
    }

    #[test]
    fn unreachable_database_directory_is_refused() {
        let e = Config::parse(&format!(
            "{MINIMAL}[storage]\ndatabase = \"/nonexistent/dir/x.sqlite3\"\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("storage.database"), "{}", e.0);
    }

    #[test]
    fn http_limits_have_defaults_and_are_checked() {
        let c = Config::parse(&format!("{MINIMAL}[http]\nlisten = \"127.0.0.1:8470\"\n")).unwrap();
        assert_eq!(c.http, HttpConfig::default());
        assert_eq!(c.http.max_connections, 1024);
        assert_eq!(c.http.max_connections_per_ip, 64);
        assert_eq!(c.http.header_timeout, Duration::from_secs(10));
        assert_eq!(c.http.body_timeout, Duration::from_secs(10));
        assert_eq!(c.http.max_connection, Duration::from_secs(300));
        let c = Config::parse(&format!(
            "{MINIMAL}[http]\nlisten = \"127.0.0.1:8470\"\nmax_connections = 200\nmax_connections_per_ip = 50\nheader_timeout_secs = 2\nbody_timeout_secs = 3\nmax_connection_secs = 60\n"
        ))
        .unwrap();
        assert_eq!(
            c.http,
            HttpConfig {
                max_connections: 200,
                max_connections_per_ip: 50,
                header_timeout: Duration::from_secs(2),
                body_timeout: Duration::from_secs(3),
                max_connection: Duration::from_secs(60),
            }
        );
        assert!(c.describe().contains("http.max_connections_per_ip = 50\n"));
        for (bad, key) in [
            ("max_connections = 0", "http.max_connections"),
            ("max_connections = 2000000", "http.max_connections"),
            ("max_connections_per_ip = 0", "http.max_connections_per_ip"),
            (
                "max_connections = 10\nmax_connections_per_ip = 11",
                "http.max_connections_per_ip",
            ),
            ("header_timeout_secs = 0", "http.header_timeout_secs"),
            ("body_timeout_secs = 4000", "http.body_timeout_secs"),
            ("max_connection_secs = 0", "http.max_connection_secs"),
            ("max_connection_secs = 100000", "http.max_connection_secs"),
        ] {
            let e = Config::parse(&format!(
                "{MINIMAL}[http]\nlisten = \"127.0.0.1:8470\"\n{bad}\n"
            ))
            .unwrap_err();
            assert!(e.0.starts_with(key), "{bad}: {}", e.0);
        }
        let e = Config::parse(&format!("{MINIMAL}[http]\nmax_connection = 5\n")).unwrap_err();
        assert!(e.0.contains("max_connection"), "{}", e.0);
    }

    #[test]
    fn describe_masks_the_secret() {
        let c = Config::parse(MINIMAL).unwrap();
        assert!(!c.describe().contains("changeme"));
    }
}
