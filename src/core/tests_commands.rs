//! Commands: help by rights, nicks and ids, private messages, //online,
//! //showinfo, //whois, //listuser, //history, admin management, service
//! commands, and every refusal path of the registry.

use super::*;

#[test]
fn nicks_cannot_imitate_another_member() {
    let mut t = three();
    for fake in [
        "\u{430}lice",
        "ALICE",
        "AIice",
        "al\u{200B}ice",
        "alice\u{202E}",
        "[alice]",
    ] {
        let r = t.cmd("bob", &format!("//nick {fake}"));
        assert!(!r.starts_with("OK"), "{fake:?} → {r}");
        assert!(t.stores().is_empty());
    }
    assert!(t.cmd("bob", "//nick alicia").starts_with("OK"));
}

#[test]
fn help_is_filtered_by_rights() {
    let mut t = three();
    let user = t.cmd("bob", "//help");
    assert!(user.contains("//nick") && !user.contains("//kick") && !user.contains("//newgroup"));
    let admin = t.cmd("alice", "//HELP");
    assert!(admin.contains("//kick") && admin.contains("//nick") && !admin.contains("//newgroup"));
    assert_eq!(
        t.cmd("bob", "//help nick"),
        "usage: //nick NAME — set your nickname\ne.g. //nick Bobby"
    );
    assert!(t.cmd("bob", "//help kick").starts_with("No command"));
    assert_eq!(
        t.cmd("bob", "//frobnicate"),
        "Unknown command //frobnicate. Send //help for the list."
    );
    assert_eq!(
        t.cmd("bob", "//kick carol@localhost"),
        "//kick is for group admins."
    );
}

#[test]
fn nick_rules() {
    let mut t = three();
    assert_eq!(t.cmd("bob", "//nick Bobby"), "OK, you are now Bobby.");
    assert_eq!(t.one_body(A), "*** bob is now Bobby");
    assert_eq!(t.cmd("carol", "//nick bobby"), "The nick bobby is taken.");
    assert!(t
        .cmd("carol", "//nick evil\u{202E}")
        .starts_with("Nick refused"));
    assert!(t
        .cmd("carol", &format!("//nick {}", "x".repeat(33)))
        .starts_with("Nick refused"));
    assert_eq!(
        t.cmd("carol", "//nick"),
        "usage: //nick NAME — set your nickname"
    );
    t.say("bob", "hi");
    assert_eq!(t.one_body(A), "[Bobby] hi");
}

#[test]
fn a_changed_nick_is_taken_and_the_old_one_free() {
    // Nick checks compare cached hashes of every member's nick key: the
    // first check fills them, a change must refresh bob's.
    let mut t = three();
    assert_eq!(t.cmd("carol", "//nick BOB"), "The nick BOB is taken.");
    assert_eq!(t.cmd("bob", "//nick robert"), "OK, you are now robert.");
    t.sent();
    assert_eq!(t.cmd("carol", "//nick Robert"), "The nick Robert is taken.");
    assert_eq!(t.cmd("carol", "//nick bob"), "OK, you are now bob.");
    // Default names of a newcomer avoid the new nicks too.
    t.sent();
    t.pres("robert@localhost", G, Some("subscribe"));
    assert!(
        t.one_body(A).starts_with("*** robert2 joined"),
        "{:?}",
        t.sent()
    );
}

#[test]
fn setid_once_and_unique() {
    let mut t = three();
    assert_eq!(t.cmd("bob", "//setid bob.x"), "OK, your id is now bob.x.");
    assert!(t.cmd("bob", "//setid other").contains("only once"));
    assert_eq!(t.cmd("carol", "//setid BOB.X"), "The id BOB.X is taken.");
    assert!(t.cmd("carol", "//setid bad id").starts_with("usage"));
    assert!(t.cmd("carol", "//setid b@d").starts_with("Id refused"));
    assert!(t.cmd("alice", "//whois bob.x").ends_with("bob@localhost"));
}

