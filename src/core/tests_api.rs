//! The operations API in the core: scopes, shapes, paging, messages and
//! the error statuses, with an explicit `now`.

use super::*;
use crate::core::api::{ApiCall, ApiMethod, Scope};
use crate::core::openapi;
use crate::core::route::PostReply;

impl T {
    fn api(
        &mut self,
        scope: Scope,
        method: ApiMethod,
        path: &str,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        self.input(Input::Api(ApiCall {
            token: 9,
            scope,
            method,
            path: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            query: serde_urlencoded::from_str(query).unwrap(),
            body: body.as_bytes().to_vec(),
        }));
        let r: Vec<&PostReply> = self
            .out
            .iter()
            .filter_map(|o| match o {
                Output::Reply(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(r.len(), 1, "{:?}", self.out);
        assert_eq!(r[0].token, 9);
        let (status, v): (u16, serde_json::Value) =
            (r[0].status, serde_json::from_str(&r[0].body).unwrap());
        // Every answer has the shape the OpenAPI document gives it.
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let m = format!("{method:?}").to_lowercase();
        if let Some(doc) = openapi::route_for(&m, &segs) {
            let returns = if status < 300 {
                let found = doc.ok.iter().find(|(s, _)| *s == status);
                assert!(found.is_some(), "{m} {path}: undocumented {status} {v}");
                found.map(|f| f.1)
            } else {
                if !segs.ends_with(&["events"]) {
                    assert!(
                        doc.errors.contains(&status),
                        "{m} {path}: undocumented {status} {v}"
                    );
                }
                Some(openapi::Returns::One("Error"))
            };
            if let Some(r) = returns {
                if let Err(e) = openapi::conforms(&v, r) {
                    panic!("{m} {path} {status}: {e}");
                }
            }
        }
        (status, v)
    }
}

fn svc() -> Scope {
    Scope::Service
}
fn lobby() -> Scope {
    Scope::Group("lobby".into())
}

fn api_group() -> T {
    let mut t = open_group("");
    t.join("alice").join("bob").join("carol");
    t
}

#[test]
fn groups_and_members_by_scope() {
    let mut t = api_group();
    let (s, v) = t.api(svc(), ApiMethod::Get, "groups", "");
    assert_eq!(s, 200);
    assert_eq!(v[0]["name"], "lobby");
    assert_eq!(v[0]["jid"], G);
    assert_eq!(v[0]["members"], 3);
    assert_eq!(v[0]["online"], 3);
    assert_eq!(v[0]["join"], "open");
    let (_, v) = t.api(Scope::Group("other".into()), ApiMethod::Get, "groups", "");
    assert_eq!(
        v,
        serde_json::json!([]),
        "a group token sees only its group"
    );
    let (s, v) = t.api(
        Scope::Group("other".into()),
        ApiMethod::Get,
        "groups/lobby",
        "",
    );
    assert_eq!((s, v["error"].as_str()), (403, Some("forbidden")));
    assert!(v["message"].as_str().is_some());
    let (s, v) = t.api(svc(), ApiMethod::Get, "groups/nosuch", "");
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")));
    let (s, v) = t.api(lobby(), ApiMethod::Get, "groups/lobby", "");
    assert_eq!(s, 200);
    assert_eq!(v["admins"], serde_json::json!(["alice@localhost"]));
    let (s, v) = t.api(lobby(), ApiMethod::Get, "groups/lobby/members", "");
    assert_eq!(s, 200);
    let bob = v
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["jid"] == "bob@localhost")
        .unwrap();
    assert_eq!(bob["state"], "member");
    assert_eq!(bob["online"], true);
    assert_eq!(bob["admin"], false);
    let (s, _) = t.api(svc(), ApiMethod::Get, "nothing/here", "");
    assert_eq!(s, 404);
    let (s, _) = t.api(svc(), ApiMethod::Delete, "groups/lobby/members", "");
    assert_eq!(s, 405);
}

#[test]
fn messages_are_said_stored_and_paged() {
    let mut t = api_group();
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/messages",
        r#"{"body":"hello","nick":"bot"}"#,
    );
    assert_eq!(s, 202, "{v}");
    for who in [A, B, C] {
        assert_eq!(t.bodies(who), ["[bot] hello"]);
    }
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::AppendHistory(h) if h.text == "hello" && h.sender == "api")));
    // A notice from the group itself, then only to chosen members.
    t.later(10).api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/messages",
        r#"{"body":"maintenance at noon"}"#,
    );
    assert_eq!(t.bodies(B), ["maintenance at noon"]);
    let (s, _) = t.later(10).api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/messages",
        r#"{"body":"psst","to":["bob@localhost"]}"#,
    );
    assert_eq!(s, 202);
    assert_eq!(t.bodies(B), ["psst"]);
    assert!(
        t.bodies(A).is_empty() && t.stores().is_empty(),
        "no history for chosen members"
    );
    for i in 0..10 {
        t.later(10).say("bob", &format!("m{i}"));
    }
    let (s, v) = t.api(lobby(), ApiMethod::Get, "groups/lobby/messages?limit=3", "");
    assert_eq!(s, 200);
    let bodies: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m7", "m8", "m9"], "newest last");
    let first = v[0]["id"].as_i64().unwrap();
    let (_, v) = t.api(
        lobby(),
        ApiMethod::Get,
        &format!("groups/lobby/messages?limit=2&before={first}"),
        "",
    );
    let bodies: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m5", "m6"]);
    let (_, v) = t.api(
        lobby(),
        ApiMethod::Get,
        &format!("groups/lobby/messages?after={first}&order=desc"),
        "",
    );
    let bodies: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m9", "m8"]);
    let (_, v) = t.api(
        lobby(),
        ApiMethod::Get,
        "groups/lobby/messages?limit=1000",
        "",
    );
    assert_eq!(v[0]["nick"], "bot");
    assert_eq!(v[0]["via"], "api");
    assert_eq!(v[2]["via"], "xmpp");
}

