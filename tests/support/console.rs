//! Real console XMPP clients, driven the way a person drives them: mcabber
//! and profanity from Debian's packages, each in its own private tmux server.
//!
//! - [`Tmux`]: one detached session on a private socket (`tmux -S`), no user
//!   config (`-f /dev/null`); keystrokes in with `send-keys`, the screen out
//!   with `capture-pane`. Dropping it kills that tmux server (and with it the
//!   client), nothing else.
//! - [`Mcabber`]: a generated `mcabberrc` (no TLS, plaintext to the test
//!   server), commands through its FIFO, what it received read from its
//!   history files (`logging_dir`) and its trace log (level 3 has the XML).
//! - [`Profanity`]: `/connect … tls disable` typed in, the password typed at
//!   its prompt; what it shows read from the screen, what it sent and received
//!   read from its own chat database (`chatlog.db`).
//!
//! Every client gets a private `HOME` and XDG directories in a temp dir, so
//! nothing is written outside it. A missing binary panics with the
//! `apt-get install` line that provides it: these tests never skip.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::XmppServer;

/// How the console clients the tests need are installed.
pub const INSTALL_HINT: &str = "apt-get install mcabber profanity tmux";

/// The path of `name` in `$PATH`; panics (never skips) with how to install it.
pub fn require(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` not found in PATH: the console-client tests drive the real \
         mcabber and profanity under tmux. Install them with `{INSTALL_HINT}` \
         (as root), or run .ci/run, which installs them."
    );
}

/// Polls `probe` every 50 ms until it returns `Some`, or panics after
/// `timeout` with `what` and the output of `diag`.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
    diag: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timeout ({timeout:?}) waiting for {what}\n{}", diag());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// tmux
// ---------------------------------------------------------------------------

/// One detached tmux session on a private tmux server (its own socket).
pub struct Tmux {
    bin: PathBuf,
    socket: PathBuf,
    session: String,
    /// The client's PID (`env` execs it), to wait for its exit on drop.
    pid: Option<u32>,
}

impl Tmux {
    /// Starts `argv` in a new detached 200×100 session `session`, on a tmux
    /// server of its own listening on `dir/tmux.sock`. `env` is set for the
    /// command (through `env`, as tmux sessions otherwise inherit the tmux
    /// server's environment). The pane stays after the command exits, so
    /// its last screen can still be read.
    pub fn start(dir: &Path, session: &str, env: &[(&str, String)], argv: &[&str]) -> Tmux {
        let mut t = Tmux {
            bin: require("tmux"),
            socket: dir.join("tmux.sock"),
            session: session.to_string(),
            pid: None,
        };
        let mut cmd = t.command();
        cmd.args(["new-session", "-d", "-s", session, "-x", "200", "-y", "100"]);
        cmd.arg("env");
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.args(argv);
        cmd.args([";", "set-option", "-w", "remain-on-exit", "on"]);
        let out = cmd.output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux new-session failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        t.pid = t
            .run(&["display-message", "-p", "-t", session, "#{pane_pid}"])
            .trim()
            .parse()
            .ok();
        t
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("-S").arg(&self.socket).args(["-f", "/dev/null"]);
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("tmux {args:?}: {e}"));
        assert!(
            out.status.success(),
            "tmux {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` literally (no key names interpreted), then Enter.
    pub fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", &self.session, "-l", text]);
        self.run(&["send-keys", "-t", &self.session, "Enter"]);
    }

    /// Sends tmux key names (`Enter`, `C-c`, `PageUp`, …).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// The visible screen, wrapped lines joined, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        let s = self.run(&["capture-pane", "-p", "-J", "-t", &self.session]);
        s.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim_end()
            .to_string()
    }

    /// Waits until the screen contains `needle`; returns the screen.
    pub fn wait_screen(&self, needle: &str, timeout: Duration) -> String {
        wait_until(
            &format!("{needle:?} on the screen of {}", self.session),
            timeout,
            || {
                let s = self.screen();
                s.contains(needle).then_some(s)
            },
            || format!("--- screen of {} ---\n{}", self.session, self.screen()),
        )
    }

    /// Whether the client in the pane is still running.
    pub fn client_running(&self) -> bool {
        self.run(&["display-message", "-p", "-t", &self.session, "#{pane_dead}"])
            .trim()
            == "0"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(out) = self
                .command()
                .args(["capture-pane", "-p", "-J", "-t", &self.session])
                .output()
            {
                let screen = String::from_utf8_lossy(&out.stdout);
                let lines: Vec<&str> = screen
                    .lines()
                    .map(str::trim_end)
                    .filter(|l| {
                        !l.trim_matches(|c: char| c.is_whitespace() || c == '│')
                            .is_empty()
                    })
                    .collect();
                eprintln!(
                    "--- last screen of {} ---\n{}",
                    self.session,
                    lines.join("\n")
                );
            }
        }
        // Only our own tmux server: the private socket names it.
        let _ = self
            .command()
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // The client gets SIGHUP and may still write its logs on the way
        // out (mcabber re-creates its trace file): wait until it is gone,
        // so the temp dir removed after this stays removed.
        if let Some(pid) = self.pid {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && process_alive(pid) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Whether `pid` is a running (not exited, not zombie) process.
fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "PID (comm) STATE …"; comm may contain spaces, so split at ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// `HOME` and the XDG base directories, all inside `home`, plus a UTF-8
/// locale so the clients show non-ASCII text (the group's "—").
fn private_env(home: &Path) -> Vec<(&'static str, String)> {
    let sub = |s: &str| {
        let p = home.join(s);
        fs::create_dir_all(&p).expect("create client dir");
        p.to_string_lossy().into_owned()
    };
    let runtime = sub("run");
    let _ = fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700));
    vec![
        ("HOME", home.to_string_lossy().into_owned()),
        ("XDG_CONFIG_HOME", sub("config")),
        ("XDG_DATA_HOME", sub("data")),
        ("XDG_CACHE_HOME", sub("cache")),
        ("XDG_STATE_HOME", sub("state")),
        ("XDG_RUNTIME_DIR", runtime),
        ("TMPDIR", sub("tmp")),
        ("LANG", "C.UTF-8".into()),
        ("LC_ALL", "C.UTF-8".into()),
    ]
}

