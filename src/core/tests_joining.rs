//! Joining and leaving: the open, approve and invite policies, the
//! blacklist, unsubscribing and //leave, default names, and who becomes
//! admin when the last one goes.

use super::*;

#[test]
fn open_join_handshake_welcome_and_announcement() {
    let mut t = open_group("");
    t.join("alice");
    t.pres("bob@localhost", G, Some("subscribe"));
    assert_eq!(
        t.presences(B),
        vec![Some("subscribed".into()), Some("subscribe".into()), None]
    );
    assert!(t.one_body(B).contains("Welcome to Lobby"));
    assert_eq!(t.one_body(A), "*** bob joined");
    assert!(t.stores().iter().any(
        |s| matches!(s, StoreOp::UpsertMember(r) if *r.jid == *B && r.state == MemberState::Member)
    ));
}

#[test]
fn approve_policy_queues_and_notifies_online_admins() {
    let mut t =
        T::new("[[group]]\nname = \"lobby\"\njoin = \"approve\"\nadmins = [\"alice@localhost\"]\n");
    t.join("alice");
    assert_eq!(
        t.member_state("alice"),
        Some(MemberState::Member),
        "config admin accepted at once"
    );
    t.pres(B, G, Some("subscribe"));
    assert_eq!(t.member_state("bob"), Some(MemberState::Pending));
    assert!(t.presences(B).is_empty(), "no subscribed yet");
    assert!(t.one_body(B).contains("waits for an admin"));
    assert_eq!(
        t.one_body(A),
        "bob@localhost asks to join — //add bob@localhost or //allok"
    );
    // A pending user's message is not relayed.
    t.say("bob", "hi");
    assert!(t.one_body(B).contains("waits for an admin"));
    assert!(t.bodies(A).is_empty());
    // Approve.
    let r = t.cmd("alice", "//add bob@localhost");
    assert!(r.contains("now a member"), "{r}");
    assert_eq!(t.member_state("bob"), Some(MemberState::Member));
    assert_eq!(
        t.presences(B)[..2],
        [Some("subscribed".into()), Some("subscribe".into())]
    );
}

#[test]
fn admins_coming_online_hear_about_waiting_requests() {
    let mut t =
        T::new("[[group]]\nname = \"lobby\"\njoin = \"approve\"\nadmins = [\"alice@localhost\"]\n");
    t.join("alice");
    t.pres("alice@localhost/r", G, Some("unavailable"));
    t.pres(B, G, Some("subscribe"));
    assert!(t.bodies(A).is_empty(), "alice is offline");
    t.pres("alice@localhost/r", G, None);
    assert_eq!(
        t.one_body(A),
        "1 waiting to join lobby: bob@localhost — //add JID or //allok"
    );
}

#[test]
fn allok_approves_everyone_pending() {
    let mut t =
        T::new("[[group]]\nname = \"lobby\"\njoin = \"approve\"\nadmins = [\"alice@localhost\"]\n");
    t.join("alice");
    t.pres(B, G, Some("subscribe"));
    t.pres(C, G, Some("subscribe"));
    let r = t.cmd("alice", "//allok");
    assert!(r.contains("approved 2"), "{r}");
    assert_eq!(t.member_state("bob"), Some(MemberState::Member));
    assert_eq!(t.member_state("carol"), Some(MemberState::Member));
    assert_eq!(t.cmd("alice", "//allok"), "No pending requests.");
}

#[test]
fn invite_policy_refuses_unless_invited() {
    let mut t =
        T::new("[[group]]\nname = \"lobby\"\njoin = \"invite\"\nadmins = [\"alice@localhost\"]\n");
    t.join("alice");
    t.pres(B, G, Some("subscribe"));
    assert_eq!(t.presences(B), vec![Some("unsubscribed".into())]);
    assert_eq!(t.member_state("bob"), None);
    // Invite: the group asks bob; bob accepts -> member.
    let r = t.cmd("alice", "//add bob@localhost");
    assert!(r.contains("invited"), "{r}");
    assert_eq!(t.presences(B), vec![Some("subscribe".into())]);
    assert_eq!(t.member_state("bob"), Some(MemberState::Invited));
    t.pres(B, G, Some("subscribed"));
    assert_eq!(t.member_state("bob"), Some(MemberState::Member));
    assert!(t.one_body(B).contains("Welcome"));
}

