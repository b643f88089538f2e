//! `//` commands. One registry ([`COMMANDS`]) drives parsing, rights and
//! `//help`: each entry parses its arguments into a [`Command`], and
//! [`Core::run`] matches every variant, so a registry entry without a
//! handler does not compile. Replies go to the sender only; every state
//! change is emitted as a store write before its `OK`.
//!
//! Where things are: the registry, parsing and dispatch here; the
//! handlers by who may run them — `user` (every member), `admin` (group
//! admins), `service` (the bare domain, service admins), `route` (a
//! group's HTTP routes). A new command is one registry entry, one
//! variant, one handler in the file for its level.

mod admin;
mod bridge;
mod muc;
mod route;
mod service;
mod token;
mod user;

use super::i18n::{t, Lang, Msg};
use super::model::{JoinPolicy, Millis, RouteFormat};
use super::names;
use super::{Core, Ctx, Output};

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    User,
    Admin,
    Service,
}

/// One registry entry.
pub struct Spec {
    pub name: &'static str,
    pub args: &'static str,
    pub level: Level,
    /// A complete invocation, shown by `//help NAME` (and run by the tests).
    pub example: &'static str,
    /// Parses the arguments: the words, and the text after the name.
    parse: fn(&[&str], &str) -> Parsed,
}

/// What parsing the arguments gave.
pub type Parsed = Result<Command, Refusal>;

/// Why a command's arguments were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The shape is wrong: the reply is the usage line.
    Usage,
    /// The reply says what is wrong: message `id` with these arguments,
    /// put into words once the sender's language is known.
    Say(Msg),
}

impl Refusal {
    /// A refusal that says message `id`.
    pub fn say(id: &'static str, args: &[(&'static str, &str)]) -> Refusal {
        Refusal::Say(Msg::new(id, args))
    }

    /// The sentence of a `Say` in `lang` (empty for `Usage`).
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Refusal::Say(m) => m.text(lang),
            Refusal::Usage => String::new(),
        }
    }
}

/// A command with its arguments, as parsed from the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    // Every member.
    Help(Option<String>),
    Online,
    Nick(String),
    SetId(String),
    Block(String),
    Unblock(String),
    Msg {
        fid: String,
        text: String,
    },
    ShowInfo(String),
    /// Seconds; `None` ends a pause.
    Stop(Option<i64>),
    History(usize),
    Lang(LangCmd),
    Leave,
    // Group admins.
    Whois(String),
    Add(String),
    AllOk,
    ListUser,
    Kick(String),
    Blacklist(String),
    Pass(String),
    Admin(String),
    Unadmin(String),
    Mute(String),
    Unmute(String),
    AddRouteSend(route::SendRoute),
    AddRouteRecv(route::RecvRoute),
    DelRoute(String),
    Routes,
    AddBridge(bridge::NewBridge),
    DelBridge(String),
    Bridges,
    AddMuc(muc::NewMuc),
    DelMuc(String),
    Mucs,
    Token(token::TokenCmd),
    // Service admins, on the bare domain.
    NewGroup {
        name: String,
        join: JoinPolicy,
    },
    DelGroup(String),
    Groups,
}

/// `//lang`, `//lang en|zh`, `//lang auto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LangCmd {
    Show,
    Set(Lang),
    Auto,
    /// Not a language replies exist in (the handler says so in the
    /// member's language).
    Unknown(String),
}

/// A reply to the sender; `None` when the command answers otherwise
/// (`//leave` says goodbye itself).
pub type Reply = Option<String>;

const fn spec(
    name: &'static str,
    args: &'static str,
    level: Level,
    example: &'static str,
    parse: fn(&[&str], &str) -> Parsed,
) -> Spec {
    Spec {
        name,
        args,
        level,
        example,
        parse,
    }
}