#[test]
fn private_message() {
    let mut t = three();
    t.say("alice", "//m bob  psst,  there");
    assert_eq!(t.one_body(A), "OK");
    assert_eq!(t.one_body(B), "[alice → you] psst,  there");
    assert!(t.bodies(C).is_empty());
    assert!(t.cmd("alice", "//m nobody hi").starts_with("No member"));
    assert!(t.cmd("alice", "//m bob").starts_with("usage: //m"));
}

#[test]
fn online_showinfo_whois_listuser() {
    let mut t = three();
    t.pres("carol@localhost/r", G, Some("unavailable"));
    assert_eq!(
        t.cmd("bob", "//online"),
        "Online (2 of 3): alice (alice), bob (bob)"
    );
    let info = t.cmd("bob", "//showinfo alice");
    assert!(
        info.contains("admin") && info.contains("online") && info.contains("joined 1970-01-01"),
        "{info}"
    );
    assert!(!info.contains("@"), "showinfo must not reveal the JID");
    assert_eq!(
        t.cmd("bob", "//whois alice"),
        "//whois is for group admins."
    );
    assert_eq!(
        t.cmd("alice", "//whois carol"),
        "carol (carol) is carol@localhost"
    );
    let list = t.cmd("alice", "//listuser");
    assert!(
        list.contains("bob@localhost — member, nick bob, id bob"),
        "{list}"
    );
}

#[test]
fn history_command() {
    let mut t = three();
    assert_eq!(t.cmd("bob", "//history"), "No messages yet.");
    for i in 0..25 {
        t.later(2000).say("alice", &format!("n{i}"));
    }
    let h = t.cmd("bob", "//history");
    assert_eq!(h.lines().count(), 21);
    assert!(h.lines().last().unwrap().ends_with("[alice] n24"));
    assert_eq!(t.cmd("bob", "//history 2").lines().count(), 3);
    assert_eq!(t.cmd("bob", "//history 999").lines().count(), 26);
    assert!(t.cmd("bob", "//history x").starts_with("usage"));
}

#[test]
fn admin_management_and_last_admin() {
    let mut t = three();
    assert_eq!(
        t.cmd("alice", "//unadmin alice@localhost"),
        "You are the last admin: make someone else admin first."
    );
    assert_eq!(t.cmd("alice", "//admin bob@localhost"), "OK");
    assert!(t.one_body(B).contains("now an admin"));
    assert_eq!(t.cmd("alice", "//unadmin alice@localhost"), "OK");
    assert_eq!(
        t.cmd("alice", "//kick carol@localhost"),
        "//kick is for group admins."
    );
    assert_eq!(
        t.cmd("bob", "//kick carol@localhost"),
        "OK, carol@localhost was removed."
    );
    assert_eq!(t.member_state("carol"), None);
    assert!(t
        .cmd("bob", "//admin zed@localhost")
        .contains("not a member"));
    assert!(t.cmd("bob", "//kick notajid").starts_with("usage"));
}

#[test]
fn add_resets_a_members_profile() {
    let mut t = three();
    t.cmd("bob", "//nick Robert");
    t.cmd("bob", "//setid rob");
    t.cmd("bob", "//block carol");
    let r = t.cmd("alice", "//add bob@localhost");
    assert!(r.contains("reset"), "{r}");
    let m = &t.core.groups["lobby"].members[B];
    assert_eq!(
        (m.rec.nick.as_str(), m.rec.fid.as_str(), m.rec.fid_changed),
        ("bob", "bob", false)
    );
    assert!(m.blocks.is_empty());
}

