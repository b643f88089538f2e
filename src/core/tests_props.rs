//! Property tests: any sequence of joins, leaves, messages and commands
//! from any members keeps the group's invariants, and the database, fed
//! the core's store writes, always holds what the core holds.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::core::model::MemberRecord;
use crate::core::{names, Member, RING};
use crate::store::Store;

const USERS: [&str; 6] = ["alice", "bob", "carol", "dave", "AIice", "eve"];

#[derive(Debug, Clone)]
enum Op {
    Subscribe(usize),
    Online(usize),
    Offline(usize),
    Unsubscribe(usize),
    Say(usize),
    Cmd(usize, String),
    /// A command from the service admin (who is not a member).
    Root(String),
}

fn jid_arg() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..USERS.len()).prop_map(|u| format!("{}@localhost", USERS[u].to_lowercase())),
        Just("stranger@localhost".to_string()),
        Just("not a jid".to_string()),
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "alice",
        "Alice",
        "ALICE",
        "\u{430}lice",
        "AIice",
        "bob",
        "b0b",
        "x",
        "x2",
        "carol",
        "dave",
        "u0",
        "U0",
        "eve",
        "a\u{200B}b",
        "[bob]",
        "-1",
        "5",
        "99999999999999",
    ])
    .prop_map(str::to_string)
}