/// Every command, in the order `//help` lists them.
pub const COMMANDS: &[Spec] = &[
    spec(
        "help",
        "[COMMAND]",
        Level::User,
        "//help nick",
        |w, _| match w {
            [] => Ok(Command::Help(None)),
            [c] => Ok(Command::Help(Some(
                c.trim_start_matches('/').to_lowercase(),
            ))),
            _ => Err(Refusal::Usage),
        },
    ),
    spec("online", "", Level::User, "//online", |_, _| {
        Ok(Command::Online)
    }),
    spec(
        "nick",
        "NAME",
        Level::User,
        "//nick Bobby",
        |_, rest| match rest {
            "" => Err(Refusal::Usage),
            n => Ok(Command::Nick(n.to_string())),
        },
    ),
    spec(
        "setid",
        "ID",
        Level::User,
        "//setid bobby",
        |w, _| match w {
            [fid] if names::is_valid_fid(fid) => Ok(Command::SetId(fid.to_string())),
            [_] => Err(Refusal::say("setid-refused", &[])),
            _ => Err(Refusal::Usage),
        },
    ),
    spec("block", "ID", Level::User, "//block carol", |w, _| {
        one(w).map(Command::Block)
    }),
    spec("unblock", "ID", Level::User, "//unblock carol", |w, _| {
        one(w).map(Command::Unblock)
    }),
    spec(
        "m",
        "ID TEXT",
        Level::User,
        "//m carol see you at five",
        |_, rest| {
            let mut it = rest.splitn(2, char::is_whitespace);
            match (it.next(), it.next().map(str::trim)) {
                (Some(fid), Some(text)) if !fid.is_empty() && !text.is_empty() => {
                    Ok(Command::Msg {
                        fid: fid.to_string(),
                        text: text.to_string(),
                    })
                }
                _ => Err(Refusal::Usage),
            }
        },
    ),
    spec("showinfo", "ID", Level::User, "//showinfo carol", |w, _| {
        one(w).map(Command::ShowInfo)
    }),
    spec(
        "stop",
        "SECONDS",
        Level::User,
        "//stop 3600",
        |w, _| match w {
            [s] => match s.parse::<i64>() {
                Ok(s) if s > 0 => Ok(Command::Stop(Some(s))),
                Ok(-1 | 0) => Ok(Command::Stop(None)),
                _ => Err(Refusal::Usage),
            },
            _ => Err(Refusal::Usage),
        },
    ),
    spec("continue", "", Level::User, "//continue", |w, _| {
        none(w, Command::Stop(None))
    }),
    spec(
        "history",
        "[N]",
        Level::User,
        "//history 50",
        |w, _| match w {
            [] => Ok(Command::History(20)),
            [n] => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Command::History(n.min(200))),
                _ => Err(Refusal::Usage),
            },
            _ => Err(Refusal::Usage),
        },
    ),
    spec(
        "lang",
        "[en|zh|auto]",
        Level::User,
        "//lang zh",
        |w, _| match w {
            [] => Ok(Command::Lang(LangCmd::Show)),
            [a] if a.eq_ignore_ascii_case("auto") => Ok(Command::Lang(LangCmd::Auto)),
            [a] => Ok(Command::Lang(match Lang::parse(a) {
                Some(l) => LangCmd::Set(l),
                None => LangCmd::Unknown((*a).to_string()),
            })),
            _ => Err(Refusal::Usage),
        },
    ),
    spec("leave", "", Level::User, "//leave", |_, _| {
        Ok(Command::Leave)
    }),
    spec("whois", "ID", Level::Admin, "//whois carol", |w, _| {
        one(w).map(Command::Whois)
    }),
    spec(
        "add",
        "JID",
        Level::Admin,
        "//add dave@example.org",
        |w, _| one_jid(w).map(Command::Add),
    ),
    spec("allok", "", Level::Admin, "//allok", |w, _| {
        none(w, Command::AllOk)
    }),
    spec("listuser", "", Level::Admin, "//listuser", |_, _| {
        Ok(Command::ListUser)
    }),
    spec(
        "kick",
        "JID",
        Level::Admin,
        "//kick carol@localhost",
        |w, _| one_jid(w).map(Command::Kick),
    ),
    spec(
        "blacklist",
        "JID",
        Level::Admin,
        "//blacklist eve@example.org",
        |w, _| one_jid(w).map(Command::Blacklist),
    ),
    spec(
        "pass",
        "JID",
        Level::Admin,
        "//pass eve@example.org",
        |w, _| one_jid(w).map(Command::Pass),
    ),
    spec(
        "admin",
        "JID",
        Level::Admin,
        "//admin carol@localhost",
        |w, _| one_jid(w).map(Command::Admin),
    ),
    spec(
        "unadmin",
        "JID",
        Level::Admin,
        "//unadmin carol@localhost",
        |w, _| one_jid(w).map(Command::Unadmin),
    ),
    spec("mute", "ID", Level::Admin, "//mute carol", |w, _| {
        one(w).map(Command::Mute)
    }),
    spec("unmute", "ID", Level::Admin, "//unmute carol", |w, _| {
        one(w).map(Command::Unmute)
    }),
    spec(
        "addroutesend",
        "NAME PASSWORD URL [FORMAT]",
        Level::Admin,
        "//addroutesend paris s3cret-pw https://paris.example.org/routes/lobby/lyon",
        route::parse_send,
    ),
    spec(
        "addrouterecv",
        "NAME PASSWORD [NOLOOP]",
        Level::Admin,
        "//addrouterecv paris s3cret-pw",
        route::parse_recv,
    ),
    spec(
        "delroute",
        "NAME",
        Level::Admin,
        "//delroute paris",
        |w, _| one(w).map(|n| Command::DelRoute(n.to_lowercase())),
    ),
    spec("routes", "", Level::Admin, "//routes", |w, _| {
        none(w, Command::Routes)
    }),
    spec(
        "addbridge",
        "NAME PLATFORM KEY=VALUE…",
        Level::Admin,
        "//addbridge tg telegram bot_token=123:abc chat_id=-100123 secret_token=s3cret-token",
        bridge::parse_add,
    ),
    spec(
        "delbridge",
        "NAME",
        Level::Admin,
        "//delbridge tg",
        |w, _| one(w).map(|n| Command::DelBridge(n.to_lowercase())),
    ),
    spec("bridges", "", Level::Admin, "//bridges", |w, _| {
        none(w, Command::Bridges)
    }),
    spec(
        "addmuc",
        "NAME ROOM@SERVICE [NICK] [password=PW] [puppets]",
        Level::Admin,
        "//addmuc tea tea@conference.example.org",
        muc::parse_add,
    ),
    spec("delmuc", "NAME", Level::Admin, "//delmuc tea", |w, _| {
        one(w).map(|n| Command::DelMuc(n.to_lowercase()))
    }),
    spec("mucs", "", Level::Admin, "//mucs", |w, _| {
        none(w, Command::Mucs)
    }),
    spec(
        "delete",
        "",
        Level::Admin,
        "//delete",
        // Typed alone it cannot know which message: it says how.
        |_, _| Ok(Command::Help(Some("delete".into()))),
    ),
    spec(
        "token",
        "new [LABEL] | list | revoke ID",
        Level::Admin,
        "//token new ci-bot",
        token::parse,
    ),
    spec(
        "newgroup",
        "NAME [open|approve|invite]",
        Level::Service,
        "//newgroup cafe open",
        service::parse_newgroup,
    ),
    spec(
        "delgroup",
        "NAME",
        Level::Service,
        "//delgroup cafe",
        |w, _| one(w).map(Command::DelGroup),
    ),
    spec("groups", "", Level::Service, "//groups", |_, _| {
        Ok(Command::Groups)
    }),
];

