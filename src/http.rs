//! The HTTP listener (axum): `POST /routes/{group}/{name}` for receive
//! routes, `GET /healthz` and Prometheus `GET /metrics`. A thin adapter:
//! it checks size and content type, hands the post to the core's task and
//! waits for its answer, which comes only after the effects are committed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot};

use crate::core::route::{PostReply, RoutePost};
use crate::core::webhook::{MAX_BODY, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// A post waiting for the core's answer.
pub struct PostRequest {
    pub post: RoutePost,
    pub reply: oneshot::Sender<PostReply>,
}

/// Numbers for `/metrics` and `/healthz`, written by the app loop.
#[derive(Debug, Default)]
pub struct Metrics {
    pub groups: AtomicU64,
    pub members: AtomicU64,
    pub online: AtomicU64,
    pub relayed: AtomicU64,
    pub route_received: AtomicU64,
    pub route_delivered: AtomicU64,
    pub route_failed: AtomicU64,
    pub route_refused: AtomicU64,
    pub route_given_up: AtomicU64,
    pub outbox_depth: AtomicU64,
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
}

impl Metrics {
    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(&str, u64)]| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in lines {
                s.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        metric(
            "talkgroups_groups",
            "gauge",
            "Groups.",
            &[("", g(&self.groups))],
        );
        metric(
            "talkgroups_members",
            "gauge",
            "Members across all groups.",
            &[("", g(&self.members))],
        );
        metric(
            "talkgroups_online_members",
            "gauge",
            "Members with at least one online resource.",
            &[("", g(&self.online))],
        );
        metric(
            "talkgroups_relayed_messages_total",
            "counter",
            "Message copies sent to members.",
            &[("", g(&self.relayed))],
        );
        metric(
            "talkgroups_route_received_total",
            "counter",
            "Messages accepted on receive routes.",
            &[("", g(&self.route_received))],
        );
        metric(
            "talkgroups_route_sends_total",
            "counter",
            "Send-route delivery attempts by outcome.",
            &[
                ("{outcome=\"delivered\"}", g(&self.route_delivered)),
                ("{outcome=\"failed\"}", g(&self.route_failed)),
                ("{outcome=\"refused\"}", g(&self.route_refused)),
                ("{outcome=\"given_up\"}", g(&self.route_given_up)),
            ],
        );
        metric(
            "talkgroups_outbox_depth",
            "gauge",
            "Send-route deliveries waiting.",
            &[("", g(&self.outbox_depth))],
        );
        metric(
            "talkgroups_reconnects_total",
            "counter",
            "Connections to the XMPP server after the first.",
            &[("", g(&self.reconnects))],
        );
        metric(
            "talkgroups_connected",
            "gauge",
            "1 while the XMPP server connection is up.",
            &[("", u64::from(self.connected.load(Ordering::Relaxed)))],
        );
        s
    }
}

