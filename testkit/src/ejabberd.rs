//! A private ejabberd per instance, with the same shape as [`crate::Prosody`].
//!
//! `ejabberdctl ... foreground` runs as our child process with its own config,
//! ejabberdctl.cfg, spool (Mnesia) and log directories in a temp dir, on free
//! loopback ports: c2s, one `ejabberd_service` listener per component (ejabberd
//! routes every host of a listener to every connection on it), an
//! `ejabberd_http` listener for `mod_http_api` (account registration without
//! booting a second Erlang VM per account), and the Erlang distribution port
//! (`ERL_DIST_PORT`: no shared epmd, bound to 127.0.0.1) that `ejabberdctl`
//! commands use.
//!
//! As root, `ejabberdctl` would `su` to the `ejabberd` user (and `su -c`
//! starts a new session, out of our reach), so the child is started as that
//! user directly and the temp dir is handed over to it. As another user, a
//! copy of `ejabberdctl` with its user switch turned off is run instead.
//!
//! The child is `ejabberdctl` (bash) with the Erlang VM (`beam.smp`) as its
//! child, both in a process group of their own (the group id is our child's
//! PID). Stopping signals the VM (found as our child's child) and reaps our
//! child; only that process group is ever signalled, never anything by name.
//!
//! The Erlang VM is heavy: at most `TALKGROUPS_EJABBERD_PARALLEL` (default 2)
//! instances run at a time in one test process; further `start` calls wait.
//!
//! Environment knobs:
//! - `EJABBERDCTL_BIN`: override `ejabberdctl` (default: `$PATH`, then
//!   `/usr/sbin`).
//! - `EJABBERD_LOG_LEVEL=debug`: log every stanza (default `info`).
//! - `TALKGROUPS_EJABBERD_PARALLEL`: see above.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream as StdTcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::{free_ports, log_tail, port_accepts, read_from, Options, StartError};

/// ejabberd needs 2–4 s to start on an idle machine; much more when the
/// cores are busy compiling.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// At most N ejabberd VMs at a time
// ---------------------------------------------------------------------------

static RUNNING: Mutex<usize> = Mutex::new(0);
static SLOT_FREED: Condvar = Condvar::new();

