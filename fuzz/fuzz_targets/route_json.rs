//! Any body posted to a receive route — signed (native JSON), unsigned JSON
//! and form-encoded (outgoing webhooks) — and the parsers alone: no panic.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use talkgroups::core::route::RoutePost;
use talkgroups::core::{webhook, Input};

fuzz_target!(|data: &[u8]| {
    let _ = webhook::parse_native(data, common::NOW);
    let _ = webhook::parse_webhook(data, false);
    let _ = webhook::parse_webhook(data, true);
    let mut core = common::core();
    let ts = (common::NOW / 1000).to_string();
    let sig = webhook::sign("password1", &ts, data);
    let posts = [
        (Some(ts.clone()), Some(sig), false),
        (None, None, false),
        (None, None, true),
    ];
    let mut out = Vec::new();
    for (token, (timestamp, signature, form)) in posts.into_iter().enumerate() {
        core.handle(
            common::NOW,
            Input::RoutePost(RoutePost {
                token: token as u64,
                group: "lobby".into(),
                route: "froma".into(),
                body: data.to_vec(),
                form,
                timestamp,
                signature,
            }),
            &mut out,
        );
    }
});
