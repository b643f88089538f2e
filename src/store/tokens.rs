//! API tokens for the command line (`talkgroups token add|list|revoke`),
//! which works on the database while the component runs: the listener
//! checks every request against this table.
//!
//! A token is `tg_` and 64 hex digits from SQLite's `randomblob()` (seeded
//! by the kernel's random source). Only its SHA-256 is stored; its id is
//! the first 10 hex digits of that hash, public and short.

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::core::model::{Millis, TokenRecord};

/// Hex SHA-256 of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The public id of a token with this hash.
pub fn token_id(hash: &str) -> String {
    hash.chars().take(10).collect()
}

/// Whether `scope` is `service` or `group:NAME` with a valid group name.
pub fn valid_scope(scope: &str) -> bool {
    scope == "service"
        || scope
            .strip_prefix("group:")
            .is_some_and(crate::core::names::is_valid_group_name)
}

impl Store {
    /// Makes a token; returns it (shown once) with its record.
    pub fn add_token(
        &mut self,
        scope: &str,
        label: &str,
        now: Millis,
    ) -> Result<(String, TokenRecord), StoreError> {
        let random: String = self
            .conn
            .query_row("SELECT lower(hex(randomblob(32)))", [], |r| r.get(0))?;
        let token = format!("tg_{random}");
        let hash = token_hash(&token);
        let rec = TokenRecord {
            id: token_id(&hash),
            scope: scope.to_string(),
            label: label.to_string(),
            hash,
            created_at: now,
        };
        self.conn.execute(
            "INSERT INTO tokens(id, scope, label, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rec.id, rec.scope, rec.label, rec.hash, rec.created_at],
        )?;
        Ok((token, rec))
    }

    /// 32 bytes from SQLite's `randomblob()` (the kernel's random source):
    /// what the core makes `//token new` tokens from.
    pub fn random_seed(&self) -> Result<[u8; 32], StoreError> {
        let v: Vec<u8> = self
            .conn
            .query_row("SELECT randomblob(32)", [], |r| r.get(0))?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&v[..32.min(v.len())]);
        Ok(seed)
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        list(&self.conn)
    }

    /// Whether a token with this id existed.
    pub fn revoke_token(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM tokens WHERE id = ?1", [id])?
            > 0)
    }
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<TokenRecord>, StoreError> {
    Ok(conn
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
        .collect::<Result<Vec<_>, _>>()?)
}

/// The listener's read-only view of the database: tokens, and the history
/// `GET …/messages` pages through (all of it, not just what the core holds).
pub struct TokenReader {
    conn: Connection,
}

impl TokenReader {
    pub fn open(path: &std::path::Path) -> Result<TokenReader, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(2))?;
        Ok(TokenReader { conn })
    }

    /// The scope of the token with this hash, if it exists. The lookup is
    /// by the hash (a token cannot be guessed from the timing of an index
    /// lookup on its SHA-256); the stored hash is then compared in
    /// constant time.
    pub fn scope_of(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT hash, scope FROM tokens WHERE hash = ?1")?
            .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(stored, scope)| {
            crate::core::webhook::same_secret(&stored, hash).then_some(scope)
        }))
    }
}

impl TokenReader {
    /// Up to `q.limit` rows of `group`'s history (not retracted), oldest
    /// first: the newest before `q.before` (or of all), or the oldest after
    /// `q.after`. `None` when the group does not exist. Served by the
    /// `(group_name, id)` index.
    pub fn history(
        &self,
        group: &str,
        q: &crate::core::api::HistoryQuery,
    ) -> Result<Option<Vec<crate::core::model::HistoryRecord>>, StoreError> {
        let exists: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM groups WHERE name = ?1")?
            .query_row([group], |r| r.get(0))
            .optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        const COLS: &str = "id, group_name, sender, nick, text, at, origin_id, edited_at, removed";
        let limit = q.limit as i64;
        let mut rows = match q.after {
            Some(after) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLS} FROM history WHERE group_name = ?1 AND id > ?2 AND id < ?3
                     AND removed = 0 ORDER BY id ASC LIMIT ?4"
                ))?
                .query_and_then(
                    params![group, after, q.before.unwrap_or(i64::MAX), limit],
                    super::rows::history_from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?,
            None => {
                let mut v = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLS} FROM history WHERE group_name = ?1 AND id < ?2
                         AND removed = 0 ORDER BY id DESC LIMIT ?3"
                    ))?
                    .query_and_then(
                        params![group, q.before.unwrap_or(i64::MAX), limit],
                        super::rows::history_from_row,
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                v.reverse();
                v
            }
        };
        rows.shrink_to_fit();
        Ok(Some(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_as_hashes_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let mut s = Store::open(&path).unwrap();
        let (token, rec) = s.add_token("group:lobby", "bot", 5).unwrap();
        assert!(token.starts_with("tg_") && token.len() == 67, "{token}");
        assert_eq!(rec.hash, token_hash(&token));
        assert_eq!(rec.id.len(), 10);
        let listed = s.list_tokens().unwrap();
        assert_eq!(listed, std::slice::from_ref(&rec));
        let r = TokenReader::open(&path).unwrap();
        assert_eq!(
            r.scope_of(&token_hash(&token)).unwrap().as_deref(),
            Some("group:lobby")
        );
        assert_eq!(r.scope_of(&token_hash("tg_nope")).unwrap(), None);
        // Nothing in the file holds the token itself.
        drop(r);
        assert!(s.revoke_token(&rec.id).unwrap());
        assert!(!s.revoke_token(&rec.id).unwrap());
        let r = TokenReader::open(&path).unwrap();
        assert_eq!(r.scope_of(&token_hash(&token)).unwrap(), None);
        assert!(valid_scope("service") && valid_scope("group:lobby"));
        assert!(!valid_scope("group:") && !valid_scope("admin") && !valid_scope("group:Bad Name"));
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;
    use crate::core::api::HistoryQuery;
    use crate::core::model::{GroupRecord, HistoryRecord, JoinPolicy, StoreOp};

    #[test]
    fn history_pages_through_all_rows_by_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite3");
        let mut s = Store::open(&path).unwrap();
        let mut ops = vec![StoreOp::UpsertGroup(GroupRecord {
            name: "lobby".into(),
            title: "Lobby".into(),
            join: JoinPolicy::Open,
            created_at: 0,
        })];
        for i in 1..=3000 {
            ops.push(StoreOp::AppendHistory(HistoryRecord {
                id: i,
                group: "lobby".into(),
                sender: "a@x".into(),
                nick: "a".into(),
                text: format!("m{i}"),
                at: i,
                origin_id: None,
                edited_at: None,
                removed: false,
            }));
        }
        ops.push(StoreOp::RemoveHistory { id: 2999 });
        s.apply(&ops).unwrap();
        let r = TokenReader::open(&path).unwrap();
        let q = |limit, before, after| HistoryQuery {
            limit,
            before,
            after,
            desc: false,
        };
        let ids = |v: Vec<HistoryRecord>| v.iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(
            ids(r.history("lobby", &q(3, None, None)).unwrap().unwrap()),
            [2997, 2998, 3000]
        );
        assert_eq!(
            ids(r.history("lobby", &q(2, Some(10), None)).unwrap().unwrap()),
            [8, 9]
        );
        assert_eq!(
            ids(r.history("lobby", &q(2, None, Some(10))).unwrap().unwrap()),
            [11, 12]
        );
        assert_eq!(
            r.history("lobby", &q(1000, None, Some(0)))
                .unwrap()
                .unwrap()
                .len(),
            1000
        );
        assert!(r.history("nosuch", &q(1, None, None)).unwrap().is_none());
    }
}