/// No arguments: `cmd`.
fn none(words: &[&str], cmd: Command) -> Parsed {
    if words.is_empty() {
        Ok(cmd)
    } else {
        Err(Refusal::Usage)
    }
}

/// Exactly one argument.
fn one(words: &[&str]) -> Result<String, Refusal> {
    match words {
        [w] => Ok(w.to_string()),
        _ => Err(Refusal::Usage),
    }
}

/// Exactly one bare JID, normalized.
fn one_jid(words: &[&str]) -> Result<String, Refusal> {
    match words {
        [j] => names::normalize_bare_jid(j).ok_or(Refusal::Usage),
        _ => Err(Refusal::Usage),
    }
}

pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|s| s.name == name)
}

/// What command `s` does, in `lang` (message `cmd-NAME`).
pub fn describe(s: &Spec, lang: Lang) -> String {
    t!(lang, &format!("cmd-{}", s.name))
}

/// `//NAME ARGS`.
fn syntax(s: &Spec) -> String {
    if s.args.is_empty() {
        format!("//{}", s.name)
    } else {
        format!("//{} {}", s.name, s.args)
    }
}

pub fn usage(s: &Spec, lang: Lang) -> String {
    t!(lang, "usage", syntax = syntax(s), help = describe(s, lang))
}

