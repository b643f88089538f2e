//! `//` commands (SPEC §5): one registry drives parsing, rights and `//help`.
//! Replies go to the sender only. Every state change is emitted as a store
//! write before its `OK`.

use super::model::{JoinPolicy, MemberState, Millis, StoreOp};
use super::names;
use super::presence::{default_names, send_presence, subscribe_with_title, Leave};
use super::relay::format_line;
use super::stanza;
use super::{Core, Ctx, Group, Output};

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    User,
    Admin,
    Service,
}

pub struct Spec {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
    pub level: Level,
}

const fn spec(name: &'static str, args: &'static str, help: &'static str, level: Level) -> Spec {
    Spec {
        name,
        args,
        help,
        level,
    }
}

/// Every command, in the order `//help` lists them.
pub const COMMANDS: &[Spec] = &[
    spec(
        "help",
        "[COMMAND]",
        "list commands, or show one command's usage",
        Level::User,
    ),
    spec("online", "", "who is online: nick and id", Level::User),
    spec("nick", "NAME", "set your nickname", Level::User),
    spec("setid", "ID", "choose your id (once)", Level::User),
    spec(
        "block",
        "ID",
        "stop receiving that member's messages",
        Level::User,
    ),
    spec(
        "unblock",
        "ID",
        "receive that member's messages again",
        Level::User,
    ),
    spec(
        "m",
        "ID TEXT",
        "private message to that member",
        Level::User,
    ),
    spec(
        "showinfo",
        "ID",
        "nick, id, admin, online, joined date of a member",
        Level::User,
    ),
    spec(
        "stop",
        "SECONDS",
        "receive nothing for SECONDS (-1 ends it); missed messages are never delivered",
        Level::User,
    ),
    spec("continue", "", "end //stop", Level::User),
    spec(
        "history",
        "[N]",
        "the last N messages (default 20, max 200)",
        Level::User,
    ),
    spec("leave", "", "leave the group", Level::User),
    spec("whois", "ID", "that member's JID", Level::Admin),
    spec(
        "add",
        "JID",
        "approve or invite JID; for a member, reset their profile",
        Level::Admin,
    ),
    spec("allok", "", "approve every pending request", Level::Admin),
    spec("listuser", "", "every member and pending JID", Level::Admin),
    spec(
        "kick",
        "JID",
        "remove JID without blacklisting",
        Level::Admin,
    ),
    spec("blacklist", "JID", "ban JID and remove them", Level::Admin),
    spec("pass", "JID", "lift JID's ban", Level::Admin),
    spec("admin", "JID", "make JID an admin", Level::Admin),
    spec("unadmin", "JID", "revoke JID's admin rights", Level::Admin),
    spec(
        "mute",
        "ID",
        "that member's messages are not relayed",
        Level::Admin,
    ),
    spec(
        "unmute",
        "ID",
        "relay that member's messages again",
        Level::Admin,
    ),
    spec(
        "addroutesend",
        "NAME PASSWORD URL [FORMAT]",
        "post every message said here to URL; FORMAT talkgroups (default), slack, discord, wecom, feishu or matterbridge; PASSWORD - for none",
        Level::Admin,
    ),
    spec(
        "addrouterecv",
        "NAME PASSWORD [NOLOOP]",
        "accept messages posted to /routes/GROUP/NAME; they are not sent out again on send route NOLOOP",
        Level::Admin,
    ),
    spec(
        "delroute",
        "NAME",
        "delete a route and its undelivered messages",
        Level::Admin,
    ),
    spec(
        "routes",
        "",
        "this group's routes with their delivery status",
        Level::Admin,
    ),
    spec(
        "newgroup",
        "NAME [open|approve|invite]",
        "create a group",
        Level::Service,
    ),
    spec(
        "delgroup",
        "NAME",
        "delete a group and all its data",
        Level::Service,
    ),
    spec("groups", "", "list all groups", Level::Service),
];

pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|s| s.name == name)
}

