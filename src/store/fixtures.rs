//! Records the store's tests build their batches from, shared by the tests
//! of every file in this module.

use super::Store;
use crate::core::model::*;

pub(super) fn group(name: &str) -> GroupRecord {
    GroupRecord {
        name: name.into(),
        title: format!("{name} title"),
        join: JoinPolicy::Open,
        created_at: 1_000,
    }
}

pub(super) fn member(id: i64, group: &str, jid: &str) -> MemberRecord {
    MemberRecord {
        id,
        group: group.into(),
        jid: jid.into(),
        state: MemberState::Member,
        admin: false,
        nick: jid.split('@').next().unwrap_or(jid).into(),
        fid: format!("f{id}"),
        fid_changed: false,
        muted: false,
        stop_until: None,
        joined_at: 2_000,
        last_seen: 3_000,
        offline_seq: Some(0),
        lang: None,
    }
}

pub(super) fn msg(id: i64, group: &str, at: Millis) -> HistoryRecord {
    HistoryRecord {
        id,
        group: group.into(),
        sender: "alice@example.org".into(),
        nick: "alice".into(),
        text: format!("message {id}"),
        at,
        origin_id: Some(format!("o{id}")),
        edited_at: None,
        removed: false,
    }
}

pub(super) fn count(store: &Store, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub(super) fn send_route(group: &str, name: &str) -> RouteRecord {
    RouteRecord {
        group: group.into(),
        name: name.into(),
        kind: RouteKind::Send {
            url: "http://b/routes/lobby/a".into(),
            format: RouteFormat::Feishu,
        },
        password: Some("password1".into()),
        created_at: 5,
        last_ok: Some(6),
        last_error: Some((7, "HTTP 503".into())),
    }
}

pub(super) fn queued(id: i64, group: &str, route: &str) -> OutboxRecord {
    OutboxRecord {
        id,
        group: group.into(),
        route: route.into(),
        msg: RouteMessage {
            id: format!("m{id}"),
            origin: "lobby@a".into(),
            nick: "al".into(),
            body: "hi".into(),
            sent_at: 3,
            trail: vec!["i1".into(), "i2".into()],
        },
        created_at: 4,
    }
}
