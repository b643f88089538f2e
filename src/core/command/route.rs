//! A group's HTTP route commands: `//addroutesend`, `//addrouterecv`,
//! `//delroute` and `//routes`. The routes themselves (posts in, the
//! outbox out) live in `core::route`.

use super::{format_names, Command, Parsed, Refusal, Reply};
use crate::core::i18n::{t, Lang};
use crate::core::model::{Millis, RouteFormat, RouteKind, RouteRecord, StoreOp};
use crate::core::names;
use crate::core::route::{shown_url, valid_url, Route};
use crate::core::stanza;
use crate::core::{Core, Output};

/// `//addroutesend NAME PASSWORD URL [FORMAT]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRoute {
    /// Lowercased.
    name: String,
    /// `-` means none.
    password: String,
    url: String,
    format: RouteFormat,
}

/// `//addrouterecv NAME PASSWORD [NOLOOP]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvRoute {
    name: String,
    password: String,
    noloop: Option<String>,
}

pub(super) fn parse_send(words: &[&str], _: &str) -> Parsed {
    let (name, password, url, format) = match words {
        [n, p, u] => (*n, *p, *u, RouteFormat::Talkgroups),
        [n, p, u, f] => match RouteFormat::parse(f) {
            Some(f) => (*n, *p, *u, f),
            None => {
                return Err(Refusal::say(
                    "route-unknown-format",
                    &[("format", f), ("all", &format_names())],
                ))
            }
        },
        _ => return Err(Refusal::Usage),
    };
    Ok(Command::AddRouteSend(SendRoute {
        name: name.to_lowercase(),
        password: password.to_string(),
        url: url.to_string(),
        format,
    }))
}

pub(super) fn parse_recv(words: &[&str], _: &str) -> Parsed {
    let (name, password, noloop) = match words {
        [n, p] => (*n, *p, None),
        [n, p, l] => (*n, *p, Some(l.to_lowercase())),
        _ => return Err(Refusal::Usage),
    };
    if let Some(l) = noloop.as_deref().filter(|l| !names::is_valid_group_name(l)) {
        return Err(Refusal::say("route-not-a-name", &[("name", l)]));
    }
    Ok(Command::AddRouteRecv(RecvRoute {
        name: name.to_lowercase(),
        password: password.to_string(),
        noloop,
    }))
}

/// The kinds of link a group has, as the delete commands name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    Route,
    Bridge,
    Muc,
}

impl Core {
    /// `//addroutesend`
    pub(super) fn cmd_addroutesend(
        &mut self,
        now: Millis,
        group: &str,
        r: SendRoute,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        if let Err(e) = self.check_new_route(group, &r.name, lang) {
            return Some(e);
        }
        let password = match r.password.as_str() {
            "-" if r.format == RouteFormat::Talkgroups => {
                return Some(t!(lang, "route-signed"));
            }
            "-" => None,
            p if p.chars().count() < 8 => {
                return Some(t!(lang, "route-short-password"));
            }
            p => Some(p.to_string()),
        };
        if !valid_url(&r.url) {
            return Some(t!(lang, "route-bad-url", url = r.url.as_str()));
        }
        let note = match (r.format, &password) {
            (RouteFormat::Slack | RouteFormat::Discord | RouteFormat::Wecom, Some(_)) => {
                t!(lang, "route-password-unused")
            }
            _ => String::new(),
        };
        let shown = shown_url(&r.url, r.format);
        let reply = t!(
            lang,
            "route-send-ok",
            name = r.name.as_str(),
            url = shown,
            format = r.format.as_str(),
            note = note
        );
        self.insert_route(
            RouteRecord {
                group: group.to_string(),
                name: r.name,
                kind: RouteKind::Send {
                    url: r.url,
                    format: r.format,
                },
                password,
                created_at: now,
                last_ok: None,
                last_error: None,
            },
            out,
        );
        Some(reply)
    }

    /// `//addrouterecv`
    pub(super) fn cmd_addrouterecv(
        &mut self,
        now: Millis,
        group: &str,
        r: RecvRoute,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        if let Err(e) = self.check_new_route(group, &r.name, lang) {
            return Some(e);
        }
        if r.password.chars().count() < 8 {
            return Some(t!(lang, "route-short-password"));
        }
        let noloop = match &r.noloop {
            Some(l) => t!(lang, "route-noloop", route = l.as_str()),
            None => String::new(),
        };
        let reply = t!(
            lang,
            "route-recv-ok",
            name = r.name.as_str(),
            group = group,
            noloop = noloop
        );
        self.insert_route(
            RouteRecord {
                group: group.to_string(),
                name: r.name,
                kind: RouteKind::Recv { noloop: r.noloop },
                password: Some(r.password),
                created_at: now,
                last_ok: None,
                last_error: None,
            },
            out,
        );
        Some(reply)
    }

