//! A local HTTP server standing in for the far side of a send route: it
//! records every request and answers as the services would.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

/// What a sink received: path, headers, body.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A local HTTP server that records every request and answers as the
/// services would (WeCom and Feishu answer with a zero error code).
pub struct Sink {
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Listens on 127.0.0.1:`port`.
    pub async fn start(port: u16) -> Sink {
        Sink::start_slow(port, Duration::ZERO).await
    }

    /// As `start`, answering each request only after `delay` (it is
    /// recorded on arrival).
    pub async fn start_slow(port: u16, delay: Duration) -> Sink {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let h = hits.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let h = h.clone();
                async move {
                    let path = uri.path().to_string();
                    h.lock().unwrap().push(Hit {
                        path: path.clone(),
                        headers,
                        body: body.to_vec(),
                    });
                    tokio::time::sleep(delay).await;
                    let answer = match path.as_str() {
                        "/wecom" => r#"{"errcode":0,"errmsg":"ok"}"#,
                        "/feishu" => r#"{"code":0,"msg":"success"}"#,
                        _ => "{}",
                    };
                    (StatusCode::OK, answer).into_response()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind sink");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Sink { hits, task }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits();
            if hits.len() >= n || Instant::now() > deadline {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
