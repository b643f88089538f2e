//! Applying a batch of the core's `StoreOp`s in one transaction, and keeping
//! the highest ids ever used in `meta` as rows go.

use rusqlite::{params, Transaction, TransactionBehavior};

use super::{Durability, Store, StoreError, META_MAX_HISTORY_ID, META_MAX_MEMBER_ID};
use crate::core::model::*;

impl Store {
    /// Applies a batch in one transaction: all of it or (on error) none of
    /// it, durable on power loss (the WAL is fsynced before it returns).
    pub fn apply(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        self.apply_with(ops, Durability::PowerLoss)
    }

    /// As `apply`, with `Durability::Crash` skipping the fsync: the commit
    /// survives the process being killed (it is in the OS), not an OS
    /// crash or power loss — until the next `PowerLoss` commit, whose fsync
    /// covers the WAL frames before it too.
    pub fn apply_with(
        &mut self,
        ops: &[StoreOp],
        durability: Durability,
    ) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        if self.durability != Some(durability) {
            let level = match durability {
                Durability::PowerLoss => "FULL",
                Durability::Crash => "NORMAL",
            };
            self.conn.pragma_update(None, "synchronous", level)?;
            self.durability = Some(durability);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut max_member: Option<i64> = None;
        for op in ops {
            // The newest history id is the table's own maximum while its row
            // exists; meta keeps it only for when rows are deleted (so ids
            // are never reused). Recording it just before a delete, instead
            // of at every append, spares each relayed message a page write.
            if matches!(
                op,
                StoreOp::PruneHistory { .. } | StoreOp::DeleteGroup { .. }
            ) {
                if let Err(e) = keep_max_id(&tx, META_MAX_HISTORY_ID, "history") {
                    tracing::warn!(error = %e, "recording the newest history id failed; batch rolled back");
                    return Err(e.into());
                }
            }
            if let Err(e) = apply_op(&tx, op) {
                tracing::warn!(op = op_name(op), error = %e, "store op failed; batch rolled back");
                return Err(e.into());
            }
            if let StoreOp::UpsertMember(m) = op {
                max_member = max_member.max(Some(m.id));
            }
        }
        if let Some(id) = max_member {
            bump_meta(&tx, META_MAX_MEMBER_ID, id)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Raises `meta.key` to the largest id in `table` (before rows go).
fn keep_max_id(tx: &Transaction<'_>, key: &str, table: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(&format!(
        "UPDATE meta SET value = max(coalesce(value, 0), (SELECT coalesce(max(id), 0) FROM {table}))
         WHERE key = ?1"
    ))?
    .execute([key])?;
    Ok(())
}

fn bump_meta(tx: &Transaction<'_>, key: &str, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = max(coalesce(value, 0), excluded.value)",
    )?
    .execute(params![key, id])?;
    Ok(())
}

