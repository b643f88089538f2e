//! Reading what is committed: the start-up `Snapshot`, settling the marks of
//! members who were online when the last run stopped, and the highest ids
//! ever used.

use rusqlite::params;
use rusqlite::Transaction;

use super::rows::*;
use super::{read_instance_id, Store, StoreError, META_MAX_HISTORY_ID, META_MAX_MEMBER_ID};
use crate::core::model::*;

impl Store {
    /// Everything the core needs at start.
    ///
    /// History: the newest `history_per_group` rows of each group, ordered
    /// oldest first (by id).
    ///
    /// Members whose `offline_seq` is NULL were online when the process
    /// stopped (a clean shutdown records it; a kill -9 or power loss does
    /// not). They are returned with `offline_seq = Some(max_history_id)`:
    /// they saw everything relayed before the stop, so nothing is replayed to
    /// them. [`Store::settle_online_marks`] writes that mark back at start.
    pub fn load(&self, history_per_group: usize) -> Result<Snapshot, StoreError> {
        // One read transaction, so the snapshot is consistent.
        let tx = self.conn.unchecked_transaction()?;

        let max_history_id = max_id(&tx, META_MAX_HISTORY_ID, "history")?;
        let max_member_id = max_id(&tx, META_MAX_MEMBER_ID, "members")?;

        let groups = tx
            .prepare_cached(
                "SELECT name, title, join_policy, created_at FROM groups ORDER BY name",
            )?
            .query_and_then([], group_from_row)?
            .collect::<Result<Vec<_>, StoreError>>()?;

        let mut members = tx
            .prepare_cached(&format!(
                "SELECT {MEMBER_COLUMNS} FROM members ORDER BY group_name, id"
            ))?
            .query_and_then([], member_from_row)?
            .collect::<Result<Vec<_>, StoreError>>()?;
        for member in &mut members {
            if member.offline_seq.is_none() {
                member.offline_seq = Some(max_history_id);
            }
        }

        let blacklist = tx
            .prepare_cached("SELECT group_name, jid FROM blacklist ORDER BY group_name, jid")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;

        let blocks = tx
            .prepare_cached(
                "SELECT group_name, jid, blocked FROM blocks ORDER BY group_name, jid, blocked",
            )?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;

        let history = tx
            .prepare_cached(&format!(
                "SELECT {HISTORY_COLUMNS} FROM (
                     SELECT *, row_number() OVER (PARTITION BY group_name ORDER BY id DESC) AS rn
                     FROM history
                 ) WHERE rn <= ?1 ORDER BY id"
            ))?
            .query_and_then([sql_limit(history_per_group)], history_from_row)?
            .collect::<Result<Vec<_>, StoreError>>()?;

        let routes = tx
            .prepare_cached(&format!(
                "SELECT {ROUTE_COLUMNS} FROM routes ORDER BY group_name, name"
            ))?
            .query_and_then([], route_from_row)?
            .collect::<Result<Vec<_>, StoreError>>()?;