#[test]
fn bad_requests_have_their_status_and_change_nothing() {
    let mut t = api_group();
    for (body, status, code, field) in [
        ("{", 400, "malformed_json", ""),
        ("[1]", 400, "malformed_json", ""),
        (
            r#"{"body":"x","colour":"red"}"#,
            422,
            "invalid_field",
            "colour",
        ),
        (r#"{"body":""}"#, 422, "invalid_field", "body"),
        (r#"{"body":3}"#, 422, "invalid_field", "body"),
        (r#"{"nick":"x"}"#, 422, "invalid_field", "body"),
        (
            r#"{"body":"x","to":["not a jid"]}"#,
            422,
            "invalid_field",
            "to",
        ),
        (
            r#"{"body":"x","to":["dora@localhost"]}"#,
            422,
            "invalid_field",
            "to",
        ),
    ] {
        let (s, v) = t.api(lobby(), ApiMethod::Post, "groups/lobby/messages", body);
        assert_eq!(
            (s, v["error"].as_str()),
            (status, Some(code)),
            "{body}: {v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains(field),
            "{body}: {v}"
        );
        assert!(t.sent().is_empty() && t.stores().is_empty(), "{body}");
    }
    let long = format!(r#"{{"body":"{}"}}"#, "x".repeat(20_000));
    let (s, _) = t.api(lobby(), ApiMethod::Post, "groups/lobby/messages", &long);
    assert_eq!(s, 413);
    for q in ["limit=0", "limit=1001", "limit=x", "before=x", "order=up"] {
        let (s, v) = t.api(
            lobby(),
            ApiMethod::Get,
            &format!("groups/lobby/messages?{q}"),
            "",
        );
        assert_eq!(s, 422, "{q}: {v}");
    }
}

#[test]
fn members_and_the_blacklist_change_as_the_commands_do() {
    let mut t = api_group();
    // A new JID: invited as //add does (the group asks for a subscription).
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Put,
        "groups/lobby/members/dora@localhost",
        "",
    );
    assert_eq!(s, 201, "{v}");
    assert!(t
        .presences("dora@localhost")
        .contains(&Some("subscribe".into())));
    // Flags on a member.
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Put,
        "groups/lobby/members/bob@localhost",
        r#"{"admin":true,"muted":true}"#,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["admin"].as_bool(), v["muted"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(t.stores().iter().any(|s| matches!(s, StoreOp::UpsertMember(m) if &*m.jid == "bob@localhost" && m.admin && m.muted)));
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Put,
        "groups/lobby/members/bob@localhost",
        r#"{"admin":"yes"}"#,
    );
    assert_eq!((s, v["error"].as_str()), (422, Some("invalid_field")));
    let (s, _) = t.api(
        lobby(),
        ApiMethod::Put,
        "groups/lobby/members/not%20a%20jid",
        "",
    );
    assert_eq!(s, 422);
    let (s, _) = t.api(
        lobby(),
        ApiMethod::Put,
        "groups/lobby/members/bob@localhost",
        r#"{"owner":true}"#,
    );
    assert_eq!(s, 422);
    // Removed as //kick removes.
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Delete,
        "groups/lobby/members/carol@localhost",
        "",
    );
    assert_eq!(s, 200, "{v}");
    assert!(!t.core.groups["lobby"]
        .members
        .contains_key("carol@localhost"));
    let (s, _) = t.api(
        lobby(),
        ApiMethod::Delete,
        "groups/lobby/members/carol@localhost",
        "",
    );
    assert_eq!(s, 404);
    // The blacklist.
    let (s, _) = t.api(
        lobby(),
        ApiMethod::Put,
        "groups/lobby/blacklist/eve@localhost",
        "",
    );
    assert_eq!(s, 201);
    let (_, v) = t.api(lobby(), ApiMethod::Get, "groups/lobby/blacklist", "");
    assert_eq!(v, serde_json::json!(["eve@localhost"]));
    let (s, _) = t.api(
        lobby(),
        ApiMethod::Put,
        "groups/lobby/blacklist/eve@localhost",
        "",
    );
    assert_eq!(s, 200, "already");
    let (s, _) = t.api(
        lobby(),
        ApiMethod::Delete,
        "groups/lobby/blacklist/eve@localhost",
        "",
    );
    assert_eq!(s, 200);
    let (s, _) = t.api(
        lobby(),
        ApiMethod::Delete,
        "groups/lobby/blacklist/eve@localhost",
        "",
    );
    assert_eq!(s, 404);
}

#[test]
fn group_admins_make_list_and_revoke_group_tokens() {
    let mut t = api_group();
    let r = t.cmd("bob", "//token new x");
    assert!(!r.starts_with("OK"), "admins only: {r}");
    let r = t.cmd("alice", "//token new ci bot");
    assert!(r.starts_with("OK, token "), "{r}");
    let token = r.lines().nth(1).unwrap().to_string();
    assert!(token.starts_with("tg_") && token.len() == 67, "{token}");
    let rec = t
        .stores()
        .iter()
        .find_map(|s| match s {
            StoreOp::AddToken(rec) => Some((*rec).clone()),
            _ => None,
        })
        .expect("stored");
    assert_eq!(rec.scope, "group:lobby");
    assert_eq!(rec.hash, crate::store::tokens::token_hash(&token));
    assert!(
        !format!("{:?}", t.stores()).contains(&token),
        "only the hash is stored"
    );
    let r2 = t.cmd("alice", "//token new");
    let token2 = r2.lines().nth(1).unwrap().to_string();
    assert_ne!(token, token2);
    let l = t.cmd("alice", "//token list");
    assert!(l.contains(&rec.id) && l.contains("ci bot"), "{l}");
    assert!(!l.contains(&token), "{l}");
    let r = t.cmd("alice", &format!("//token revoke {}", rec.id));
    assert_eq!(r, format!("OK, token {} revoked.", rec.id));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::RevokeToken { id } if *id == rec.id)));
    let r = t.cmd("alice", &format!("//token revoke {}", rec.id));
    assert!(r.starts_with("No token"), "{r}");
    let r = t.cmd("alice", "//token");
    assert!(
        r.to_lowercase().contains("usage") || r.contains("//token"),
        "{r}"
    );
}