#[test]
fn service_commands() {
    let mut t = open_group("");
    t.msg("root@localhost/r", D, "//newgroup dev open");
    assert!(t
        .one_body("root@localhost")
        .starts_with("OK, created dev@groups.localhost"));
    assert!(t
        .stores()
        .iter()
        .any(|s| matches!(s, StoreOp::UpsertGroup(g) if g.name == "dev")));
    t.msg("root@localhost/r", D, "//newgroup dev");
    assert!(t.one_body("root@localhost").contains("already exists"));
    t.msg("root@localhost/r", D, "//newgroup Bad!");
    assert!(t.one_body("root@localhost").contains("refused"));
    t.msg("root@localhost/r", D, "//newgroup x maybe");
    assert!(t.one_body("root@localhost").starts_with("usage"));
    t.msg("root@localhost/r", D, "//groups");
    let g = t.one_body("root@localhost");
    assert!(g.contains("dev@groups.localhost") && g.contains("lobby@groups.localhost"));
    // Everyone else gets the joinable list, whatever they send.
    t.msg("eve@localhost/r", D, "//newgroup evil");
    assert!(t.one_body("eve@localhost").contains("Groups you can join"));
    assert!(!t.core.groups.contains_key("evil"));
    t.pres("bob@localhost", "dev@groups.localhost", Some("subscribe"));
    t.msg("root@localhost/r", D, "//delgroup dev");
    assert!(t.one_body("root@localhost").starts_with("OK, deleted"));
    assert!(t.stores().contains(&&StoreOp::DeleteGroup {
        group: "dev".into()
    }));
    assert!(t.bodies(B)[0].contains("was deleted"));
}

#[test]
fn service_admin_is_admin_everywhere() {
    let mut t = three();
    t.join("root");
    assert!(t.cmd("root", "//listuser").contains("entries"));
}

/// Every refusal path of the group commands: (user, command, expected reply prefix).
#[test]
fn command_refusals() {
    let mut t = three();
    t.cmd("bob", "//stop 100");
    let table: &[(&str, &str, &str)] = &[
        ("carol", "//showinfo nobody", "No member has the id nobody."),
        ("carol", "//showinfo", "usage: //showinfo ID"),
        ("carol", "//block carol", "You cannot block yourself."),
        ("carol", "//block nobody", "No member has the id nobody."),
        ("carol", "//unblock", "usage: //unblock ID"),
        ("carol", "//m carol hi", "That is you."),
        ("carol", "//m bob hi", "bob has paused the group"),
        ("carol", "//online now", "Online"),
        ("carol", "//continue please", "usage: //continue"),
        ("carol", "//history 0", "usage: //history [N]"),
        ("carol", "//history 1 2", "usage: //history [N]"),
        ("carol", "//stop -5", "usage: //stop SECONDS"),
        ("carol", "//help a b", "usage: //help [COMMAND]"),
        (
            "carol",
            "//newgroup x",
            "//newgroup is a service command: send it to groups.localhost.",
        ),
        (
            "carol",
            "//add dave@localhost",
            "//add is for group admins.",
        ),
        ("carol", "//mute bob", "//mute is for group admins."),
        ("carol", "//allok", "//allok is for group admins."),
        ("carol", "//listuser", "//listuser is for group admins."),
        (
            "carol",
            "//blacklist bob@localhost",
            "//blacklist is for group admins.",
        ),
        (
            "carol",
            "//pass bob@localhost",
            "//pass is for group admins.",
        ),
        (
            "carol",
            "//admin carol@localhost",
            "//admin is for group admins.",
        ),
        (
            "carol",
            "//unadmin alice@localhost",
            "//unadmin is for group admins.",
        ),
        ("carol", "//whois bob", "//whois is for group admins."),
        ("alice", "//add", "usage: //add JID"),
        ("alice", "//add not-a-jid", "usage: //add JID"),
        ("alice", "//whois nobody", "No member has the id nobody."),
        ("alice", "//kick alice@localhost", "Use //leave to leave."),
        (
            "alice",
            "//kick dave@localhost",
            "dave@localhost is not in this group.",
        ),
        (
            "alice",
            "//kick root@localhost",
            "root@localhost is not in this group.",
        ),
        (
            "alice",
            "//blacklist alice@localhost",
            "You cannot blacklist yourself.",
        ),
        (
            "alice",
            "//blacklist root@localhost",
            "A service admin cannot be blacklisted.",
        ),
        (
            "alice",
            "//pass dave@localhost",
            "dave@localhost is not blacklisted.",
        ),
        (
            "alice",
            "//admin dave@localhost",
            "dave@localhost is not a member.",
        ),
        (
            "alice",
            "//admin alice@localhost",
            "alice@localhost is already an admin.",
        ),
        (
            "alice",
            "//unadmin bob@localhost",
            "bob@localhost is not an admin.",
        ),
        ("alice", "//mute nobody", "No member has the id nobody."),
        ("alice", "//mute", "usage: //mute ID"),
        ("alice", "//allok now", "usage: //allok"),
    ];
    for (user, cmd, want) in table {
        let got = t.cmd(user, cmd);
        assert!(
            got.starts_with(want),
            "{user}: {cmd}\n  want: {want}\n  got:  {got}"
        );
    }
    // Nothing was changed by any of them.
    assert_eq!(t.core.groups["lobby"].member_count(), 3);
    assert!(t.core.groups["lobby"].blacklist.is_empty());
}