fn apply_op(tx: &Transaction<'_>, op: &StoreOp) -> rusqlite::Result<()> {
    match op {
        StoreOp::UpsertGroup(g) => {
            tx.prepare_cached(
                "INSERT INTO groups(name, title, join_policy, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET
                     title = excluded.title, join_policy = excluded.join_policy",
            )?
            .execute(params![g.name, g.title, g.join.as_str(), g.created_at])?;
        }
        StoreOp::DeleteGroup { group } => {
            tx.prepare_cached("DELETE FROM groups WHERE name = ?1")?
                .execute([group])?;
        }
        StoreOp::UpsertMember(m) => {
            // An upsert, not INSERT OR REPLACE: replacing would delete the
            // row and, by cascade, the member's blocks.
            tx.prepare_cached(
                "INSERT INTO members(id, group_name, jid, state, admin, nick, fid, fid_changed,
                                     muted, stop_until, joined_at, last_seen, offline_seq, lang)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT(group_name, jid) DO UPDATE SET
                     id = excluded.id, state = excluded.state, admin = excluded.admin,
                     nick = excluded.nick, fid = excluded.fid,
                     fid_changed = excluded.fid_changed, muted = excluded.muted,
                     stop_until = excluded.stop_until, joined_at = excluded.joined_at,
                     last_seen = excluded.last_seen, offline_seq = excluded.offline_seq,
                     lang = excluded.lang",
            )?
            .execute(params![
                m.id,
                m.group,
                m.jid,
                m.state.as_str(),
                m.admin,
                m.nick,
                m.fid,
                m.fid_changed,
                m.muted,
                m.stop_until,
                m.joined_at,
                m.last_seen,
                m.offline_seq,
                m.lang.map(|l| l.code()),
            ])?;
        }
        StoreOp::DeleteMember { group, jid } => {
            // Its blocks go by cascade.
            tx.prepare_cached("DELETE FROM members WHERE group_name = ?1 AND jid = ?2")?
                .execute([group, jid])?;
        }
        StoreOp::SetBlacklisted { group, jid, on } => {
            let sql = if *on {
                "INSERT OR IGNORE INTO blacklist(group_name, jid) VALUES (?1, ?2)"
            } else {
                "DELETE FROM blacklist WHERE group_name = ?1 AND jid = ?2"
            };
            tx.prepare_cached(sql)?.execute([group, jid])?;
        }
        StoreOp::SetBlock {
            group,
            jid,
            blocked,
            on,
        } => {
            let sql = if *on {
                "INSERT OR IGNORE INTO blocks(group_name, jid, blocked) VALUES (?1, ?2, ?3)"
            } else {
                "DELETE FROM blocks WHERE group_name = ?1 AND jid = ?2 AND blocked = ?3"
            };
            tx.prepare_cached(sql)?.execute([group, jid, blocked])?;
        }
        StoreOp::AppendHistory(h) => {
            tx.prepare_cached(
                "INSERT INTO history(id, group_name, sender, nick, text, at, origin_id, edited_at, removed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                h.id,
                h.group,
                h.sender,
                h.nick,
                h.text,
                h.at,
                h.origin_id,
                h.edited_at,
                h.removed
            ])?;
        }
        StoreOp::EditHistory { id, text, at } => {
            tx.prepare_cached("UPDATE history SET text = ?2, edited_at = ?3 WHERE id = ?1")?
                .execute(params![id, text, at])?;
        }
        StoreOp::RemoveHistory { id } => {
            tx.prepare_cached("UPDATE history SET text = '', removed = 1 WHERE id = ?1")?
                .execute([id])?;
        }
        StoreOp::PruneHistory { before, keep_max } => {
            tx.prepare_cached("DELETE FROM history WHERE at < ?1")?
                .execute([before])?;
            // Per group: everything up to and including the (keep_max+1)-th
            // newest row goes. One index range per group, no full scan (every
            // history row belongs to a group: foreign key).
            let groups = tx
                .prepare_cached("SELECT name FROM groups")?
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut delete = tx.prepare_cached(
                "DELETE FROM history WHERE group_name = ?1 AND id <= (
                     SELECT id FROM history WHERE group_name = ?1
                     ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )?;
            for group in &groups {
                delete.execute(params![group, keep_max])?;
            }
        }
        StoreOp::UpsertRoute(r) => {
            let (direction, url, format, noloop) = match &r.kind {
                RouteKind::Send { url, format } => {
                    ("send", Some(url.as_str()), Some(format.as_str()), None)
                }
                RouteKind::Recv { noloop } => ("recv", None, None, noloop.as_deref()),
                RouteKind::Bridge(b) => ("bridge", None, Some(b.platform.as_str()), None),
                RouteKind::Muc(m) => ("muc", Some(m.room.as_str()), Some(m.nick.as_str()), None),
            };
            let (keys, source) = match &r.kind {
                RouteKind::Bridge(b) => (
                    Some(
                        serde_json::to_string(&b.keys)
                            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                    ),
                    Some(if b.from_config { "config" } else { "command" }),
                ),
                RouteKind::Muc(m) => (
                    Some(serde_json::json!({ "puppets": m.puppets }).to_string()),
                    Some(if m.from_config { "config" } else { "command" }),
                ),
                _ => (None, None),
            };
            let (last_error_at, last_error) = match &r.last_error {
                Some((at, e)) => (Some(*at), Some(e.as_str())),
                None => (None, None),
            };
            tx.prepare_cached(
                "INSERT INTO routes(group_name, name, direction, password, url, format, noloop,
                                    created_at, last_ok_at, last_error, last_error_at, keys, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT(group_name, name) DO UPDATE SET
                     direction = excluded.direction, password = excluded.password,
                     url = excluded.url, format = excluded.format, noloop = excluded.noloop,
                     last_ok_at = excluded.last_ok_at, last_error = excluded.last_error,
                     last_error_at = excluded.last_error_at, keys = excluded.keys,
                     source = excluded.source",
            )?
            .execute(params![
                r.group,
                r.name,
                direction,
                r.password,
                url,
                format,
                noloop,
                r.created_at,
                r.last_ok,
                last_error,
                last_error_at,
                keys,
                source,
            ])?;
        }
        StoreOp::DeleteRoute { group, name } => {
            tx.prepare_cached("DELETE FROM routes WHERE group_name = ?1 AND name = ?2")?
                .execute([group, name])?;
        }
        StoreOp::Enqueue(o) => {
            let trail = serde_json::to_string(&o.msg.trail)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.prepare_cached(
                "INSERT INTO outbox(id, group_name, route, msg_id, origin, nick, body, sent_at,
                                    trail, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                o.id,
                o.group,
                o.route,
                o.msg.id,
                o.msg.origin,
                o.msg.nick,
                o.msg.body,
                o.msg.sent_at,
                trail,
                o.created_at,
            ])?;
        }
        StoreOp::Dequeue { id } => {
            tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
                .execute([id])?;
        }
        StoreOp::Seen { group, id, at } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO route_seen(group_name, msg_id, at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![group, id, at])?;
        }
        StoreOp::PruneSeen { before } => {
            tx.prepare_cached("DELETE FROM route_seen WHERE at < ?1")?
                .execute([before])?;
        }
        StoreOp::AddToken(t) => {
            tx.prepare_cached(
                "INSERT INTO tokens(id, scope, label, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![t.id, t.scope, t.label, t.hash, t.created_at])?;
        }
        StoreOp::RevokeToken { id } => {
            tx.prepare_cached("DELETE FROM tokens WHERE id = ?1")?
                .execute([id])?;
        }
        StoreOp::BridgeRef {
            group,
            bridge,
            message_ref,
            history_id,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO bridge_refs(group_name, bridge, message_ref, history_id)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![group, bridge, message_ref, history_id])?;
        }
    }
    Ok(())
}

