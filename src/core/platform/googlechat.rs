//! Google Chat: send-only, through a space's incoming webhook (inbound
//! would need a Chat app with Google-signed JWTs; every call gets 405).

use serde_json::json;

use super::super::webhook::HttpRequest;
use super::{json_request, key, merged, Keys, Line};

pub(crate) fn outbound(keys: &Keys, lines: &[Line<'_>]) -> HttpRequest {
    json_request(
        key(keys, "webhook").unwrap_or_default().to_string(),
        json!({ "text": merged(lines) }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::webhook::Verdict;
    use super::super::tests::keys;
    use super::super::{judge, outbound, Line, Platform};
    use serde_json::{json, Value};

    #[test]
    fn outbound_and_verdicts() {
        let k = keys(&[(
            "webhook",
            "https://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t",
        )]);
        let lines = [
            Line {
                nick: "a",
                text: "1",
            },
            Line {
                nick: "b",
                text: "/me 2",
            },
        ];
        let r = outbound(Platform::Googlechat, &k, &lines, 0);
        assert_eq!(
            r.url,
            "https://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t"
        );
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v, json!({"text": "[a] 1\n* b 2"}));
        assert_eq!(
            judge(Platform::Googlechat, 200, b"{}", None),
            Verdict::Delivered
        );
        assert!(matches!(
            judge(Platform::Googlechat, 429, b"", Some(9)),
            Verdict::Retry {
                after_secs: Some(9),
                ..
            }
        ));
    }
}
