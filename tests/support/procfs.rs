//! What the tests read of a running talkgroups: its PID, RSS and open
//! descriptors from /proc, and samples from its `/metrics` text.

use std::path::Path;

/// The pid of the talkgroups process started with `config`.
pub fn pid_of(config: &Path) -> u32 {
    let needle = config.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline
            .split('\0')
            .next()
            .is_some_and(|a| a.ends_with("talkgroups"))
            && cmdline.split('\0').any(|a| a == needle)
        {
            return pid;
        }
    }
    panic!("no talkgroups process runs with {needle}");
}

/// VmRSS of `pid` in KiB (`None` once it is gone).
pub fn rss_kb(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Open descriptors of `pid` (`None` once it is gone).
pub fn fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// The value of the sample `name` (with its labels) in `/metrics` text.
pub fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Each thread of `pid`: its name (`/proc/PID/task/TID/comm`) and nice
/// value (field 19 of its `stat`).
pub fn thread_nices(pid: u32) -> Vec<(u32, String, i64)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(tid) = t.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // The fields after the name, which is in parentheses and may hold
        // spaces: the state is field 3, so nice (19) is the 17th of them.
        let nice = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(16)?.parse().ok());
        if let Some(nice) = nice {
            out.push((tid, comm.trim().to_string(), nice));
        }
    }
    out
}
