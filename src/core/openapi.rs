//! The operations API's description: one row per operation, the shapes of
//! its answers, and the OpenAPI 3 document made from them.

use serde_json::{json, Value};

use Returns::*;

/// The body of a success answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// One object of the named shape in [`SHAPES`].
    One(&'static str),
    /// An array of them.
    List(&'static str),
    /// An array of strings.
    Strings,
    /// `text/event-stream`.
    Stream,
}

/// An object's fields: (name, type). A type is `string`, `integer`,
/// `boolean`, `id` (an integer or a string), `[string]` (an array of
/// strings) or another shape's name;
/// `?` after it allows `null`, `~` after that marks a field that may be
/// absent.
pub struct Shape {
    pub name: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
}

pub const SHAPES: &[Shape] = &[
    Shape {
        name: "Group",
        fields: &[
            ("name", "string"),
            ("jid", "string"),
            ("title", "string"),
            ("join", "string"),
            ("members", "integer"),
            ("online", "integer"),
            ("pending", "integer"),
        ],
    },
    Shape {
        name: "GroupDetail",
        // The group as above, with its admins.
        fields: &[
            ("name", "string"),
            ("jid", "string"),
            ("title", "string"),
            ("join", "string"),
            ("members", "integer"),
            ("online", "integer"),
            ("pending", "integer"),
            ("admins", "[string]"),
        ],
    },
    Shape {
        name: "Member",
        fields: &[
            ("jid", "string"),
            ("nick", "string"),
            ("fid", "string"),
            ("state", "string"),
            ("admin", "boolean"),
            ("muted", "boolean"),
            ("online", "boolean"),
            ("joined_at", "string"),
            ("last_seen", "string"),
        ],
    },
    Shape {
        name: "MemberFlags",
        fields: &[
            ("jid", "string"),
            ("admin", "boolean"),
            ("muted", "boolean"),
        ],
    },
    Shape {
        name: "Done",
        fields: &[("status", "string"), ("message", "string")],
    },
    Shape {
        name: "Sent",
        fields: &[("id", "id"), ("message_id", "string~")],
    },
    Shape {
        name: "Broadcast",
        fields: &[("groups", "integer")],
    },
    Shape {
        name: "Message",
        fields: &[
            ("id", "integer"),
            ("sent_at", "string"),
            ("nick", "string"),
            ("body", "string"),
            ("via", "string"),
        ],
    },
    Shape {
        name: "Route",
        fields: &[
            ("name", "string"),
            ("direction", "string"),
            ("format", "string~"),
            ("url", "string~"),
            ("noloop", "string?~"),
            ("last_ok", "string?~"),
            ("last_error", "LastError?~"),
            ("last_received", "string?~"),
            ("queued", "integer~"),
        ],
    },
    Shape {
        name: "Bridge",
        fields: &[
            ("name", "string"),
            ("platform", "string"),
            ("keys", "string"),
            ("from_config", "boolean"),
            ("last_inbound", "string?"),
            ("last_ok", "string?"),
            ("last_error", "LastError?"),
            ("queued", "integer"),
        ],
    },
    Shape {
        name: "Muc",
        fields: &[
            ("name", "string"),
            ("room", "string"),
            ("nick", "string"),
            ("puppets", "boolean"),
            ("from_config", "boolean"),
            ("state", "string?"),
            ("reason", "string?"),
            ("sent", "integer?"),
            ("received", "integer?"),
        ],
    },
    Shape {
        name: "LastError",
        fields: &[("at", "string"), ("error", "string")],
    },
    Shape {
        name: "Error",
        fields: &[("error", "string"), ("message", "string")],
    },
];

/// The row for a request: `method` in lower case, `path` the segments
/// under `/api/v1`.
pub fn route_for(method: &str, path: &[&str]) -> Option<&'static RouteDoc> {
    ROUTES.iter().find(|r| {
        let t: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
        r.method == method
            && t.len() == path.len()
            && t.iter()
                .zip(path)
                .all(|(t, p)| t.starts_with('{') || t == p)
    })
}

fn shape(name: &str) -> Option<&'static Shape> {
    SHAPES.iter().find(|s| s.name == name)
}

/// (base type, nullable, optional) of a field's type.
fn parse_type(t: &str) -> (&str, bool, bool) {
    let (t, optional) = t.strip_suffix('~').map_or((t, false), |t| (t, true));
    let (t, nullable) = t.strip_suffix('?').map_or((t, false), |t| (t, true));
    (t, nullable, optional)
}