    pub(super) fn check_new_route(
        &self,
        group: &str,
        name: &str,
        lang: Lang,
    ) -> Result<(), String> {
        if !names::is_valid_group_name(name) {
            return Err(t!(lang, "route-bad-name", name = name));
        }
        if self
            .groups
            .get(group)
            .is_some_and(|g| g.routes.contains_key(name))
        {
            return Err(t!(lang, "route-exists", name = name));
        }
        Ok(())
    }

    pub(super) fn insert_route(&mut self, rec: RouteRecord, out: &mut Vec<Output>) {
        out.push(Output::Store(StoreOp::UpsertRoute(rec.clone())));
        if let Some(g) = self.groups.get_mut(&rec.group) {
            g.routes.insert(rec.name.clone(), Route::new(rec));
        }
    }
    /// `//delroute`, `//delbridge`, `//delmuc`: each deletes its own kind,
    /// and names the right command for another kind.
    pub(super) fn cmd_dellink(
        &mut self,
        group: &str,
        name: &str,
        want: Link,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let Some(r) = self.groups.get(group).and_then(|g| g.routes.get(name)) else {
            let id = match want {
                Link::Route => "route-none",
                Link::Bridge => "bridge-none",
                Link::Muc => "muc-none",
            };
            return Some(t!(lang, id, name = name));
        };
        let (have, from_config) = match &r.rec.kind {
            RouteKind::Bridge(b) => (Link::Bridge, b.from_config),
            RouteKind::Muc(m) => (Link::Muc, m.from_config),
            _ => (Link::Route, false),
        };
        if have != want {
            let id = match have {
                Link::Route => "bridge-is-route",
                Link::Bridge => "route-is-bridge",
                Link::Muc => "route-is-muc",
            };
            return Some(t!(lang, id, name = name));
        }
        if from_config {
            let id = match want {
                Link::Muc => "muc-from-config",
                _ => "bridge-from-config",
            };
            return Some(t!(lang, id, name = name));
        }
        self.remove_route(group, name, lang, out)
    }

    /// Deletes a route or bridge with its queue.
    pub(super) fn remove_route(
        &mut self,
        group: &str,
        name: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        self.leave_room(group, name, out);
        let r = self.groups.get_mut(group)?.routes.remove(name)?;
        out.push(Output::Store(StoreOp::DeleteRoute {
            group: group.to_string(),
            name: name.to_string(),
        }));
        let what = t!(
            lang,
            match r.rec.kind {
                RouteKind::Bridge(_) => "kind-bridge",
                RouteKind::Muc(_) => "kind-muc",
                _ => "kind-route",
            }
        );
        Some(match r.queue.len() {
            0 => t!(lang, "route-deleted", what = what, name = name),
            n => t!(
                lang,
                "route-deleted-dropped",
                what = what,
                name = name,
                n = n
            ),
        })
    }

    /// `//routes`
    pub(super) fn cmd_routes(&self, group: &str, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        if !g
            .routes
            .values()
            .any(|r| matches!(r.rec.kind, RouteKind::Send { .. } | RouteKind::Recv { .. }))
        {
            return Some(t!(lang, "routes-none"));
        }
        let never = t!(lang, "never");
        let when = |at: Option<Millis>| at.map_or(never.clone(), stanza::human_time);
        let mut s = t!(lang, "routes-header", title = g.title.as_str());
        for r in g.routes.values() {
            match &r.rec.kind {
                RouteKind::Send { url, format } => {
                    let err = match &r.rec.last_error {
                        Some((at, e)) => format!("{} ({e})", stanza::human_time(*at)),
                        None => never.clone(),
                    };
                    let line = t!(
                        lang,
                        "routes-send",
                        name = r.rec.name.as_str(),
                        url = shown_url(url, *format),
                        format = format.as_str(),
                        ok = when(r.rec.last_ok),
                        error = err,
                        queued = r.queue.len()
                    );
                    s.push_str(&format!("\n{line}"));
                }
                // Listed by //bridges.
                RouteKind::Bridge(_) | RouteKind::Muc(_) => {}
                RouteKind::Recv { noloop } => {
                    let noloop = noloop
                        .as_ref()
                        .map(|l| t!(lang, "routes-noloop", route = l.as_str()))
                        .unwrap_or_default();
                    let line = t!(
                        lang,
                        "routes-recv",
                        name = r.rec.name.as_str(),
                        group = &*g.name,
                        noloop = noloop,
                        last = when(r.last_received)
                    );
                    s.push_str(&format!("\n{line}"));
                }
            }
        }
        Some(s)
    }
}