/// Whether a message body is a command; if so, the body trimmed.
///
/// `//NAME …` always is (an unknown NAME gets a reply naming `//help`).
/// `/NAME …` is too when NAME is a known command, in any case: profanity,
/// Gajim, poezio and mcabber take a leading `/` as their own command prefix
/// and `//` as the escape for a literal one, so what their users type as
/// `//help` arrives as `/help`. Any other `/word` (`/me waves`, a path, a
/// smiley) is ordinary text.
pub fn command_text(body: &str) -> Option<&str> {
    let b = body.trim();
    if b.starts_with("//") {
        return Some(b);
    }
    let rest = b.strip_prefix('/')?;
    let name = rest.split(char::is_whitespace).next().unwrap_or_default();
    let known = COMMANDS.iter().any(|s| s.name.eq_ignore_ascii_case(name));
    known.then_some(b)
}

/// Splits `//name rest` into the lowercased name and the trimmed rest.
pub fn split(body: &str) -> (String, &str) {
    let b = body.trim_start().trim_start_matches('/');
    let (name, rest) = match b.find(char::is_whitespace) {
        Some(i) => (&b[..i], b[i..].trim()),
        None => (b, ""),
    };
    (name.to_lowercase(), rest)
}

/// Parses the arguments of `s`.
pub fn parse(s: &Spec, rest: &str) -> Parsed {
    let words: Vec<&str> = rest.split_whitespace().collect();
    (s.parse)(&words, rest)
}

/// The help text for someone with `level` rights.
fn help_text(level: Level, service: bool, lang: Lang) -> String {
    let mut s = t!(lang, "help-header");
    for c in COMMANDS {
        let visible = if service {
            c.level == Level::Service || c.name == "help"
        } else {
            c.level != Level::Service && c.level <= level
        };
        if visible {
            s.push_str(&format!("\n{} — {}", syntax(c), describe(c, lang)));
        }
    }
    s
}

/// `//help NAME` for someone with `level` rights.
fn help_one(level: Level, service: bool, name: &str, lang: Lang) -> String {
    match find(name) {
        Some(s)
            if (service && s.level == Level::Service)
                || (s.level <= level && s.level != Level::Service) =>
        {
            t!(
                lang,
                "usage-example",
                usage = usage(s, lang),
                example = s.example
            )
        }
        _ => t!(lang, "help-none", name = name),
    }
}

impl Core {
    /// A command sent to group `name`.
    pub(crate) fn on_command(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        body: &str,
        out: &mut Vec<Output>,
    ) {
        // Commands add, remove and approve members: the status line is
        // checked again.
        if let Some(g) = self.groups.get_mut(name) {
            g.status_touch(now);
        }
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let gjid = g.jid.clone();
        let is_member = g.members.get(&ctx.from_bare).is_some_and(|m| m.is_member());
        let admin = self.is_admin(g, &ctx.from_bare);
        let level = if admin { Level::Admin } else { Level::User };
        if !is_member && !admin && !self.may_answer_command(now, name, &ctx.from_bare) {
            return;
        }
        let (cmd, rest) = split(body);
        let lang = self.lang_of(name, &ctx.from_bare);
        let reply = match find(&cmd) {
            None => t!(lang, "cmd-unknown", cmd = cmd.as_str()),
            Some(s) if s.level == Level::Service => t!(
                lang,
                "cmd-service-only",
                cmd = s.name,
                domain = self.cfg.domain.as_str()
            ),
            Some(s) if s.level == Level::Admin && !admin => {
                t!(lang, "cmd-admin-only", cmd = s.name)
            }
            Some(_) if !is_member && !admin => {
                let title = self.groups.get(name).map(|g| g.title.clone());
                t!(
                    lang,
                    "cmd-not-member",
                    title = title.unwrap_or_default(),
                    gjid = gjid.as_str()
                )
            }
            Some(s) => match parse(s, rest) {
                Err(Refusal::Usage) => usage(s, lang),
                Err(r @ Refusal::Say(..)) => format!("{}\n{}", r.text(lang), usage(s, lang)),
                Ok(command) => {
                    // The reply goes out before the command's other effects
                    // (announcements, notices), so the sender reads "OK"
                    // first.
                    let mut effects = Vec::new();
                    let reply = self.run(now, ctx, name, (level, lang), command, &mut effects);
                    if let Some(reply) = reply {
                        self.say(&gjid, &ctx.from, &reply, out);
                    }
                    out.append(&mut effects);
                    return;
                }
            },
        };
        self.say(&gjid, &ctx.from, &reply, out);
    }

