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

/// The listener's read-only view of the tokens table.
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