fn max_parallel() -> usize {
    std::env::var("TALKGROUPS_EJABBERD_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2)
}

/// A slot in the process-wide ejabberd limit, given back on drop.
struct Slot;

impl Slot {
    fn take() -> Slot {
        let max = max_parallel();
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= max {
            n = SLOT_FREED.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        SLOT_FREED.notify_one();
    }
}

// ---------------------------------------------------------------------------
// The launcher
// ---------------------------------------------------------------------------

/// A private ejabberd listening on 127.0.0.1, killed on drop.
pub struct Ejabberd {
    pub c2s_port: u16,
    /// The one virtual host, always `"localhost"`.
    pub domain: String,
    /// `(domain, secret, port)`: one `ejabberd_service` listener each.
    components: Vec<(String, String, u16)>,
    http_port: u16,
    dist_port: u16,
    node: String,
    ctl: PathBuf,
    /// `Some((uid, gid))` of the `ejabberd` user when we run as root.
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
    config_path: PathBuf,
    log_path: PathBuf,
    stdout_path: PathBuf,
    options: Options,
    startup_timeout: Duration,
    _slot: Slot,
    // Last so that it is removed after the child is gone (see Drop).
    dir: tempfile::TempDir,
}

fn find_ejabberdctl() -> PathBuf {
    if let Some(p) = std::env::var_os("EJABBERDCTL_BIN") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push("/usr/sbin".into());
    for dir in dirs {
        let candidate = dir.join("ejabberdctl");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`ejabberdctl` not found: ejabberd is needed for the ejabberd integration tests. \
         Install it with `apt-get install -y ejabberd` (see .ci/run for keeping its \
         service from starting), or set EJABBERDCTL_BIN."
    );
}

/// uid and gid of `user` from /etc/passwd.
fn passwd_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == user).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn current_uid() -> u32 {
    // Without libc: the owner of /proc/self is our effective uid.
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

fn yaml_str(s: &str) -> String {
    // JSON strings are valid YAML double-quoted scalars.
    serde_json::to_string(s).expect("string to JSON")
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {} to the ejabberd user: {e}", path.display()));
    if path.is_dir() {
        for entry in fs::read_dir(path).expect("read temp dir").flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

impl Ejabberd {
    /// Starts a private ejabberd on 127.0.0.1 with free ports and its own
    /// temp config, spool and log dirs, with the given components
    /// (`(domain, secret)`), each on its own `ejabberd_service` listener.
    ///
    /// Returns once ejabberd logged that it started and every listener
    /// accepts TCP connections. Panics after 60 s with the log tail, and
    /// with an install hint if `ejabberdctl` is not installed.
    pub fn start(components: &[(&str, &str)]) -> Ejabberd {
        Ejabberd::start_with(&Options::new(components))
    }

    /// As [`Ejabberd::start`], configured by `options`.
    pub fn start_with(options: &Options) -> Ejabberd {
        let ctl = find_ejabberdctl();
        let slot = Slot::take();
        let dir = tempfile::Builder::new()
            .prefix("tg-ejabberd-")
            .tempdir()
            .expect("create temp dir for ejabberd");
        let uid = current_uid();
        let run_as = if uid == 0 {
            Some(passwd_ids("ejabberd").expect(
                "running as root but there is no `ejabberd` user (is the ejabberd package installed?)",
            ))
        } else {
            None
        };
        let ctl = match run_as {
            Some(_) => ctl,
            None if passwd_ids("ejabberd").is_some_and(|(u, _)| u == uid) => ctl,
            None => {
                // ejabberdctl refuses to run as anyone but root or its
                // INSTALLUSER; a copy without that check runs as us.
                let script = fs::read_to_string(&ctl)
                    .unwrap_or_else(|e| panic!("read {}: {e}", ctl.display()));
                let patched = script.replacen("INSTALLUSER=ejabberd", "INSTALLUSER=", 1);
                let copy = dir.path().join("ejabberdctl");
                fs::write(&copy, patched).expect("write ejabberdctl copy");
                use std::os::unix::fs::PermissionsExt as _;
                fs::set_permissions(&copy, fs::Permissions::from_mode(0o755))
                    .expect("make the ejabberdctl copy executable");
                copy
            }
        };
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let node = format!(
            "tg{}_{}@localhost",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut e = Ejabberd {
            c2s_port: 0,
            domain: "localhost".to_string(),
            components: options
                .components
                .iter()
                .map(|(d, s)| (d.clone(), s.clone(), 0))
                .collect(),
            http_port: 0,
            dist_port: 0,
            node,
            ctl,
            run_as,
            child: None,
            config_path: dir.path().join("ejabberd.yml"),
            log_path: dir.path().join("logs").join("ejabberd.log"),
            stdout_path: dir.path().join("ejabberd.stdout"),
            options: options.clone(),
            startup_timeout: options.startup_timeout.unwrap_or(STARTUP_TIMEOUT),
            _slot: slot,
            dir,
        };
        // Ports are probed then released, so another process may grab one
        // before ejabberd binds it: retry with fresh ports in that case.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ports = free_ports(3 + e.components.len());
            e.c2s_port = ports[0];
            e.http_port = ports[1];
            e.dist_port = ports[2];
            for (i, c) in e.components.iter_mut().enumerate() {
                c.2 = ports[3 + i];
            }
            e.write_config();
            match e.spawn_and_wait() {
                Ok(()) => return e,
                Err(StartError::PortInUse(line)) if attempt < 5 => {
                    eprintln!("ejabberd could not bind a port ({line}); retrying with new ports");
                    e.kill_child(Duration::ZERO);
                }
                Err(StartError::PortInUse(line)) => {
                    e.kill_child(Duration::ZERO);
                    panic!(
                        "ejabberd could not bind its ports after {attempt} attempts: {line}\n{}",
                        e.log_tail(40)
                    );
                }
            }
        }
    }

    fn write_config(&self) {
        let d = self.dir.path();
        for sub in ["data", "logs"] {
            let p = d.join(sub);
            // A failed attempt may have left a Mnesia schema for other ports.
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).expect("create ejabberd dirs");
        }
        let level = match std::env::var("EJABBERD_LOG_LEVEL").as_deref() {
            Ok("debug") => "debug",
            _ => "info", // needed at least: readiness is detected from an info line
        };
        let mut cfg = String::new();
        let _ = write!(
            cfg,
            r#"# Generated by talkgroups-testkit (testkit/src/ejabberd.rs)
loglevel: {level}
log_rotate_count: 0
hosts:
  - localhost
# No certfiles: no TLS; plaintext SASL PLAIN on loopback only.
auth_method: internal
auth_password_format: plain

listen:
  -
    port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
  -
    port: {http}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
"#,
            c2s = self.c2s_port,
            http = self.http_port,
        );
        for (domain, secret, port) in &self.components {
            let _ = write!(
                cfg,
                r#"  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_service
    shaper: fast
    hosts:
      {domain}:
        password: {secret}
"#,
                domain = yaml_str(domain),
                secret = yaml_str(secret),
            );
        }
        cfg.push_str(
            r#"
acl:
  admin:
    user:
      - ""
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  announce:
    allow: admin
  configure:
    allow: admin
  muc_create:
    allow: local
  pubsub_createnode:
    allow: local
api_permissions:
  "tests":
    from:
      - mod_http_api
    who:
      ip: 127.0.0.1/8
    what:
      - register
      - change_password
      - status

"#,
        );
        // Services get the `fast` shaper; the benches' is out of the way.
        let fast = if self.options.lean {
            1_000_000_000
        } else {
            200_000
        };
        let _ = write!(
            cfg,
            r#"
shaper:
  normal:
    rate: 3000
    burst_size: 20000
  fast: {fast}
shaper_rules:
  max_user_sessions: 10
  # Debian's default is 100 per user: relay.offline = "server" tests go past it.
  max_user_offline_messages: 100000
  # Debian's default throttles clients to 3000 B/s (`normal`).
  c2s_shaper: none
  s2s_shaper: fast

"#
        );
        if self.options.lean {
            // The benches': only what a benchmark run uses (mod_http_api
            // for [`Ejabberd::register`]).
            cfg.push_str(
                r#"modules:
  mod_disco: {}
  mod_http_api: {}
  mod_ping: {}
  mod_roster: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
"#,
            );
        } else {
            cfg.push_str(
                r#"# Debian's default module list (/etc/ejabberd/ejabberd.yml of 23.01-1), as
# an admin would run it, minus mod_pres_counter on purpose: it drops the
# component's subscription presences after the fifth in a minute (see
# contrib/ejabberd.yml). Modules whose listeners are absent here (bosh, mqtt,
# stun) load and stay idle.
modules:
  mod_adhoc: {}
  mod_admin_extra: {}
  mod_announce:
    access: announce
  mod_avatar: {}
  mod_blocking: {}
  mod_bosh: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_client_state: {}
  mod_configure: {}
  mod_disco: {}
  mod_fail2ban: {}
  mod_http_api: {}
  mod_last: {}
  mod_mqtt: {}
"#,
            );
            cfg.push_str(
                r#"  mod_muc_admin: {}
"#,
            );
            cfg.push_str(
                r#"  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_pubsub:
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
    force_node_config:
      "eu.siacs.conversations.axolotl.*":
        access_model: open
      storage:bookmarks:
        access_model: whitelist
  mod_push: {}
  mod_push_keepalive: {}
  mod_roster:
    versioning: true
  mod_s2s_dialback: {}
  mod_shared_roster: {}
  mod_sic: {}
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_stun_disco: {}
  mod_vcard:
    search: false
  mod_vcard_xupdate: {}
  mod_version: {}
"#,
            );
        }
        // MUC: Debian's (with MAM), or the one asked for (no history).
        match &self.options.muc {
            Some(host) => {
                let _ = write!(
                    cfg,
                    r#"  mod_muc:
    host: {host}
    access: all
    access_create: all
    access_persistent: all
    history_size: 0
    default_room_options:
      mam: false
"#,
                    host = yaml_str(host)
                );
            }
            None if !self.options.lean => cfg.push_str(
                r#"  mod_muc:
    access:
      - allow
    access_admin:
      - allow: admin
    access_create: muc_create
    access_persistent: muc_create
    access_mam:
      - allow
    default_room_options:
      mam: true
"#,
            ),
            None => {}
        }
        // XEP-0033 on multicast.localhost, for talkgroups' component.multicast.
        // A component's domain is not one of `hosts`: the `remote` limit
        // applies; the tests' 3 instead of the default 20 lets a test cross
        // it with a few clients.
        let limit = self
            .options
            .multicast_max_addresses
            .map_or_else(|| "infinite".to_string(), |n| n.to_string());
        let _ = write!(
            cfg,
            "  mod_multicast:\n    host: multicast.localhost\n    limits:\n      remote:\n        message: {limit}\n"
        );
        fs::write(&self.config_path, cfg).expect("write ejabberd.yml");
        fs::copy("/etc/ejabberd/inetrc", d.join("inetrc"))
            .or_else(|_| {
                fs::write(
                    d.join("inetrc"),
                    "{lookup,[\"file\",\"native\"]}.\n{host,{127,0,0,1}, [\"localhost\"]}.\n",
                )
                .map(|_| 0)
            })
            .expect("write inetrc");
        // ejabberdctl.cfg is sourced by the ejabberdctl shell script.
        // ERL_DIST_PORT makes both the node and the ejabberdctl clients use
        // that port directly, without epmd (`-start_epmd false`). The
        // `inet_dist_use_interface` flag is what INET_DIST_INTERFACE=127.0.0.1
        // would compute, minus one Erlang VM boot at every start.
        let ctl_cfg = format!(
            "# Generated by talkgroups-testkit (testkit/src/ejabberd.rs)\n\
             ERLANG_NODE={node}\n\
             ERL_DIST_PORT={dist}\n\
             ERL_EPMD_ADDRESS=127.0.0.1\n\
             ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {{127,0,0,1}}\"\n\
             EJABBERD_PID_PATH={pid}\n\
             EJABBERD_BYPASS_WARNINGS=true\n",
            node = self.node,
            dist = self.dist_port,
            pid = d.join("ejabberd.pid").display(),
        );
        fs::write(d.join("ejabberdctl.cfg"), ctl_cfg).expect("write ejabberdctl.cfg");
        if let Some((uid, gid)) = self.run_as {
            chown_tree(d, uid, gid);
        }
    }

    /// `ejabberdctl --config-dir D ... <args>` as the right user, with HOME
    /// (the Erlang cookie) in our temp dir.
    fn ctl_command(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(&self.ctl);
        cmd.arg("--config-dir")
            .arg(d)
            .arg("--config")
            .arg(&self.config_path)
            .arg("--ctl-config")
            .arg(d.join("ejabberdctl.cfg"))
            .arg("--spool")
            .arg(d.join("data"))
            .arg("--logs")
            .arg(d.join("logs"))
            .args(args)
            .current_dir(d)
            .env("HOME", d)
            .env_remove("ERL_LIBS")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            // std drops root's supplementary groups when it sets the uid.
            cmd.uid(uid).gid(gid);
            cmd.env("USER", "ejabberd").env("LOGNAME", "ejabberd");
        }
        cmd
    }

    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let log_offset = fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
        let stdout_offset = fs::metadata(&self.stdout_path)
            .map(|m| m.len())
            .unwrap_or(0);
        let stdout = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stdout_path)
            .expect("open ejabberd stdout file");
        let stderr = stdout.try_clone().expect("clone file handle");
        let child = self
            .ctl_command(&["foreground"])
            .stdout(stdout)
            .stderr(stderr)
            // Our own process group (id = the child's PID), so that what is
            // left of it can be killed without looking for names.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to run {}: {e}", self.ctl.display()));
        self.child = Some(child);

        let deadline = Instant::now() + self.startup_timeout;
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let out = read_from(&self.stdout_path, stdout_offset)
                + &read_from(&self.log_path, log_offset);
            if let Some(line) = out
                .lines()
                .find(|l| l.contains("address already in use") || l.contains("eaddrinuse"))
            {
                return Err(StartError::PortInUse(line.to_string()));
            }
            if let Some(status) = exited {
                self.child = None;
                panic!(
                    "ejabberd exited during startup ({status}).\n--- stdout/stderr ---\n{}\n{}",
                    read_from(&self.stdout_path, stdout_offset),
                    self.log_tail(40)
                );
            }
            let started = out.contains("is started in the node");
            if started
                && port_accepts(self.c2s_port)
                && port_accepts(self.http_port)
                && self.components.iter().all(|c| port_accepts(c.2))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill_child(Duration::ZERO);
                panic!(
                    "ejabberd did not start (c2s port {}) within {:?}.\n{}",
                    self.c2s_port,
                    self.startup_timeout,
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Creates the account `user@localhost` (or sets its password if it
    /// exists, like `prosodyctl register`), through `mod_http_api` on the
    /// loopback HTTP listener: the same command as `ejabberdctl register`,
    /// without booting an Erlang VM per account.
    pub fn register(&self, user: &str, pass: &str) {
        let body = serde_json::json!({"user": user, "host": self.domain, "password": pass});
        let (status, answer) = self.api("register", &body);
        if status == 200 {
            return;
        }
        if answer.contains("already registered") {
            let body = serde_json::json!({"user": user, "host": self.domain, "newpass": pass});
            let (status, answer) = self.api("change_password", &body);
            if status == 200 {
                return;
            }
            panic!("ejabberd change_password {user} failed ({status}): {answer}");
        }
        panic!(
            "ejabberd register {user} failed ({status}): {answer}\n{}",
            self.log_tail(20)
        );
    }

    /// `ejabberdctl register` (boots a second Erlang VM that talks to ours
    /// over the distribution port): slower than [`Ejabberd::register`],
    /// kept to check the ejabberdctl wiring.
    pub fn ctl(&self, args: &[&str]) -> String {
        let out = self
            .ctl_command(args)
            .output()
            .unwrap_or_else(|e| panic!("failed to run {}: {e}", self.ctl.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            panic!("ejabberdctl {args:?} failed ({}):\n{text}", out.status);
        }
        text
    }

    /// POST /api/{command} with a JSON body; (status, body).
    fn api(&self, command: &str, body: &serde_json::Value) -> (u16, String) {
        let body = body.to_string();
        let request = format!(
            "POST /api/{command} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}",
            port = self.http_port,
            len = body.len()
        );
        let mut s = StdTcpStream::connect(("127.0.0.1", self.http_port))
            .unwrap_or_else(|e| panic!("connect to ejabberd's HTTP API: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        s.write_all(request.as_bytes()).expect("send API request");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or(answer);
        (status, body)
    }

    /// Stops the server (SIGTERM to the VM, SIGKILL after 10 s). Data and
    /// ports are kept for [`Ejabberd::start_again`]. Connected clients see
    /// their stream closed.
    pub fn stop(&mut self) {
        self.kill_child(Duration::from_secs(10));
    }

    /// Starts the server again on the same ports, config and data (after
    /// [`Ejabberd::stop`]; stops it first if still running).
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        if let Err(StartError::PortInUse(line)) = self.spawn_and_wait() {
            self.kill_child(Duration::ZERO);
            panic!(
                "ejabberd could not re-bind its ports on restart: {line}\n{}",
                self.log_tail(40)
            );
        }
    }

    /// Whether the server process is running (not stopped, not crashed).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Address of the listener of `component` (the first component's if
    /// it is not one of ours).
    pub fn component_addr_for(&self, component: &str) -> String {
        format!("127.0.0.1:{}", self.component_port_for(component))
    }

    /// The port of the listener of `component` (the first component's if it
    /// is not one of ours; 0 without components).
    pub fn component_port_for(&self, component: &str) -> u16 {
        self.components
            .iter()
            .find(|c| c.0 == component)
            .or(self.components.first())
            .map(|c| c.2)
            .unwrap_or(0)
    }

    /// The Erlang VM (`beam.smp` below our child `ejabberdctl`), where the
    /// server's CPU time goes; our child's PID if there is none; `None`
    /// while stopped.
    pub fn vm_pid(&self) -> Option<u32> {
        let pid = self.child.as_ref()?.id();
        let vm = crate::descendants(pid).into_iter().find(|p| {
            fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "beam.smp")
        });
        Some(vm.unwrap_or(pid))
    }

    /// The first component's listener port (0 without components).
    pub fn component_port(&self) -> u16 {
        self.components.first().map(|c| c.2).unwrap_or(0)
    }

    /// Address for c2s: `"127.0.0.1:<c2s_port>"`.
    pub fn c2s_addr(&self) -> String {
        format!("127.0.0.1:{}", self.c2s_port)
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `n` lines of ejabberd's log, with a header line.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log_path, n)
    }

    /// Stops what we started: SIGTERM to the Erlang VM (our child's
    /// children), then wait up to `grace` for our child (ejabberdctl) to
    /// exit, then SIGKILL to our child's process group. Only signals while
    /// our child is unreaped, so its PID (= the group id) cannot have been
    /// reused.
    fn kill_child(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        if let Ok(Some(_)) = child.try_wait() {
            // The VM exits before ejabberdctl does; helpers (erl_child_setup)
            // may linger briefly in the group, but the group id may now be
            // reused, so leave them: they exit with the VM's pipes.
            return;
        }
        // The VM first (TERM: a clean Mnesia shutdown; KILL: quick), so that
        // ejabberdctl reaps it and exits.
        let sig = if grace.is_zero() { "KILL" } else { "TERM" };
        for vm in children_of(pid) {
            signal(&vm.to_string(), sig);
        }
        let deadline = Instant::now() + grace.max(Duration::from_secs(2));
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The whole group: ejabberdctl, the VM and its port programs.
        signal(&format!("-{pid}"), "KILL");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// PIDs whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// `kill -SIG -- target` (a PID, or `-PGID` for a process group we made).
fn signal(target: &str, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "ejabberd (c2s {}, components {:?}) {}",
                self.c2s_port,
                self.components
                    .iter()
                    .map(|c| (c.0.as_str(), c.2))
                    .collect::<Vec<_>>(),
                self.log_tail(80)
            );
        }
        // Nothing needs to be flushed: be quick.
        self.kill_child(Duration::ZERO);
    }
}