    /// Runs a parsed group command for a sender whose rights were checked.
    fn run(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        group: &str,
        // The sender's rights, and the language they read.
        (level, lang): (Level, Lang),
        cmd: Command,
        out: &mut Vec<Output>,
    ) -> Reply {
        let me = ctx.from_bare.as_str();
        match cmd {
            Command::Help(None) => Some(help_text(level, false, lang)),
            Command::Help(Some(c)) => Some(help_one(level, false, &c, lang)),
            Command::Online => self.cmd_online(group, lang),
            Command::Nick(n) => self.cmd_nick(now, group, me, &n, lang, out),
            Command::SetId(fid) => self.cmd_setid(group, me, &fid, lang, out),
            Command::Block(fid) => self.cmd_block(group, me, &fid, true, lang, out),
            Command::Unblock(fid) => self.cmd_block(group, me, &fid, false, lang, out),
            Command::Msg { fid, text } => self.cmd_msg(now, group, me, &fid, &text, out),
            Command::ShowInfo(fid) => self.cmd_showinfo(group, &fid, lang),
            Command::Stop(secs) => self.cmd_stop(now, group, me, secs, lang, out),
            Command::History(n) => self.cmd_history(group, me, n, lang),
            Command::Lang(c) => self.cmd_lang(now, group, me, c, out),
            Command::Leave => self.cmd_leave(now, group, me, out),
            Command::Whois(fid) => self.cmd_whois(group, &fid, lang),
            Command::Add(jid) => self.cmd_add(now, group, &jid, lang, out),
            Command::AllOk => self.cmd_allok(now, group, lang, out),
            Command::ListUser => self.cmd_listuser(group, lang),
            Command::Kick(jid) => self.cmd_kick(now, group, me, &jid, lang, out),
            Command::Blacklist(jid) => self.cmd_blacklist(now, group, me, &jid, lang, out),
            Command::Pass(jid) => self.cmd_pass(group, &jid, lang, out),
            Command::Admin(jid) => self.cmd_admin(group, me, &jid, true, lang, out),
            Command::Unadmin(jid) => self.cmd_admin(group, me, &jid, false, lang, out),
            Command::Mute(fid) => self.cmd_mute(group, me, &fid, true, lang, out),
            Command::Unmute(fid) => self.cmd_mute(group, me, &fid, false, lang, out),
            Command::AddRouteSend(r) => self.cmd_addroutesend(now, group, r, lang, out),
            Command::AddRouteRecv(r) => self.cmd_addrouterecv(now, group, r, lang, out),
            Command::DelRoute(n) => self.cmd_dellink(group, &n, route::Link::Route, lang, out),
            Command::Routes => self.cmd_routes(group, lang),
            Command::AddBridge(b) => self.cmd_addbridge(now, group, b, lang, out),
            Command::DelBridge(n) => self.cmd_dellink(group, &n, route::Link::Bridge, lang, out),
            Command::Bridges => self.cmd_bridges(group, lang),
            Command::AddMuc(m) => self.cmd_addmuc(now, group, m, lang, out),
            Command::DelMuc(n) => self.cmd_dellink(group, &n, route::Link::Muc, lang, out),
            Command::Mucs => self.cmd_mucs(group, lang),
            Command::Token(c) => self.cmd_token(now, group, c, lang, out),
            // The level check keeps these out of groups; should one get
            // here, it gets the same answer.
            c @ (Command::NewGroup { .. } | Command::DelGroup(_) | Command::Groups) => {
                let cmd = match c {
                    Command::NewGroup { .. } => "newgroup",
                    Command::DelGroup(_) => "delgroup",
                    _ => "groups",
                };
                Some(t!(
                    lang,
                    "cmd-service-only",
                    cmd = cmd,
                    domain = self.cfg.domain.as_str()
                ))
            }
        }
    }

    /// Runs a group command for the operations API, as an admin named
    /// `api`: the effect and the members' notices are the command's own.
    pub(crate) fn run_for_api(
        &mut self,
        now: Millis,
        group: &str,
        cmd: Command,
        out: &mut Vec<Output>,
    ) -> Reply {
        // Programs read the API's messages: English.
        self.run_as_admin(now, group, Lang::En, cmd, out)
    }

