//! Store writes and durability: which batches need power-loss safety,
//! a snapshot round trip through the store, and a rebuilt core that keeps
//! who is online.

use super::*;

#[test]
fn only_acknowledging_batches_need_power_loss_durability() {
    let mut t = three();
    t.core.take_acknowledged();
    t.say("alice", "a relay");
    assert!(!t.core.take_acknowledged(), "relays need only crash safety");
    t.pres("bob@localhost/r", G, Some("unavailable"));
    assert!(!t.core.take_acknowledged(), "online marks too");
    t.cmd("bob", "//nick Bobby");
    assert!(t.core.take_acknowledged(), "an OK must survive power loss");
    t.pres("dave@localhost", G, Some("subscribe"));
    assert!(t.core.take_acknowledged(), "joining");
    t.pres(C, G, Some("unsubscribe"));
    assert!(t.core.take_acknowledged(), "leaving");
}

#[test]
fn snapshot_round_trip_rebuilds_the_same_core() {
    let mut t = three();
    t.cmd("bob", "//block carol");
    t.say("alice", "kept");
    // Collect every store op since start into an in-memory store.
    let mut store = crate::store::Store::open_in_memory().unwrap();
    let mut all = Vec::new();
    let cfg = config("[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n");
    let mut core = Core::new(cfg.core(), Snapshot::default(), 0, &mut all);
    for (from, to, ty) in [
        (A, G, "subscribe"),
        (B, G, "subscribe"),
        (C, G, "subscribe"),
    ] {
        core.handle(0, Input::Stanza(presence_el(from, to, Some(ty))), &mut all);
    }
    let el = message_el(&full("alice"), G, None, vec![body_el("kept")]);
    core.handle(0, Input::Stanza(el), &mut all);
    let ops: Vec<StoreOp> = all
        .into_iter()
        .filter_map(|o| match o {
            Output::Store(s) => Some(s),
            _ => None,
        })
        .collect();
    store.apply(&ops).unwrap();
    let snap = store.load(crate::core::RING).unwrap();
    assert_eq!(snap.members.len(), 3);
    assert_eq!(snap.history.len(), 1);
    let mut out = Vec::new();
    let again = Core::new(cfg.core(), snap, 0, &mut out);
    assert_eq!(again.groups["lobby"].member_count(), 3);
    assert_eq!(again.groups["lobby"].history.len(), 1);
}

#[test]
fn a_rebuilt_core_keeps_who_is_online_without_probing() {
    let mut t = three();
    let snap = {
        // What the database would hold: the members, none online.
        let mut store = crate::store::Store::open_in_memory().unwrap();
        let ops: Vec<StoreOp> = t
            .core
            .groups
            .values()
            .flat_map(|g| {
                std::iter::once(StoreOp::UpsertGroup(g.record())).chain(
                    g.members
                        .values()
                        .map(|m| StoreOp::UpsertMember(m.rec.clone())),
                )
            })
            .collect();
        store.apply(&ops).unwrap();
        store.load(crate::core::RING).unwrap()
    };
    let mut out = Vec::new();
    let mut fresh = Core::new(t.core.cfg.clone(), snap, t.now, &mut out);
    assert_eq!(fresh.counts(), (3, 0));
    fresh.adopt_volatile(&t.core);
    assert_eq!(fresh.counts(), (3, 3));
    t.core = fresh;
    t.say("alice", "after the rebuild");
    assert_eq!(t.bodies(B), ["[alice] after the rebuild"]);
}
