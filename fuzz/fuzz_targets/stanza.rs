//! Any XML inside a message, presence or IQ from a member, a stranger or
//! a bogus sender, to the group, the domain or an unknown JID: no panic.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

const FROM: [&str; 4] = ["bob@localhost/r", "eve@localhost", "alice@localhost/r", "x"];
const TO: [&str; 3] = [common::G, common::D, "nosuch@groups.localhost"];
const KIND: [&str; 3] = ["message", "presence", "iq"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(inner) = std::str::from_utf8(rest) else {
        return;
    };
    let p = pick as usize;
    let kind = KIND[p % 3];
    let from = FROM[(p / 3) % 4];
    let to = TO[(p / 12) % 3];
    let mut core = common::core();
    // Whole stanzas the fuzzer writes itself, and payloads in a frame.
    common::feed(&mut core, inner);
    common::feed(
        &mut core,
        &format!("<{kind} xmlns='jabber:component:accept' from='{from}' to='{to}' id='f1'{inner}</{kind}>"),
    );
});
