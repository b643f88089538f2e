//! The operations API in the core (`/api/v1`, docs/api.md): the HTTP
//! adapter authenticates the bearer token and hands the request over as
//! an [`ApiCall`] with the token's scope; everything else — which group a
//! scope may see, validation, the effect and its answer — is decided here,
//! and the answer goes out as `Output::Reply` after the batch's commit.
//!
//! Errors have one shape: `{"error": "<code>", "message": "<sentence>"}`.

use serde_json::{json, Value};

use super::command::Command;
use super::i18n::Lang;
use super::model::{HistoryRecord, MemberState, Millis};
use super::route::PostReply;
use super::stanza::{self, Fanout};
use super::text::format_line;
use super::{Core, Output};

/// What a token may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Service,
    Group(String),
}

impl Scope {
    /// `service` or `group:NAME`, as stored.
    pub fn parse(s: &str) -> Option<Scope> {
        if s == "service" {
            return Some(Scope::Service);
        }
        s.strip_prefix("group:")
            .map(|g| Scope::Group(g.to_string()))
    }

    fn reaches(&self, group: &str) -> bool {
        match self {
            Scope::Service => true,
            Scope::Group(g) => g == group,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// An authenticated request under `/api/v1`.
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// Matches the `PostReply` to the waiting request.
    pub token: u64,
    pub scope: Scope,
    pub method: ApiMethod,
    /// The path after `/api/v1/`, split at `/` (percent-decoded).
    pub path: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Something that happened in a group, for the API's Server-Sent Events
/// (`message`, `join`, `leave`, `pending`). Made only while someone
/// listens (`Core::set_events`), so the relay pays nothing otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEvent {
    pub group: String,
    pub kind: &'static str,
    /// The history id (messages only): the event's SSE `id`.
    pub id: Option<i64>,
    /// The JSON `data`.
    pub data: String,
}

impl ApiEvent {
    /// The event as it goes on the wire (`event:`, `id:`, `data:` lines),
    /// made once for every reader.
    pub fn frame(&self) -> String {
        let mut s = format!("event: {}\n", self.kind);
        if let Some(id) = self.id {
            s.push_str(&format!("id: {id}\n"));
        }
        // JSON has no raw newlines; one data line.
        s.push_str(&format!("data: {}\n\n", self.data));
        s
    }
}

/// A history row as the API shows it (`GET …/messages`, `message` events).
pub(crate) fn message_json(h: &HistoryRecord) -> Value {
    json!({
        "id": h.id,
        "sent_at": stanza::xep0082(h.at),
        "nick": h.nick,
        "body": h.text,
        "via": h.sender.strip_prefix("route:").map_or(
            if h.sender == "api" { "api" } else { "xmpp" }.to_string(),
            str::to_string,
        ),
    })
}

/// `GET …/messages`'s parameters, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub limit: usize,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub desc: bool,
}

/// Reads `limit` (default 100, 1–1000), `before`, `after` and `order`.
pub fn history_query(
    query: &[(String, String)],
) -> Result<HistoryQuery, (u16, &'static str, String)> {
    let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let num = |k: &str| -> Result<Option<i64>, (u16, &'static str, String)> {
        q(k).map(|v| {
            v.parse::<i64>()
                .map_err(|_| unprocessable(k, "must be a whole number"))
        })
        .transpose()
    };
    let limit = match num("limit")? {
        None => 100,
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
        Some(_) => return Err(unprocessable("limit", "must be 1 to 1000")),
    };
    let desc = match q("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(unprocessable("order", "must be asc or desc")),
    };
    Ok(HistoryQuery {
        limit,
        before: num("before")?,
        after: num("after")?,
        desc,
    })
}

/// The largest `limit` of `GET …/messages`.
pub const MAX_LIMIT: usize = 1000;

fn answer(token: u64, status: u16, body: Value) -> Output {
    Output::Reply(PostReply {
        token,
        status,
        content_type: "application/json",
        body: body.to_string(),
    })
}

/// An error answer: a machine code and one sentence for people.
pub fn api_error(token: u64, status: u16, code: &str, message: &str) -> Output {
    answer(token, status, json!({ "error": code, "message": message }))
}

type Answer = Result<(u16, Value), (u16, &'static str, String)>;

fn not_found(what: &str) -> (u16, &'static str, String) {
    (404, "not_found", format!("{what} does not exist."))
}

fn forbidden() -> (u16, &'static str, String) {
    (
        403,
        "forbidden",
        "This token's scope does not reach that.".into(),
    )
}

fn unprocessable(field: &str, why: &str) -> (u16, &'static str, String) {
    (422, "invalid_field", format!("{field}: {why}."))
}

/// The JSON object of a request body, or a 400.
fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, (u16, &'static str, String)> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err((
            400,
            "malformed_json",
            "The body must be a JSON object.".into(),
        )),
        Err(e) => Err((400, "malformed_json", format!("The body is not JSON: {e}."))),
    }
}

