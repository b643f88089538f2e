//! Stopping processes we started: only ever by our own child's PID, and
//! only while that child is unreaped (so the PID cannot have been reused).

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A process we started, stopped when the guard is dropped — also when a
/// run panics, so a failed benchmark or test leaves nothing running.
pub struct Guard {
    child: Child,
    stopped: bool,
}

impl Guard {
    pub fn new(child: Child) -> Guard {
        Guard {
            child,
            stopped: false,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (and is reaped: from then on its PID
    /// may be another process's, so `stop` must not signal it).
    pub fn exited(&mut self) -> bool {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            self.stopped = true;
        }
        self.stopped
    }

    /// SIGTERM, then SIGKILL after 10 s (see [`terminate`]).
    pub fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            terminate(&mut self.child, Duration::from_secs(10));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops `child`, a process we started: SIGTERM by its PID, wait up to
/// `grace`, then SIGKILL; reaps it. Does nothing if it has already exited.
pub fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// Every process below `pid` (from /proc), children first.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        all.push((p, ppid));
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    out.remove(0);
    out
}
