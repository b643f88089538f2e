//! SQLite persistence: schema migrations, applying the core's `StoreOp`
//! batches in one transaction each, and loading the start-up `Snapshot`.
//! Knows nothing of XMPP or of the rules that produce the ops. Every call
//! blocks: the app calls it from its core thread, which runs no async task
//! (see `Writer` and `app`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, Row, Transaction, TransactionBehavior};

use crate::core::model::*;

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
];

/// The schema version this binary writes: the number of migrations.
const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

const META_MAX_HISTORY_ID: &str = "max_history_id";
const META_MAX_MEMBER_ID: &str = "max_member_id";
const META_INSTANCE_ID: &str = "instance_id";

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "database schema version {found} is newer than this talkgroups supports ({known}); \
         upgrade talkgroups or restore a backup"
    )]
    NewerSchema { found: u32, known: u32 },
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {} is read-only (the file, its directory or the file system): \
         talkgroups must be able to write it",
        path.display()
    )]
    ReadOnly { path: PathBuf },
    #[error("database holds invalid data: {0}")]
    Corrupt(String),
    #[error(
        "database {} is in use by another talkgroups ({}holding {}): \
         stop that one first, or give this one its own storage.database",
        path.display(),
        pid.map(|p| format!("pid {p}, ")).unwrap_or_default(),
        lock.display()
    )]
    InUse {
        path: PathBuf,
        lock: PathBuf,
        pid: Option<u32>,
    },
    #[error(
        "cannot lock database {}: {}: {error}: talkgroups must be able to create and write it",
        path.display(),
        lock.display()
    )]
    Lock {
        path: PathBuf,
        lock: PathBuf,
        // Not `source`: the message says it already, and the error
        // printer would repeat a source.
        error: std::io::Error,
    },
}

/// The exclusive lock on a database, held by the one process that runs on
/// it: `DB.lock` beside the database file, `flock`ed for the life of this
/// value (the kernel releases it when the process ends, however it ends).
/// The file holds the holder's pid, for the message a second process
/// prints; it is never removed (removing it would let a third process lock
/// a new file while the second still holds the old one).
#[derive(Debug)]
pub struct DbLock {
    _file: std::fs::File,
    pub path: PathBuf,
}

/// The lock file of database `db`: its path with `.lock` appended.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes `db`'s lock without waiting: `StoreError::InUse` if another
/// process holds it.
#[cfg(unix)]
pub fn lock_database(db: &Path) -> Result<DbLock, StoreError> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::io::AsRawFd;
    let lock = lock_path(db);
    let failed = |error| StoreError::Lock {
        path: db.to_owned(),
        lock: lock.clone(),
        error,
    };
    // Not truncated on open: the holder's pid stays readable.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EROFS) {
                // SQLite could not write there either: say that.
                StoreError::ReadOnly {
                    path: db.to_owned(),
                }
            } else {
                failed(e)
            }
        })?;
    // SAFETY: flock on a descriptor we own; LOCK_NB never blocks.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(failed(e));
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        return Err(StoreError::InUse {
            path: db.to_owned(),
            lock,
            pid: text.trim().parse().ok(),
        });
    }
    let pid = format!("{}\n", std::process::id());
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()))
        .map_err(failed)?;
    Ok(DbLock {
        _file: file,
        path: lock,
    })
}

/// Without `flock` there is no lock: the caller runs unguarded.
#[cfg(not(unix))]
pub fn lock_database(db: &Path) -> Result<DbLock, StoreError> {
    let lock = lock_path(db);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|error| StoreError::Lock {
            path: db.to_owned(),
            lock: lock.clone(),
            error,
        })?;
    Ok(DbLock {
        _file: file,
        path: lock,
    })
}

pub struct Store {
    conn: Connection,
    /// The file (None in memory): the checkpointer opens its own connection.
    path: Option<PathBuf>,
    /// The `synchronous` level set on the connection (None: as configured).
    durability: Option<Durability>,
    /// How the checkpointer works (tests shorten both).
    checkpoint: CheckpointPolicy,
}

#[derive(Debug, Clone, Copy)]
struct CheckpointPolicy {
    every: Duration,
    reset_frames: i64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every: CHECKPOINT_EVERY,
            reset_frames: WAL_RESET_FRAMES,
        }
    }
}

