//! The web admin page (`GET /admin/`): one HTML page, a stylesheet and a
//! plain ES module, built into the binary. The page talks to `/api/v1`
//! with the token typed into it; the server only hands out the files.
//!
//! The headers forbid everything the page does not need: no script or
//! style from anywhere but here, no framing, no referrer, and the API as
//! the only place it connects to.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("admin/index.html");
const SCRIPT: &str = include_str!("admin/admin.js");
const STYLE: &str = include_str!("admin/admin.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The page's routes, to be merged into the listener's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route(
            "/admin/",
            get(|| async { file(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/admin/admin.js",
            get(|| async { file(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/admin/strings.json",
            get(|| async {
                let body: &'static str = strings();
                file(body, "application/json")
            }),
        )
        .route(
            "/admin/admin.css",
            get(|| async { file(STYLE, "text/css; charset=utf-8") }),
        )
}

/// The page's labels from the message files (built once).
fn strings() -> &'static str {
    static STRINGS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STRINGS.get_or_init(crate::core::i18n::web_strings)
}

fn file(body: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A new binary may bring a new page: always ask.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str) -> Response {
        routes::<()>()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_page_its_files_and_their_headers() {
        let r = get("/admin").await;
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(r.headers()[header::LOCATION], "/admin/");
        for (path, ctype) in [
            ("/admin/", "text/html"),
            ("/admin/admin.js", "text/javascript"),
            ("/admin/admin.css", "text/css"),
            ("/admin/strings.json", "application/json"),
        ] {
            let r = get(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let h = r.headers();
            assert!(h[header::CONTENT_TYPE].to_str().unwrap().starts_with(ctype));
            assert!(h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"));
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
    }

    /// Every label the page asks for (`t("key")`, `data-t="key"`) is a
    /// `web-` message in both files, and the page holds no text of its own.
    #[test]
    fn the_pages_labels_come_from_the_message_files() {
        let all: serde_json::Value = serde_json::from_str(strings()).unwrap();
        let (en, zh) = (
            all["en"].as_object().unwrap(),
            all["zh"].as_object().unwrap(),
        );
        assert_eq!(en.keys().collect::<Vec<_>>(), zh.keys().collect::<Vec<_>>());
        assert_eq!(zh["confirm_kick"], "确定把 {jid} 移出本群吗？");
        assert!(!strings().contains("{$") && !strings().contains("{ $"));
        let mut used = Vec::new();
        for (text, open) in [(SCRIPT, "t(\""), (INDEX, "data-t=\"")] {
            for (at, _) in text.match_indices(open) {
                // `t(` itself, not the end of `post(`.
                let before = text[..at].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' || before == '.' {
                    continue;
                }
                let key: String = (text[at + open.len()..].chars())
                    .take_while(|c| *c != '"')
                    .collect();
                used.push(key);
            }
        }
        assert!(used.len() > 40, "{used:?}");
        for key in &used {
            assert!(en.contains_key(key), "{key} is not a web- message");
        }
        // What a data-t element holds before the labels arrive: nothing.
        for part in INDEX.split("data-t=\"").skip(1) {
            let after_tag = part.split_once('>').map_or("", |(_, r)| r);
            assert!(after_tag.starts_with("</"), "text in the page: {part}");
        }
        assert!(!SCRIPT.contains("Sign in") && !SCRIPT.contains("STRINGS = {"));
    }

    /// No external assets: nothing the page loads comes from elsewhere.
    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for text in [INDEX, SCRIPT, STYLE] {
            for bad in ["http://", "https://", "//cdn", "@import", "url("] {
                assert!(!text.contains(bad), "{bad} in the admin page");
            }
        }
        // Data reaches the page as text, never as markup.
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
    }
}