/// Refuses fields a change would otherwise silently ignore.
fn only_fields(
    m: &serde_json::Map<String, Value>,
    allowed: &[&str],
) -> Result<(), (u16, &'static str, String)> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(unprocessable(
            k,
            &format!("unknown field (allowed: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The command a `POST …/routes|bridges|mucs` body stands for. Values go
/// into the command's words, so none may hold white space.
fn link_command(kind: &str, body: &[u8]) -> Result<String, (u16, &'static str, String)> {
    let m = object(body)?;
    let word = |k: &str, required: bool| -> Result<Option<String>, (u16, &'static str, String)> {
        match m.get(k) {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(unprocessable(k, "is required")),
            Some(Value::String(s)) if s.is_empty() || s.chars().any(char::is_whitespace) => Err(
                unprocessable(k, "must be a non-empty string without spaces"),
            ),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(unprocessable(k, "must be a string")),
        }
    };
    match kind {
        "routes" => {
            only_fields(
                &m,
                &["name", "direction", "password", "url", "format", "noloop"],
            )?;
            let name = word("name", true)?.unwrap_or_default();
            let pw = word("password", true)?.unwrap_or_default();
            match word("direction", true)?.as_deref() {
                Some("send") => {
                    let url = word("url", true)?.unwrap_or_default();
                    let format = word("format", false)?.unwrap_or_default();
                    Ok(format!("addroutesend {name} {pw} {url} {format}"))
                }
                Some("receive") => {
                    let noloop = word("noloop", false)?.unwrap_or_default();
                    Ok(format!("addrouterecv {name} {pw} {noloop}"))
                }
                _ => Err(unprocessable("direction", "must be send or receive")),
            }
        }
        "bridges" => {
            only_fields(&m, &["name", "platform", "keys"])?;
            let name = word("name", true)?.unwrap_or_default();
            let platform = word("platform", true)?.unwrap_or_default();
            let mut text = format!("addbridge {name} {platform}");
            match m.get("keys") {
                Some(Value::Object(keys)) => {
                    for (k, v) in keys {
                        let Some(v) = v.as_str().filter(|v| !v.chars().any(char::is_whitespace))
                        else {
                            return Err(unprocessable(
                                "keys",
                                &format!("{k} must be a string without spaces"),
                            ));
                        };
                        if k.is_empty() || k.contains(['=', ' ']) {
                            return Err(unprocessable("keys", "key names are words"));
                        }
                        text.push_str(&format!(" {k}={v}"));
                    }
                    Ok(text)
                }
                _ => Err(unprocessable("keys", "must be an object of strings")),
            }
        }
        _ => {
            only_fields(&m, &["name", "room", "nick", "password", "puppets"])?;
            let name = word("name", true)?.unwrap_or_default();
            let room = word("room", true)?.unwrap_or_default();
            let mut text = format!("addmuc {name} {room}");
            if let Some(n) = word("nick", false)? {
                text.push_str(&format!(" nick={n}"));
            }
            if let Some(p) = word("password", false)? {
                text.push_str(&format!(" password={p}"));
            }
            match m.get("puppets") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => {}
                Some(Value::Bool(true)) => text.push_str(" puppets"),
                Some(_) => return Err(unprocessable("puppets", "must be true or false")),
            }
            Ok(text)
        }
    }
}

/// A group title: 1–100 printable characters.
fn check_title(s: &str) -> Result<String, (u16, &'static str, String)> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
        return Err(unprocessable("title", "must be 1-100 printable characters"));
    }
    Ok(t.to_string())
}

