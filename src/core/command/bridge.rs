//! A group's bridge commands: `//addbridge`, `//delbridge` and
//! `//bridges`. The bridges themselves live in `core::bridge` (calls in)
//! and `core::route` (the outbox out).

use super::{Command, Parsed, Refusal, Reply};
use crate::core::bridge::{check_bridge, shown_keys};
use crate::core::i18n::{t, Lang};
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
        return Err(Refusal::say(
            "bridge-unknown-platform",
            &[("platform", platform), ("all", &platform_names())],
        ));
    };
    let mut keys = Keys::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(Refusal::say(
                "bridge-key-value",
                &[("key", pair.split('=').next().unwrap_or_default())],
            ));
        };
        if keys.insert(k.to_ascii_lowercase(), v.to_string()).is_some() {
            return Err(Refusal::say("bridge-key-twice", &[("key", k)]));
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
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        if let Err(e) = check_bridge(&b.name, b.platform, &b.keys) {
            return Some(t!(lang, "bridge-refused", why = e.text(lang)));
        }
        if self
            .groups
            .get(group)
            .is_some_and(|g| g.routes.contains_key(&b.name))
        {
            return Some(t!(lang, "route-exists", name = b.name.as_str()));
        }
        let inbound = match b.platform {
            Platform::Googlechat => t!(lang, "bridge-send-only"),
            _ => t!(
                lang,
                "bridge-callback",
                group = group,
                name = b.name.as_str()
            ),
        };
        let reply = t!(
            lang,
            "bridge-ok",
            name = b.name.as_str(),
            platform = b.platform.as_str(),
            inbound = inbound
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
    /// `//bridges`
    pub(super) fn cmd_bridges(&self, group: &str, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        let never = t!(lang, "never");
        let when = |at: Option<Millis>| at.map_or(never.clone(), stanza::human_time);
        let mut s = String::new();
        for r in g.routes.values() {
            let RouteKind::Bridge(b) = &r.rec.kind else {
                continue;
            };
            let err = match &r.rec.last_error {
                Some((at, e)) => format!("{} ({e})", stanza::human_time(*at)),
                None => never.clone(),
            };
            let line = t!(
                lang,
                "bridges-line",
                name = r.rec.name.as_str(),
                platform = b.platform.as_str(),
                config = if b.from_config {
                    t!(lang, "bridges-from-config")
                } else {
                    String::new()
                },
                inbound = when(r.last_received),
                ok = when(r.rec.last_ok),
                error = err,
                queued = r.queue.len(),
                keys = shown_keys(&b.keys)
            );
            s.push_str(&format!("\n{line}"));
        }
        if s.is_empty() {
            return Some(t!(lang, "bridges-none"));
        }
        Some(format!(
            "{}{s}",
            t!(lang, "bridges-header", title = g.title.as_str())
        ))
    }
}