// ---------------------------------------------------------------------------
// mcabber
// ---------------------------------------------------------------------------

/// One entry of an mcabber history file (`logging_dir/JID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McabberLine {
    /// `MR` message received, `MS` message sent, `SO`… status changes.
    pub kind: String,
    /// The message body or status text (several lines joined with `\n`).
    pub text: String,
}

/// mcabber 1.1.2 logged in as `jid`, in tmux, with its FIFO, history files
/// and trace log in a temp dir.
pub struct Mcabber {
    pub tmux: Tmux,
    pub jid: String,
    fifo: PathBuf,
    histo: PathBuf,
    trace: PathBuf,
    // Last: removed after the tmux server is gone.
    dir: tempfile::TempDir,
}

impl Mcabber {
    /// Writes an mcabberrc for `user@domain` (plaintext to 127.0.0.1, the
    /// server's c2s port, no TLS), starts mcabber in tmux and waits until it
    /// is online.
    pub fn start(p: &impl XmppServer, user: &str, pass: &str) -> Mcabber {
        require("mcabber");
        let dir = tempfile::Builder::new()
            .prefix("tg-mcabber-")
            .tempdir()
            .expect("tempdir");
        let home = dir.path().join("home");
        let env = private_env(&home);
        let jid = format!("{user}@{}", p.domain());
        let fifo = dir.path().join("mcabber.fifo");
        let histo = dir.path().join("histo");
        let trace = dir.path().join("trace.log");
        let rc = dir.path().join("mcabberrc");
        let cfg = format!(
            "# Generated by tests/support/console.rs\n\
             set jid = {jid}\n\
             set password = {pass}\n\
             set server = 127.0.0.1\n\
             set port = {port}\n\
             set resource = mcabber\n\
             set disable_random_resource = 1\n\
             set ssl = 0\n\
             set tls = 0\n\
             set pinginterval = 0\n\
             set autoaway = 0\n\
             set logging = 1\n\
             set logging_dir = {histo}\n\
             set load_logs = 0\n\
             set tracelog_level = 3\n\
             set tracelog_file = {trace}\n\
             set fifo_name = {fifo}\n\
             module load fifo\n",
            port = p.c2s_port(),
            histo = histo.display(),
            trace = trace.display(),
            fifo = fifo.display(),
        );
        fs::write(&rc, cfg).expect("write mcabberrc");
        // mcabber refuses a config file others can read (it holds the password).
        fs::set_permissions(&rc, fs::Permissions::from_mode(0o600)).expect("chmod mcabberrc");
        let rc_s = rc.to_string_lossy().into_owned();
        let tmux = Tmux::start(dir.path(), "mcabber", &env, &["mcabber", "-f", &rc_s]);
        let m = Mcabber {
            tmux,
            jid,
            fifo,
            histo,
            trace,
            dir,
        };
        m.wait_trace("Your status has been set", Duration::from_secs(15));
        wait_until(
            "mcabber's FIFO",
            Duration::from_secs(5),
            || m.fifo.exists().then_some(()),
            || m.diag(),
        );
        m
    }

