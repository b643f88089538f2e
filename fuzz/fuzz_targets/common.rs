//! A small group for the fuzz targets: `lobby@groups.localhost` (open),
//! alice (admin) and bob online, a receive route `froma` (password
//! `password1`, NOLOOP `toa`) and a send route `toa`.
#![allow(dead_code)] // each target uses a part of it

use minidom::Element;
use talkgroups::config::Config;
use talkgroups::core::model::{
    GroupRecord, JoinPolicy, RouteFormat, RouteKind, RouteRecord, Snapshot,
};
use talkgroups::core::{Core, Input, Output};

pub const G: &str = "lobby@groups.localhost";
pub const D: &str = "groups.localhost";
pub const NOW: i64 = 1_700_000_000_000;

fn route(name: &str, kind: RouteKind) -> RouteRecord {
    RouteRecord {
        group: "lobby".into(),
        name: name.into(),
        kind,
        password: Some("password1".into()),
        created_at: 0,
        last_ok: None,
        last_error: None,
    }
}

pub fn core() -> Core {
    let cfg = Config::parse(
        "[component]\njid = \"groups.localhost\"\nsecret = \"s\"\n[service]\nadmins = [\"root@localhost\"]\n[[group]]\nname = \"lobby\"\ntitle = \"Lobby\"\njoin = \"open\"\nadmins = [\"alice@localhost\"]\n",
    )
    .expect("config");
    let snap = Snapshot {
        groups: vec![GroupRecord {
            name: "lobby".into(),
            title: "Lobby".into(),
            join: JoinPolicy::Open,
            created_at: 0,
        }],
        routes: vec![
            route(
                "froma",
                RouteKind::Recv {
                    noloop: Some("toa".into()),
                },
            ),
            route(
                "toa",
                RouteKind::Send {
                    url: "http://127.0.0.1:9/routes/lobby/fromb".into(),
                    format: RouteFormat::Talkgroups,
                },
            ),
        ],
        instance_id: "fuzz-instance".into(),
        ..Snapshot::default()
    };
    let mut out = Vec::new();
    let mut core = Core::new(cfg.core(), snap, NOW, &mut out);
    for user in ["alice", "bob"] {
        for (from, t) in [
            (format!("{user}@localhost"), " type='subscribe'"),
            (format!("{user}@localhost/r"), ""),
        ] {
            feed(
                &mut core,
                &format!("<presence xmlns='jabber:component:accept' from='{from}' to='{G}'{t}/>"),
            );
        }
    }
    core
}

pub fn feed(core: &mut Core, xml: &str) -> Vec<Output> {
    let mut out = Vec::new();
    if let Ok(el) = xml.parse::<Element>() {
        core.handle(NOW, Input::Stanza(el), &mut out);
    }
    out
}

pub fn message(from: &str, to: &str, body: &str) -> Element {
    Element::builder("message", "jabber:component:accept")
        .attr("from".try_into().expect("name"), from)
        .attr("to".try_into().expect("name"), to)
        .attr("type".try_into().expect("name"), "chat")
        .append(
            Element::builder("body", "jabber:component:accept")
                .append(body)
                .build(),
        )
        .build()
}