fn command() -> impl Strategy<Value = String> {
    prop_oneof![
        word().prop_map(|w| format!("//nick {w}")),
        word().prop_map(|w| format!("//setid {w}")),
        word().prop_map(|w| format!("//block {w}")),
        word().prop_map(|w| format!("//unblock {w}")),
        word().prop_map(|w| format!("//mute {w}")),
        word().prop_map(|w| format!("//m {w} hello")),
        word().prop_map(|w| format!("//stop {w}")),
        jid_arg().prop_map(|j| format!("//add {j}")),
        jid_arg().prop_map(|j| format!("//kick {j}")),
        jid_arg().prop_map(|j| format!("//blacklist {j}")),
        jid_arg().prop_map(|j| format!("//pass {j}")),
        jid_arg().prop_map(|j| format!("//admin {j}")),
        jid_arg().prop_map(|j| format!("//unadmin {j}")),
        (0..3u8).prop_map(|n| format!("//addroutesend r{n} password1 http://x/y")),
        (0..3u8).prop_map(|n| format!("//addrouterecv r{n} password1")),
        (0..3u8).prop_map(|n| format!("//delroute r{n}")),
        Just("//leave".to_string()),
        Just("//allok".to_string()),
        Just("//continue".to_string()),
        Just("//history 3".to_string()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0..USERS.len();
    prop_oneof![
        3 => u.clone().prop_map(Op::Subscribe),
        2 => u.clone().prop_map(Op::Online),
        1 => u.clone().prop_map(Op::Offline),
        1 => u.clone().prop_map(Op::Unsubscribe),
        2 => u.clone().prop_map(Op::Say),
        6 => (u, command()).prop_map(|(u, c)| Op::Cmd(u, c)),
        1 => command().prop_map(Op::Root),
    ]
}

fn user_jid(u: usize) -> String {
    format!("{}@localhost", USERS[u].to_lowercase())
}

/// The group's members as comparable rows.
fn rows(members: impl Iterator<Item = MemberRecordView>) -> BTreeSet<MemberRecordView> {
    members.collect()
}

type MemberRecordView = (String, &'static str, bool, String, String, bool);

fn view(m: &MemberRecord) -> MemberRecordView {
    (
        m.jid.to_string(),
        m.state.as_str(),
        m.admin,
        m.nick.clone(),
        m.fid.clone(),
        m.muted,
    )
}

fn check_invariants(t: &T, had_admin: &mut bool) -> Result<(), TestCaseError> {
    let g = &t.core.groups["lobby"];
    let members: Vec<&Member> = g.members.values().filter(|m| m.is_member()).collect();
    for (i, a) in members.iter().enumerate() {
        for b in &members[i + 1..] {
            prop_assert!(
                !names::nick_key(&a.rec.nick).clashes(&names::nick_key(&b.rec.nick)),
                "nicks clash: {:?} {:?}",
                a.rec.nick,
                b.rec.nick
            );
            prop_assert!(
                !a.rec.fid.eq_ignore_ascii_case(&b.rec.fid),
                "FIDs clash: {:?} {:?}",
                a.rec.fid,
                b.rec.fid
            );
        }
    }
    for jid in &g.blacklist {
        prop_assert!(!g.members.contains_key(jid), "blacklisted {jid} is listed");
    }
    // A group with no members starts over (admins come back from the
    // config, or by a service admin's //admin).
    if members.is_empty() {
        *had_admin = false;
    }
    if members.iter().any(|m| m.rec.admin) {
        *had_admin = true;
    }
    if *had_admin && !members.is_empty() {
        prop_assert!(
            members.iter().any(|m| m.rec.admin),
            "the group has members but lost its last admin"
        );
    }
    Ok(())
}

fn run(policy: &str, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut t = T::new(&format!(
        "[relay]\nburst = 1000\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"{policy}\"\nadmins = [\"alice@localhost\"]\n"
    ));
    let mut store = Store::open_in_memory().expect("store");
    let mut apply = |out: &[Output]| {
        let ops: Vec<StoreOp> = out
            .iter()
            .filter_map(|o| match o {
                Output::Store(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        store
            .apply(&ops)
            .map_err(|e| TestCaseError::fail(e.to_string()))
    };
    apply(&t.out)?;
    let mut had_admin = false;
    for op in ops {
        t.later(100);
        match &op {
            Op::Subscribe(u) => t.pres(&user_jid(*u), G, Some("subscribe")),
            Op::Online(u) => t.pres(&format!("{}/r", user_jid(*u)), G, None),
            Op::Offline(u) => t.pres(&format!("{}/r", user_jid(*u)), G, Some("unavailable")),
            Op::Unsubscribe(u) => t.pres(&user_jid(*u), G, Some("unsubscribe")),
            Op::Say(u) => t.msg(&format!("{}/r", user_jid(*u)), G, "hello"),
            Op::Cmd(u, c) => t.msg(&format!("{}/r", user_jid(*u)), G, c),
            Op::Root(c) => t.say("root", c),
        };
        apply(&t.out)?;
        check_invariants(&t, &mut had_admin)?;
    }
    // What the database holds is what the core holds.
    let snap = store
        .load(RING)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let g = &t.core.groups["lobby"];
    let stored = rows(snap.members.iter().map(view));
    let live = rows(g.members.values().map(|m| view(&m.rec)));
    prop_assert_eq!(stored, live);
    let stored_bl: BTreeSet<String> = snap.blacklist.iter().map(|(_, j)| j.clone()).collect();
    let live_bl: BTreeSet<String> = g.blacklist.iter().cloned().collect();
    prop_assert_eq!(stored_bl, live_bl);
    let stored_routes: BTreeSet<String> = snap.routes.iter().map(|r| r.name.clone()).collect();
    let live_routes: BTreeSet<String> = g.routes.keys().cloned().collect();
    prop_assert_eq!(stored_routes, live_routes);
    let stored_blocks: BTreeSet<(String, String)> = snap
        .blocks
        .iter()
        .map(|(_, j, b)| (j.clone(), b.clone()))
        .collect();
    let live_blocks: BTreeSet<(String, String)> = g
        .members
        .values()
        .flat_map(|m| m.blocks.iter().map(|b| (m.rec.jid.to_string(), b.clone())))
        .collect();
    prop_assert_eq!(stored_blocks, live_blocks);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn open_groups_keep_their_invariants(ops in prop::collection::vec(op(), 1..80)) {
        run("open", ops)?;
    }

    #[test]
    fn approve_groups_keep_their_invariants(ops in prop::collection::vec(op(), 1..80)) {
        run("approve", ops)?;
    }

    #[test]
    fn invite_groups_keep_their_invariants(ops in prop::collection::vec(op(), 1..80)) {
        run("invite", ops)?;
    }
}