/// How durable a commit must be before `apply` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Survives power loss (`synchronous = FULL`: one fsync per commit).
    PowerLoss,
    /// Survives the process being killed (`synchronous = NORMAL` in WAL
    /// mode: no fsync).
    Crash,
}

impl Store {
    /// Opens (creating if missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_error)?;
        // SQLite falls back to read-only when it cannot write the file;
        // every later write would fail, so refuse now, saying why.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(open_error)? {
            return Err(StoreError::ReadOnly {
                path: path.to_owned(),
            });
        }
        // The first statement that reads the file (journal_mode) is where a
        // file that is not a database fails, so it belongs to `Open` too.
        configure(&conn, true).map_err(open_error)?;
        let mut store = Store {
            conn,
            path: Some(path.to_owned()),
            durability: None,
            checkpoint: CheckpointPolicy::default(),
        };
        store.migrate()?;
        store.instance_id()?;
        Ok(store)
    }

    /// A fresh, migrated database in memory (tests, tools).
    #[cfg(test)]
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        configure(&conn, false)?;
        let mut store = Store {
            conn,
            path: None,
            durability: None,
            checkpoint: CheckpointPolicy::default(),
        };
        store.migrate()?;
        store.instance_id()?;
        Ok(store)
    }

    /// The schema version recorded in the database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        user_version(&self.conn)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
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

    /// A random id for this installation (32 lowercase hex characters),
    /// created on first call and kept in `meta`.
    ///
    /// The bytes come from SQLite's `randomblob()`, whose generator the unix
    /// VFS seeds from /dev/urandom (falling back to time and pid).
    pub fn instance_id(&mut self) -> Result<String, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, lower(hex(randomblob(16))))",
            )?
            .execute([META_INSTANCE_ID])?;
        read_instance_id(&self.conn)
    }

    /// Optimizes, checkpoints the WAL into the main file (truncating it) and
    /// closes the connection.
    pub fn close(self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA optimize;")?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy != 0 {
            tracing::warn!("WAL checkpoint at close was blocked; the WAL file stays");
        }
        self.conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}

fn read_instance_id(conn: &Connection) -> Result<String, StoreError> {
    let value: rusqlite::types::Value = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([META_INSTANCE_ID], |row| row.get(0))?;
    match value {
        rusqlite::types::Value::Text(id) if !id.is_empty() => Ok(id),
        other => Err(StoreError::Corrupt(format!(
            "meta.instance_id is not a non-empty text: {other:?}"
        ))),
    }
}

/// Per-connection settings.
fn configure(conn: &Connection, file: bool) -> rusqlite::Result<()> {
    if file {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(journal_mode = %mode, "SQLite refused WAL mode");
        }
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    // In WAL mode, NORMAL already survives kill -9 (a commit is in the WAL,
    // i.e. in the OS, before it returns), but an OS crash or power loss may
    // drop the last commits. FULL (fsync the WAL on every commit) is the
    // default; the app asks for NORMAL (`Durability::Crash`) for batches
    // that confirm nothing to anyone (relays, presence), see
    // `Core::take_acknowledged`.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Every member, block and the recent history are held by the core;
    // SQLite's cache only serves writes, which touch a few pages each.
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if file {
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    }
    Ok(())
}

fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("SELECT user_version FROM pragma_user_version", [], |row| {
        row.get(0)
    })?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative user_version {v}")))
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
                                     muted, stop_until, joined_at, last_seen, offline_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT(group_name, jid) DO UPDATE SET
                     id = excluded.id, state = excluded.state, admin = excluded.admin,
                     nick = excluded.nick, fid = excluded.fid,
                     fid_changed = excluded.fid_changed, muted = excluded.muted,
                     stop_until = excluded.stop_until, joined_at = excluded.joined_at,
                     last_seen = excluded.last_seen, offline_seq = excluded.offline_seq",
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
            };
            let (last_error_at, last_error) = match &r.last_error {
                Some((at, e)) => (Some(*at), Some(e.as_str())),
                None => (None, None),
            };
            tx.prepare_cached(
                "INSERT INTO routes(group_name, name, direction, password, url, format, noloop,
                                    created_at, last_ok_at, last_error, last_error_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(group_name, name) DO UPDATE SET
                     direction = excluded.direction, password = excluded.password,
                     url = excluded.url, format = excluded.format, noloop = excluded.noloop,
                     last_ok_at = excluded.last_ok_at, last_error = excluded.last_error,
                     last_error_at = excluded.last_error_at",
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
    }
}