#[test]
fn non_members_and_pending_cannot_run_commands() {
    let mut t =
        T::new("[[group]]\nname = \"lobby\"\njoin = \"approve\"\nadmins = [\"alice@localhost\"]\n");
    t.join("alice");
    t.say("eve", "//nick evil");
    assert!(t.one_body("eve@localhost").contains("not a member"));
    t.pres(B, G, Some("subscribe"));
    t.say("bob", "//online");
    assert!(t.one_body(B).contains("not a member"));
    assert!(t.stores().is_empty());
}

#[test]
fn service_refusals() {
    let mut t = open_group("");
    for (cmd, want) in [
        ("//delgroup", "usage: //delgroup NAME"),
        ("//delgroup nope", "No group nope."),
        ("//newgroup", "usage: //newgroup NAME"),
        ("//nick x", "//nick works in a group"),
        ("//bogus", "Unknown command //bogus."),
    ] {
        t.msg("root@localhost/r", D, cmd);
        let got = t.one_body("root@localhost");
        assert!(got.starts_with(want), "{cmd}: {got}");
    }
    t.msg("root@localhost/r", D, "//help");
    let h = t.one_body("root@localhost");
    assert!(h.contains("//newgroup") && !h.contains("//kick"), "{h}");
}

#[test]
fn every_registry_entry_runs_its_example() {
    use crate::core::command::{Level, COMMANDS};
    for c in COMMANDS {
        let mut t = three();
        let (from, to) = match c.level {
            Level::User => ("bob", G),
            Level::Admin => ("alice", G),
            Level::Service => ("root", D),
        };
        t.msg(&format!("{from}@localhost/r"), to, c.example);
        let reply = t.bodies(&format!("{from}@localhost"));
        let first = reply.first().map(String::as_str).unwrap_or_default();
        assert!(
            !first.is_empty()
                && !first.starts_with("Unknown command")
                // //delete acts only as a reply: alone it says how.
                && (c.name == "help" || c.name == "delete" || !first.starts_with("usage:"))
                && !first.contains("is for group admins"),
            "{}: {reply:?}",
            c.example
        );
    }
}

#[test]
fn every_admin_and_service_command_is_refused_to_those_without_the_right() {
    use crate::core::command::{Level, COMMANDS};
    let mut t = three();
    for c in COMMANDS {
        let body = format!("//{} x y z", c.name);
        match c.level {
            Level::User => {}
            Level::Admin => {
                let r = t.cmd("bob", &body);
                assert_eq!(r, format!("//{} is for group admins.", c.name));
                assert!(t.stores().is_empty(), "{body} stored something");
                assert_eq!(t.sent().len(), 1, "{body} did more than refuse");
            }
            Level::Service => {
                // To the domain from a member or a group admin: the list of
                // groups, never the command.
                for who in ["bob", "alice"] {
                    t.msg(&format!("{who}@localhost/r"), D, &body);
                    assert!(t.stores().is_empty(), "{who}: {body} stored something");
                    let replies = t.bodies(&format!("{who}@localhost"));
                    assert!(
                        replies.iter().all(|r| !r.starts_with("OK")),
                        "{who}: {body} → {replies:?}"
                    );
                    t.later(STRANGER_GAP);
                }
            }
        }
    }
}

const STRANGER_GAP: i64 = crate::core::STRANGER_GAP_MS;