/// A JID from the path, or a 422 naming it.
fn path_jid(raw: &str) -> Result<String, (u16, &'static str, String)> {
    super::names::normalize_bare_jid(raw)
        .ok_or_else(|| unprocessable("jid", &format!("{raw:?} is not a bare JID")))
}

/// A command's reply as an API answer: `OK…` is success (`ok` status);
/// otherwise the reply says why nothing changed: a clash with what exists
/// (409) or a value the command refused (422).
fn from_reply(reply: Option<String>, ok: u16) -> Answer {
    match reply {
        Some(r) if r.starts_with("OK") => Ok((ok, json!({ "status": "ok", "message": r }))),
        Some(r) if r.contains("exists") || r.contains("already") => Err((409, "conflict", r)),
        Some(r) => Err((422, "invalid_field", r)),
        None => Err(not_found("That group")),
    }
}

impl Core {
    /// Whether to make [`ApiEvent`]s (the app says so while a reader
    /// listens).
    pub fn set_events(&mut self, on: bool) {
        self.events = on;
    }

    /// An event for the listeners, when there are any.
    pub(crate) fn event(
        &self,
        group: &str,
        kind: &'static str,
        id: Option<i64>,
        data: impl FnOnce() -> Value,
        out: &mut Vec<Output>,
    ) {
        if self.events {
            out.push(Output::Event(ApiEvent {
                group: group.to_string(),
                kind,
                id,
                data: data().to_string(),
            }));
        }
    }

