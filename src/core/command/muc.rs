//! A group's room commands: `//addmuc`, `//delmuc` and `//mucs`. The
//! rooms themselves live in `core::muc`.

use super::{Command, Parsed, Refusal, Reply};
use crate::core::i18n::Lang;
use crate::core::model::{Millis, MucSpec, RouteKind, RouteRecord};
use crate::core::muc::check_room;
use crate::core::names;
use crate::core::{Core, Output};

/// `//addmuc NAME ROOM [NICK] [nick=NICK] [password=PW] [puppets]`,
/// parsed. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMuc {
    name: String,
    room: String,
    nick: Option<String>,
    password: Option<String>,
    puppets: bool,
}

impl std::fmt::Debug for NewMuc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMuc")
            .field("name", &self.name)
            .field("room", &self.room)
            .field("nick", &self.nick)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("puppets", &self.puppets)
            .finish()
    }
}

pub(super) fn parse_add(words: &[&str], _: &str) -> Parsed {
    let [name, room, rest @ ..] = words else {
        return Err(Refusal::Usage);
    };
    let mut m = NewMuc {
        name: name.to_lowercase(),
        room: room.to_string(),
        nick: None,
        password: None,
        puppets: false,
    };
    for w in rest {
        if let Some(pw) = w.strip_prefix("password=") {
            m.password = Some(pw.to_string());
        } else if let Some(n) = w.strip_prefix("nick=") {
            m.nick = Some(n.to_string());
        } else if w.eq_ignore_ascii_case("puppets") {
            m.puppets = true;
        } else if m.nick.is_none() && !w.contains('=') {
            m.nick = Some(w.to_string());
        } else {
            return Err(Refusal::Say(format!(
                "{} is not understood: give NICK, nick=NICK, password=PW or puppets.",
                w.split('=').next().unwrap_or_default()
            )));
        }
    }
    Ok(Command::AddMuc(m))
}

impl Core {
    /// `//addmuc`
    pub(super) fn cmd_addmuc(
        &mut self,
        now: Millis,
        group: &str,
        m: NewMuc,
        out: &mut Vec<Output>,
    ) -> Reply {
        if !names::is_valid_bridge_name(&m.name) {
            return Some(
                "Not added: room bridge names are 1-32 of a-z, 0-9, _ and -, starting with a letter or digit."
                    .into(),
            );
        }
        let room = match check_room(&m.room, &self.cfg.domain) {
            Ok(r) => r,
            Err(e) => return Some(format!("Not added: {e}.")),
        };
        let g = self.groups.get(group)?;
        if g.routes.contains_key(&m.name) {
            return Some(format!(
                "A route or bridge named {} exists: delete it first.",
                m.name
            ));
        }
        if let Some(other) = g
            .routes
            .values()
            .find(|r| matches!(&r.rec.kind, RouteKind::Muc(s) if s.room == room))
        {
            return Some(format!(
                "This group is bridged with {room} already ({}).",
                other.rec.name
            ));
        }
        let nick = m.nick.unwrap_or_else(|| g.title.clone());
        if nick.trim().is_empty() || nick.chars().count() > 64 || nick.chars().any(char::is_control)
        {
            return Some(format!("Not added: {nick:?} is not a usable room nick."));
        }
        let rec = RouteRecord {
            group: group.to_string(),
            name: m.name.clone(),
            kind: RouteKind::Muc(MucSpec {
                room: room.clone(),
                nick: nick.clone(),
                puppets: m.puppets,
                from_config: false,
            }),
            password: m.password.clone(),
            created_at: now,
            last_ok: None,
            last_error: None,
        };
        self.insert_route(rec, out);
        if self.connected {
            self.mucs_tick(now, out);
        }
        let mut reply = format!(
            "OK, room bridge {} added: joining {room} as {nick}. //mucs shows how it goes.",
            m.name
        );
        if m.password.is_some() {
            reply.push_str(
                " Note: this command, with the room's password, may be kept in your server's \
                 message archive; a [[muc]] table in the config file (with password_file or \
                 password_env) keeps it out of it.",
            );
        }
        Some(reply)
    }

    /// `//delmuc NAME`
    pub(super) fn cmd_delmuc(
        &mut self,
        group: &str,
        name: &str,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let from_config = match self.groups.get(group).and_then(|g| g.routes.get(name)) {
            Some(r) => match &r.rec.kind {
                RouteKind::Muc(m) => m.from_config,
                RouteKind::Bridge(_) => {
                    return Some(format!("{name} is a bridge: //delbridge {name}."))
                }
                _ => return Some(format!("{name} is a route: //delroute {name}.")),
            },
            None => return Some(format!("No room bridge named {name}. //mucs lists them.")),
        };
        if from_config {
            return Some(format!(
                "Room bridge {name} comes from the config file: remove its [[muc]] table there and restart."
            ));
        }
        self.remove_route(group, name, lang, out)
    }

    /// `//mucs`
    pub(super) fn cmd_mucs(&self, group: &str) -> Reply {
        let g = self.groups.get(group)?;
        let mut s = String::new();
        for r in g.routes.values() {
            let (RouteKind::Muc(m), Some(o)) = (&r.rec.kind, r.muc.as_deref()) else {
                continue;
            };
            let state = match (&o.phase, &o.reason) {
                (crate::core::muc::Phase::Joined { nick }, _) => format!("joined as {nick}"),
                (_, Some(reason)) => format!("{}: {reason}", o.state()),
                _ => o.state().to_string(),
            };
            s.push_str(&format!(
                "\n{} ({}{}{}): {state}; {} sent to the room, {} relayed from it",
                r.rec.name,
                m.room,
                if m.puppets { ", puppets" } else { "" },
                if m.from_config {
                    ", from the config"
                } else {
                    ""
                },
                o.sent,
                o.received,
            ));
        }
        if s.is_empty() {
            return Some("No room bridges. //addmuc creates one.".into());
        }
        Some(format!("Room bridges of {}:{s}", g.title))
    }
}
