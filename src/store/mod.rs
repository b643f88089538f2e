//! SQLite persistence: schema migrations, applying the core's `StoreOp`
//! batches in one transaction each, and loading the start-up `Snapshot`.
//! Knows nothing of XMPP or of the rules that produce the ops. Every call
//! blocks: the app calls it from its core thread, which runs no async task
//! (see `Writer` and `app`).
//!
//! What it owns, file by file:
//! - `mod.rs` (here): the public API — [`Store`] (opening a database,
//!   configuring its connection, the instance id, closing), [`Writer`],
//!   [`Durability`], [`StoreError`], and the lock re-exported from
//!   `lock.rs` ([`lock_database`], [`lock_path`], [`DbLock`]) — and the
//!   keys kept in the `meta` table;
//! - `migrations.rs`: the append-only migration list, `SCHEMA_VERSION`,
//!   applying the missing migrations at open and refusing a database whose
//!   schema is newer;
//! - `apply.rs`: applying a batch of `StoreOp`s in one transaction
//!   ([`Store::apply`], [`Store::apply_with`]), and recording the highest
//!   ids in `meta` before rows go;
//! - `load.rs`: reading what is committed — the start-up `Snapshot`
//!   ([`Store::load`]), settling the marks of members who were online when
//!   the last run stopped ([`Store::settle_online_marks`]), the highest ids
//!   ever used;
//! - `rows.rs`: rows into records (`*_from_row`) and the column lists they
//!   read; records into rows are the parameters of each statement in
//!   `apply.rs`;
//! - `checkpoint.rs`: the WAL checkpointer thread and its pacing, and the
//!   checkpoint the writer finishes between batches so that the WAL starts
//!   over;
//! - `lock.rs`: the database lock, `DB.lock` beside the database, `flock`ed
//!   by the one process that runs on it. Its own file: it is taken before
//!   the database is opened and guards the process, not a connection;
//! - `fixtures.rs` (tests only): the records the tests of the files above
//!   build their batches from.
//!
//! Each file's tests are beside its code.

mod apply;
mod checkpoint;
#[cfg(test)]
mod fixtures;
mod load;
mod lock;
mod migrations;
mod rows;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use rusqlite::Connection;

use crate::core::model::*;
use checkpoint::{start_checkpointer, stop_checkpointer, CheckpointPolicy, Checkpointer};
pub use lock::{lock_database, lock_path, DbLock};
use migrations::user_version;

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

pub struct Store {
    conn: Connection,
    /// The file (None in memory): the checkpointer opens its own connection.
    path: Option<PathBuf>,
    /// The `synchronous` level set on the connection (None: as configured).
    durability: Option<Durability>,
    /// How the checkpointer works (tests shorten both).
    checkpoint: CheckpointPolicy,
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

    /// A random id for this installation (32 lowercase hex characters),
    /// created on first call and kept in `meta`.
    ///
    /// The bytes come from SQLite's `randomblob()`, whose generator the unix
    /// VFS seeds from the kernel's random source (falling back to time and
    /// pid).
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

// ---------------------------------------------------------------------------
// The writer.

/// The store as its one writer uses it: batches applied in order, and the
/// checkpointer thread (see `start_checkpointer`) beside it. Every call
/// blocks on SQLite, so it belongs to a thread that runs no async task:
/// the app's core thread owns it.
pub struct Writer {
    store: Store,
    checkpointer: Option<Checkpointer>,
    /// SQLite's `data_version` when last looked at: it moves when another
    /// connection commits (`talkgroups token add` or `revoke` beside the
    /// running process).
    data_version: Option<i64>,
}

impl Writer {
    /// Starts the checkpointer (its own connection and thread).
    pub fn new(store: Store) -> Writer {
        let checkpointer = start_checkpointer(&store);
        let mut w = Writer {
            store,
            checkpointer,
            data_version: None,
        };
        w.data_version = w.read_data_version();
        w
    }

    fn read_data_version(&self) -> Option<i64> {
        self.store
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .ok()
    }

    /// The tokens, when another process may have changed them since the
    /// last look (one in-process pragma when nothing did; a checkpoint can
    /// also move the counter, which costs one needless read).
    pub fn tokens_if_changed(&mut self) -> Option<Vec<crate::core::model::TokenRecord>> {
        let v = self.read_data_version();
        if v.is_none() || v == self.data_version {
            return None;
        }
        self.data_version = v;
        match tokens::list(&self.store.conn) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "could not re-read the API tokens");
                None
            }
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

    /// See [`Store::recall`]. A failed read is logged and found nothing:
    /// the reference then reads as unknown, as for a purged row.
    pub fn recall(
        &self,
        q: &crate::core::model::Recall,
    ) -> Option<crate::core::model::HistoryRecord> {
        self.store.recall(q).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read an old history row");
            None
        })
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

/// The WAL file is cut back to this size when it starts over.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::*;

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
    fn the_writer_sees_tokens_another_process_made_or_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let mut w = Writer::new(Store::open(&path).unwrap());
        assert_eq!(w.tokens_if_changed(), None, "nothing changed yet");
        let mut cli = Store::open(&path).unwrap();
        let (_, rec) = cli.add_token("group:a", "ci", 5).unwrap();
        assert_eq!(w.tokens_if_changed(), Some(vec![rec.clone()]));
        assert_eq!(w.tokens_if_changed(), None, "once per change");
        // Its own commits are not news.
        w.apply(&[StoreOp::UpsertGroup(group("a"))], Durability::Crash)
            .unwrap();
        assert_eq!(w.tokens_if_changed(), None);
        assert!(cli.revoke_token(&rec.id).unwrap());
        assert_eq!(w.tokens_if_changed(), Some(vec![]));
        w.close().unwrap();
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
