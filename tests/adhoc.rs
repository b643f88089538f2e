//! Ad-hoc commands (XEP-0050) from real client connections on Prosody and
//! ejabberd: the list a group admin and a member each get, a form, a
//! completed announcement that every member receives, and `forbidden`.

mod support;

use std::time::Duration;

use minidom::Element;
use support::{body_of, is_from_bare, join, Kind, Server, Talkgroups};

const LOBBY: &str = "lobby@groups.localhost";
const CMDS: &str = "http://jabber.org/protocol/commands";
const DATA: &str = "jabber:x:data";

support::for_each_server!(admins_and_members_list_and_run_commands);

fn el(xml: &str) -> Element {
    xml.parse().expect("xml")
}

async fn admins_and_members_list_and_run_commands(kind: Kind) {
    let p = Server::start(kind, &[(support::COMPONENT, support::SECRET)]);
    let _tg = Talkgroups::start(
        &p,
        "[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"ann@localhost\"]\n",
    );
    let mut ann = join(&p, "ann", LOBBY).await;
    let mut bob = join(&p, "bob", LOBBY).await;
    for c in [&mut ann, &mut bob] {
        c.drain_for(Duration::from_millis(300)).await;
    }
    let items = |r: &Element| -> Vec<String> {
        r.children()
            .flat_map(|q| q.children())
            .filter_map(|i| i.attr("node").map(str::to_string))
            .collect()
    };
    let list = el(&format!(
        "<query xmlns='http://jabber.org/protocol/disco#items' node='{CMDS}'/>"
    ));
    let r = ann.iq(LOBBY, "get", list.clone()).await;
    assert_eq!(
        items(&r),
        ["approve", "remove", "mute", "edit", "announce", "settings"]
    );
    let r = bob.iq(LOBBY, "get", list).await;
    assert_eq!(items(&r), ["settings"]);

    // The form, then the completed announcement.
    let r = ann
        .iq(
            LOBBY,
            "set",
            el(&format!(
                "<command xmlns='{CMDS}' node='announce' action='execute'/>"
            )),
        )
        .await;
    let c = r.get_child("command", CMDS).expect("a command");
    assert_eq!(c.attr("status"), Some("executing"));
    let session = c.attr("sessionid").unwrap_or_default().to_string();
    let x = c.get_child("x", DATA).expect("a form");
    assert!(x.children().any(|f| f.attr("var") == Some("body")));
    let r = ann
        .iq(
            LOBBY,
            "set",
            el(&format!(
                "<command xmlns='{CMDS}' node='announce' action='complete' sessionid='{session}'>\
                 <x xmlns='{DATA}' type='submit'><field var='body'><value>tea at four</value></field></x></command>"
            )),
        )
        .await;
    let c = r.get_child("command", CMDS).expect("a command");
    assert_eq!(c.attr("status"), Some("completed"), "{r:?}");
    let got: Vec<String> = bob
        .drain_for(Duration::from_millis(1500))
        .await
        .iter()
        .filter(|e| e.name() == "message" && is_from_bare(e, LOBBY))
        .filter_map(body_of)
        .collect();
    assert_eq!(got, ["tea at four"]);

    // A member may not.
    let r = bob
        .iq(
            LOBBY,
            "set",
            el(&format!(
                "<command xmlns='{CMDS}' node='announce' action='execute'/>"
            )),
        )
        .await;
    assert_eq!(r.attr("type"), Some("error"));
    assert!(format!("{r:?}").contains("forbidden"), "{r:?}");

    // Bob picks Chinese in his settings form: its note, his forms, his
    // errors and his replies follow.
    let r = bob
        .iq(
            LOBBY,
            "set",
            el(&format!(
                "<command xmlns='{CMDS}' node='settings' action='complete'>\
                 <x xmlns='{DATA}' type='submit'><field var='lang'><value>zh</value></field></x></command>"
            )),
        )
        .await;
    assert_eq!(
        find(&r, "note").map(Element::text).as_deref(),
        Some("好的，以后用中文回复你。"),
        "{r:?}"
    );
    let form = el(&format!(
        "<command xmlns='{CMDS}' node='settings' action='execute'/>"
    ));
    let r = bob.iq(LOBBY, "set", form).await;
    assert_eq!(
        find(&r, "title").map(Element::text).as_deref(),
        Some("我的设置")
    );
    let r = bob
        .iq(
            LOBBY,
            "set",
            el(&format!(
                "<command xmlns='{CMDS}' node='announce' action='execute'/>"
            )),
        )
        .await;
    assert_eq!(
        find(&r, "text").map(Element::text).as_deref(),
        Some("这个命令只有本群管理员能用。"),
        "{r:?}"
    );
    bob.send_message(LOBBY, "//help").await;
    let help = bob
        .wait_for(Duration::from_secs(10), |e| {
            is_from_bare(e, LOBBY) && body_of(e).is_some_and(|b| b.contains("//help"))
        })
        .await;
    assert!(
        body_of(&help).unwrap().starts_with("命令列表："),
        "{help:?}"
    );
}

/// The first element named `name` in `el`, at any depth.
fn find<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    if el.name() == name {
        return Some(el);
    }
    el.children().find_map(|c| find(c, name))
}
