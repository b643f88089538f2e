//! A group's HTTP route commands: `//addroutesend`, `//addrouterecv`,
//! `//delroute` and `//routes`. The routes themselves (posts in, the
//! outbox out) live in `core::route`.

use super::{format_names, Command, Parsed, Refusal, Reply};
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
                return Err(Refusal::Say(format!(
                    "Unknown format {f}: use one of {}.",
                    format_names()
                )))
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
        return Err(Refusal::Say(format!("{l} is not a route name.")));
    }
    Ok(Command::AddRouteRecv(RecvRoute {
        name: name.to_lowercase(),
        password: password.to_string(),
        noloop,
    }))
}

impl Core {
    /// `//addroutesend`
    pub(super) fn cmd_addroutesend(
        &mut self,
        now: Millis,
        group: &str,
        r: SendRoute,
        out: &mut Vec<Output>,
    ) -> Reply {
        if let Err(e) = self.check_new_route(group, &r.name) {
            return Some(e);
        }
        let password = match r.password.as_str() {
            "-" if r.format == RouteFormat::Talkgroups => {
                return Some(
                    "talkgroups routes are signed: give a password of at least 8 characters."
                        .into(),
                )
            }
            "-" => None,
            p if p.chars().count() < 8 => {
                return Some("Passwords have at least 8 characters.".into());
            }
            p => Some(p.to_string()),
        };
        if !valid_url(&r.url) {
            return Some(format!("Not a valid http:// or https:// URL: {}", r.url));
        }
        let note = match (r.format, &password) {
            (RouteFormat::Slack | RouteFormat::Discord | RouteFormat::Wecom, Some(_)) => {
                " (this format does not use the password)"
            }
            _ => "",
        };
        let shown = shown_url(&r.url, r.format);
        let reply = format!(
            "OK, route {} sends every message said here to {shown} ({}){note}.",
            r.name,
            r.format.as_str()
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
        out: &mut Vec<Output>,
    ) -> Reply {
        if let Err(e) = self.check_new_route(group, &r.name) {
            return Some(e);
        }
        if r.password.chars().count() < 8 {
            return Some("Passwords have at least 8 characters.".into());
        }
        let noloop = match &r.noloop {
            Some(l) => format!(" Messages from it are not sent out on route {l}."),
            None => String::new(),
        };
        let reply = format!(
            "OK, route {} receives at POST /routes/{group}/{}.{noloop}",
            r.name, r.name
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

    fn check_new_route(&self, group: &str, name: &str) -> Result<(), String> {
        if !names::is_valid_group_name(name) {
            return Err(format!(
                "Route names are 1–64 of a-z 0-9 . _ - (starting with a letter or digit): {name}"
            ));
        }
        if self
            .groups
            .get(group)
            .is_some_and(|g| g.routes.contains_key(name))
        {
            return Err(format!(
                "A route or bridge named {name} exists: delete it first."
            ));
        }
        Ok(())
    }

    pub(super) fn insert_route(&mut self, rec: RouteRecord, out: &mut Vec<Output>) {
        out.push(Output::Store(StoreOp::UpsertRoute(rec.clone())));
        if let Some(g) = self.groups.get_mut(&rec.group) {
            g.routes.insert(rec.name.clone(), Route::new(rec));
        }
    }

    /// `//delroute NAME`
    pub(super) fn cmd_delroute(&mut self, group: &str, name: &str, out: &mut Vec<Output>) -> Reply {
        match self.groups.get(group).and_then(|g| g.routes.get(name)) {
            None => Some(format!("No route named {name}. //routes lists them.")),
            Some(r) if matches!(r.rec.kind, RouteKind::Bridge(_)) => {
                Some(format!("{name} is a bridge: //delbridge {name}."))
            }
            Some(r) if matches!(r.rec.kind, RouteKind::Muc(_)) => {
                Some(format!("{name} is a room bridge: //delmuc {name}."))
            }
            Some(_) => self.remove_route(group, name, out),
        }
    }

    /// Deletes a route or bridge with its queue.
    pub(super) fn remove_route(&mut self, group: &str, name: &str, out: &mut Vec<Output>) -> Reply {
        self.leave_room(group, name, out);
        let r = self.groups.get_mut(group)?.routes.remove(name)?;
        out.push(Output::Store(StoreOp::DeleteRoute {
            group: group.to_string(),
            name: name.to_string(),
        }));
        let what = match r.rec.kind {
            RouteKind::Bridge(_) => "bridge",
            RouteKind::Muc(_) => "room bridge",
            _ => "route",
        };
        Some(match r.queue.len() {
            0 => format!("OK, {what} {name} deleted."),
            n => format!("OK, {what} {name} deleted; {n} undelivered messages dropped."),
        })
    }

    /// `//routes`
    pub(super) fn cmd_routes(&self, group: &str) -> Reply {
        let g = self.groups.get(group)?;
        if !g
            .routes
            .values()
            .any(|r| matches!(r.rec.kind, RouteKind::Send { .. } | RouteKind::Recv { .. }))
        {
            return Some("No routes. //addroutesend and //addrouterecv create them.".into());
        }
        let when = |t: Option<Millis>| t.map_or("never".to_string(), stanza::human_time);
        let mut s = format!("Routes of {}:", g.title);
        for r in g.routes.values() {
            match &r.rec.kind {
                RouteKind::Send { url, format } => {
                    let err = match &r.rec.last_error {
                        Some((at, e)) => format!("{} ({e})", stanza::human_time(*at)),
                        None => "never".into(),
                    };
                    s.push_str(&format!(
                        "\nsend {} → {} ({}): last success {}, last error {}, {} queued",
                        r.rec.name,
                        shown_url(url, *format),
                        format.as_str(),
                        when(r.rec.last_ok),
                        err,
                        r.queue.len()
                    ));
                }
                // Listed by //bridges.
                RouteKind::Bridge(_) | RouteKind::Muc(_) => {}
                RouteKind::Recv { noloop } => {
                    let noloop = noloop
                        .as_ref()
                        .map(|l| format!(", not sent back on {l}"))
                        .unwrap_or_default();
                    s.push_str(&format!(
                        "\nrecv {} ← POST /routes/{}/{}{}: last message {}",
                        r.rec.name,
                        g.name,
                        r.rec.name,
                        noloop,
                        when(r.last_received)
                    ));
                }
            }
        }
        Some(s)
    }
}
