//! Micro-benchmark behind the first item of BENCHMARKS.md's "Optimizations
//! to try": what one relayed copy costs when it is built as a minidom
//! `Element` and serialized by rxml (what `core::relay` + the XMPP writer do
//! today, modelled here with `Element::write_to`, which uses the same rxml
//! encoder as tokio-xmpp's writer but skips its xso item layer), against
//! serializing the stanza once per message and patching only `to` and `id`
//! per recipient.
//!
//! It does not run the component: it only bounds what the second approach
//! can save. Usage: `cargo bench --bench serialize [-- --members N --copies C
//! --only element|template]`.
//! Prints one JSON line.

use std::time::Instant;

use minidom::Element;

const NS_COMPONENT: &str = "jabber:component:accept";
const NS_NICK: &str = "http://jabber.org/protocol/nick";
const GROUP: &str = "lobby@groups.localhost";

fn main() {
    // Under `cargo test --all-targets` (no `--bench`): skip, see
    // benches/common/mod.rs.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("serialize: a benchmark; run it with `cargo bench --bench serialize` (skipped)");
        return;
    }
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut members = 1000usize;
    let mut total = 2_000_000usize;
    // `--only element|template`: run one side (for instruction counts).
    let mut only = String::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--members" => members = args.next().and_then(|v| v.parse().ok()).expect("number"),
            "--only" => only = args.next().expect("element or template"),
            "--copies" => total = args.next().and_then(|v| v.parse().ok()).expect("number"),
            other => panic!("unknown argument {other:?}"),
        }
    }
    let jids: Vec<String> = (1..=members).map(|i| format!("u{i}@localhost")).collect();
    let nick = "u42";
    let line = format!(
        "[{nick}] The quick brown fox jumps over the lazy dog; a typical chat line of about a hundred bytes. #1"
    );
    let messages = (total / members).max(1);

    // Today: one Element per copy (as core::relay builds it), serialized.
    let mut out: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut bytes_a = 0usize;
    let t = Instant::now();
    for seq in (1..=messages).filter(|_| only != "template") {
        for (rid, to) in jids.iter().enumerate() {
            let el = Element::builder("message", NS_COMPONENT)
                .attr("type".try_into().unwrap(), "chat")
                .attr("from".try_into().unwrap(), GROUP)
                .attr("to".try_into().unwrap(), to.as_str())
                .attr("id".try_into().unwrap(), format!("tgm-{seq}-{rid}"))
                .append(
                    Element::builder("body", NS_COMPONENT)
                        .append(line.as_str())
                        .build(),
                )
                .append(Element::builder("nick", NS_NICK).append(nick).build())
                .build();
            el.write_to(&mut out).unwrap();
            if seq == 1 && rid == 0 {
                eprintln!("element:  {}", String::from_utf8_lossy(&out));
            }
            bytes_a += out.len();
            out.clear();
        }
    }
    let a = t.elapsed().as_secs_f64();

    // Proposed: serialize once per message, patch `to` and `id`.
    let mut bytes_b = 0usize;
    let t = Instant::now();
    for seq in (1..=messages).filter(|_| only != "element") {
        let head = format!("<message xmlns='{NS_COMPONENT}' type='chat' from='{GROUP}' to='");
        let tail = format!(
            "'><body>{}</body><nick xmlns='{NS_NICK}'>{}</nick></message>",
            escape(&line),
            escape(nick)
        );
        let id_prefix = format!("' id='tgm-{seq}-");
        for (rid, to) in jids.iter().enumerate() {
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(escape(to).as_bytes());
            out.extend_from_slice(id_prefix.as_bytes());
            push_num(&mut out, rid as u64);
            out.extend_from_slice(tail.as_bytes());
            if seq == 1 && rid == 0 {
                eprintln!("template: {}", String::from_utf8_lossy(&out));
            }
            bytes_b += out.len();
            out.clear();
        }
    }
    let b = t.elapsed().as_secs_f64();
    let copies = (messages * members) as f64;
    eprintln!(
        "{} copies; {:.0} vs {:.0} bytes per copy",
        copies,
        bytes_a as f64 / copies,
        bytes_b as f64 / copies
    );
    println!(
        "{{\"bench\":\"serialize\",\"members\":{members},\"copies\":{copies},\
         \"element_ns_per_copy\":{:.0},\"template_ns_per_copy\":{:.0},\"speedup\":{:.1}}}",
        a / copies * 1e9,
        b / copies * 1e9,
        a / b
    );
}

fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['&', '<', '>', '\'', '"']) {
        return s.into();
    }
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
        .into()
}

fn push_num(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}