/// SQLite's LIMIT takes an i64; a larger usize means "no limit".
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const MEMBER_COLUMNS: &str = "id, group_name, jid, state, admin, nick, fid, fid_changed, muted, \
                              stop_until, joined_at, last_seen, offline_seq";
const HISTORY_COLUMNS: &str =
    "id, group_name, sender, nick, text, at, origin_id, edited_at, removed";
const ROUTE_COLUMNS: &str = "group_name, name, direction, password, url, format, noloop, \
                             created_at, last_ok_at, last_error, last_error_at";
const OUTBOX_COLUMNS: &str =
    "id, group_name, route, msg_id, origin, nick, body, sent_at, trail, created_at";

fn route_from_row(row: &Row<'_>) -> Result<RouteRecord, StoreError> {
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

fn outbox_from_row(row: &Row<'_>) -> Result<OutboxRecord, StoreError> {
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

fn group_from_row(row: &Row<'_>) -> Result<GroupRecord, StoreError> {
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

fn member_from_row(row: &Row<'_>) -> Result<MemberRecord, StoreError> {
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
        group: group.into(),
        jid: jid.into(),
    })
}

fn history_from_row(row: &Row<'_>) -> Result<HistoryRecord, StoreError> {
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

// ---------------------------------------------------------------------------
// The writer.

/// The store as its one writer uses it: batches applied in order, and the
/// checkpointer thread (see `start_checkpointer`) beside it. Every call
/// blocks on SQLite, so it belongs to a thread that runs no async task:
/// the app's core thread owns it.
pub struct Writer {
    store: Store,
    checkpointer: Option<Checkpointer>,
}

impl Writer {
    /// Starts the checkpointer (its own connection and thread).
    pub fn new(store: Store) -> Writer {
        let checkpointer = start_checkpointer(&store);
        Writer {
            store,
            checkpointer,
        }
    }

    /// See [`Store::apply_with`].
    pub fn apply(&mut self, ops: &[StoreOp], durability: Durability) -> Result<(), StoreError> {
        let result = self.store.apply_with(ops, durability);
        if let (Some(c), false) = (&self.checkpointer, ops.is_empty()) {
            c.pace.committed();
        }
        result
    }

    /// Checkpoints the checkpointer has run so far.
    #[cfg(test)]
    fn checkpoints(&self) -> u64 {
        self.checkpointer
            .as_ref()
            .map_or(0, |c| c.pace.checkpoints.load(Ordering::Acquire))
    }

    /// Between batches, once the last one's stanzas are on their way:
    /// finishes a checkpoint if the checkpointer asked for it, so that the
    /// WAL starts over (retried after the next batch if it could not).
    pub fn between_batches(&mut self) {
        if let Some(c) = &self.checkpointer {
            if c.finish.swap(false, Ordering::AcqRel) && !self.store.finish_checkpoint() {
                c.finish.store(true, Ordering::Release);
            }
        }
    }

    /// What is committed, as at start (see [`Store::load`]).
    pub fn load(&self, history_per_group: usize) -> Result<Snapshot, StoreError> {
        self.store.load(history_per_group)
    }

    /// Stops the checkpointer, then checkpoints and closes the database
    /// (see [`Store::close`]). Dropping a `Writer` instead loses nothing:
    /// committed data is in the WAL.
    pub fn close(mut self) -> Result<(), StoreError> {
        stop_checkpointer(&mut self.checkpointer);
        let result = self.store.close();
        match &result {
            Ok(()) => tracing::info!("database closed"),
            Err(e) => tracing::error!(error = %e, "closing the database failed"),
        }
        result
    }
}

/// SQLite's page cache per connection, in KiB (its default is 2 000).
const CACHE_KIB: i64 = 512;

/// How often the checkpointer moves the WAL into the database file while
/// there are commits. Often, so each checkpoint is small: at 1 000
/// messages a second one every 500 ms copied 1 500 pages at once, and the
/// messages relayed meanwhile showed it (p99 0.9-2.0 ms against 0.7-0.9 ms;
/// BENCHMARKS.md). Without commits the checkpointer sleeps.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// A WAL this long (in frames, about 4 KiB each) that the checkpointer has
/// copied into the database but that has not started over is finished by
/// the writer (see `start_checkpointer`).
const WAL_RESET_FRAMES: i64 = 4096;

/// The WAL file is cut back to this size when it starts over.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// A checkpointer thread and what it tells the writer.
struct Checkpointer {
    pace: Arc<Pace>,
    thread: JoinHandle<()>,
    /// Set when the WAL is long and copied up to a recent frame: a
    /// checkpoint on the writer's own connection, between commits, then
    /// completes it, and the next commit starts the WAL over.
    finish: Arc<AtomicBool>,
}

/// When the checkpointer runs: `policy.every` after a commit it has not
/// checkpointed yet, and not at all while nothing is committed (an idle
/// process does not wake ten times a second for nothing).
#[derive(Default)]
struct Pace {
    state: Mutex<PaceState>,
    wake: Condvar,
    checkpoints: AtomicU64,
}

#[derive(Default)]
struct PaceState {
    /// Committed since the checkpointer last started waiting.
    dirty: bool,
    /// The checkpointer waits for a commit (so the next one wakes it).
    idle: bool,
    stop: bool,
}

impl Pace {
    fn lock(&self) -> MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer committed: wakes the checkpointer if it sleeps, else
    /// only marks the work (no system call on the commit path).
    fn committed(&self) {
        let mut s = self.lock();
        s.dirty = true;
        if s.idle {
            s.idle = false;
            self.wake.notify_one();
        }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }

    /// Waits for a commit, then `every` more (commits meanwhile are taken
    /// in the same checkpoint). False when stopped.
    fn next(&self, every: Duration) -> bool {
        let mut s = self.lock();
        while !s.dirty && !s.stop {
            s.idle = true;
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.idle = false;
        s.dirty = false;
        let (s, _) = self
            .wake
            .wait_timeout_while(s, every, |s| !s.stop)
            .unwrap_or_else(|p| p.into_inner());
        !s.stop
    }
}

/// Starts the checkpointer: its own connection and thread, running PASSIVE
/// checkpoints (which never block the writer) `policy.every` after commits
/// (see [`Pace`]), so
/// that commits never run a big one themselves — SQLite's automatic
/// checkpoint runs inside the commit that crosses 1 000 WAL pages and
/// fsyncs the database there, a stall of milliseconds every few hundred
/// batches.
///
/// SQLite starts the WAL over only when a write begins after a checkpoint
/// that copied every frame. Under steady writes (hundreds of commits a
/// second) some commit always lands while the background checkpoint runs,
/// so the WAL would grow without end (seen: 8 MB a second at 1 000
/// messages a second). When it is past `policy.reset_frames`, the
/// checkpointer raises `finish` and the writer copies the few frames
/// committed since, once, right after answering a batch.
fn start_checkpointer(store: &Store) -> Option<Checkpointer> {
    let path = store.path.clone()?;
    let policy = store.checkpoint;
    let conn = match Connection::open(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no checkpointer: commits checkpoint themselves");
            return None;
        }
    };
    let finish = Arc::new(AtomicBool::new(false));
    let raise = Arc::clone(&finish);
    // Whatever the last run left in the WAL is checkpointed once at start.
    let pace = Arc::new(Pace::default());
    pace.committed();
    let paced = Arc::clone(&pace);
    let thread = std::thread::Builder::new()
        .name("talkgroups-checkpoint".into())
        .spawn(move || {
            while paced.next(policy.every) {
                // (busy, frames in the WAL, frames copied)
                let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                });
                paced.checkpoints.fetch_add(1, Ordering::AcqRel);
                match done {
                    Ok((frames, copied)) => {
                        if frames >= policy.reset_frames && copied == frames {
                            raise.store(true, Ordering::Release);
                        }
                        if copied < frames {
                            paced.committed(); // the rest after `every`
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "checkpoint failed; trying again later");
                        paced.committed();
                    }
                }
            }
        });
    match thread {
        Ok(thread) => {
            if let Err(e) = store.conn.pragma_update(None, "wal_autocheckpoint", 0) {
                tracing::warn!(error = %e, "cannot turn automatic checkpoints off");
            }
            Some(Checkpointer {
                pace,
                thread,
                finish,
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "no checkpointer thread: commits checkpoint themselves");
            None
        }
    }
}

impl Store {
    /// Copies the frames the checkpointer has not (see `start_checkpointer`),
    /// so that the next commit starts the WAL over. False when that did
    /// not happen (the checkpointer was running one itself: a PASSIVE
    /// checkpoint does not wait), to be tried again after the next batch.
    fn finish_checkpoint(&self) -> bool {
        match self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            }) {
            Ok((busy, frames, copied)) => {
                tracing::debug!(busy, frames, copied, "WAL checkpointed by the writer");
                busy == 0 && copied == frames
            }
            Err(e) => {
                tracing::debug!(error = %e, "checkpoint by the writer failed");
                false
            }
        }
    }
}