fn op_name(op: &StoreOp) -> &'static str {
    match op {
        StoreOp::UpsertGroup(_) => "UpsertGroup",
        StoreOp::DeleteGroup { .. } => "DeleteGroup",
        StoreOp::UpsertMember(_) => "UpsertMember",
        StoreOp::DeleteMember { .. } => "DeleteMember",
        StoreOp::SetBlacklisted { .. } => "SetBlacklisted",
        StoreOp::SetBlock { .. } => "SetBlock",
        StoreOp::AppendHistory(_) => "AppendHistory",
        StoreOp::EditHistory { .. } => "EditHistory",
        StoreOp::RemoveHistory { .. } => "RemoveHistory",
        StoreOp::PruneHistory { .. } => "PruneHistory",
        StoreOp::UpsertRoute(_) => "UpsertRoute",
        StoreOp::DeleteRoute { .. } => "DeleteRoute",
        StoreOp::Enqueue(_) => "Enqueue",
        StoreOp::Dequeue { .. } => "Dequeue",
        StoreOp::Seen { .. } => "Seen",
        StoreOp::PruneSeen { .. } => "PruneSeen",
        StoreOp::BridgeRef { .. } => "BridgeRef",
        StoreOp::AddToken(_) => "AddToken",
        StoreOp::RevokeToken { .. } => "RevokeToken",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::*;

    #[test]
    fn every_op_round_trips() {
        let mut store = Store::open_in_memory().unwrap();
        let mut alice = member(1, "a", "alice@example.org");
        alice.admin = true;
        alice.fid_changed = true;
        alice.stop_until = Some(9_999);
        alice.offline_seq = Some(1);
        let mut bob = member(2, "a", "bob@example.org");
        bob.state = MemberState::Pending;
        bob.muted = true;
        let carol = member(3, "a", "carol@example.org");
        let mut approve = group("b");
        approve.join = JoinPolicy::Approve;
        let mut no_origin = msg(2, "a", 20);
        no_origin.origin_id = None;

        store
            .apply(&[
                StoreOp::UpsertGroup(group("a")),
                StoreOp::UpsertGroup(approve.clone()),
                StoreOp::UpsertMember(alice.clone()),
                StoreOp::UpsertMember(bob.clone()),
                StoreOp::UpsertMember(carol.clone()),
                StoreOp::SetBlacklisted {
                    group: "a".into(),
                    jid: "eve@example.org".into(),
                    on: true,
                },
                StoreOp::SetBlacklisted {
                    group: "a".into(),
                    jid: "mallory@example.org".into(),
                    on: true,
                },
                StoreOp::SetBlock {
                    group: "a".into(),
                    jid: "alice@example.org".into(),
                    blocked: "bob@example.org".into(),
                    on: true,
                },
                StoreOp::SetBlock {
                    group: "a".into(),
                    jid: "bob@example.org".into(),
                    blocked: "alice@example.org".into(),
                    on: true,
                },
                StoreOp::AppendHistory(msg(1, "a", 10)),
                StoreOp::AppendHistory(no_origin.clone()),
                StoreOp::AppendHistory(msg(3, "b", 30)),
            ])
            .unwrap();

        // Updates, removals, idempotent repeats.
        let mut a2 = group("a");
        a2.title = "Renamed".into();
        a2.join = JoinPolicy::Invite;
        a2.created_at = 5; // ignored on update
        alice.nick = "Alice".into();
        bob.state = MemberState::Member;
        store
            .apply(&[
                StoreOp::UpsertGroup(a2),
                StoreOp::UpsertMember(alice.clone()),
                StoreOp::UpsertMember(bob.clone()),
                StoreOp::SetBlacklisted {
                    group: "a".into(),
                    jid: "eve@example.org".into(),
                    on: true,
                },
                StoreOp::SetBlacklisted {
                    group: "a".into(),
                    jid: "mallory@example.org".into(),
                    on: false,
                },
                StoreOp::SetBlock {
                    group: "a".into(),
                    jid: "alice@example.org".into(),
                    blocked: "bob@example.org".into(),
                    on: true,
                },
                StoreOp::SetBlock {
                    group: "a".into(),
                    jid: "alice@example.org".into(),
                    blocked: "carol@example.org".into(),
                    on: true,
                },
                StoreOp::SetBlock {
                    group: "a".into(),
                    jid: "bob@example.org".into(),
                    blocked: "alice@example.org".into(),
                    on: false,
                },
                StoreOp::DeleteMember {
                    group: "a".into(),
                    jid: "carol@example.org".into(),
                },
                StoreOp::AppendHistory(msg(4, "a", 40)),
                StoreOp::PruneHistory {
                    before: 15,
                    keep_max: 100,
                },
            ])
            .unwrap();

        let snap = store.load(100).unwrap();
        let mut a = group("a");
        a.title = "Renamed".into();
        a.join = JoinPolicy::Invite;
        assert_eq!(snap.groups, vec![a, approve]);
        assert_eq!(snap.members, vec![alice, bob]);
        assert_eq!(
            snap.blacklist,
            vec![("a".to_string(), "eve@example.org".to_string())]
        );
        // Upserting alice kept her blocks; carol was deleted with hers.
        assert_eq!(
            snap.blocks,
            vec![
                (
                    "a".to_string(),
                    "alice@example.org".to_string(),
                    "bob@example.org".to_string()
                ),
                (
                    "a".to_string(),
                    "alice@example.org".to_string(),
                    "carol@example.org".to_string()
                ),
            ]
        );
        assert_eq!(
            snap.history,
            vec![no_origin, msg(3, "b", 30), msg(4, "a", 40)]
        );
        assert_eq!(snap.max_history_id, 4);
        assert_eq!(snap.max_member_id, 3);

        // DeleteGroup, round-tripped too.
        store
            .apply(&[StoreOp::DeleteGroup { group: "b".into() }])
            .unwrap();
        let snap = store.load(100).unwrap();
        assert_eq!(snap.groups.len(), 1);
        assert_eq!(snap.history.len(), 2);
    }

    #[test]
    fn prune_keeps_newest_per_group() {
        let mut store = Store::open_in_memory().unwrap();
        let mut ops = vec![
            StoreOp::UpsertGroup(group("a")),
            StoreOp::UpsertGroup(group("b")),
        ];
        for id in 1..=10 {
            let g = if id % 2 == 0 { "a" } else { "b" };
            ops.push(StoreOp::AppendHistory(msg(id, g, id * 100)));
        }
        store.apply(&ops).unwrap();

        assert_eq!(
            store.history("a", 3).unwrap(),
            vec![msg(6, "a", 600), msg(8, "a", 800), msg(10, "a", 1000)]
        );
        assert_eq!(store.history("a", 100).unwrap().len(), 5);
        assert_eq!(store.history("zzz", 100).unwrap(), vec![]);
        let ids = |s: &Store| {
            s.load(2)
                .unwrap()
                .history
                .iter()
                .map(|h| h.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&store), vec![7, 8, 9, 10]);

        store
            .apply(&[StoreOp::PruneHistory {
                before: 0,
                keep_max: 2,
            }])
            .unwrap();
        assert_eq!(ids(&store), vec![7, 8, 9, 10]);
        assert_eq!(count(&store, "SELECT count(*) FROM history"), 4);

        store
            .apply(&[StoreOp::PruneHistory {
                before: 850,
                keep_max: 2,
            }])
            .unwrap();
        assert_eq!(ids(&store), vec![9, 10]);

        store
            .apply(&[StoreOp::PruneHistory {
                before: 0,
                keep_max: 0,
            }])
            .unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM history"), 0);
    }

    #[test]
    fn delete_group_cascades() {
        let mut store = Store::open_in_memory().unwrap();
        let setup = |g: &str, base: i64| {
            vec![
                StoreOp::UpsertGroup(group(g)),
                StoreOp::UpsertMember(member(base, g, "alice@example.org")),
                StoreOp::UpsertMember(member(base + 1, g, "bob@example.org")),
                StoreOp::SetBlock {
                    group: g.into(),
                    jid: "alice@example.org".into(),
                    blocked: "bob@example.org".into(),
                    on: true,
                },
                StoreOp::SetBlacklisted {
                    group: g.into(),
                    jid: "eve@example.org".into(),
                    on: true,
                },
                StoreOp::AppendHistory(msg(base, g, 1)),
            ]
        };
        store.apply(&setup("a", 1)).unwrap();
        store.apply(&setup("b", 10)).unwrap();
        store
            .apply(&[StoreOp::DeleteGroup { group: "a".into() }])
            .unwrap();

        for table in ["members", "blacklist", "blocks", "history"] {
            let sql = format!("SELECT count(*) FROM {table} WHERE group_name = 'a'");
            assert_eq!(count(&store, &sql), 0, "{table}");
            let sql = format!("SELECT count(*) FROM {table} WHERE group_name = 'b'");
            assert!(count(&store, &sql) > 0, "{table}");
        }
        assert_eq!(count(&store, "SELECT count(*) FROM groups"), 1);
    }

    #[test]
    fn max_ids_never_decrease() {
        let mut store = Store::open_in_memory().unwrap();
        let snap = store.load(10).unwrap();
        assert_eq!((snap.max_history_id, snap.max_member_id), (0, 0));

        store
            .apply(&[
                StoreOp::UpsertGroup(group("a")),
                StoreOp::UpsertGroup(group("b")),
                StoreOp::UpsertMember(member(7, "a", "alice@example.org")),
                StoreOp::UpsertMember(member(3, "b", "bob@example.org")),
                StoreOp::AppendHistory(msg(41, "a", 10)),
                StoreOp::AppendHistory(msg(42, "b", 10)),
            ])
            .unwrap();
        let snap = store.load(10).unwrap();
        assert_eq!((snap.max_history_id, snap.max_member_id), (42, 7));

        // A lower id written later does not lower the maximum.
        store
            .apply(&[StoreOp::UpsertMember(member(5, "b", "carol@example.org"))])
            .unwrap();
        store
            .apply(&[
                StoreOp::PruneHistory {
                    before: 100,
                    keep_max: 10,
                },
                StoreOp::DeleteMember {
                    group: "a".into(),
                    jid: "alice@example.org".into(),
                },
                StoreOp::DeleteGroup { group: "b".into() },
            ])
            .unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM history"), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM members"), 0);
        let snap = store.load(10).unwrap();
        assert_eq!((snap.max_history_id, snap.max_member_id), (42, 7));
    }

    #[test]
    fn failing_batch_applies_nothing() {
        let mut store = Store::open_in_memory().unwrap();
        store.apply(&[StoreOp::UpsertGroup(group("a"))]).unwrap();
        let before = store.load(10).unwrap();

        let err = store
            .apply(&[
                StoreOp::UpsertGroup(group("b")),
                StoreOp::AppendHistory(msg(5, "a", 1)),
                StoreOp::UpsertMember(member(9, "a", "alice@example.org")),
                StoreOp::UpsertMember(member(10, "nope", "bob@example.org")),
            ])
            .unwrap_err();
        assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
        assert_eq!(store.load(10).unwrap(), before);

        // A block by a non-member violates the foreign key too.
        assert!(store
            .apply(&[StoreOp::SetBlock {
                group: "a".into(),
                jid: "ghost@example.org".into(),
                blocked: "bob@example.org".into(),
                on: true,
            }])
            .is_err());
        // And the store is still usable.
        store
            .apply(&[StoreOp::AppendHistory(msg(5, "a", 1))])
            .unwrap();
        assert_eq!(store.load(10).unwrap().max_history_id, 5);
    }

    #[test]
    fn routes_outbox_and_seen_round_trip() {
        let mut store = Store::open_in_memory().unwrap();
        let recv = RouteRecord {
            group: "a".into(),
            name: "in".into(),
            kind: RouteKind::Recv {
                noloop: Some("out".into()),
            },
            password: Some("password2".into()),
            created_at: 1,
            last_ok: None,
            last_error: None,
        };
        store
            .apply(&[
                StoreOp::UpsertGroup(group("a")),
                StoreOp::UpsertRoute(send_route("a", "out")),
                StoreOp::UpsertRoute(recv.clone()),
                StoreOp::Enqueue(queued(1, "a", "out")),
                StoreOp::Enqueue(queued(2, "a", "out")),
                StoreOp::Seen {
                    group: "a".into(),
                    id: "x".into(),
                    at: 10,
                },
                StoreOp::Seen {
                    group: "a".into(),
                    id: "old".into(),
                    at: 1,
                },
            ])
            .unwrap();
        // Updating a route (status) keeps its queue: an upsert, not a replace.
        let mut updated = send_route("a", "out");
        updated.last_error = None;
        store
            .apply(&[
                StoreOp::UpsertRoute(updated.clone()),
                StoreOp::Dequeue { id: 1 },
                StoreOp::PruneSeen { before: 5 },
            ])
            .unwrap();
        let snap = store.load(10).unwrap();
        assert_eq!(snap.routes, vec![recv, updated]);
        assert_eq!(snap.outbox, vec![queued(2, "a", "out")]);
        assert_eq!(snap.max_outbox_id, 2);
        assert_eq!(snap.seen, vec![("a".to_string(), "x".to_string(), 10)]);
        assert_eq!(snap.instance_id.len(), 32);
        // Deleting the route drops its queue; deleting the group the rest.
        store
            .apply(&[StoreOp::DeleteRoute {
                group: "a".into(),
                name: "out".into(),
            }])
            .unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM outbox"), 0);
        store
            .apply(&[StoreOp::DeleteGroup { group: "a".into() }])
            .unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM routes"), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM route_seen"), 0);
    }

    #[test]
    fn enqueue_for_a_missing_route_fails_the_batch() {
        let mut store = Store::open_in_memory().unwrap();
        store.apply(&[StoreOp::UpsertGroup(group("a"))]).unwrap();
        assert!(store
            .apply(&[StoreOp::Enqueue(queued(1, "a", "nope"))])
            .is_err());
    }

    #[test]
    fn a_relayed_message_writes_three_pages() {
        // The hot path: one history row per commit, without fsync. Its WAL
        // frames (one per page written) are what the checkpointer copies.
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        store
            .conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .unwrap();
        store.apply(&[StoreOp::UpsertGroup(group("w"))]).unwrap();
        let frames = |s: &Store| {
            s.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
                .unwrap()
        };
        // Everything so far copied: the next commit starts the WAL over,
        // so afterwards it holds exactly the frames of these commits.
        frames(&store);
        for id in 1..=1000 {
            store
                .apply_with(
                    &[StoreOp::AppendHistory(msg(id, "w", 1))],
                    Durability::Crash,
                )
                .unwrap();
        }
        // The history page and its three index pages (by group, by time,
        // by the sender's own id; 5 when meta was written too).
        let per_message = frames(&store) as f64 / 1000.0;
        assert!(per_message < 4.3, "{per_message} pages per message");
    }

    #[test]
    fn appends_leave_meta_alone_until_rows_go() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .apply(&[
                StoreOp::UpsertGroup(group("a")),
                StoreOp::AppendHistory(msg(41, "a", 10)),
            ])
            .unwrap();
        let meta =
            |store: &Store| count(store, "SELECT value FROM meta WHERE key = 'max_history_id'");
        assert_eq!(meta(&store), 0);
        assert_eq!(store.load(10).unwrap().max_history_id, 41);
        store
            .apply(&[
                StoreOp::AppendHistory(msg(42, "a", 10)),
                StoreOp::PruneHistory {
                    before: 100,
                    keep_max: 10,
                },
            ])
            .unwrap();
        assert_eq!(meta(&store), 42);
        assert_eq!(store.load(10).unwrap().max_history_id, 42);
    }
}