    /// Runs an mcabber command (`/add JID`, `/event * accept`, …) through its
    /// FIFO. Only commands work there: text is not sent to anyone.
    pub fn command(&self, line: &str) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.fifo)
            .unwrap_or_else(|e| {
                panic!("open mcabber's FIFO (is it running?): {e}\n{}", self.diag())
            });
        writeln!(f, "{line}").expect("write to mcabber's FIFO");
    }

    /// Types a line into mcabber's input line, as a person does: text goes
    /// to the selected contact, and `//x` sends the text `/x`.
    pub fn type_line(&self, text: &str) {
        self.tmux.type_line(text);
    }

    /// The entries of the history file for `jid` (what mcabber logged for
    /// that contact: `MR` received, `MS` sent, `S?` status).
    pub fn history(&self, jid: &str) -> Vec<McabberLine> {
        let s = fs::read_to_string(self.histo.join(jid)).unwrap_or_default();
        parse_mcabber_history(&s)
    }

    /// The bodies of the messages received from `jid`, oldest first.
    pub fn received(&self, jid: &str) -> Vec<String> {
        self.history(jid)
            .into_iter()
            .filter(|l| l.kind == "MR")
            .map(|l| l.text)
            .collect()
    }

    /// Waits for a message from `jid` whose body satisfies `pred`, received
    /// after the first `skip` ones; returns its body.
    pub fn wait_received(
        &self,
        jid: &str,
        skip: usize,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        wait_until(
            &format!("{} to receive {what} from {jid}", self.jid),
            timeout,
            || self.received(jid).into_iter().skip(skip).find(|b| pred(b)),
            || self.diag(),
        )
    }

    /// Waits for a message from `jid` whose body is exactly `body`.
    pub fn wait_body(&self, jid: &str, body: &str, timeout: Duration) {
        self.wait_received(jid, 0, timeout, &format!("{body:?}"), |b| b == body);
    }

    /// mcabber's trace log (level 3: its log window, and the XML it sent
    /// and received).
    pub fn trace(&self) -> String {
        fs::read_to_string(&self.trace).unwrap_or_default()
    }

    /// Waits until the trace log contains `needle`.
    pub fn wait_trace(&self, needle: &str, timeout: Duration) {
        wait_until(
            &format!("{needle:?} in the trace log of mcabber ({})", self.jid),
            timeout,
            || self.trace().contains(needle).then_some(()),
            || self.diag(),
        );
    }

    /// The XML elements mcabber received that contain `needle` (from the
    /// trace log; server bytes are logged as `LM-NET: '<…>'`).
    pub fn received_xml(&self, needle: &str) -> Vec<String> {
        self.trace()
            .lines()
            .filter_map(|l| l.split_once("LM-NET: '<").map(|(_, x)| format!("<{x}")))
            .filter(|x| x.contains(needle))
            .collect()
    }

    /// The XML mcabber sent that contains `needle` (`LM-NET: <…>`).
    pub fn sent_xml(&self, needle: &str) -> Vec<String> {
        self.trace()
            .lines()
            .filter_map(|l| l.split_once("LM-NET: <").map(|(_, x)| format!("<{x}")))
            .filter(|x| x.contains(needle))
            .collect()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn diag(&self) -> String {
        let mut s = format!(
            "--- screen of mcabber ({}) ---\n{}\n",
            self.jid,
            self.tmux.screen()
        );
        if let Ok(rd) = fs::read_dir(&self.histo) {
            for e in rd.flatten() {
                let _ = std::fmt::Write::write_fmt(
                    &mut s,
                    format_args!(
                        "--- mcabber history {} ---\n{}\n",
                        e.file_name().to_string_lossy(),
                        fs::read_to_string(e.path()).unwrap_or_default()
                    ),
                );
            }
        }
        let trace = self.trace();
        let lines: Vec<&str> = trace.lines().collect();
        let start = lines.len().saturating_sub(30);
        s + "--- mcabber trace log, last 30 lines ---\n" + &lines[start..].join("\n")
    }
}