pub fn usage(s: &Spec) -> String {
    if s.args.is_empty() {
        format!("usage: //{} — {}", s.name, s.help)
    } else {
        format!("usage: //{} {} — {}", s.name, s.args, s.help)
    }
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

/// The help text for someone with `level` rights.
fn help_text(level: Level, service: bool) -> String {
    let mut s = String::from("Commands:");
    for c in COMMANDS {
        let visible = if service {
            c.level == Level::Service || c.name == "help"
        } else {
            c.level != Level::Service && c.level <= level
        };
        if visible {
            let args = if c.args.is_empty() {
                String::new()
            } else {
                format!(" {}", c.args)
            };
            s.push_str(&format!("\n//{}{} — {}", c.name, args, c.help));
        }
    }
    s
}

/// One reply per command: `Reply(text)` to the sender.
type Reply = String;

impl Core {
    pub(crate) fn on_command(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        body: &str,
        out: &mut Vec<Output>,
    ) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let gjid = g.jid.clone();
        let is_member = g.members.get(&ctx.from_bare).is_some_and(|m| m.is_member());
        let admin = self.is_admin(g, &ctx.from_bare);
        let level = if admin { Level::Admin } else { Level::User };
        let (cmd, args) = split(body);
        if !is_member && !admin && !self.may_answer_command(now, name, &ctx.from_bare) {
            return;
        }
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let reply = match find(&cmd) {
            None => format!("Unknown command //{cmd}. Send //help for the list."),
            Some(s) if s.level == Level::Service => {
                format!(
                    "//{} is a service command: send it to {}.",
                    s.name, self.cfg.domain
                )
            }
            Some(s) if s.level == Level::Admin && !admin => {
                format!("//{} is for group admins.", s.name)
            }
            Some(_) if !is_member && !admin => {
                let title = &g.title;
                format!("You are not a member of {title}. To join, add {gjid} to your contacts.")
            }
            Some(s) => {
                // The reply goes out before the command's other effects
                // (announcements, notices), so the sender reads "OK" first.
                let mut effects = Vec::new();
                let reply = self.run_group_command(now, ctx, name, s, args, level, &mut effects);
                if !reply.is_empty() {
                    self.say(&gjid, &ctx.from, &reply, out);
                }
                out.append(&mut effects);
                return;
            }
        };
        self.say(&gjid, &ctx.from, &reply, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn run_group_command(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        name: &str,
        s: &'static Spec,
        args: &str,
        level: Level,
        out: &mut Vec<Output>,
    ) -> Reply {
        let me = ctx.from_bare.as_str();
        let words: Vec<&str> = args.split_whitespace().collect();
        let Some(g) = self.groups.get(name) else {
            return String::new();
        };
        let usage = usage(s);
        match s.name {
            "help" => match words.as_slice() {
                [] => help_text(level, false),
                [c] => match find(c.trim_start_matches('/').to_lowercase().as_str()) {
                    Some(spec) if spec.level <= level && spec.level != Level::Service => {
                        self::usage(spec)
                    }
                    _ => format!("No command //{c}. Send //help for the list."),
                },
                _ => usage,
            },
            "online" => {
                let list: Vec<String> = g
                    .members
                    .values()
                    .filter(|m| m.is_member() && m.online())
                    .map(|m| format!("{} ({})", m.rec.nick, m.rec.fid))
                    .collect();
                format!(
                    "Online ({} of {}): {}",
                    list.len(),
                    g.member_count(),
                    list.join(", ")
                )
            }
            "nick" => {
                if args.is_empty() {
                    return usage;
                }
                let nick = match names::validate_nick(args) {
                    Ok(n) => n,
                    Err(e) => return format!("Nick refused: {e}."),
                };
                let key = names::nick_key(&nick);
                let hash = key.hash();
                if g.members.values().any(|m| {
                    m.rec.jid != me
                        && m.nick_hash().clashes(&hash)
                        && names::nick_key(&m.rec.nick).clashes(&key)
                }) {
                    return format!("The nick {nick} is taken.");
                }
                let old = self.update_member(name, me, out, |m| {
                    let old = std::mem::replace(&mut m.nick, nick.clone());
                    Some(old)
                });
                match old {
                    Some(old) if old != nick => {
                        self.announce(
                            now,
                            name,
                            Some(me),
                            &format!("*** {old} is now {nick}"),
                            out,
                        );
                        format!("OK, you are now {nick}.")
                    }
                    _ => format!("OK, you are now {nick}."),
                }
            }
            "setid" => {
                let [fid] = words.as_slice() else {
                    return usage;
                };
                if !names::is_valid_fid(fid) {
                    return format!("Id refused: use 1–32 of A-Z a-z 0-9 _ . -\n{usage}");
                }
                let Some(m) = g.members.get(me) else {
                    return String::new();
                };
                if m.rec.fid_changed {
                    return format!("Your id is {} and can be changed only once.", m.rec.fid);
                }
                if g.members
                    .values()
                    .any(|o| o.rec.jid != me && o.rec.fid.eq_ignore_ascii_case(fid))
                {
                    return format!("The id {fid} is taken.");
                }
                let fid = fid.to_string();
                self.update_member(name, me, out, |m| {
                    m.fid = fid.clone();
                    m.fid_changed = true;
                    Some(())
                });
                format!("OK, your id is now {fid}.")
            }
            "block" | "unblock" => {
                let [fid] = words.as_slice() else {
                    return usage;
                };
                let Some(target) = g.by_fid(fid).map(|m| m.rec.jid.clone()) else {
                    return format!("No member has the id {fid}.");
                };
                if target == me {
                    return "You cannot block yourself.".into();
                }
                let on = s.name == "block";
                let Some(m) = self
                    .groups
                    .get_mut(name)
                    .and_then(|g| g.members.get_mut(me))
                else {
                    return String::new();
                };
                if on {
                    m.blocks.insert(target.clone());
                } else {
                    m.blocks.remove(&target);
                }
                out.push(Output::Store(StoreOp::SetBlock {
                    group: name.to_string(),
                    jid: me.to_string(),
                    blocked: target,
                    on,
                }));
                "OK".into()
            }
            "m" => {
                let mut it = args.splitn(2, char::is_whitespace);
                let (Some(fid), Some(text)) = (it.next(), it.next().map(str::trim)) else {
                    return usage;
                };
                if fid.is_empty() || text.is_empty() {
                    return usage;
                }
                let Some(t) = g.by_fid(fid) else {
                    return format!("No member has the id {fid}.");
                };
                if t.rec.jid == me {
                    return "That is you.".into();
                }
                let Some(sender) = g.members.get(me) else {
                    return String::new();
                };
                if t.stopped(now) {
                    return format!(
                        "{} has paused the group (//stop) and receives nothing now.",
                        t.rec.nick
                    );
                }
                if text.chars().count() > self.cfg.max_body {
                    return format!("Not sent: the limit is {} characters.", self.cfg.max_body);
                }
                let blocked = t.blocks.contains(me);
                let (gjid, tjid) = (g.jid.clone(), t.rec.jid.clone());
                let line = format!("[{} → you] {text}", sender.rec.nick);
                if !blocked {
                    self.say(&gjid, &tjid, &line, out);
                }
                "OK".into()
            }
            "showinfo" => {
                let [fid] = words.as_slice() else {
                    return usage;
                };
                let Some(t) = g.by_fid(fid) else {
                    return format!("No member has the id {fid}.");
                };
                let admin = t.rec.admin || self.is_service_admin(&t.rec.jid);
                format!(
                    "{} (id {}): {}, {}, joined {}",
                    t.rec.nick,
                    t.rec.fid,
                    if admin { "admin" } else { "member" },
                    if t.online() { "online" } else { "offline" },
                    stanza::human_date(t.rec.joined_at)
                )
            }
            "stop" => {
                let [secs] = words.as_slice() else {
                    return usage;
                };
                let Ok(secs) = secs.parse::<i64>() else {
                    return usage;
                };
                if secs < -1 {
                    return usage;
                }
                if secs <= 0 {
                    self.set_stop(name, me, None, out);
                    return "OK, you receive the group's messages again.".into();
                }
                // At most ten years; a larger value means "until I say so".
                let secs = secs.min(10 * 365 * 24 * 3600);
                let until = now + secs * 1000;
                self.set_stop(name, me, Some(until), out);
                format!(
                    "OK, you receive nothing until {} UTC (//continue ends it). What is said meanwhile will not be delivered later.",
                    stanza::human_time(until)
                )
            }
            "continue" => {
                if !words.is_empty() {
                    return usage;
                }
                self.set_stop(name, me, None, out);
                "OK, you receive the group's messages again.".into()
            }
            "history" => {
                let n = match words.as_slice() {
                    [] => 20,
                    [n] => match n.parse::<usize>() {
                        Ok(n) if n >= 1 => n.min(200),
                        _ => return usage,
                    },
                    _ => return usage,
                };
                let m = g.members.get(me);
                let visible: Vec<String> = g
                    .history
                    .iter()
                    .filter(|h| m.is_none_or(|m| !m.blocks.contains(&h.sender)))
                    .map(|h| {
                        let at = stanza::human_time(h.at);
                        if h.removed {
                            format!("{at} [{}] (message removed)", h.nick)
                        } else if h.edited_at.is_some() {
                            format!("{at} {} (corrected)", format_line(&h.nick, &h.text))
                        } else {
                            format!("{at} {}", format_line(&h.nick, &h.text))
                        }
                    })
                    .collect();
                if visible.is_empty() {
                    return "No messages yet.".into();
                }
                let skip = visible.len().saturating_sub(n);
                format!(
                    "Last {} messages (UTC):\n{}",
                    visible.len() - skip,
                    visible[skip..].join("\n")
                )
            }
            "leave" => {
                self.remove_member(now, name, me, Leave::LeftByCommand, out);
                String::new()
            }
            "whois" => {
                let [fid] = words.as_slice() else {
                    return usage;
                };
                match g.by_fid(fid) {
                    Some(t) => format!("{} ({}) is {}", t.rec.fid, t.rec.nick, t.rec.jid),
                    None => format!("No member has the id {fid}."),
                }
            }
            "add" => {
                let Some(jid) = one_jid(&words) else {
                    return usage;
                };
                self.cmd_add(now, name, &jid, out)
            }
            "allok" => {
                if !words.is_empty() {
                    return usage;
                }
                let pending: Vec<String> = g.pending().map(str::to_string).collect();
                if pending.is_empty() {
                    return "No pending requests.".into();
                }
                for jid in &pending {
                    self.admit(now, name, jid, false, out);
                }
                format!("OK, approved {}: {}", pending.len(), pending.join(", "))
            }
            "listuser" => {
                let mut lines = vec![format!("{} entries:", g.members.len())];
                for m in g.members.values() {
                    let admin = m.rec.admin || self.is_service_admin(&m.rec.jid);
                    lines.push(format!(
                        "{} — {}{}, nick {}, id {}{}{}",
                        m.rec.jid,
                        m.rec.state.as_str(),
                        if admin { ", admin" } else { "" },
                        m.rec.nick,
                        m.rec.fid,
                        if m.rec.muted { ", muted" } else { "" },
                        if m.online() { ", online" } else { "" },
                    ));
                }
                if !g.blacklist.is_empty() {
                    let mut b: Vec<&String> = g.blacklist.iter().collect();
                    b.sort();
                    lines.push(format!(
                        "blacklisted: {}",
                        b.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
                lines.join("\n")
            }
            "kick" => {
                let Some(jid) = one_jid(&words) else {
                    return usage;
                };
                if jid == me {
                    return "Use //leave to leave.".into();
                }
                if !g.members.contains_key(&jid) {
                    return format!("{jid} is not in this group.");
                }
                if self.is_service_admin(&jid) {
                    return "A service admin cannot be kicked.".into();
                }
                self.remove_member(now, name, &jid, Leave::Kicked, out);
                format!("OK, {jid} was removed.")
            }
            "blacklist" => {
                let Some(jid) = one_jid(&words) else {
                    return usage;
                };
                if jid == me {
                    return "You cannot blacklist yourself.".into();
                }
                if self.is_service_admin(&jid) {
                    return "A service admin cannot be blacklisted.".into();
                }
                if g.blacklist.contains(&jid) {
                    return format!("{jid} is already blacklisted.");
                }
                let gjid = g.jid.clone();
                let present = g.members.contains_key(&jid);
                if let Some(g) = self.groups.get_mut(name) {
                    g.blacklist.insert(jid.clone());
                }
                out.push(Output::Store(StoreOp::SetBlacklisted {
                    group: name.to_string(),
                    jid: jid.clone(),
                    on: true,
                }));
                if present {
                    self.remove_member(now, name, &jid, Leave::Kicked, out);
                } else {
                    send_presence(out, &gjid, &jid, Some("unsubscribed"));
                }
                format!("OK, {jid} is blacklisted.")
            }
            "pass" => {
                let Some(jid) = one_jid(&words) else {
                    return usage;
                };
                if !g.blacklist.contains(&jid) {
                    return format!("{jid} is not blacklisted.");
                }
                if let Some(g) = self.groups.get_mut(name) {
                    g.blacklist.remove(&jid);
                }
                out.push(Output::Store(StoreOp::SetBlacklisted {
                    group: name.to_string(),
                    jid: jid.clone(),
                    on: false,
                }));
                format!("OK, {jid} may join again.")
            }
            "admin" | "unadmin" => {
                let Some(jid) = one_jid(&words) else {
                    return usage;
                };
                let Some(t) = g.members.get(&jid).filter(|m| m.is_member()) else {
                    return format!("{jid} is not a member.");
                };
                let on = s.name == "admin";
                if t.rec.admin == on {
                    return format!(
                        "{jid} {} an admin.",
                        if on { "is already" } else { "is not" }
                    );
                }
                if !on {
                    let others = g
                        .members
                        .values()
                        .filter(|m| m.is_member() && m.rec.admin && m.rec.jid != jid)
                        .count();
                    if others == 0 && jid == me {
                        return "You are the last admin: make someone else admin first.".into();
                    }
                    if others == 0 {
                        return format!("{jid} is the last admin: make someone else admin first.");
                    }
                }
                let gjid = g.jid.clone();
                let title = g.title.clone();
                self.update_member(name, &jid, out, |m| {
                    m.admin = on;
                    Some(())
                });
                let note = if on {
                    format!("You are now an admin of {title}. //help lists admin commands.")
                } else {
                    format!("You are no longer an admin of {title}.")
                };
                if jid != me {
                    self.say(&gjid, &jid, &note, out);
                }
                "OK".into()
            }
            "mute" | "unmute" => {
                let [fid] = words.as_slice() else {
                    return usage;
                };
                let Some(jid) = g.by_fid(fid).map(|m| m.rec.jid.clone()) else {
                    return format!("No member has the id {fid}.");
                };
                let on = s.name == "mute";
                let gjid = g.jid.clone();
                let changed =
                    self.update_member(name, &jid, out, |m| (m.muted != on).then(|| m.muted = on));
                if changed.is_none() {
                    return format!("{fid} is {}muted.", if on { "already " } else { "not " });
                }
                // Told at once, not only the next time they speak.
                let note = if on {
                    "An admin muted you: what you send is not relayed until they //unmute you."
                } else {
                    "An admin unmuted you: what you send is relayed again."
                };
                if jid != me {
                    self.say(&gjid, &jid, note, out);
                }
                "OK".into()
            }
            "addroutesend" => self.cmd_addroutesend(now, name, &words, usage, out),
            "addrouterecv" => self.cmd_addrouterecv(now, name, &words, usage, out),
            "delroute" => self.cmd_delroute(name, &words, usage, out),
            "routes" => {
                if !words.is_empty() {
                    return usage;
                }
                self.cmd_routes(name)
            }
            _ => format!("Unknown command //{}. Send //help for the list.", s.name),
        }
    }

    /// `//add JID`: approve a pending request, invite someone new, or reset
    /// a member's profile.
    fn cmd_add(&mut self, now: Millis, name: &str, jid: &str, out: &mut Vec<Output>) -> Reply {
        let Some(g) = self.groups.get(name) else {
            return String::new();
        };
        if g.blacklist.contains(jid) {
            return format!("{jid} is blacklisted: //pass {jid} first.");
        }
        let gjid = g.jid.clone();
        match g.members.get(jid).map(|m| m.rec.state) {
            Some(MemberState::Pending) => {
                self.admit(now, name, jid, false, out);
                format!("OK, {jid} is now a member.")
            }
            Some(MemberState::Member) => {
                // default_names leaves `jid`'s own names out of the check
                // (no copy of the group needed).
                let (nick, fid) = default_names(g, jid);
                self.update_member(name, jid, out, |m| {
                    m.nick = nick.clone();
                    m.fid = fid.clone();
                    m.fid_changed = false;
                    m.muted = false;
                    m.stop_until = None;
                    Some(())
                });
                if let Some(m) = self
                    .groups
                    .get_mut(name)
                    .and_then(|g| g.members.get_mut(jid))
                {
                    for b in m.blocks.drain() {
                        out.push(Output::Store(StoreOp::SetBlock {
                            group: name.to_string(),
                            jid: jid.to_string(),
                            blocked: b,
                            on: false,
                        }));
                    }
                }
                format!("OK, {jid}'s profile was reset (nick {nick}, id {fid}).")
            }
            Some(MemberState::Invited) => {
                out.push(Output::Send(subscribe_with_title(&gjid, jid, &g.title)));
                format!("{jid} was already invited; the request was sent again.")
            }
            None => {
                let rec = self.new_member_record(now, name, jid, MemberState::Invited, false);
                out.push(Output::Store(StoreOp::UpsertMember(rec.clone())));
                let Some(g) = self.groups.get_mut(name) else {
                    return String::new();
                };
                g.members.insert(jid.to_string(), super::Member::new(rec));
                out.push(Output::Send(subscribe_with_title(&gjid, jid, &g.title)));
                format!(
                    "OK, {jid} is invited: they join when they accept the group's contact request."
                )
            }
        }
    }

    fn set_stop(&mut self, name: &str, jid: &str, until: Option<Millis>, out: &mut Vec<Output>) {
        self.update_member(name, jid, out, |m| {
            m.stop_until = until;
            Some(())
        });
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
        let m = self.groups.get_mut(name)?.members.get_mut(jid)?;
        let r = f(&mut m.rec)?;
        m.nick_changed();
        out.push(Output::Store(StoreOp::UpsertMember(m.rec.clone())));
        Some(r)
    }

    /// Commands sent to the bare domain: service commands for service
    /// admins; for everyone else help, the groups they can join, and a
    /// refusal that says why.
    pub(crate) fn on_service_command(
        &mut self,
        now: Millis,
        ctx: &Ctx,
        body: &str,
        out: &mut Vec<Output>,
    ) {
        let domain = self.cfg.domain.clone();
        let admin = self.is_service_admin(&ctx.from_bare);
        if !admin && !self.may_answer_command(now, &domain, &ctx.from_bare) {
            return;
        }
        let (cmd, args) = split(body);
        let words: Vec<&str> = args.split_whitespace().collect();
        let reply = match find(&cmd) {
            Some(s) if s.name == "help" && admin => help_text(Level::Service, true),
            Some(s) if s.name == "help" => format!(
                "Here you find the groups of {domain}: //groups lists them. To join one, add its address as a contact; in a group, //help lists its commands. Creating and deleting groups is for the service's admins.\n\n{}",
                self.groups_for(&ctx.from_bare)
            ),
            Some(s) if s.name == "groups" && !admin => self.groups_for(&ctx.from_bare),
            Some(s) if s.level == Level::Service && !admin => format!(
                "Refused: //{} is for the service's admins.\n\n{}",
                s.name,
                self.groups_for(&ctx.from_bare)
            ),
            Some(s) if s.level == Level::Service => {
                let usage = usage(s);
                match s.name {
                    "newgroup" => match words.as_slice() {
                        [n] | [n, _] => {
                            let policy = match words.get(1) {
                                None => Some(JoinPolicy::Approve),
                                Some(p) => JoinPolicy::parse(p),
                            };
                            match policy {
                                None => usage,
                                Some(_) if !names::is_valid_group_name(n) => format!(
                                    "Group name refused: use lowercase [a-z0-9][a-z0-9._-], at most 64.\n{usage}"
                                ),
                                Some(_) if self.groups.contains_key(*n) => {
                                    format!("The group {n} already exists.")
                                }
                                Some(p) => self.create_group(now, n, p, out),
                            }
                        }
                        _ => usage,
                    },
                    "delgroup" => match words.as_slice() {
                        [n] if self.groups.contains_key(*n) => self.delete_group(n, out),
                        [n] => format!("No group {n}."),
                        _ => usage,
                    },
                    "groups" => {
                        if self.groups.is_empty() {
                            "No groups.".into()
                        } else {
                            let lines: Vec<String> = self
                                .groups
                                .values()
                                .map(|g| {
                                    format!(
                                        "{} — {} ({}, {} members, {} online, {} pending)",
                                        g.jid,
                                        g.title,
                                        g.join.as_str(),
                                        g.member_count(),
                                        g.online_count(),
                                        g.pending().count()
                                    )
                                })
                                .collect();
                            lines.join("\n")
                        }
                    }
                    _ => usage,
                }
            }
            Some(s) => format!(
                "//{} works in a group: send it to the group's address (//groups lists them).",
                s.name
            ),
            None => format!("Unknown command //{cmd}. Send //help for the list."),
        };
        self.say(&domain, &ctx.from, &reply, out);
    }

    fn create_group(
        &mut self,
        now: Millis,
        name: &str,
        join: JoinPolicy,
        out: &mut Vec<Output>,
    ) -> Reply {
        let g = Group::new(name, &self.cfg.domain, name, join, now);
        out.push(Output::Store(StoreOp::UpsertGroup(g.record())));
        let jid = g.jid.clone();
        self.groups.insert(name.to_string(), g);
        format!(
            "OK, created {jid} ({}). Add it as a contact to join.",
            join.as_str()
        )
    }

    fn delete_group(&mut self, name: &str, out: &mut Vec<Output>) -> Reply {
        let Some(g) = self.groups.remove(name) else {
            return format!("No group {name}.");
        };
        out.push(Output::Store(StoreOp::DeleteGroup {
            group: name.to_string(),
        }));
        for m in g.members.values() {
            if m.is_member() {
                let id = self.sys_id();
                out.push(Output::Send(stanza::chat(
                    &g.jid,
                    &m.rec.jid,
                    &id,
                    &format!("{} was deleted by the service admin.", g.title),
                )));
                send_presence(out, &g.presence_jid, &m.rec.jid, Some("unavailable"));
            }
            send_presence(out, &g.jid, &m.rec.jid, Some("unsubscribed"));
            send_presence(out, &g.jid, &m.rec.jid, Some("unsubscribe"));
        }
        format!("OK, deleted {}.", g.jid)
    }
}

fn one_jid(words: &[&str]) -> Option<String> {
    match words {
        [j] => names::normalize_bare_jid(j),
        _ => None,
    }
}
