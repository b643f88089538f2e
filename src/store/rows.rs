//! Rows into records: the column lists the reads select, in the order the
//! `*_from_row` functions expect them, and those functions, which refuse
//! (as `StoreError::Corrupt`) a value the records cannot hold. The other
//! way, records into rows, is the parameters of each statement in
//! `apply.rs`.

use rusqlite::Row;

use super::StoreError;
use crate::core::model::*;

/// SQLite's LIMIT takes an i64; a larger usize means "no limit".
pub(super) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) const MEMBER_COLUMNS: &str =
    "id, group_name, jid, state, admin, nick, fid, fid_changed, muted, \
     stop_until, joined_at, last_seen, offline_seq, lang";
pub(super) const HISTORY_COLUMNS: &str =
    "id, group_name, sender, nick, text, at, origin_id, edited_at, removed";
pub(super) const ROUTE_COLUMNS: &str =
    "group_name, name, direction, password, url, format, noloop, \
     created_at, last_ok_at, last_error, last_error_at, keys, source";
pub(super) const OUTBOX_COLUMNS: &str =
    "id, group_name, route, msg_id, origin, nick, body, sent_at, trail, created_at";

pub(super) fn route_from_row(row: &Row<'_>) -> Result<RouteRecord, StoreError> {
    let direction: String = row.get(2)?;
    let kind = match direction.as_str() {
        "send" => {
            let url: Option<String> = row.get(4)?;
            let format: Option<String> = row.get(5)?;
            let format = format.as_deref().and_then(RouteFormat::parse);
            match (url, format) {
                (Some(url), Some(format)) => RouteKind::Send { url, format },
                _ => {
                    return Err(StoreError::Corrupt(
                        "a send route without a valid url and format".into(),
                    ))
                }
            }
        }
        "recv" => RouteKind::Recv {
            noloop: row.get(6)?,
        },
        "bridge" => {
            let format: Option<String> = row.get(5)?;
            let platform = format
                .as_deref()
                .and_then(crate::core::platform::Platform::parse)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("unknown bridge platform {format:?}"))
                })?;
            let keys: Option<String> = row.get(11)?;
            let keys = serde_json::from_str(keys.as_deref().unwrap_or("{}")).map_err(|e| {
                StoreError::Corrupt(format!("bridge keys are not a JSON object: {e}"))
            })?;
            let source: Option<String> = row.get(12)?;
            RouteKind::Bridge(BridgeSpec {
                platform,
                keys,
                from_config: source.as_deref() == Some("config"),
            })
        }
        "muc" => {
            let room: Option<String> = row.get(4)?;
            let nick: Option<String> = row.get(5)?;
            let keys: Option<String> = row.get(11)?;
            let keys: serde_json::Value = serde_json::from_str(keys.as_deref().unwrap_or("{}"))
                .map_err(|e| StoreError::Corrupt(format!("room options are not JSON: {e}")))?;
            let source: Option<String> = row.get(12)?;
            match (room, nick) {
                (Some(room), Some(nick)) => RouteKind::Muc(MucSpec {
                    room,
                    nick,
                    puppets: keys["puppets"].as_bool().unwrap_or(false),
                    from_config: source.as_deref() == Some("config"),
                }),
                _ => return Err(StoreError::Corrupt("a room without its JID or nick".into())),
            }
        }
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown route direction {other:?}"
            )))
        }
    };
    let last_error_at: Option<Millis> = row.get(10)?;
    let last_error: Option<String> = row.get(9)?;
    Ok(RouteRecord {
        group: row.get(0)?,
        name: row.get(1)?,
        kind,
        password: row.get(3)?,
        created_at: row.get(7)?,
        last_ok: row.get(8)?,
        last_error: last_error_at.zip(last_error),
    })
}

pub(super) fn outbox_from_row(row: &Row<'_>) -> Result<OutboxRecord, StoreError> {
    let trail: String = row.get(8)?;
    let trail: Vec<String> = serde_json::from_str(&trail)
        .map_err(|e| StoreError::Corrupt(format!("outbox trail is not a JSON list: {e}")))?;
    Ok(OutboxRecord {
        id: row.get(0)?,
        group: row.get(1)?,
        route: row.get(2)?,
        msg: RouteMessage {
            id: row.get(3)?,
            origin: row.get(4)?,
            nick: row.get(5)?,
            body: row.get(6)?,
            sent_at: row.get(7)?,
            trail,
        },
        created_at: row.get(9)?,
    })
}

pub(super) fn group_from_row(row: &Row<'_>) -> Result<GroupRecord, StoreError> {
    let name: String = row.get(0)?;
    let join: String = row.get(2)?;
    let join = JoinPolicy::parse(&join).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "groups.join_policy has unknown value {join:?} (group {name})"
        ))
    })?;
    Ok(GroupRecord {
        title: row.get(1)?,
        join,
        created_at: row.get(3)?,
        name,
    })
}

pub(super) fn member_from_row(row: &Row<'_>) -> Result<MemberRecord, StoreError> {
    let group: String = row.get(1)?;
    let jid: String = row.get(2)?;
    let state: String = row.get(3)?;
    let state = MemberState::parse(&state).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "members.state has unknown value {state:?} (group {group}, jid {jid})"
        ))
    })?;
    let flag = |idx: usize, column: &str| -> Result<bool, StoreError> {
        match row.get::<_, i64>(idx)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(StoreError::Corrupt(format!(
                "members.{column} must be 0 or 1, found {v} (group {group}, jid {jid})"
            ))),
        }
    };
    Ok(MemberRecord {
        id: row.get(0)?,
        state,
        admin: flag(4, "admin")?,
        nick: row.get(5)?,
        fid: row.get(6)?,
        fid_changed: flag(7, "fid_changed")?,
        muted: flag(8, "muted")?,
        stop_until: row.get(9)?,
        joined_at: row.get(10)?,
        last_seen: row.get(11)?,
        offline_seq: row.get(12)?,
        // A language this build does not know reads as none chosen.
        lang: row
            .get::<_, Option<String>>(13)?
            .as_deref()
            .and_then(crate::core::i18n::Lang::parse),
        group: group.into(),
        jid: jid.into(),
    })
}

pub(super) fn history_from_row(row: &Row<'_>) -> Result<HistoryRecord, StoreError> {
    Ok(HistoryRecord {
        id: row.get(0)?,
        group: row.get(1)?,
        sender: row.get(2)?,
        nick: row.get(3)?,
        text: row.get(4)?,
        at: row.get(5)?,
        origin_id: row.get(6)?,
        edited_at: row.get(7)?,
        removed: row.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::core::model::*;
    use crate::store::fixtures::*;
    use crate::store::{Store, StoreError};

    #[test]
    fn unknown_enum_text_is_corrupt_not_a_panic() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .apply(&[
                StoreOp::UpsertGroup(group("a")),
                StoreOp::UpsertMember(member(1, "a", "alice@example.org")),
            ])
            .unwrap();
        store
            .conn
            .execute("UPDATE members SET state = 'banana'", [])
            .unwrap();
        let err = store.load(10).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("members") && text.contains("banana"),
            "{text}"
        );

        store
            .conn
            .execute("UPDATE members SET state = 'member', muted = 7", [])
            .unwrap();
        assert!(matches!(store.load(10), Err(StoreError::Corrupt(_))));

        store
            .conn
            .execute("UPDATE members SET muted = 0", [])
            .unwrap();
        store
            .conn
            .execute("UPDATE groups SET join_policy = 'whoever'", [])
            .unwrap();
        let err = store.load(10).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("groups") && text.contains("whoever"),
            "{text}"
        );
    }
}
