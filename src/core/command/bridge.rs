//! A group's bridge commands: `//addbridge`, `//delbridge` and
//! `//bridges`. The bridges themselves live in `core::bridge` (calls in)
//! and `core::route` (the outbox out).

use super::{Command, Parsed, Refusal, Reply};
use crate::core::bridge::{check_bridge, shown_keys};
use crate::core::i18n::Lang;
use crate::core::model::{BridgeSpec, Millis, RouteKind, RouteRecord};
use crate::core::platform::{Keys, Platform};
use crate::core::stanza;
use crate::core::{Core, Output};

/// `//addbridge NAME PLATFORM key=value …`, parsed. Its `Debug` hides
/// the values: they are mostly secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct NewBridge {
    name: String,
    platform: Platform,
    keys: Keys,
}

impl std::fmt::Debug for NewBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewBridge")
            .field("name", &self.name)
            .field("platform", &self.platform)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn platform_names() -> String {
    let all: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
    all.join(", ")
}

pub(super) fn parse_add(words: &[&str], _: &str) -> Parsed {
    let [name, platform, pairs @ ..] = words else {
        return Err(Refusal::Usage);
    };
    let Some(platform) = Platform::parse(platform) else {
        return Err(Refusal::Say(format!(
            "Unknown platform {platform}: use one of {}.",
            platform_names()
        )));
    };
    let mut keys = Keys::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(Refusal::Say(format!(
                "Give keys as key=value: {} is not.",
                pair.split('=').next().unwrap_or_default()
            )));
        };
        if keys.insert(k.to_ascii_lowercase(), v.to_string()).is_some() {
            return Err(Refusal::Say(format!("{k} is given twice.")));
        }
    }
    Ok(Command::AddBridge(NewBridge {
        name: name.to_lowercase(),
        platform,
        keys,
    }))
}

impl Core {
    /// `//addbridge`
    pub(super) fn cmd_addbridge(
        &mut self,
        now: Millis,
        group: &str,
        b: NewBridge,
        out: &mut Vec<Output>,
    ) -> Reply {
        if let Err(e) = check_bridge(&b.name, b.platform, &b.keys) {
            return Some(format!("Not added: {e}."));
        }
        if self
            .groups
            .get(group)
            .is_some_and(|g| g.routes.contains_key(&b.name))
        {
            return Some(format!(
                "A route or bridge named {} exists: delete it first.",
                b.name
            ));
        }
        let inbound = match b.platform {
            Platform::Googlechat => "It only sends (Google Chat has no bot callback here).".into(),
            _ => format!(
                "Point the platform's callback at https://YOUR-HTTP-LISTENER/bridges/{group}/{}.",
                b.name
            ),
        };
        let reply = format!(
            "OK, bridge {} ({}) added. {inbound} Note: this command, with its secrets, \
             may be kept in your server's message archive; a [[bridge]] table in the \
             config file (with *_file or *_env keys) keeps them out of it.",
            b.name,
            b.platform.as_str()
        );
        self.insert_route(
            RouteRecord {
                group: group.to_string(),
                name: b.name,
                kind: RouteKind::Bridge(BridgeSpec {
                    platform: b.platform,
                    keys: b.keys,
                    from_config: false,
                }),
                password: None,
                created_at: now,
                last_ok: None,
                last_error: None,
            },
            out,
        );
        Some(reply)
    }

    /// `//delbridge NAME`
    pub(super) fn cmd_delbridge(
        &mut self,
        group: &str,
        name: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let from_config = match self.groups.get(group).and_then(|g| g.routes.get(name)) {
            Some(r) => match &r.rec.kind {
                RouteKind::Bridge(b) => b.from_config,
                RouteKind::Muc(_) => {
                    return Some(format!("{name} is a room bridge: //delmuc {name}."))
                }
                _ => return Some(format!("{name} is a route: //delroute {name}.")),
            },
            None => return Some(format!("No bridge named {name}. //bridges lists them.")),
        };
        if from_config {
            return Some(format!(
                "Bridge {name} comes from the config file: remove its [[bridge]] table there and restart."
            ));
        }
        self.remove_route(group, name, lang, out)
    }

    /// `//bridges`
    pub(super) fn cmd_bridges(&self, group: &str) -> Reply {
        let g = self.groups.get(group)?;
        let when = |t: Option<Millis>| t.map_or("never".to_string(), stanza::human_time);
        let mut s = String::new();
        for r in g.routes.values() {
            let RouteKind::Bridge(b) = &r.rec.kind else {
                continue;
            };
            let err = match &r.rec.last_error {
                Some((at, e)) => format!("{} ({e})", stanza::human_time(*at)),
                None => "never".into(),
            };
            s.push_str(&format!(
                "\n{} ({}{}): last inbound {}, last outbound success {}, last error {}, {} queued; keys {}",
                r.rec.name,
                b.platform.as_str(),
                if b.from_config { ", from the config" } else { "" },
                when(r.last_received),
                when(r.rec.last_ok),
                err,
                r.queue.len(),
                shown_keys(&b.keys),
            ));
        }
        if s.is_empty() {
            return Some("No bridges. //addbridge creates one.".into());
        }
        Some(format!("Bridges of {}:{s}", g.title))
    }
}