    /// `PUT …/members/{jid}`: a new member (as `//add`: approves a pending
    /// request or invites) → 201; `{admin?, muted?}` on a member → 200.
    fn api_put_member(
        &mut self,
        now: Millis,
        g: &str,
        jid: &str,
        body: &[u8],
        out: &mut Vec<Output>,
    ) -> Answer {
        let fields = if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Map::new()
        } else {
            object(body)?
        };
        only_fields(&fields, &["admin", "muted"])?;
        let flag = |k: &str| -> Result<Option<bool>, (u16, &'static str, String)> {
            match fields.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(_) => Err(unprocessable(k, "must be true or false")),
            }
        };
        let (admin, muted) = (flag("admin")?, flag("muted")?);
        let member = self.groups[g]
            .members
            .get(jid)
            .filter(|m| m.is_member())
            .map(|m| (m.rec.admin, m.rec.muted, m.rec.fid.clone()));
        let Some((is_admin, is_muted, fid)) = member else {
            if admin.is_some() || muted.is_some() {
                return Err(unprocessable(
                    "admin",
                    "flags are set on members; add them first",
                ));
            }
            return from_reply(
                self.run_for_api(now, g, Command::Add(jid.to_string()), out),
                201,
            );
        };
        if let Some(a) = admin.filter(|a| *a != is_admin) {
            let cmd = if a {
                Command::Admin(jid.into())
            } else {
                Command::Unadmin(jid.into())
            };
            from_reply(self.run_for_api(now, g, cmd, out), 200)?;
        }
        if let Some(m) = muted.filter(|m| *m != is_muted) {
            let cmd = if m {
                Command::Mute(fid)
            } else {
                Command::Unmute(fid)
            };
            from_reply(self.run_for_api(now, g, cmd, out), 200)?;
        }
        let m = &self.groups[g].members[jid];
        Ok((
            200,
            json!({ "jid": jid, "admin": m.rec.admin, "muted": m.rec.muted }),
        ))
    }

    /// `GET …/routes`, `…/bridges`, `…/mucs`: each with its status; never
    /// a secret (passwords, tokens, webhook URLs are write-only).
    fn api_links(&self, g: &str, kind: &str) -> Value {
        use super::model::RouteKind;
        let Some(grp) = self.groups.get(g) else {
            return json!([]);
        };
        let when = |t: Option<Millis>| t.map(stanza::xep0082);
        Value::Array(
            grp.routes
                .values()
                .filter_map(|r| {
                    let err = r
                        .rec
                        .last_error
                        .as_ref()
                        .map(|(at, e)| json!({ "at": stanza::xep0082(*at), "error": e }));
                    match (&r.rec.kind, kind) {
                        (RouteKind::Send { url, format }, "routes") => Some(json!({
                            "name": r.rec.name, "direction": "send", "format": format.as_str(),
                            "url": super::route::shown_url(url, *format),
                            "last_ok": when(r.rec.last_ok), "last_error": err,
                            "queued": r.queue.len(),
                        })),
                        (RouteKind::Recv { noloop }, "routes") => Some(json!({
                            "name": r.rec.name, "direction": "receive", "noloop": noloop,
                            "last_received": when(r.last_received),
                        })),
                        (RouteKind::Bridge(b), "bridges") => Some(json!({
                            "name": r.rec.name, "platform": b.platform.as_str(),
                            "keys": super::bridge::shown_keys(&b.keys),
                            "from_config": b.from_config,
                            "last_inbound": when(r.last_received),
                            "last_ok": when(r.rec.last_ok), "last_error": err,
                            "queued": r.queue.len(),
                        })),
                        (RouteKind::Muc(m), "mucs") => {
                            let o = r.muc.as_deref();
                            Some(json!({
                                "name": r.rec.name, "room": m.room, "nick": m.nick,
                                "puppets": m.puppets, "from_config": m.from_config,
                                "state": o.map(|o| o.state()),
                                "reason": o.and_then(|o| o.reason.as_ref()).map(|r| r.text(Lang::En)),
                                "sent": o.map(|o| o.sent), "received": o.map(|o| o.received),
                            }))
                        }
                        _ => None,
                    }
                })
                .collect(),
        )
    }

    /// `POST /groups`: `{name, title?, join?}` → 201, as `//newgroup`.
    fn api_create_group(&mut self, now: Millis, body: &[u8], out: &mut Vec<Output>) -> Answer {
        let m = object(body)?;
        only_fields(&m, &["name", "title", "join"])?;
        let name = match m.get("name") {
            Some(Value::String(s)) => s.trim().to_lowercase(),
            Some(_) => return Err(unprocessable("name", "must be a string")),
            None => return Err(unprocessable("name", "is required")),
        };
        if !super::names::is_valid_group_name(&name) {
            return Err(unprocessable("name", "must be [a-z0-9][a-z0-9._-]{0,63}"));
        }
        let title = match m.get("title") {
            None | Some(Value::Null) => name.clone(),
            Some(Value::String(s)) => check_title(s)?,
            Some(_) => return Err(unprocessable("title", "must be a string")),
        };
        let join = match m.get("join") {
            None | Some(Value::Null) => super::model::JoinPolicy::Approve,
            Some(Value::String(s)) => super::model::JoinPolicy::parse(s)
                .ok_or_else(|| unprocessable("join", "must be open, approve or invite"))?,
            Some(_) => return Err(unprocessable("join", "must be a string")),
        };
        if self.groups.contains_key(&name) {
            return Err((409, "exists", format!("The group {name} exists already.")));
        }
        self.acknowledged = true;
        self.create_group(now, &name, &title, join, crate::core::i18n::Lang::En, out);
        let v = self
            .api_group(&name)
            .ok_or_else(|| not_found("That group"))?;
        Ok((201, v))
    }

    /// `api_patch_group` for an ad-hoc form: the error's message.
    pub(crate) fn api_patch_group_bytes(
        &mut self,
        now: Millis,
        g: &str,
        body: &str,
        out: &mut Vec<Output>,
    ) -> Result<(), String> {
        self.api_patch_group(now, g, body.as_bytes(), out)
            .map(|_| ())
            .map_err(|e| e.2)
    }

    /// `api_say` for an ad-hoc form: the error's message.
    pub(crate) fn api_say_bytes(
        &mut self,
        now: Millis,
        g: &str,
        body: &str,
        out: &mut Vec<Output>,
    ) -> Result<(), String> {
        self.api_say(now, g, body.as_bytes(), out)
            .map(|_| ())
            .map_err(|e| e.2)
    }

    /// `PATCH /groups/{g}`: `{title?, join?}`.
    fn api_patch_group(
        &mut self,
        now: Millis,
        g: &str,
        body: &[u8],
        out: &mut Vec<Output>,
    ) -> Answer {
        let m = object(body)?;
        only_fields(&m, &["title", "join"])?;
        let title = match m.get("title") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(check_title(s)?),
            Some(_) => return Err(unprocessable("title", "must be a string")),
        };
        let join = match m.get("join") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                super::model::JoinPolicy::parse(s)
                    .ok_or_else(|| unprocessable("join", "must be open, approve or invite"))?,
            ),
            Some(_) => return Err(unprocessable("join", "must be a string")),
        };
        // A picture from the config stays; a drawn one follows the title.
        let image = self
            .cfg
            .groups
            .iter()
            .find(|c| c.name == g)
            .and_then(|c| c.avatar.clone());
        let grp = self
            .groups
            .get_mut(g)
            .ok_or_else(|| not_found("That group"))?;
        if let Some(t) = title {
            grp.set_look(&t, image.as_ref());
        }
        if let Some(j) = join {
            grp.join = j;
        }
        // Members see the new title in the group's presence status.
        grp.status_touch(now);
        out.push(Output::Store(super::model::StoreOp::UpsertGroup(
            grp.record(),
        )));
        self.acknowledged = true;
        let v = self.api_group(g).ok_or_else(|| not_found("That group"))?;
        Ok((200, v))
    }

    pub(crate) fn on_api_call(&mut self, now: Millis, c: ApiCall, out: &mut Vec<Output>) {
        let token = c.token;
        let result = self.api(now, &c, out);
        out.push(match result {
            Ok((status, body)) => answer(token, status, body),
            Err((status, code, message)) => api_error(token, status, code, &message),
        });
    }

    fn api(&mut self, now: Millis, c: &ApiCall, out: &mut Vec<Output>) -> Answer {
        use ApiMethod::*;
        let path: Vec<&str> = c.path.iter().map(String::as_str).collect();
        match (c.method, path.as_slice()) {
            (Get, ["groups"]) => Ok((200, self.api_groups(&c.scope))),
            (Post, ["groups"]) => {
                if c.scope != Scope::Service {
                    return Err(forbidden());
                }
                self.api_create_group(now, &c.body, out)
            }
            (Delete, ["groups", g]) => {
                if c.scope != Scope::Service {
                    return Err(forbidden());
                }
                if !self.groups.contains_key(*g) {
                    return Err(not_found("That group"));
                }
                self.acknowledged = true;
                let r = self.delete_group(g, crate::core::i18n::Lang::En, out);
                Ok((200, json!({ "status": "ok", "message": r })))
            }
            (Patch, ["groups", g]) => {
                self.api_scope(&c.scope, g)?;
                self.api_patch_group(now, g, &c.body, out)
            }
            (Post, ["broadcast"]) => {
                if c.scope != Scope::Service {
                    return Err(forbidden());
                }
                let m = object(&c.body)?;
                only_fields(&m, &["body"])?;
                let body =
                    serde_json::to_vec(&json!({ "body": m.get("body") })).unwrap_or_default();
                let names: Vec<String> = self.groups.keys().cloned().collect();
                // Validate once (the same body for every group).
                if let Some(first) = names.first() {
                    self.api_say(now, first, &body, out)?;
                }
                for g in names.iter().skip(1) {
                    self.api_say(now, g, &body, out)?;
                }
                Ok((202, json!({ "groups": names.len() })))
            }
            (Get, ["groups", g, "events"]) => {
                // The listener subscribes first, then asks here for what
                // to replay: the messages after Last-Event-ID.
                self.api_scope(&c.scope, g)?;
                let after = c.query.iter().find(|(k, _)| k == "after").map(|(_, v)| v);
                match after {
                    None => Ok((200, json!([]))),
                    Some(a) => {
                        let a: i64 = a
                            .parse()
                            .map_err(|_| unprocessable("Last-Event-ID", "must be a message id"))?;
                        let rows: Vec<Value> = self.groups[*g]
                            .history
                            .iter()
                            .filter(|h| h.id > a && !h.removed)
                            .take(MAX_LIMIT)
                            .map(message_json)
                            .collect();
                        Ok((200, Value::Array(rows)))
                    }
                }
            }
            (Post, ["groups", g, kind @ ("routes" | "bridges" | "mucs")]) => {
                self.api_scope(&c.scope, g)?;
                let text = link_command(kind, &c.body)?;
                match self.run_text_for_api(now, g, &text, out) {
                    Ok(r) => from_reply(r, 201),
                    Err(why) => Err((422, "invalid_field", why)),
                }
            }
            (Delete, ["groups", g, kind @ ("routes" | "bridges" | "mucs"), name]) => {
                self.api_scope(&c.scope, g)?;
                let (wanted, cmd) = match *kind {
                    "routes" => ("route", "delroute"),
                    "bridges" => ("bridge", "delbridge"),
                    _ => ("muc", "delmuc"),
                };
                let found = self.groups[*g].routes.get(*name).map(|r| match r.rec.kind {
                    super::model::RouteKind::Bridge(_) => "bridge",
                    super::model::RouteKind::Muc(_) => "muc",
                    _ => "route",
                });
                if found != Some(wanted) {
                    return Err(not_found(&format!("That {wanted}")));
                }
                match self.run_text_for_api(now, g, &format!("{cmd} {name}"), out) {
                    Ok(r) => from_reply(r, 200),
                    Err(why) => Err((422, "invalid_field", why)),
                }
            }
            (Get, ["groups", g, kind @ ("routes" | "bridges" | "mucs")]) => {
                self.api_scope(&c.scope, g)?;
                Ok((200, self.api_links(g, kind)))
            }
            (Get, ["groups", g]) => {
                self.api_scope(&c.scope, g)?;
                let mut v = self.api_group(g).ok_or_else(|| not_found("That group"))?;
                let admins: Vec<String> = self.groups[*g]
                    .members
                    .values()
                    .filter(|m| m.rec.admin)
                    .map(|m| m.rec.jid.to_string())
                    .collect();
                v["admins"] = json!(admins);
                Ok((200, v))
            }
            (Get, ["groups", g, "members"]) => {
                self.api_scope(&c.scope, g)?;
                Ok((200, self.api_members(g)))
            }
            (Get, ["groups", g, "messages"]) => {
                self.api_scope(&c.scope, g)?;
                self.api_history(g, &c.query)
            }
            (Delete, ["groups", g, "messages", id]) => {
                self.api_scope(&c.scope, g)?;
                let seq: i64 = id
                    .parse()
                    .map_err(|_| unprocessable("id", "must be a message id"))?;
                match self.remove_message(now, g, seq, crate::core::i18n::Lang::En, out) {
                    Ok(r) => {
                        self.acknowledged = true;
                        Ok((200, json!({ "status": "ok", "message": r })))
                    }
                    Err(r) => Err((404, "not_found", r)),
                }
            }
            (Post, ["groups", g, "messages"]) => {
                self.api_scope(&c.scope, g)?;
                self.api_say(now, g, &c.body, out)
            }
            (Put, ["groups", g, "members", jid]) => {
                self.api_scope(&c.scope, g)?;
                let jid = path_jid(jid)?;
                self.api_put_member(now, g, &jid, &c.body, out)
            }
            (Delete, ["groups", g, "members", jid]) => {
                self.api_scope(&c.scope, g)?;
                let jid = path_jid(jid)?;
                if !self.groups[*g].members.contains_key(&jid) {
                    return Err(not_found("That member"));
                }
                from_reply(self.run_for_api(now, g, Command::Kick(jid), out), 200)
            }
            (Get, ["groups", g, "blacklist"]) => {
                self.api_scope(&c.scope, g)?;
                let mut l: Vec<&String> = self.groups[*g].blacklist.iter().collect();
                l.sort();
                Ok((200, json!(l)))
            }
            (Put, ["groups", g, "blacklist", jid]) => {
                self.api_scope(&c.scope, g)?;
                let jid = path_jid(jid)?;
                if self.groups[*g].blacklist.contains(&jid) {
                    return Ok((
                        200,
                        json!({ "status": "ok", "message": "Already blacklisted." }),
                    ));
                }
                from_reply(self.run_for_api(now, g, Command::Blacklist(jid), out), 201)
            }
            (Delete, ["groups", g, "blacklist", jid]) => {
                self.api_scope(&c.scope, g)?;
                let jid = path_jid(jid)?;
                if !self.groups[*g].blacklist.contains(&jid) {
                    return Err(not_found("That blacklist entry"));
                }
                from_reply(self.run_for_api(now, g, Command::Pass(jid), out), 200)
            }
            (_, ["groups", ..]) => Err((
                405,
                "method_not_allowed",
                "That method is not available on this resource.".into(),
            )),
            _ => Err(not_found("That resource")),
        }
    }

    /// 404 for a group that does not exist (whatever the scope: a group
    /// token learns nothing about other groups from it, as 403 says the
    /// same for every name), 403 for one outside the scope.
    fn api_scope(&self, scope: &Scope, group: &str) -> Result<(), (u16, &'static str, String)> {
        if !scope.reaches(group) {
            return Err(forbidden());
        }
        if !self.groups.contains_key(group) {
            return Err(not_found("That group"));
        }
        Ok(())
    }

    fn api_group(&self, name: &str) -> Option<Value> {
        let g = self.groups.get(name)?;
        Some(json!({
            "name": &*g.name,
            "jid": g.jid,
            "title": g.title,
            "join": g.join.as_str(),
            "members": g.member_count(),
            "online": g.online_count(),
            "pending": g.pending().count(),
        }))
    }

    fn api_groups(&self, scope: &Scope) -> Value {
        Value::Array(
            self.groups
                .keys()
                .filter(|g| scope.reaches(g))
                .filter_map(|g| self.api_group(g))
                .collect(),
        )
    }

    fn api_members(&self, name: &str) -> Value {
        let Some(g) = self.groups.get(name) else {
            return json!([]);
        };
        Value::Array(
            g.members
                .values()
                .filter(|m| m.rec.state != MemberState::Invited)
                .map(|m| {
                    json!({
                        "jid": &*m.rec.jid,
                        "nick": m.rec.nick,
                        "fid": m.rec.fid,
                        "state": if m.is_member() { "member" } else { "pending" },
                        "admin": m.rec.admin,
                        "muted": m.rec.muted,
                        "online": m.online(),
                        "joined_at": stanza::xep0082(m.rec.joined_at),
                        "last_seen": stanza::xep0082(m.rec.last_seen),
                    })
                })
                .collect(),
        )
    }

    /// `GET …/messages`: newest last; `limit` (default 100, at most
    /// 1000), `before` / `after` (history ids), `order=desc`. Served from
    /// the history the core holds (the newest 1 000 rows per group).
    fn api_history(&self, name: &str, query: &[(String, String)]) -> Answer {
        let HistoryQuery {
            limit,
            before,
            after,
            desc,
        } = history_query(query)?;
        let g = self
            .groups
            .get(name)
            .ok_or_else(|| not_found("That group"))?;
        let rows: Vec<&HistoryRecord> = g
            .history
            .iter()
            .filter(|h| !h.removed)
            .filter(|h| before.is_none_or(|b| h.id < b))
            .filter(|h| after.is_none_or(|a| h.id > a))
            .collect();
        // The `limit` rows nearest the cursor: after → the oldest ones
        // after it; otherwise the newest.
        let picked: Vec<&HistoryRecord> = if after.is_some() {
            rows.into_iter().take(limit).collect()
        } else {
            let skip = rows.len().saturating_sub(limit);
            rows.into_iter().skip(skip).collect()
        };
        let mut v: Vec<Value> = picked.into_iter().map(message_json).collect();
        if desc {
            v.reverse();
        }
        Ok((200, Value::Array(v)))
    }

    /// `POST …/messages`: `{body, nick?, to?}`.
    fn api_say(&mut self, now: Millis, name: &str, body: &[u8], out: &mut Vec<Output>) -> Answer {
        let m = object(body)?;
        only_fields(&m, &["body", "nick", "to"])?;
        let text = match m.get("body") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) => return Err(unprocessable("body", "must not be empty")),
            Some(_) => return Err(unprocessable("body", "must be a string")),
            None => return Err(unprocessable("body", "is required")),
        };
        if text.chars().count() > self.cfg.max_body {
            return Err((
                413,
                "too_large",
                format!("body is longer than {} characters.", self.cfg.max_body),
            ));
        }
        let nick = match m.get("nick") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let n = super::names::clean_remote_nick(s);
                if n.is_empty() {
                    return Err(unprocessable("nick", "has no usable characters"));
                }
                Some(n)
            }
            Some(_) => return Err(unprocessable("nick", "must be a string")),
        };
        let to: Option<Vec<String>> = match m.get("to") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => {
                let mut jids = Vec::new();
                for j in a {
                    let Some(j) = j.as_str().and_then(super::names::normalize_bare_jid) else {
                        return Err(unprocessable("to", "must be a list of bare JIDs"));
                    };
                    jids.push(j);
                }
                if jids.is_empty() {
                    return Err(unprocessable("to", "must name at least one member"));
                }
                Some(jids)
            }
            Some(_) => return Err(unprocessable("to", "must be a list of bare JIDs")),
        };
        let line = match &nick {
            Some(n) => format_line(n, &text),
            None => text.clone(),
        };
        let g = self
            .groups
            .get(name)
            .ok_or_else(|| not_found("That group"))?;
        if let Some(to) = to {
            // Only to those members: no history, no routes.
            if let Some(j) = to
                .iter()
                .find(|j| !g.members.get(*j).is_some_and(|m| m.is_member()))
            {
                return Err(unprocessable("to", &format!("{j} is not a member")));
            }
            let from = g.jid.clone();
            let id = self.sys_id();
            for (i, j) in to.iter().enumerate() {
                out.push(Output::Send(stanza::chat(
                    &from,
                    j,
                    &format!("{id}-{i}"),
                    &line,
                )));
            }
            return Ok((202, json!({ "id": id })));
        }
        self.last_history_id += 1;
        let seq = self.last_history_id;
        let shared = self.cfg.shared_copy_ids;
        let mode = self.cfg.offline;
        let g = self
            .groups
            .get(name)
            .ok_or_else(|| not_found("That group"))?;
        let mut e = stanza::chat_template(&g.jid, &line);
        if let Some(n) = &nick {
            e.append_child(stanza::text_child("nick", stanza::NS_NICK, n));
        }
        let mut f = Fanout::new(e, Some(super::relay::copy_id_prefix(seq)));
        for m in g.members.values() {
            if super::relay::receives(m, "api", now, mode) {
                f.push(m.rec.jid.clone(), super::relay::copy_n(shared, m));
            }
        }
        let jid = g.jid.clone();
        self.relayed += f.copies.len() as u64;
        if !f.copies.is_empty() {
            out.push(Output::Fanout(f));
        }
        let shown = nick.clone().unwrap_or_default();
        let id = super::text::message_id(&self.instance_id, seq);
        if self.has_send_routes(name) {
            let msg = self.route_message(id.clone(), &jid, &shown, &text, now);
            self.forward(now, name, &msg, None, out);
        }
        self.acknowledged = true;
        self.push_history(
            name,
            HistoryRecord {
                id: seq,
                group: name.to_string(),
                sender: "api".into(),
                nick: shown,
                text,
                at: now,
                origin_id: None,
                edited_at: None,
                removed: false,
            },
            out,
        );
        Ok((202, json!({ "id": seq, "message_id": id })))
    }
}

pub use super::openapi::{openapi, RouteDoc, ROUTES};