#[derive(Clone)]
pub struct HttpState {
    pub posts: mpsc::Sender<PostRequest>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/routes/{group}/{name}", post(post_route))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, msg: &str) -> Response {
    json(status, serde_json::json!({ "error": msg }).to_string())
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn post_route(
    State(st): State<HttpState>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Size first, before reading or parsing anything.
    let declared = header_str(&headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KiB");
    }
    let signature = header_str(&headers, SIGNATURE_HEADER);
    let content_type = header_str(&headers, header::CONTENT_TYPE.as_str()).map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let form = match content_type.as_deref() {
        None | Some("application/json") => false,
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => false,
        Some("application/x-www-form-urlencoded") if signature.is_none() => true,
        Some(_) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/json (or a form-encoded outgoing webhook)",
            )
        }
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return if too_big {
                error(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KiB")
            } else {
                error(StatusCode::BAD_REQUEST, "could not read the body")
            };
        }
    };
    let post = RoutePost {
        token: 0, // Set by the app loop.
        group: group.to_lowercase(),
        route: name.to_lowercase(),
        body: body.to_vec(),
        form,
        timestamp: header_str(&headers, TIMESTAMP_HEADER),
        signature,
    };
    let (reply, rx) = oneshot::channel();
    if st.posts.send(PostRequest { post, reply }).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match rx.await {
        Ok(r) => json(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            r.body,
        ),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

async fn healthz(State(st): State<HttpState>) -> Response {
    let connected = st.metrics.connected.load(Ordering::Relaxed);
    json(
        StatusCode::OK,
        serde_json::json!({
            "status": "ok",
            "xmpp": if connected { "connected" } else { "disconnected" },
            "version": env!("CARGO_PKG_VERSION"),
        })
        .to_string(),
    )
}

async fn metrics(State(st): State<HttpState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::core::model::{GroupRecord, JoinPolicy, RouteKind, RouteRecord, Snapshot};
    use crate::core::webhook;
    use crate::core::{Core, Input, Output};
    use axum::http::Request;
    use tower::ServiceExt;

    /// A router whose posts are answered by a real core holding group
    /// `lobby` with the receive route `froma` (password `password2`).
    fn app() -> (Router, Arc<Metrics>) {
        let cfg = Config::parse(
            "[component]\njid = \"groups.localhost\"\nsecret = \"s\"\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\n",
        )
        .unwrap();
        let snap = Snapshot {
            groups: vec![GroupRecord {
                name: "lobby".into(),
                title: "Lobby".into(),
                join: JoinPolicy::Open,
                created_at: 0,
            }],
            routes: vec![RouteRecord {
                group: "lobby".into(),
                name: "froma".into(),
                kind: RouteKind::Recv { noloop: None },
                password: Some("password2".into()),
                created_at: 0,
                last_ok: None,
                last_error: None,
            }],
            instance_id: "inst-b".into(),
            ..Snapshot::default()
        };
        let mut out = Vec::new();
        let mut core = Core::new(cfg.core(), snap, crate::app::now_ms(), &mut out);
        let (posts, mut rx) = mpsc::channel::<PostRequest>(8);
        tokio::spawn(async move {
            let mut token = 0;
            while let Some(PostRequest { mut post, reply }) = rx.recv().await {
                token += 1;
                post.token = token;
                let mut out = Vec::new();
                core.handle(crate::app::now_ms(), Input::RoutePost(post), &mut out);
                if let Some(r) = out.into_iter().find_map(|o| match o {
                    Output::Reply(r) => Some(r),
                    _ => None,
                }) {
                    let _ = reply.send(r);
                }
            }
        });
        let metrics = Arc::new(Metrics::default());
        (
            router(HttpState {
                posts,
                metrics: metrics.clone(),
            }),
            metrics,
        )
    }

    async fn call(router: &Router, req: Request<Body>) -> (StatusCode, String) {
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn post(path: &str, ctype: Option<&str>) -> axum::http::request::Builder {
        let mut b = Request::post(path);
        if let Some(t) = ctype {
            b = b.header("content-type", t);
        }
        b
    }

    fn signed(path: &str, body: &str, password: &str) -> Request<Body> {
        let ts = (crate::app::now_ms() / 1000).to_string();
        let sig = webhook::sign(password, &ts, body.as_bytes());
        Request::post(path)
            .header("content-type", "application/json")
            .header("x-talkgroups-timestamp", ts)
            .header("x-talkgroups-signature", sig)
            .body(Body::from(body.to_string()))
            .unwrap()
    }

    const GOOD: &str = r#"{"id":"u1","origin":"lobby@a","nick":"dave","body":"hello","sent_at":"2026-01-01T00:00:00Z","trail":["inst-a"]}"#;

    #[tokio::test]
    async fn signed_happy_path_then_duplicate() {
        let (r, _) = app();
        let (s, b) = call(&r, signed("/routes/lobby/froma", GOOD, "password2")).await;
        assert_eq!((s, b.contains("\"ok\"")), (StatusCode::OK, true), "{b}");
        let (s, b) = call(&r, signed("/routes/Lobby/FromA", GOOD, "password2")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("duplicate"), "{b}");
    }

    #[tokio::test]
    async fn error_statuses_with_json_bodies() {
        let (r, _) = app();
        let cases: Vec<(Request<Body>, StatusCode)> = vec![
            (
                signed("/routes/nosuch/froma", GOOD, "password2"),
                StatusCode::NOT_FOUND,
            ),
            (
                signed("/routes/lobby/nosuch", GOOD, "password2"),
                StatusCode::NOT_FOUND,
            ),
            (
                signed("/routes/lobby/froma", GOOD, "wrong-password"),
                StatusCode::UNAUTHORIZED,
            ),
            (
                signed("/routes/lobby/froma", "{\"id\": oops", "password2"),
                StatusCode::BAD_REQUEST,
            ),
            (
                post("/routes/lobby/froma", Some("application/json"))
                    .body(Body::from(GOOD))
                    .unwrap(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                post("/routes/lobby/froma", Some("text/plain"))
                    .body(Body::from(GOOD))
                    .unwrap(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                post("/routes/lobby/froma", Some("application/json"))
                    .header("content-length", "70000")
                    .body(Body::from(GOOD))
                    .unwrap(),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                // No length given: the limit applies while reading.
                post("/routes/lobby/froma", Some("application/json"))
                    .body(Body::from_stream(futures::stream::iter(
                        (0..70).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
                    )))
                    .unwrap(),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                post("/nowhere", None).body(Body::empty()).unwrap(),
                StatusCode::NOT_FOUND,
            ),
        ];
        for (req, want) in cases {
            let what = format!("{} {}", req.method(), req.uri());
            let (s, b) = call(&r, req).await;
            assert_eq!(s, want, "{what}: {b}");
            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
            assert!(v["error"].is_string(), "{what}: {b}");
        }
        // Timestamp too far away (signed correctly).
        let ts = (crate::app::now_ms() / 1000 - 600).to_string();
        let sig = webhook::sign("password2", &ts, GOOD.as_bytes());
        let req = Request::post("/routes/lobby/froma")
            .header("content-type", "application/json; charset=utf-8")
            .header("x-talkgroups-timestamp", ts)
            .header("x-talkgroups-signature", sig)
            .body(Body::from(GOOD))
            .unwrap();
        assert_eq!(call(&r, req).await.0, StatusCode::CONFLICT);
        let req = Request::get("/routes/lobby/froma")
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&r, req).await.0, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn health_and_metrics() {
        let (r, m) = app();
        m.members.store(3, Ordering::Relaxed);
        m.route_delivered.store(2, Ordering::Relaxed);
        let (s, b) = call(&r, Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("\"xmpp\":\"disconnected\""), "{b}");
        let (s, b) = call(&r, Request::get("/metrics").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("talkgroups_members 3\n"), "{b}");
        assert!(
            b.contains("talkgroups_route_sends_total{outcome=\"delivered\"} 2\n"),
            "{b}"
        );
        assert!(b.contains("# TYPE talkgroups_outbox_depth gauge"), "{b}");
    }
}
