//! The HTTP client for send routes (reqwest with rustls): carries out the
//! core's `Output::Http` and reports each attempt as a `Delivery`. The core
//! decides order, retries and give-up; this only moves bytes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OnceCell};

use crate::core::route::{Delivery, HttpSend, Outcome};

/// At most this much of an answer is read (error codes, messages).
const MAX_ANSWER: usize = 4096;

#[derive(Clone)]
pub struct Sender {
    /// Built on the first send: the TLS stack (rustls, its crypto and
    /// certificate code) costs about 2.8 MB of RSS in a process that never
    /// uses it, and most installations have no send route. Building reads
    /// the system's CA certificates, so it runs on a blocking thread.
    client: Arc<OnceCell<Result<reqwest::Client, String>>>,
    results: mpsc::Sender<Delivery>,
}

impl Sender {
    pub fn new(results: mpsc::Sender<Delivery>) -> Sender {
        Sender {
            client: Arc::default(),
            results,
        }
    }

    /// Starts the attempt; its outcome arrives on the results channel.
    pub fn send(&self, s: HttpSend) {
        let client = self.client.clone();
        let results = self.results.clone();
        tokio::spawn(async move {
            let built = client
                .get_or_init(|| async {
                    tokio::task::spawn_blocking(build_client)
                        .await
                        .unwrap_or_else(|e| Err(format!("cannot set up the HTTP client: {e}")))
                })
                .await;
            let outcome = match built {
                Ok(client) => attempt(client, &s).await,
                Err(e) => Outcome::Failed(e.clone()),
            };
            let _ = results
                .send(Delivery {
                    outbox_id: s.outbox_id,
                    group: s.group,
                    route: s.route,
                    outcome,
                })
                .await;
        });
    }
}

fn build_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("talkgroups/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        // A redirected POST would turn into a GET: report it instead.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            tracing::error!(error = %e, "cannot set up the HTTP client");
            format!("cannot set up the HTTP client: {e}")
        })
}

async fn attempt(client: &reqwest::Client, s: &HttpSend) -> Outcome {
    let mut req = client.post(&s.req.url).body(s.req.body.clone());
    for (name, value) in &s.req.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        // Without the URL: webhook URLs are secrets.
        Err(e) => return Outcome::Failed(describe(&e)),
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                if (200..300).contains(&status) {
                    // Accepted; a broken answer body does not undo that.
                    break;
                }
                return Outcome::Failed(describe(&e));
            }
        }
    }
    body.truncate(MAX_ANSWER);
    Outcome::Response {
        status,
        body,
        retry_after,
    }
}

/// A short reason without the URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "broken answer"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
