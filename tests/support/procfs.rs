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
