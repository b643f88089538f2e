//! The schema: the append-only migration list, [`SCHEMA_VERSION`], applying
//! the migrations a database lacks when it is opened, and refusing one whose
//! schema is newer than this binary's.

use rusqlite::{Connection, TransactionBehavior};

use super::{Store, StoreError};

/// Schema migrations, applied in order; `PRAGMA user_version` counts how many
/// have run. Never remove or edit a migration; append.
///
/// A migration that rebuilds a table must keep foreign keys in mind: they are
/// on for this connection and cannot be switched off inside the migration's
/// transaction (use `PRAGMA defer_foreign_keys = ON` and check with
/// `PRAGMA foreign_key_check`).
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "
    CREATE TABLE groups (
        name        TEXT PRIMARY KEY NOT NULL,
        title       TEXT NOT NULL,
        join_policy TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE members (
        id          INTEGER PRIMARY KEY,
        group_name  TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
        jid         TEXT NOT NULL,
        state       TEXT NOT NULL,
        admin       INTEGER NOT NULL,
        nick        TEXT NOT NULL,
        fid         TEXT NOT NULL,
        fid_changed INTEGER NOT NULL,
        muted       INTEGER NOT NULL,
        stop_until  INTEGER,
        joined_at   INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        offline_seq INTEGER,
        UNIQUE (group_name, jid)
    );
    CREATE TABLE blacklist (
        group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
        jid        TEXT NOT NULL,
        PRIMARY KEY (group_name, jid)
    ) WITHOUT ROWID;
    CREATE TABLE blocks (
        group_name TEXT NOT NULL,
        jid        TEXT NOT NULL,
        blocked    TEXT NOT NULL,
        PRIMARY KEY (group_name, jid, blocked),
        FOREIGN KEY (group_name, jid) REFERENCES members(group_name, jid) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE TABLE history (
        id         INTEGER PRIMARY KEY,
        group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
        sender     TEXT NOT NULL,
        nick       TEXT NOT NULL,
        text       TEXT NOT NULL,
        at         INTEGER NOT NULL,
        origin_id  TEXT
    );
    CREATE INDEX history_group_id ON history(group_name, id);
    CREATE INDEX history_at ON history(at);
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value
    ) WITHOUT ROWID;
    INSERT INTO meta(key, value) VALUES ('max_history_id', 0), ('max_member_id', 0);
    ",
    // 2: HTTP routes, their outbox, and ids received on them.
    "
    CREATE TABLE routes (
        group_name    TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        direction     TEXT NOT NULL,
        password      TEXT,
        url           TEXT,
        format        TEXT,
        noloop        TEXT,
        created_at    INTEGER NOT NULL,
        last_ok_at    INTEGER,
        last_error    TEXT,
        last_error_at INTEGER,
        PRIMARY KEY (group_name, name)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY,
        group_name TEXT NOT NULL,
        route      TEXT NOT NULL,
        msg_id     TEXT NOT NULL,
        origin     TEXT NOT NULL,
        nick       TEXT NOT NULL,
        body       TEXT NOT NULL,
        sent_at    INTEGER NOT NULL,
        trail      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        FOREIGN KEY (group_name, route) REFERENCES routes(group_name, name) ON DELETE CASCADE
    );
    CREATE INDEX outbox_route ON outbox(group_name, route, id);
    CREATE TABLE route_seen (
        group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
        msg_id     TEXT NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (group_name, msg_id)
    ) WITHOUT ROWID;
    CREATE INDEX route_seen_at ON route_seen(at);
    ",
    // 3: corrections replace a history row's text, retractions mark it.
    "
    ALTER TABLE history ADD COLUMN edited_at INTEGER;
    ALTER TABLE history ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
    ",
    // 4: bridges (routes of direction 'bridge': `format` holds the
    // platform, `keys` a JSON object, `source` 'config' or 'command'), and
    // which history row each platform message became (for its edits).
    "
    ALTER TABLE routes ADD COLUMN keys TEXT;
    ALTER TABLE routes ADD COLUMN source TEXT;
    CREATE TABLE bridge_refs (
        group_name  TEXT NOT NULL,
        bridge      TEXT NOT NULL,
        message_ref TEXT NOT NULL,
        history_id  INTEGER NOT NULL REFERENCES history(id) ON DELETE CASCADE,
        PRIMARY KEY (group_name, bridge, message_ref),
        FOREIGN KEY (group_name, bridge) REFERENCES routes(group_name, name) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX bridge_refs_history ON bridge_refs(history_id);
    ",
    // 5: API tokens (only their SHA-256 is stored); `scope` is 'service'
    // or 'group:NAME'.
    "
    CREATE TABLE tokens (
        id         TEXT PRIMARY KEY,
        scope      TEXT NOT NULL,
        label      TEXT NOT NULL DEFAULT '',
        hash       TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 6: long memory: a member's reference to one of their own messages
    // (a correction, a retraction) names the id their client gave it.
    // Copies' ids are derived from the history id, so this is the only
    // id that must be looked up.
    "
    CREATE INDEX history_origin ON history(group_name, sender, origin_id)
        WHERE origin_id IS NOT NULL;
    ",
    // 7: the language a member chose with //lang ('en', 'zh'; NULL: none).
    "
    ALTER TABLE members ADD COLUMN lang TEXT;
    ",
];

/// The schema version this binary writes: the number of migrations.
const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

impl Store {
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)?;
        let found = user_version(&tx)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (done, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(migration)?;
            tracing::info!(version = done + 1, "applied database migration");
        }
        if found < SCHEMA_VERSION {
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        tx.commit()?;
        Ok(())
    }
}

pub(super) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("SELECT user_version FROM pragma_user_version", [], |row| {
        row.get(0)
    })?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative user_version {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::*;
    use crate::store::fixtures::*;

    #[test]
    fn migrate_twice_is_a_no_op() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        store.apply(&[StoreOp::UpsertGroup(group("a"))]).unwrap();
        store.migrate().unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.load(10).unwrap().groups, vec![group("a")]);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 6)
            .unwrap();
        drop(conn);

        let err = Store::open(&path).err().unwrap();
        match &err {
            StoreError::NewerSchema { found, known } => {
                assert_eq!(*found, SCHEMA_VERSION + 6);
                assert_eq!(*known, SCHEMA_VERSION);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "database schema version {} is newer than this talkgroups supports ({}); \
                 upgrade talkgroups or restore a backup",
                SCHEMA_VERSION + 6,
                SCHEMA_VERSION
            )
        );
        // Refusing did not touch the version.
        let conn = Connection::open(&path).unwrap();
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION + 6);
    }
}