#[test]
fn invited_user_who_subscribes_is_accepted() {
    let mut t =
        T::new("[[group]]\nname = \"lobby\"\njoin = \"invite\"\nadmins = [\"alice@localhost\"]\n");
    t.join("alice");
    t.cmd("alice", "//add bob@localhost");
    t.pres(B, G, Some("subscribe"));
    assert_eq!(t.member_state("bob"), Some(MemberState::Member));
}

#[test]
fn blacklisted_cannot_rejoin_and_nothing_is_stored() {
    let mut t = three();
    assert_eq!(
        t.cmd("alice", "//blacklist bob@localhost"),
        "OK, bob@localhost is blacklisted."
    );
    assert_eq!(t.member_state("bob"), None);
    assert!(t.presences(B).contains(&Some("unsubscribed".into())));
    t.pres(B, G, Some("subscribe"));
    assert_eq!(t.presences(B), vec![Some("unsubscribed".into())]);
    assert!(t.stores().is_empty());
    // //add refuses; //pass lifts it.
    assert!(t.cmd("alice", "//add bob@localhost").contains("//pass"));
    assert_eq!(
        t.cmd("alice", "//pass bob@localhost"),
        "OK, bob@localhost may join again."
    );
    t.pres(B, G, Some("subscribe"));
    assert_eq!(t.member_state("bob"), Some(MemberState::Member));
}

#[test]
fn unsubscribe_leaves_and_announces() {
    let mut t = three();
    t.pres(B, G, Some("unsubscribe"));
    assert_eq!(t.member_state("bob"), None);
    assert_eq!(t.one_body(A), "*** bob left");
    assert!(t.stores().contains(&&StoreOp::DeleteMember {
        group: "lobby".into(),
        jid: B.into()
    }));
    t.pres(C, G, Some("unsubscribed"));
    assert_eq!(t.member_state("carol"), None);
}

#[test]
fn leave_command() {
    let mut t = three();
    t.say("bob", "//leave");
    assert_eq!(t.one_body(B), "You left Lobby.");
    assert_eq!(t.member_state("bob"), None);
    assert_eq!(t.one_body(A), "*** bob left");
}

#[test]
fn default_names_get_numbers_on_clash() {
    let mut t = open_group("");
    t.join("alice");
    t.pres("alice@other.example", G, Some("subscribe"));
    let m = &t.core.groups["lobby"].members["alice@other.example"];
    assert_eq!(
        (m.rec.nick.as_str(), m.rec.fid.as_str()),
        ("alice2", "alice2")
    );
}

#[test]
fn when_the_last_admin_leaves_the_longest_standing_member_takes_over() {
    let mut t = three();
    t.later(10);
    assert!(t.core.groups["lobby"].members[A].rec.admin);
    t.pres(A, G, Some("unsubscribe"));
    assert!(t.core.groups["lobby"].members[B].rec.admin);
    assert!(!t.core.groups["lobby"].members[C].rec.admin);
    assert_eq!(t.bodies(B)[0], "*** alice left");
    assert!(t.bodies(B)[1].contains("you are its admin now"));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::UpsertMember(m) if *m.jid == *B && m.admin)));
    // Nobody can take the last admin's flag away, not even a service admin.
    assert_eq!(
        t.cmd("root", "//unadmin bob@localhost"),
        "bob@localhost is the last admin: make someone else admin first."
    );
    // Not while another admin remains.
    t.cmd("bob", "//admin carol@localhost");
    t.cmd("bob", "//leave");
    assert!(t.core.groups["lobby"].members[C].rec.admin);
    assert!(t.bodies(C).iter().all(|b| !b.contains("admin now")));
}