/// A field type as an OpenAPI 3.0 schema.
fn type_schema(t: &str) -> Value {
    let (base, nullable, _) = parse_type(t);
    let mut s = match base {
        "string" | "integer" | "boolean" => json!({ "type": base }),
        "id" => json!({ "oneOf": [{ "type": "integer" }, { "type": "string" }] }),
        "[string]" => json!({ "type": "array", "items": { "type": "string" } }),
        // A reference cannot carry `nullable` in 3.0; wrap it.
        other if nullable => {
            return json!({ "nullable": true, "allOf": [{ "$ref": format!("#/components/schemas/{other}") }] })
        }
        other => json!({ "$ref": format!("#/components/schemas/{other}") }),
    };
    if nullable {
        s["nullable"] = json!(true);
    }
    s
}

fn shape_schema(s: &Shape) -> Value {
    let props: serde_json::Map<String, Value> = s
        .fields
        .iter()
        .map(|(n, t)| (n.to_string(), type_schema(t)))
        .collect();
    let required: Vec<&str> = s
        .fields
        .iter()
        .filter(|(_, t)| !parse_type(t).2)
        .map(|(n, _)| *n)
        .collect();
    json!({ "type": "object", "required": required, "properties": props, "additionalProperties": false })
}

fn returns_schema(r: Returns) -> Value {
    let to = |n: &str| json!({ "$ref": format!("#/components/schemas/{n}") });
    match r {
        One(n) => to(n),
        List(n) => json!({ "type": "array", "items": to(n) }),
        Strings | Stream => json!({ "type": "array", "items": { "type": "string" } }),
    }
}

/// Whether `v` has exactly the shape `r` says: every required field, no
/// other field, each of its type. The API's tests run every answer
/// through this, so the document describes what is really sent.
pub fn conforms(v: &Value, r: Returns) -> Result<(), String> {
    match r {
        One(n) => conforms_to(v, n),
        List(n) => v
            .as_array()
            .ok_or_else(|| format!("not an array: {v}"))?
            .iter()
            .try_for_each(|e| conforms_to(e, n)),
        Strings => match v.as_array() {
            Some(a) if a.iter().all(Value::is_string) => Ok(()),
            _ => Err(format!("not an array of strings: {v}")),
        },
        Stream => Ok(()),
    }
}

fn conforms_to(v: &Value, name: &str) -> Result<(), String> {
    let s = shape(name).ok_or_else(|| format!("no shape {name}"))?;
    let o = v
        .as_object()
        .ok_or_else(|| format!("{name}: not an object: {v}"))?;
    if let Some(k) = o.keys().find(|k| !s.fields.iter().any(|(n, _)| n == k)) {
        return Err(format!("{name}: undocumented field {k:?} in {v}"));
    }
    for (n, t) in s.fields {
        let (base, nullable, optional) = parse_type(t);
        let Some(f) = o.get(*n) else {
            if optional {
                continue;
            }
            return Err(format!("{name}: missing field {n:?} in {v}"));
        };
        let ok = match (base, f) {
            (_, Value::Null) => nullable,
            ("string", f) => f.is_string(),
            ("integer", f) => f.is_i64() || f.is_u64(),
            ("boolean", f) => f.is_boolean(),
            ("id", f) => f.is_string() || f.is_i64(),
            ("[string]", f) => f.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            (other, f) => conforms_to(f, other).is_ok(),
        };
        if !ok {
            return Err(format!("{name}: field {n:?} is not {t}: {v}"));
        }
    }
    Ok(())
}

/// One operation of the API, as `GET /api/v1/openapi.json` describes it.
/// The dispatcher (`Core::api`) and this table are checked against each
/// other by a test, so the description cannot drift from the code.
pub struct RouteDoc {
    pub method: &'static str,
    /// OpenAPI path template under `/api/v1`.
    pub path: &'static str,
    pub scope: &'static str,
    pub summary: &'static str,
    /// Body fields: (name, JSON type, required).
    pub body: &'static [(&'static str, &'static str, bool)],
    /// Query parameters: (name, JSON type).
    pub query: &'static [(&'static str, &'static str)],
    /// Each success status with the shape of its body.
    pub ok: &'static [(u16, Returns)],
    pub errors: &'static [u16],
}

const DONE: &[(u16, Returns)] = &[(200, One("Done"))];
const CREATED: &[(u16, Returns)] = &[(201, One("Done"))];
const E_READ: &[u16] = &[401, 403, 404];
const E_CHANGE: &[u16] = &[400, 401, 403, 404, 409, 413, 422];

pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "get",
        path: "/groups",
        scope: "any",
        summary: "The groups the token reaches",
        body: &[],
        query: &[],
        ok: &[(200, List("Group"))],
        errors: &[401],
    },
    RouteDoc {
        method: "post",
        path: "/groups",
        scope: "service",
        summary: "Create a group (as //newgroup)",
        body: &[
            ("name", "string", true),
            ("title", "string", false),
            ("join", "string", false),
        ],
        query: &[],
        ok: &[(201, One("Group"))],
        errors: &[400, 401, 403, 409, 422],
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}",
        scope: "group",
        summary: "A group, with its admins",
        body: &[],
        query: &[],
        ok: &[(200, One("GroupDetail"))],
        errors: E_READ,
    },
    RouteDoc {
        method: "patch",
        path: "/groups/{g}",
        scope: "group",
        summary: "Change a group's title or join policy",
        body: &[("title", "string", false), ("join", "string", false)],
        query: &[],
        ok: &[(200, One("Group"))],
        errors: E_CHANGE,
    },
    RouteDoc {
        method: "delete",
        path: "/groups/{g}",
        scope: "service",
        summary: "Delete a group (as //delgroup)",
        body: &[],
        query: &[],
        ok: DONE,
        errors: E_READ,
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}/members",
        scope: "group",
        summary: "Members and pending requests",
        body: &[],
        query: &[],
        ok: &[(200, List("Member"))],
        errors: E_READ,
    },
    RouteDoc {
        method: "put",
        path: "/groups/{g}/members/{jid}",
        scope: "group",
        summary: "Add (as //add) or set a member's flags",
        body: &[("admin", "boolean", false), ("muted", "boolean", false)],
        query: &[],
        ok: &[(200, One("MemberFlags")), (201, One("Done"))],
        errors: E_CHANGE,
    },
    RouteDoc {
        method: "delete",
        path: "/groups/{g}/members/{jid}",
        scope: "group",
        summary: "Remove a member (as //kick)",
        body: &[],
        query: &[],
        ok: DONE,
        errors: &[401, 403, 404, 409, 422],
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}/blacklist",
        scope: "group",
        summary: "The blacklist",
        body: &[],
        query: &[],
        ok: &[(200, Strings)],
        errors: E_READ,
    },
    RouteDoc {
        method: "put",
        path: "/groups/{g}/blacklist/{jid}",
        scope: "group",
        summary: "Blacklist a JID (as //blacklist)",
        body: &[],
        query: &[],
        ok: &[(201, One("Done")), (200, One("Done"))],
        errors: &[401, 403, 404, 409, 422],
    },
    RouteDoc {
        method: "delete",
        path: "/groups/{g}/blacklist/{jid}",
        scope: "group",
        summary: "Lift a ban (as //pass)",
        body: &[],
        query: &[],
        ok: DONE,
        errors: &[401, 403, 404, 422],
    },
    RouteDoc {
        method: "post",
        path: "/groups/{g}/messages",
        scope: "group",
        summary: "Say something in the group, or to chosen members",
        body: &[
            ("body", "string", true),
            ("nick", "string", false),
            ("to", "array", false),
        ],
        query: &[],
        ok: &[(202, One("Sent"))],
        errors: E_CHANGE,
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}/messages",
        scope: "group",
        summary: "History, newest last, with cursors",
        body: &[],
        query: &[
            ("limit", "integer"),
            ("before", "integer"),
            ("after", "integer"),
            ("order", "string"),
        ],
        ok: &[(200, List("Message"))],
        errors: &[401, 403, 404, 422],
    },
    RouteDoc {
        method: "delete",
        path: "/groups/{g}/messages/{id}",
        scope: "group",
        summary: "Remove a message for everyone (as //delete in reply to it)",
        body: &[],
        query: &[],
        ok: DONE,
        errors: &[401, 403, 404, 422],
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}/events",
        scope: "group",
        summary: "Server-Sent Events: message, join, leave, pending (Last-Event-ID resumes)",
        body: &[],
        query: &[],
        ok: &[(200, Stream)],
        errors: &[401, 403, 404, 422],
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}/routes",
        scope: "group",
        summary: "HTTP routes with their status (no secrets)",
        body: &[],
        query: &[],
        ok: &[(200, List("Route"))],
        errors: E_READ,
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}/bridges",
        scope: "group",
        summary: "Bridges with their status (no secrets)",
        body: &[],
        query: &[],
        ok: &[(200, List("Bridge"))],
        errors: E_READ,
    },
    RouteDoc {
        method: "get",
        path: "/groups/{g}/mucs",
        scope: "group",
        summary: "Room bridges with their state",
        body: &[],
        query: &[],
        ok: &[(200, List("Muc"))],
        errors: E_READ,
    },
    RouteDoc {
        method: "post",
        path: "/groups/{g}/routes",
        scope: "group",
        summary: "Add a send or receive route (as //addroutesend, //addrouterecv)",
        body: &[
            ("name", "string", true),
            ("direction", "string", true),
            ("password", "string", true),
            ("url", "string", false),
            ("format", "string", false),
            ("noloop", "string", false),
        ],
        query: &[],
        ok: CREATED,
        errors: E_CHANGE,
    },
    RouteDoc {
        method: "delete",
        path: "/groups/{g}/routes/{name}",
        scope: "group",
        summary: "Delete a route (as //delroute)",
        body: &[],
        query: &[],
        ok: DONE,
        errors: E_READ,
    },
    RouteDoc {
        method: "post",
        path: "/groups/{g}/bridges",
        scope: "group",
        summary: "Add a bridge (as //addbridge); keys are write-only",
        body: &[
            ("name", "string", true),
            ("platform", "string", true),
            ("keys", "object", true),
        ],
        query: &[],
        ok: CREATED,
        errors: E_CHANGE,
    },
    RouteDoc {
        method: "delete",
        path: "/groups/{g}/bridges/{name}",
        scope: "group",
        summary: "Delete a bridge (as //delbridge)",
        body: &[],
        query: &[],
        ok: DONE,
        errors: E_READ,
    },
    RouteDoc {
        method: "post",
        path: "/groups/{g}/mucs",
        scope: "group",
        summary: "Bridge a room (as //addmuc); the password is write-only",
        body: &[
            ("name", "string", true),
            ("room", "string", true),
            ("nick", "string", false),
            ("password", "string", false),
            ("puppets", "boolean", false),
        ],
        query: &[],
        ok: CREATED,
        errors: E_CHANGE,
    },
    RouteDoc {
        method: "delete",
        path: "/groups/{g}/mucs/{name}",
        scope: "group",
        summary: "Leave a room and delete its bridge (as //delmuc)",
        body: &[],
        query: &[],
        ok: DONE,
        errors: E_READ,
    },
    RouteDoc {
        method: "post",
        path: "/broadcast",
        scope: "service",
        summary: "A notice in every group",
        body: &[("body", "string", true)],
        query: &[],
        ok: &[(202, One("Broadcast"))],
        errors: &[400, 401, 403, 413, 422],
    },
];

