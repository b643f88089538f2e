//! The core's own memory per member, counted by a wrapping allocator (as
//! glibc's malloc would hand it out: header and rounding included): a
//! repeatable figure (unlike RSS, it does not depend on the allocator's
//! arenas, the code pages or the machine), to compare before/after a change
//! of the member structures. Builds a core from a snapshot of N members of
//! one group (as at start), brings every member online with one resource,
//! and prints one JSON line per N:
//!
//! `{"bench":"memory","members":N,"live_bytes_per_member":…,
//!   "loaded_bytes_per_member":…,"peak_bytes_per_member":…}`
//!
//! `loaded`: after `Core::new`; `live`: with everyone online; `peak`: the
//! most held at any moment, the snapshot included.
//!
//! Then a login storm: every member probes the group once, and a
//! `{"bench":"probe_storm",…,"us_per_probe":…}` line gives the core's time
//! per answer; and 1 000 newcomers join (`{"bench":"join_storm",…}`: each
//! gets default names checked against the group and is announced to every
//! online member). Wall clock, with the counting allocator in place.
//!
//! Run: `cargo bench --bench memory` (a few seconds).

use std::alloc::{GlobalAlloc, Layout, System};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use minidom::Element;
use talkgroups::core::model::{GroupRecord, JoinPolicy, MemberRecord, MemberState, Snapshot};
use talkgroups::core::{Core, CoreConfig, Input};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// What glibc's malloc takes for a block of `size` bytes: an 8-byte
/// header, rounded up to 16, at least 32.
fn chunk(size: usize) -> usize {
    (size + 8).div_ceil(16).max(2) * 16
}

fn grew(size: usize) {
    let n = chunk(size);
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(size: usize) {
    LIVE.fetch_sub(chunk(size), Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only
// observe the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grew(l.size());
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        grew(l.size());
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        shrank(l.size());
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        shrank(l.size());
        grew(new);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const DOMAIN: &str = "groups.localhost";

fn config() -> CoreConfig {
    CoreConfig {
        domain: DOMAIN.into(),
        service_name: "talkgroups".into(),
        lang: Default::default(),
        version: "bench".into(),
        service_admins: Vec::new(),
        offline: talkgroups::core::OfflineMode::Catchup,
        catchup_max: 50,
        burst: 10,
        window_ms: 10_000,
        max_body: 10_000,
        ping_ms: 120_000,
        history_days: 30,
        history_max: 10_000,
        route_max_age_ms: 86_400_000,
        groups: Vec::new(),
        shared_copy_ids: false,
        multicast: None,
        bridges: Vec::new(),
        mucs: Vec::new(),
    }
}

fn snapshot(members: usize) -> Snapshot {
    let mut snap = Snapshot {
        groups: vec![GroupRecord {
            name: "lobby".into(),
            title: "Lobby".into(),
            join: JoinPolicy::Open,
            created_at: 0,
        }],
        instance_id: "bench".into(),
        max_member_id: members as i64,
        ..Snapshot::default()
    };
    // As the store loads them: ordered by group, then JID.
    let mut jids: Vec<String> = (1..=members).map(|i| format!("u{i}@localhost")).collect();
    jids.sort();
    for (i, jid) in jids.into_iter().enumerate() {
        let handle = jid.split('@').next().unwrap_or_default().to_string();
        snap.members.push(MemberRecord {
            id: i as i64 + 1,
            group: "lobby".into(),
            jid: jid.into(),
            state: MemberState::Member,
            admin: i == 0,
            nick: handle.clone(),
            fid: handle,
            fid_changed: false,
            muted: false,
            stop_until: None,
            joined_at: 0,
            last_seen: 0,
            offline_seq: Some(0),
            lang: None,
        });
    }
    snap
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("memory: a benchmark; run it with `cargo bench --bench memory` (skipped)");
        return;
    }
    for members in [1_000usize, 10_000, 100_000] {
        run(members);
    }
}

fn run(members: usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let snap = snapshot(members);
    let mut out = Vec::new();
    let mut core = Core::new(config(), snap, 0, &mut out);
    out.clear();
    out.shrink_to_fit();
    let loaded = LIVE.load(Ordering::Relaxed) - base;
    for i in 1..=members {
        let el = Element::from_str(&format!(
            "<presence xmlns='jabber:component:accept' from='u{i}@localhost/phone' \
             to='lobby@{DOMAIN}'/>"
        ))
        .expect("a valid presence");
        core.handle(1_000, Input::Stanza(el), &mut out);
        out.clear();
    }
    out.shrink_to_fit();
    let (_, online) = core.counts();
    assert_eq!(online, members, "every member should be online");
    let live = LIVE.load(Ordering::Relaxed) - base;
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let n = members as f64;
    println!(
        "{{\"bench\":\"memory\",\"members\":{members},\"live_bytes_per_member\":{:.0},\
         \"loaded_bytes_per_member\":{:.0},\"peak_bytes_per_member\":{:.0}}}",
        live as f64 / n,
        loaded as f64 / n,
        peak as f64 / n,
    );
    probe_storm(&mut core, members);
    join_storm(&mut core, members);
    drop(core);
}

/// Newcomers subscribing to a group of `members` (an open group: each
/// gets default names, unique in the group). Prints the core's time per
/// join.
fn join_storm(core: &mut Core, members: usize) {
    const JOINS: usize = 1_000;
    let subs = presences(JOINS, "subscribe", |i| format!("new{i}@elsewhere"));
    let secs = feed(core, subs, 10_000, 1);
    println!(
        "{{\"bench\":\"join_storm\",\"members\":{members},\"joins\":{JOINS},\
         \"us_per_join\":{:.1}}}",
        secs * 1e6 / JOINS as f64
    );
}

/// A login storm: every member's server probes the group within a few
/// seconds (a server restart). Prints the core's time per probe answer
/// (parsing the stanza excluded), the figure that was linear in the group's
/// size while every answer counted the group.
fn probe_storm(core: &mut Core, members: usize) {
    let probes = presences(members, "probe", |i| format!("u{i}@localhost/phone"));
    // Spread over 5 s of the core's clock, 1 ms apart at most.
    let secs = feed(core, probes, 2_000, (5_000 / members as i64).max(1));
    println!(
        "{{\"bench\":\"probe_storm\",\"members\":{members},\"probes\":{members},\
         \"us_per_probe\":{:.2},\"total_ms\":{:.1}}}",
        secs * 1e6 / members as f64,
        secs * 1e3
    );
}

/// `n` presences of `kind` to the group, from `from(1..=n)`, parsed.
fn presences(n: usize, kind: &str, from: impl Fn(usize) -> String) -> Vec<Element> {
    (1..=n)
        .map(|i| {
            Element::from_str(&format!(
                "<presence xmlns='jabber:component:accept' type='{kind}' \
                 from='{}' to='lobby@{DOMAIN}'/>",
                from(i)
            ))
            .expect("a valid presence")
        })
        .collect()
}

/// Hands the stanzas to the core, the k-th at `t0 + k * step` ms of its
/// clock; returns the wall time taken, in seconds.
fn feed(core: &mut Core, stanzas: Vec<Element>, t0: i64, step: i64) -> f64 {
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    for (k, el) in stanzas.into_iter().enumerate() {
        core.handle(t0 + k as i64 * step, Input::Stanza(el), &mut out);
        out.clear();
    }
    start.elapsed().as_secs_f64()
}