    /// Runs a group command as an admin named `api` (the API, an ad-hoc
    /// form), replying in `lang`.
    pub(crate) fn run_as_admin(
        &mut self,
        now: Millis,
        group: &str,
        lang: Lang,
        cmd: Command,
        out: &mut Vec<Output>,
    ) -> Reply {
        let ctx = Ctx {
            from: "api".into(),
            from_bare: "api".into(),
            from_res: None,
        };
        self.acknowledged = true;
        self.run(now, &ctx, group, (Level::Admin, lang), cmd, out)
    }

    /// Runs the text of a group command (`addroutesend NAME …`, without
    /// the slashes) for the API: parsed by the registry as typed commands
    /// are, so the validation is the command's own. `Err` is the reason a
    /// parse failed.
    pub(crate) fn run_text_for_api(
        &mut self,
        now: Millis,
        group: &str,
        text: &str,
        out: &mut Vec<Output>,
    ) -> Result<Reply, String> {
        let (cmd, rest) = split(text);
        let Some(s) = find(&cmd) else {
            return Err(t!(Lang::En, "cmd-unknown", cmd = cmd));
        };
        match parse(s, rest) {
            Ok(c) => Ok(self.run_for_api(now, group, c, out)),
            Err(Refusal::Usage) => Err(usage(s, Lang::En)),
            Err(r @ Refusal::Say(..)) => Err(r.text(Lang::En)),
        }
    }

    /// Runs a member's own command for an ad-hoc form, as that member.
    pub(crate) fn run_as(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        group: &str,
        cmd: Command,
        out: &mut Vec<Output>,
    ) -> Reply {
        self.acknowledged = true;
        let lang = self.lang_of(group, &ctx.from_bare);
        self.run(now, ctx, group, (Level::User, lang), cmd, out)
    }

    /// Changes a member's record and emits the store write. `f` returns
    /// `None` to change nothing.
    pub(crate) fn update_member<T>(
        &mut self,
        name: &str,
        jid: &str,
        out: &mut Vec<Output>,
        f: impl FnOnce(&mut super::model::MemberRecord) -> Option<T>,
    ) -> Option<T> {
        let m = self.groups.get_mut(name)?.member_mut(jid)?;
        let r = f(&mut m.rec)?;
        m.nick_changed();
        out.push(Output::Store(super::model::StoreOp::UpsertMember(
            m.rec.clone(),
        )));
        Some(r)
    }
}

/// The send-route formats' names, for a refusal.
fn format_names() -> String {
    let all: Vec<&str> = RouteFormat::ALL.iter().map(|f| f.as_str()).collect();
    all.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_entry_is_known_by_name_and_its_example_parses() {
        for s in COMMANDS {
            assert_eq!(find(s.name).map(|f| f.name), Some(s.name));
            let (name, rest) = split(s.example);
            assert_eq!(name, s.name, "the example of //{} runs //{name}", s.name);
            assert!(
                parse(s, rest).is_ok(),
                "//{}'s example does not parse: {}",
                s.name,
                s.example
            );
            assert!(command_text(&format!("/{}", s.name.to_uppercase())).is_some());
        }
    }

    #[test]
    fn arguments_of_the_wrong_shape_get_the_usage_line() {
        for (body, refusal) in [
            ("//continue now", Refusal::Usage),
            ("//nick", Refusal::Usage),
            ("//stop soon", Refusal::Usage),
            ("//stop -2", Refusal::Usage),
            ("//history 0", Refusal::Usage),
            ("//m carol", Refusal::Usage),
            ("//add not a jid", Refusal::Usage),
            ("//add @@", Refusal::Usage),
            ("//newgroup cafe sometimes", Refusal::Usage),
        ] {
            let (name, rest) = split(body);
            let s = find(&name).unwrap();
            assert_eq!(parse(s, rest), Err(refusal), "{body}");
        }
        let (name, rest) = split("//setid no/slashes");
        assert!(matches!(
            parse(find(&name).unwrap(), rest),
            Err(Refusal::Say(..))
        ));
        assert_eq!(
            parse(find("history").unwrap(), "999"),
            Ok(Command::History(200))
        );
        assert_eq!(parse(find("stop").unwrap(), "-1"), Ok(Command::Stop(None)));
        assert_eq!(
            parse(find("m").unwrap(), "carol  see you  "),
            Ok(Command::Msg {
                fid: "carol".into(),
                text: "see you".into()
            })
        );
        assert_eq!(
            parse(find("nick").unwrap(), "Bobby the Builder"),
            Ok(Command::Nick("Bobby the Builder".into()))
        );
    }
}