#[test]
fn groups_are_created_changed_and_deleted_by_service_tokens() {
    let mut t = api_group();
    let (s, v) = t.api(lobby(), ApiMethod::Post, "groups", r#"{"name":"den"}"#);
    assert_eq!((s, v["error"].as_str()), (403, Some("forbidden")));
    let (s, v) = t.api(
        svc(),
        ApiMethod::Post,
        "groups",
        r#"{"name":"den","title":"The Den","join":"invite"}"#,
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["title"].as_str(), v["join"].as_str()),
        (Some("The Den"), Some("invite"))
    );
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::UpsertGroup(g) if g.name == "den")));
    let (s, _) = t.api(svc(), ApiMethod::Post, "groups", r#"{"name":"den"}"#);
    assert_eq!(s, 409);
    for (body, field) in [
        (r#"{"name":"Bad Name"}"#, "name"),
        (r#"{"title":"x"}"#, "name"),
        (r#"{"name":"x","join":"sometimes"}"#, "join"),
        (r#"{"name":"x","colour":1}"#, "colour"),
    ] {
        let (s, v) = t.api(svc(), ApiMethod::Post, "groups", body);
        assert_eq!(s, 422, "{body}");
        assert!(
            v["message"].as_str().unwrap().contains(field),
            "{body}: {v}"
        );
    }
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Patch,
        "groups/lobby",
        r#"{"title":"Front room","join":"approve"}"#,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(t.core.groups["lobby"].title, "Front room");
    assert_eq!(
        *t.core.groups["lobby"].avatar,
        crate::core::avatar::Avatar::drawn("Front room"),
        "the drawn picture follows the title"
    );
    let (s, _) = t.api(lobby(), ApiMethod::Patch, "groups/lobby", r#"{"title":""}"#);
    assert_eq!(s, 422);
    // A broadcast: a notice in every group.
    let (s, v) = t.api(
        svc(),
        ApiMethod::Post,
        "broadcast",
        r#"{"body":"restart at 5"}"#,
    );
    assert_eq!(s, 202, "{v}");
    assert_eq!(t.bodies(B), ["restart at 5"]);
    let (s, _) = t.api(lobby(), ApiMethod::Post, "broadcast", r#"{"body":"x"}"#);
    assert_eq!(s, 403);
    let (s, _) = t.api(lobby(), ApiMethod::Delete, "groups/den", "");
    assert_eq!(s, 403);
    let (s, _) = t.api(svc(), ApiMethod::Delete, "groups/den", "");
    assert_eq!(s, 200);
    assert!(!t.core.groups.contains_key("den"));
    let (s, _) = t.api(svc(), ApiMethod::Delete, "groups/den", "");
    assert_eq!(s, 404);
}

#[test]
fn routes_bridges_and_rooms_show_their_status_never_a_secret() {
    let mut t = api_group();
    t.cmd(
        "alice",
        "//addroutesend far s3cret-pw https://hooks.slack.com/services/T0/B0/XYZSECRET slack",
    );
    t.cmd("alice", "//addrouterecv near s3cret-pw2");
    t.cmd("alice", "//addbridge tg telegram bot_token=1:tok-secret chat_id=-100 secret_token=abc_def api=http://127.0.0.1:9");
    t.cmd(
        "alice",
        "//addmuc tea tea@conference.example.org password=room-secret",
    );
    let mut all = String::new();
    for kind in ["routes", "bridges", "mucs"] {
        let (s, v) = t.api(lobby(), ApiMethod::Get, &format!("groups/lobby/{kind}"), "");
        assert_eq!(s, 200);
        all.push_str(&v.to_string());
    }
    assert!(
        all.contains("\"far\"")
            && all.contains("\"near\"")
            && all.contains("\"tg\"")
            && all.contains("\"tea\""),
        "{all}"
    );
    for secret in [
        "s3cret-pw",
        "XYZSECRET",
        "tok-secret",
        "abc_def",
        "room-secret",
    ] {
        assert!(!all.contains(secret), "{secret} shown: {all}");
    }
    let (_, v) = t.api(lobby(), ApiMethod::Get, "groups/lobby/mucs", "");
    assert_eq!(v[0]["state"], "joining");
}

#[test]
fn events_are_made_only_while_someone_listens() {
    let events = |t: &T| -> Vec<(String, &'static str, Option<i64>)> {
        t.out
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some((e.group.clone(), e.kind, e.id)),
                _ => None,
            })
            .collect()
    };
    let mut t = api_group();
    t.later(10).say("bob", "nobody listens");
    assert!(events(&t).is_empty());
    t.core.set_events(true);
    t.later(10).say("bob", "now they do");
    let e = events(&t);
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].0.as_str(), e[0].1), ("lobby", "message"));
    assert!(e[0].2.is_some());
    let data = t
        .out
        .iter()
        .find_map(|o| match o {
            Output::Event(e) => Some(e.data.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        data.contains("now they do") && data.contains("\"nick\":\"bob\""),
        "{data}"
    );
    t.later(10).pres("dora@localhost", G, Some("subscribe"));
    assert!(events(&t).iter().any(|e| e.1 == "join"), "{:?}", events(&t));
    t.pres("dora@localhost/r", G, None);
    t.later(10).cmd("dora", "//leave");
    assert!(
        events(&t).iter().any(|e| e.1 == "leave"),
        "{:?}",
        events(&t)
    );
}

#[test]
fn the_openapi_document_matches_the_dispatcher_and_is_valid() {
    let mut t = api_group();
    // Every documented operation is routed (not "no such resource" or
    // "method not allowed"), with a service token.
    for r in crate::core::api::ROUTES {
        if r.path.ends_with("/events") {
            continue; // Streamed by the listener; its replay step is routed below.
        }
        let path = r
            .path
            .replace("{g}", "lobby")
            .replace("{jid}", "bob@localhost")
            .replace("{name}", "x")
            .replace("{id}", "1");
        let method = match r.method {
            "get" => ApiMethod::Get,
            "post" => ApiMethod::Post,
            "put" => ApiMethod::Put,
            "patch" => ApiMethod::Patch,
            _ => ApiMethod::Delete,
        };
        let body = if r.body.is_empty() { "" } else { "{}" };
        let (s, v) = t.api(svc(), method, &path, body);
        assert!(
            s != 405
                && !(s == 404 && v["message"] == "That resource does not exist.")
                && !(s == 422
                    && v["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("unknown command"))),
            "{} {path} is documented but not routed: {s} {v}",
            r.method
        );
        // Recreate what a DELETE removed, for the next rows.
        if !t.core.groups.contains_key("lobby") {
            t = api_group();
        }
    }
    let (s, _) = t.api(svc(), ApiMethod::Get, "groups/lobby/events", "");
    assert_eq!(s, 200);
    // And nothing routed is left out: each path the dispatcher knows is
    // in the table.
    let documented: Vec<(String, String)> = crate::core::api::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    for (m, p) in [
        ("get", "/groups"),
        ("post", "/groups"),
        ("get", "/groups/{g}"),
        ("patch", "/groups/{g}"),
        ("delete", "/groups/{g}"),
        ("get", "/groups/{g}/members"),
        ("put", "/groups/{g}/members/{jid}"),
        ("delete", "/groups/{g}/members/{jid}"),
        ("get", "/groups/{g}/blacklist"),
        ("put", "/groups/{g}/blacklist/{jid}"),
        ("delete", "/groups/{g}/blacklist/{jid}"),
        ("post", "/groups/{g}/messages"),
        ("get", "/groups/{g}/messages"),
        ("delete", "/groups/{g}/messages/{id}"),
        ("get", "/groups/{g}/events"),
        ("get", "/groups/{g}/routes"),
        ("get", "/groups/{g}/bridges"),
        ("get", "/groups/{g}/mucs"),
        ("post", "/broadcast"),
        ("post", "/groups/{g}/routes"),
        ("delete", "/groups/{g}/routes/{name}"),
        ("post", "/groups/{g}/bridges"),
        ("delete", "/groups/{g}/bridges/{name}"),
        ("post", "/groups/{g}/mucs"),
        ("delete", "/groups/{g}/mucs/{name}"),
    ] {
        assert!(
            documented.contains(&(m.to_string(), p.to_string())),
            "{m} {p} not documented"
        );
    }
    let doc = crate::core::api::openapi("0.0.0");
    let parsed: openapiv3::OpenAPI =
        serde_json::from_value(doc.clone()).expect("a valid OpenAPI 3 document");
    assert_eq!(parsed.paths.paths.len(), 16);
    assert!(doc.to_string().contains("\"bearer\""));
}

#[test]
fn every_documented_success_is_answered_in_its_documented_shape() {
    // `T::api` checks each answer's shape; this walks every operation to
    // each of its success statuses, so no documented shape goes unchecked.
    use ApiMethod::*;
    let mut t = api_group();
    let calls: &[(ApiMethod, &str, &str, u16)] = &[
        (Get, "groups", "", 200),
        (Post, "groups", r#"{"name":"tea"}"#, 201),
        (Get, "groups/lobby", "", 200),
        (Patch, "groups/lobby", r#"{"title":"Lobby"}"#, 200),
        (Get, "groups/lobby/members", "", 200),
        (
            Put,
            "groups/lobby/members/bob@localhost",
            r#"{"admin":true}"#,
            200,
        ),
        (Put, "groups/lobby/members/dave@localhost", "", 201),
        (Delete, "groups/lobby/members/carol@localhost", "", 200),
        (Get, "groups/lobby/blacklist", "", 200),
        (Put, "groups/lobby/blacklist/eve@localhost", "", 201),
        (Put, "groups/lobby/blacklist/eve@localhost", "", 200),
        (Delete, "groups/lobby/blacklist/eve@localhost", "", 200),
        (
            Post,
            "groups/lobby/messages",
            r#"{"body":"hello","nick":"ops"}"#,
            202,
        ),
        (
            Post,
            "groups/lobby/messages",
            r#"{"body":"psst","to":["bob@localhost"]}"#,
            202,
        ),
        (Get, "groups/lobby/messages?limit=5", "", 200),
        (Delete, "groups/lobby/messages/1", "", 200),
        (Get, "groups/lobby/events?after=0", "", 200),
        (
            Post,
            "groups/lobby/routes",
            r#"{"name":"far","direction":"send","password":"password1","url":"http://a.example/routes/lobby/b"}"#,
            201,
        ),
        (
            Post,
            "groups/lobby/routes",
            r#"{"name":"near","direction":"receive","password":"password2"}"#,
            201,
        ),
        (Get, "groups/lobby/routes", "", 200),
        (Delete, "groups/lobby/routes/far", "", 200),
        (
            Post,
            "groups/lobby/bridges",
            r#"{"name":"gc","platform":"googlechat","keys":{"webhook":"http://127.0.0.1:9/chat"}}"#,
            201,
        ),
        (Get, "groups/lobby/bridges", "", 200),
        (Delete, "groups/lobby/bridges/gc", "", 200),
        (
            Post,
            "groups/lobby/mucs",
            r#"{"name":"tea","room":"tea@conference.example.org"}"#,
            201,
        ),
        (Get, "groups/lobby/mucs", "", 200),
        (Delete, "groups/lobby/mucs/tea", "", 200),
        (Post, "broadcast", r#"{"body":"maintenance at noon"}"#, 202),
        (Delete, "groups/tea", "", 200),
    ];
    let mut seen = std::collections::HashSet::new();
    for (method, path, body, want) in calls {
        let (s, v) = t.api(svc(), *method, path, body);
        assert_eq!(s, *want, "{method:?} {path}: {v}");
        let segs: Vec<&str> = path
            .split('?')
            .next()
            .unwrap_or_default()
            .split('/')
            .collect();
        let m = format!("{method:?}").to_lowercase();
        let doc = openapi::route_for(&m, &segs).expect("documented");
        seen.insert((doc.method, doc.path, s));
    }
    for r in crate::core::api::ROUTES {
        for (status, _) in r.ok {
            assert!(
                seen.contains(&(r.method, r.path, *status)),
                "{} {} {status} not exercised",
                r.method,
                r.path
            );
        }
    }
}

#[test]
fn routes_bridges_and_rooms_are_added_and_deleted_as_the_commands_do() {
    let mut t = api_group();
    let (s, v) = t.api(lobby(), ApiMethod::Post, "groups/lobby/routes", r#"{"name":"far","direction":"send","password":"password1","url":"http://a.example/routes/lobby/b"}"#);
    assert_eq!(s, 201, "{v}");
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/routes",
        r#"{"name":"far","direction":"send","password":"password1","url":"http://a.example/x"}"#,
    );
    assert_eq!(s, 409, "{v}");
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/routes",
        r#"{"name":"near","direction":"receive","password":"pw 2"}"#,
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (422, Some("invalid_field")),
        "{v}"
    );
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/bridges",
        r#"{"name":"gc","platform":"googlechat","keys":{"webhook":"http://127.0.0.1:9/chat"}}"#,
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/bridges",
        r#"{"name":"x","platform":"irc","keys":{}}"#,
    );
    assert_eq!(s, 422, "{v}");
    assert!(v["message"].as_str().unwrap().contains("irc"), "{v}");
    let (s, v) = t.api(
        lobby(),
        ApiMethod::Post,
        "groups/lobby/mucs",
        r#"{"name":"tea","room":"tea@conference.example.org","puppets":true}"#,
    );
    assert_eq!(s, 201, "{v}");
    let (_, v) = t.api(lobby(), ApiMethod::Get, "groups/lobby/mucs", "");
    assert_eq!(v[0]["puppets"], true);
    // A route's name is not a bridge's: 404, and nothing goes.
    let (s, _) = t.api(lobby(), ApiMethod::Delete, "groups/lobby/bridges/far", "");
    assert_eq!(s, 404);
    for (kind, name) in [("routes", "far"), ("bridges", "gc"), ("mucs", "tea")] {
        let (s, v) = t.api(
            lobby(),
            ApiMethod::Delete,
            &format!("groups/lobby/{kind}/{name}"),
            "",
        );
        assert_eq!(s, 200, "{kind}: {v}");
    }
    assert!(t.core.groups["lobby"].routes.is_empty());
}
