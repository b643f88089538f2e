//! The WAL checkpointer: its thread and connection, its pacing ([`Pace`]),
//! and the checkpoint the writer finishes between batches so that the WAL
//! starts over.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::Store;

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

#[derive(Debug, Clone, Copy)]
pub(super) struct CheckpointPolicy {
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

/// A checkpointer thread and what it tells the writer.
pub(super) struct Checkpointer {
    pub(super) pace: Arc<Pace>,
    thread: JoinHandle<()>,
    /// Set when the WAL is long and copied up to a recent frame: a
    /// checkpoint on the writer's own connection, between commits, then
    /// completes it, and the next commit starts the WAL over.
    pub(super) finish: Arc<AtomicBool>,
}

/// When the checkpointer runs: `policy.every` after a commit it has not
/// checkpointed yet, and not at all while nothing is committed (an idle
/// process does not wake ten times a second for nothing).
#[derive(Default)]
pub(super) struct Pace {
    state: Mutex<PaceState>,
    wake: Condvar,
    pub(super) checkpoints: AtomicU64,
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
    pub(super) fn committed(&self) {
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
pub(super) fn start_checkpointer(store: &Store) -> Option<Checkpointer> {
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
    pub(super) fn finish_checkpoint(&self) -> bool {
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

pub(super) fn stop_checkpointer(c: &mut Option<Checkpointer>) {
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
    use crate::core::model::*;
    use crate::store::fixtures::*;
    use crate::store::{Durability, Writer};

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
}