/// Parses mcabber's history format: `KK YYYYMMDDTHH:MM:SSZ NNN text`, where
/// NNN is the number of continuation lines that follow.
pub fn parse_mcabber_history(s: &str) -> Vec<McabberLine> {
    let mut out = Vec::new();
    let mut lines = s.lines();
    while let Some(line) = lines.next() {
        let mut parts = line.splitn(4, ' ');
        let (Some(kind), Some(_time), Some(n)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let mut text = parts.next().unwrap_or("").to_string();
        for _ in 0..n.parse::<usize>().unwrap_or(0) {
            text.push('\n');
            text.push_str(lines.next().unwrap_or(""));
        }
        out.push(McabberLine {
            kind: kind.to_string(),
            text,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// profanity
// ---------------------------------------------------------------------------

/// One row of profanity's chat database (`chatlog.db`, table `ChatLogs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfanityLog {
    pub from_jid: String,
    pub to_jid: String,
    pub message: String,
    /// The id of the message this one corrects (XEP-0308), if any.
    pub replace_id: Option<String>,
    pub stanza_id: Option<String>,
}

/// profanity 0.13 logged in as `jid`, in tmux, with a private HOME.
pub struct Profanity {
    pub tmux: Tmux,
    pub jid: String,
    db: PathBuf,
    home: PathBuf,
    dir: tempfile::TempDir,
}

impl Profanity {
    /// Starts profanity in tmux, types `/connect JID server 127.0.0.1 port P
    /// tls disable` and the password at its prompt, and waits until it is
    /// logged in.
    pub fn start(p: &impl XmppServer, user: &str, pass: &str) -> Profanity {
        require("profanity");
        let dir = tempfile::Builder::new()
            .prefix("tg-profanity-")
            .tempdir()
            .expect("tempdir");
        let home = dir.path().join("home");
        let env = private_env(&home);
        let jid = format!("{user}@{}", p.domain());
        let db = home
            .join("data/profanity/database")
            .join(jid.replace('@', "_at_"))
            .join("chatlog.db");
        let tmux = Tmux::start(dir.path(), "profanity", &env, &["profanity"]);
        let pr = Profanity {
            tmux,
            jid,
            db,
            home,
            dir,
        };
        let t = Duration::from_secs(15);
        pr.tmux.wait_screen("Type /help for help", t);
        pr.type_line(&format!(
            "/connect {} server 127.0.0.1 port {} tls disable",
            pr.jid,
            p.c2s_port()
        ));
        pr.tmux.wait_screen("Enter password:", t);
        pr.type_line(pass);
        pr.tmux.wait_screen("logged in successfully", t);
        pr
    }

    /// Types a line at profanity's prompt: `/commands` are profanity's,
    /// anything else goes to the current chat window, `//x` as `/x`.
    pub fn type_line(&self, text: &str) {
        self.tmux.type_line(text);
    }

    pub fn screen(&self) -> String {
        self.tmux.screen()
    }

    pub fn wait_screen(&self, needle: &str, timeout: Duration) -> String {
        self.tmux.wait_screen(needle, timeout)
    }

    /// Every message in profanity's chat database, oldest first.
    pub fn chatlog(&self) -> Vec<ProfanityLog> {
        if !self.db.exists() {
            return Vec::new();
        }
        let Ok(c) = rusqlite::Connection::open_with_flags(
            &self.db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) else {
            return Vec::new();
        };
        let _ = c.busy_timeout(Duration::from_secs(2));
        let Ok(mut st) = c.prepare(
            "SELECT from_jid, to_jid, COALESCE(message, ''), replace_id, stanza_id \
             FROM ChatLogs ORDER BY id",
        ) else {
            return Vec::new();
        };
        let rows = st.query_map([], |r| {
            Ok(ProfanityLog {
                from_jid: r.get(0)?,
                to_jid: r.get(1)?,
                message: r.get(2)?,
                replace_id: r.get::<_, Option<String>>(3)?.filter(|s| !s.is_empty()),
                stanza_id: r.get::<_, Option<String>>(4)?.filter(|s| !s.is_empty()),
            })
        });
        match rows {
            Ok(rows) => rows.flatten().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Bodies profanity logged as received from `jid`, oldest first.
    pub fn received(&self, jid: &str) -> Vec<String> {
        self.chatlog()
            .into_iter()
            .filter(|l| l.from_jid == jid)
            .map(|l| l.message)
            .collect()
    }

    /// Waits for a message from `jid` after the first `skip` ones whose body
    /// satisfies `pred`; returns it.
    pub fn wait_received(
        &self,
        jid: &str,
        skip: usize,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        wait_until(
            &format!("{} to receive {what} from {jid}", self.jid),
            timeout,
            || self.received(jid).into_iter().skip(skip).find(|b| pred(b)),
            || self.diag(),
        )
    }

    /// What profanity logged as sent to `jid`, oldest first.
    pub fn sent(&self, jid: &str) -> Vec<ProfanityLog> {
        self.chatlog()
            .into_iter()
            .filter(|l| l.to_jid == jid && l.from_jid == self.jid)
            .collect()
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn diag(&self) -> String {
        let log: Vec<String> = self
            .chatlog()
            .iter()
            .map(|l| format!("{} -> {}: {:?}", l.from_jid, l.to_jid, l.message))
            .collect();
        format!(
            "--- screen of profanity ({}) ---\n{}\n--- profanity chat database ---\n{}",
            self.jid,
            self.screen(),
            log.join("\n")
        )
    }
}