fn stop_checkpointer(c: &mut Option<Checkpointer>) {
    if let Some(Checkpointer { pace, thread, .. }) = c.take() {
        pace.stop();
        if thread.join().is_err() {
            tracing::error!("checkpoint thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_locked_database_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.sqlite3");
        let held = lock_database(&db).unwrap();
        assert_eq!(held.path, dir.path().join("t.sqlite3.lock"));
        // flock locks belong to the open file: a second open conflicts
        // even in the same process.
        let e = lock_database(&db).unwrap_err();
        assert!(
            matches!(&e, StoreError::InUse { pid: Some(p), .. } if *p == std::process::id()),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("is in use by another talkgroups"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        drop(held);
        let again = lock_database(&db).unwrap();
        drop(again);
    }

    fn group(name: &str) -> GroupRecord {
        GroupRecord {
            name: name.into(),
            title: format!("{name} title"),
            join: JoinPolicy::Open,
            created_at: 1_000,
        }
    }

    fn member(id: i64, group: &str, jid: &str) -> MemberRecord {
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
        }
    }

    fn msg(id: i64, group: &str, at: Millis) -> HistoryRecord {
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

    fn count(store: &Store, sql: &str) -> i64 {
        store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

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
    fn file_store_uses_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(count(&store, "PRAGMA foreign_keys"), 1);
        assert_eq!(count(&store, "PRAGMA synchronous"), 2); // FULL
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

    #[test]
    fn not_a_database_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        match Store::open(&path) {
            Err(StoreError::Open { path: p, .. }) => assert_eq!(p, path),
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => panic!("opened a non-database"),
        }
    }

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

    #[test]
    fn reopen_keeps_data_and_instance_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let mut store = Store::open(&path).unwrap();
        let id = store.instance_id().unwrap();
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(store.instance_id().unwrap(), id);
        store
            .apply(&[
                StoreOp::UpsertGroup(group("a")),
                StoreOp::UpsertMember(member(1, "a", "alice@example.org")),
                StoreOp::AppendHistory(msg(1, "a", 1)),
            ])
            .unwrap();
        let snap = store.load(10).unwrap();
        drop(store); // no close: like a crash after commit

        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.load(10).unwrap(), snap);
        assert_eq!(store.instance_id().unwrap(), id);

        let other = Store::open(&dir.path().join("other.sqlite3"))
            .unwrap()
            .instance_id()
            .unwrap();
        assert_ne!(other, id);
    }

    fn send_route(group: &str, name: &str) -> RouteRecord {
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

    fn queued(id: i64, group: &str, route: &str) -> OutboxRecord {
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
    fn the_checkpointer_moves_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let mut writer = Writer::new(Store::open(&path).unwrap());
        writer
            .apply(&[StoreOp::UpsertGroup(group("cp"))], Durability::Crash)
            .unwrap();
        // An immutable connection ignores the WAL: it sees only what was
        // checkpointed. One commit is far from the 1 000 pages at which
        // SQLite would checkpoint by itself.
        let in_file = || {
            let uri = format!("file:{}?immutable=1", path.display());
            let conn = Connection::open_with_flags(
                uri,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .unwrap();
            // Before the first checkpoint not even the schema is there.
            conn.query_row("SELECT count(*) FROM groups WHERE name = 'cp'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while in_file() == 0 {
            assert!(std::time::Instant::now() < deadline, "never checkpointed");
            std::thread::sleep(Duration::from_millis(100));
        }
        writer.close().unwrap();
    }

    #[test]
    fn the_wal_starts_over_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let wal = dir.path().join("db.sqlite3-wal");
        let mut store = Store::open(&path).unwrap();
        store.checkpoint = CheckpointPolicy {
            every: Duration::from_millis(10),
            reset_frames: 64,
        };
        // Cut the file back to nothing whenever the WAL starts over, so
        // each restart shows as the file getting smaller.
        store
            .conn
            .pragma_update(None, "journal_size_limit", 0)
            .unwrap();
        let mut writer = Writer::new(store);
        writer
            .apply(&[StoreOp::UpsertGroup(group("w"))], Durability::Crash)
            .unwrap();
        // Back to back, so a commit lands during nearly every background
        // checkpoint: without the writer finishing them the WAL never starts
        // over and only grows (about 40 MB per 3 000 commits). A slow fsync
        // (a busy machine) only delays the restarts, so the test waits for
        // three of them rather than bounding the size.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (mut restarts, mut last, mut id) = (0, 0, 0);
        while restarts < 3 {
            id += 1;
            let mut m = msg(id, "w", 1);
            m.text = "x".repeat(400);
            writer
                .apply(&[StoreOp::AppendHistory(m)], Durability::Crash)
                .unwrap();
            writer.between_batches();
            let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
            if len < last {
                restarts += 1;
            }
            last = len;
            assert!(
                std::time::Instant::now() < deadline,
                "the WAL started over {restarts} times in {id} commits; it is {len} bytes"
            );
        }
        writer.close().unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM history"), id);
    }

    #[test]
    fn the_checkpointer_runs_after_commits_and_sleeps_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        store.checkpoint.every = Duration::from_millis(10);
        let mut writer = Writer::new(store);
        let settle = |writer: &Writer| {
            // Until two periods pass without a checkpoint.
            let mut seen = writer.checkpoints();
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let now = writer.checkpoints();
                if now == seen {
                    return now;
                }
                seen = now;
            }
        };
        // The checkpointer thread may not be scheduled at once on a busy
        // machine: wait for its first checkpoint (at most 10 s).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while writer.checkpoints() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let at_start = settle(&writer);
        assert!(at_start >= 1, "one checkpoint at start");
        // Idle: no checkpoint at all (it used to run every period).
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(writer.checkpoints(), at_start, "checkpoints while idle");
        // A commit wakes it, once.
        writer
            .apply(&[StoreOp::UpsertGroup(group("w"))], Durability::Crash)
            .unwrap();
        let after = settle(&writer);
        assert!(after > at_start, "no checkpoint after a commit");
        assert!(after <= at_start + 2, "{after} checkpoints for one commit");
        writer.close().unwrap();
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
        // The history page and its two index pages (4 when meta was
        // written too).
        let per_message = frames(&store) as f64 / 1000.0;
        assert!(per_message < 3.2, "{per_message} pages per message");
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

    #[test]
    fn writer_apply_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let mut writer = Writer::new(Store::open(&path).unwrap());

        writer
            .apply(
                &[
                    StoreOp::UpsertGroup(group("a")),
                    StoreOp::AppendHistory(msg(1, "a", 1)),
                    StoreOp::AppendHistory(msg(2, "a", 2)),
                    StoreOp::AppendHistory(msg(3, "a", 3)),
                ],
                Durability::PowerLoss,
            )
            .unwrap();
        // A crash-durable commit switches the level and back.
        writer
            .apply(&[StoreOp::UpsertGroup(group("c"))], Durability::Crash)
            .unwrap();
        let err = writer
            .apply(
                &[StoreOp::AppendHistory(msg(4, "nope", 4))],
                Durability::Crash,
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::Sqlite(_)));
        assert_eq!(writer.load(10).unwrap().history.len(), 3);
        writer.close().unwrap();

        // Checkpointed: the WAL is empty (or gone) and the data is there.
        let wal = dir.path().join("db.sqlite3-wal");
        assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.history("a", 10).unwrap().len(), 3);
    }
}