        let outbox = tx
            .prepare_cached(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id"))?
            .query_and_then([], outbox_from_row)?
            .collect::<Result<Vec<_>, StoreError>>()?;
        let max_outbox_id = outbox.last().map_or(0, |o| o.id);

        let seen = tx
            .prepare_cached("SELECT group_name, msg_id, at FROM route_seen ORDER BY at")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;

        // Every ref (bounded by the history limits: a ref goes with its
        // history row); the core keeps those of the rows it holds.
        let bridge_refs = tx
            .prepare_cached(
                "SELECT group_name, bridge, message_ref, history_id FROM bridge_refs
                 ORDER BY history_id",
            )?
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;

        let tokens = tx
            .prepare_cached(
                "SELECT id, scope, label, hash, created_at FROM tokens ORDER BY created_at, id",
            )?
            .query_map([], |row| {
                Ok(TokenRecord {
                    id: row.get(0)?,
                    scope: row.get(1)?,
                    label: row.get(2)?,
                    hash: row.get(3)?,
                    created_at: row.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;

        let instance_id = read_instance_id(&tx)?;

        tx.finish()?;
        Ok(Snapshot {
            groups,
            members,
            blacklist,
            blocks,
            history,
            max_history_id,
            max_member_id,
            routes,
            outbox,
            seen,
            max_outbox_id,
            instance_id,
            bridge_refs,
            tokens,
            token_seed: [0; 32],
        })
    }

    /// At start: members still marked online (NULL `offline_seq`) were
    /// online when the last run stopped; record that they had seen
    /// everything up to the newest history id, so a second crash before they
    /// come back cannot move their mark past messages they never saw.
    pub fn settle_online_marks(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let max_history_id = max_id(&tx, META_MAX_HISTORY_ID, "history")?;
        tx.execute(
            "UPDATE members SET offline_seq = ?1 WHERE offline_seq IS NULL",
            [max_history_id],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The history row a reference names, when the core no longer holds
    /// it (see [`Recall`]).
    pub fn recall(&self, q: &Recall) -> Result<Option<HistoryRecord>, StoreError> {
        let row = match q {
            Recall::Row { group, id } => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {HISTORY_COLUMNS} FROM history WHERE id = ?1 AND group_name = ?2"
                ))?
                .query_and_then(params![id, group], history_from_row)?
                .next(),
            Recall::Origin {
                group,
                sender,
                origin_id,
            } => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {HISTORY_COLUMNS} FROM history
                     WHERE group_name = ?1 AND sender = ?2 AND origin_id = ?3
                     ORDER BY id DESC LIMIT 1"
                ))?
                .query_and_then(params![group, sender, origin_id], history_from_row)?
                .next(),
            Recall::Ref { group, route, key } => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {HISTORY_COLUMNS} FROM history WHERE group_name = ?1 AND id =
                     (SELECT history_id FROM bridge_refs
                      WHERE group_name = ?1 AND bridge = ?2 AND message_ref = ?3)"
                ))?
                .query_and_then(params![group, route, key], history_from_row)?
                .next(),
        };
        row.transpose()
    }

    /// The newest `limit` history rows of `group`, oldest first.
    #[cfg(test)]
    pub fn history(&self, group: &str, limit: usize) -> Result<Vec<HistoryRecord>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {HISTORY_COLUMNS} FROM (
                     SELECT * FROM history WHERE group_name = ?1 ORDER BY id DESC LIMIT ?2
                 ) ORDER BY id"
            ))?
            .query_and_then(params![group, sql_limit(limit)], history_from_row)?
            .collect()
    }
}

/// The highest id ever used: the value kept in `meta` (which never
/// decreases), or the table's highest id if that is larger.
fn max_id(tx: &Transaction<'_>, key: &str, table: &str) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT max(coalesce((SELECT value FROM meta WHERE key = ?1), 0),
                    coalesce((SELECT max(id) FROM {table}), 0))"
    );
    let value: rusqlite::types::Value = tx
        .prepare_cached(&sql)?
        .query_row([key], |row| row.get(0))?;
    match value {
        rusqlite::types::Value::Integer(id) => Ok(id),
        other => Err(StoreError::Corrupt(format!(
            "meta.{key} is not an integer: {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::*;

    #[test]
    fn null_offline_seq_loads_as_max_history_id() {
        let mut store = Store::open_in_memory().unwrap();
        let mut online = member(1, "a", "alice@example.org");
        online.offline_seq = None;
        let mut offline = member(2, "a", "bob@example.org");
        offline.offline_seq = Some(1);
        store
            .apply(&[
                StoreOp::UpsertGroup(group("a")),
                StoreOp::UpsertMember(online),
                StoreOp::UpsertMember(offline),
                StoreOp::AppendHistory(msg(1, "a", 1)),
                StoreOp::AppendHistory(msg(2, "a", 2)),
                StoreOp::PruneHistory {
                    before: 0,
                    keep_max: 0,
                },
            ])
            .unwrap();
        let snap = store.load(10).unwrap();
        assert_eq!(snap.max_history_id, 2);
        assert_eq!(snap.members[0].offline_seq, Some(2));
        assert_eq!(snap.members[1].offline_seq, Some(1));

        // Settled at start, the mark stays put while more is said.
        store.settle_online_marks().unwrap();
        store
            .apply(&[StoreOp::AppendHistory(msg(3, "a", 3))])
            .unwrap();
        let snap = store.load(10).unwrap();
        assert_eq!(snap.members[0].offline_seq, Some(2));
    }
}
