//! A group's room commands: `//addmuc`, `//delmuc` and `//mucs`. The
//! rooms themselves live in `core::muc`.

use super::{Command, Parsed, Refusal, Reply};
use crate::core::i18n::{t, Lang};
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
            return Err(Refusal::say(
                "muc-not-understood",
                &[("word", w.split('=').next().unwrap_or_default())],
            ));
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
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        if !names::is_valid_bridge_name(&m.name) {
            return Some(t!(lang, "muc-bad-name"));
        }
        let room = match check_room(&m.room, &self.cfg.domain) {
            Ok(r) => r,
            Err(e) => return Some(t!(lang, "bridge-refused", why = e.text(lang))),
        };
        let g = self.groups.get(group)?;
        if g.routes.contains_key(&m.name) {
            return Some(t!(lang, "route-exists", name = m.name.as_str()));
        }
        if let Some(other) = g
            .routes
            .values()
            .find(|r| matches!(&r.rec.kind, RouteKind::Muc(s) if s.room == room))
        {
            return Some(t!(
                lang,
                "muc-already",
                room = room.as_str(),
                name = other.rec.name.as_str()
            ));
        }
        let nick = m.nick.unwrap_or_else(|| g.title.clone());
        if nick.trim().is_empty() || nick.chars().count() > 64 || nick.chars().any(char::is_control)
        {
            return Some(t!(lang, "muc-bad-nick", nick = format!("{nick:?}")));
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
        let mut reply = t!(
            lang,
            "muc-ok",
            name = m.name.as_str(),
            room = room.as_str(),
            nick = nick.as_str()
        );
        if m.password.is_some() {
            reply.push_str(&t!(lang, "muc-password-note"));
        }
        Some(reply)
    }
    /// `//mucs`
    pub(super) fn cmd_mucs(&self, group: &str, lang: Lang) -> Reply {
        let g = self.groups.get(group)?;
        let mut s = String::new();
        for r in g.routes.values() {
            let (RouteKind::Muc(m), Some(o)) = (&r.rec.kind, r.muc.as_deref()) else {
                continue;
            };
            let shown = t!(lang, &format!("muc-state-{}", o.state()));
            let state = match (&o.phase, &o.reason) {
                (crate::core::muc::Phase::Joined { nick }, _) => {
                    t!(lang, "muc-joined-as", nick = nick.as_str())
                }
                (_, Some(reason)) => t!(
                    lang,
                    "muc-state-why",
                    state = shown,
                    why = reason.text(lang)
                ),
                _ => shown,
            };
            let mut flags = String::new();
            if m.puppets {
                flags.push_str(&t!(lang, "mucs-puppets"));
            }
            if m.from_config {
                flags.push_str(&t!(lang, "bridges-from-config"));
            }
            let line = t!(
                lang,
                "mucs-line",
                name = r.rec.name.as_str(),
                room = m.room.as_str(),
                flags = flags,
                state = state,
                sent = o.sent,
                received = o.received
            );
            s.push_str(&format!("\n{line}"));
        }
        if s.is_empty() {
            return Some(t!(lang, "mucs-none"));
        }
        Some(format!(
            "{}{s}",
            t!(lang, "mucs-header", title = g.title.as_str())
        ))
    }
}
