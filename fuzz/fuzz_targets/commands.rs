//! Any sequence of `//` commands from members, a stranger and the service
//! admin, to the group and to the service domain: no panic.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use talkgroups::core::Input;

const SENDERS: [&str; 4] = [
    "alice@localhost/r",
    "bob@localhost/r",
    "eve@localhost/r",
    "root@localhost/r",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut core = common::core();
    let mut out = Vec::new();
    for line in text.lines().take(64) {
        let mut chars = line.chars();
        let pick = chars.next().map_or(0, |c| c as usize);
        let from = SENDERS[pick % SENDERS.len()];
        let to = if pick & 4 == 0 { common::G } else { common::D };
        let body = format!("//{}", chars.as_str());
        core.handle(
            common::NOW,
            Input::Stanza(common::message(from, to, &body)),
            &mut out,
        );
        out.clear();
    }
});
