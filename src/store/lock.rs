//! The database lock: `DB.lock` beside the database, `flock`ed by the one
//! process that runs on it.

use std::path::{Path, PathBuf};

use super::StoreError;

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
}