/// The OpenAPI 3.0 description of [`ROUTES`].
pub fn openapi(version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let error = json!({ "$ref": "#/components/schemas/Error" });
    for r in ROUTES {
        let mut params: Vec<Value> = Vec::new();
        for name in ["g", "jid", "name", "id"] {
            if r.path.contains(&format!("{{{name}}}")) {
                params.push(json!({
                    "name": name, "in": "path", "required": true,
                    "description": match name {
                        "g" => "the group's name",
                        "jid" => "a bare JID (percent-encoding allowed)",
                        "id" => "a message's history id",
                        _ => "the route's, bridge's or room bridge's name",
                    },
                    "schema": { "type": "string" },
                }));
            }
        }
        for (name, t) in r.query {
            params.push(
                json!({ "name": name, "in": "query", "required": false, "schema": { "type": t } }),
            );
        }
        let mut responses = serde_json::Map::new();
        for (status, returns) in r.ok {
            let body = if *returns == Stream {
                json!({ "text/event-stream": { "schema": { "type": "string" } } })
            } else {
                json!({ "application/json": { "schema": returns_schema(*returns) } })
            };
            responses.insert(
                status.to_string(),
                json!({ "description": "done", "content": body }),
            );
        }
        for e in r.errors {
            responses.insert(
                e.to_string(),
                json!({ "description": "an error", "content": { "application/json": { "schema": error } } }),
            );
        }
        let mut op = json!({
            "summary": r.summary,
            "description": format!("Token scope: {}.", r.scope),
            "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}'], "_")),
            "parameters": params,
            "responses": responses,
        });
        if !r.body.is_empty() {
            let props: serde_json::Map<String, Value> = r
                .body
                .iter()
                .map(|(n, t, _)| {
                    let s = match *t {
                        "array" => json!({ "type": "array", "items": { "type": "string" } }),
                        "object" => json!({ "type": "object", "additionalProperties": { "type": "string" } }),
                        _ => json!({ "type": t }),
                    };
                    (n.to_string(), s)
                })
                .collect();
            let required: Vec<&str> = r.body.iter().filter(|f| f.2).map(|f| f.0).collect();
            let mut schema =
                json!({ "type": "object", "properties": props, "additionalProperties": false });
            if !required.is_empty() {
                schema["required"] = json!(required);
            }
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        }
        let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        item[r.method] = op;
    }
    let schemas: serde_json::Map<String, Value> = SHAPES
        .iter()
        .map(|s| (s.name.to_string(), shape_schema(s)))
        .collect();
    json!({
        "openapi": "3.0.3",
        "info": { "title": "talkgroups operations API", "version": version },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
    })
}
