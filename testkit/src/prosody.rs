//! A private Prosody per instance.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{
    contrib_dir, free_ports, log_tail, port_accepts, read_from, terminate, Options, StartError,
};

/// How long [`Prosody::start`] waits for the ports by default.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

fn prosody_bin() -> PathBuf {
    crate::find_binary(
        "PROSODY_BIN",
        "prosody",
        &[],
        "Prosody is needed for the integration tests and benchmarks. \
         Install it with `apt-get install -y prosody`",
    )
}

fn prosodyctl_bin() -> PathBuf {
    crate::find_binary(
        "PROSODYCTL_BIN",
        "prosodyctl",
        &[],
        "Prosody is needed for the integration tests and benchmarks. \
         Install it with `apt-get install -y prosody`",
    )
}

/// A private Prosody server listening on 127.0.0.1, killed on drop.
///
/// Environment knobs:
/// - `PROSODY_BIN` / `PROSODYCTL_BIN`: override the binaries (default: `$PATH`).
/// - `PROSODY_LOG_LEVEL=debug`: log every stanza in Prosody's log (default
///   `info`; debug logging slows Prosody down noticeably on bursts).
///
/// When a thread panics while a [`Prosody`] is alive, its log tail is printed.
pub struct Prosody {
    pub c2s_port: u16,
    pub component_port: u16,
    /// The one VirtualHost, always `"localhost"`.
    pub domain: String,
    http_port: u16,
    options: Options,
    startup_timeout: Duration,
    child: Option<Child>,
    config_path: PathBuf,
    log_path: PathBuf,
    stdout_path: PathBuf,
    // Last so that it is removed after the child is gone (see Drop).
    dir: tempfile::TempDir,
}

fn lua_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Prosody {
    /// Starts a private Prosody on 127.0.0.1 with free ports, its own temp
    /// data dir, pidfile and admin socket, with the given components
    /// (`(domain, secret)`, e.g. `("groups.localhost", "secret")`): the
    /// integration tests' set-up ([`Options::new`]).
    ///
    /// Returns once the c2s port (and the component port, if any component
    /// is configured) accept TCP connections. Panics after 20 s with the log
    /// tail. Panics with an install hint if `prosody` is not installed.
    pub fn start(components: &[(&str, &str)]) -> Prosody {
        Prosody::start_with(&Options::new(components))
    }

    /// As [`Prosody::start`], configured by `options`.
    pub fn start_with(options: &Options) -> Prosody {
        let prosody_bin = prosody_bin();
        let _ = prosodyctl_bin();
        let dir = tempfile::Builder::new()
            .prefix("tg-prosody-")
            .tempdir()
            .expect("create temp dir for Prosody");
        let mut p = Prosody {
            c2s_port: 0,
            component_port: 0,
            domain: "localhost".to_string(),
            http_port: 0,
            options: options.clone(),
            startup_timeout: options.startup_timeout.unwrap_or(STARTUP_TIMEOUT),
            child: None,
            config_path: dir.path().join("prosody.cfg.lua"),
            log_path: dir.path().join("prosody.log"),
            stdout_path: dir.path().join("prosody.stdout"),
            dir,
        };
        for dir in ["data", "certs"] {
            fs::create_dir_all(p.dir.path().join(dir)).expect("create Prosody dirs");
        }
        // Ports are probed then released, so another process may grab one
        // before Prosody binds it: retry with fresh ports in that case.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ports = free_ports(3);
            p.c2s_port = ports[0];
            p.component_port = ports[1];
            p.http_port = ports[2];
            p.write_config();
            match p.spawn_and_wait(&prosody_bin) {
                Ok(()) => return p,
                Err(StartError::PortInUse(line)) if attempt < 5 => {
                    eprintln!("Prosody could not bind a port ({line}); retrying with new ports");
                    p.kill_child(Duration::from_millis(500));
                }
                Err(StartError::PortInUse(line)) => {
                    p.kill_child(Duration::from_millis(500));
                    panic!(
                        "Prosody could not bind its ports after {attempt} attempts: {line}\n{}",
                        p.log_tail(40)
                    );
                }
            }
        }
    }

    fn write_config(&self) {
        let d = self.dir.path();
        let path = |name: &str| lua_str(&d.join(name).to_string_lossy());
        let level = match std::env::var("PROSODY_LOG_LEVEL").as_deref() {
            Ok("debug") => "debug",
            _ => "info", // needed at least: readiness is detected from info lines
        };
        let mut cfg = String::new();
        let _ = write!(
            cfg,
            r#"-- Generated by talkgroups-testkit (testkit/src/prosody.rs)
run_as_root = true
daemonize = false
data_path = {data}
pidfile = {pidfile}
admin_socket = {admin_socket}
certificates = {certs}
-- contrib/prosody: mod_talkgroups_multicast (XEP-0033, component.multicast)
plugin_paths = {{ {plugins} }}

interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {component} }}
component_interface = "127.0.0.1"
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ {http} }}
http_interfaces = {{ "127.0.0.1" }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
https_ports = {{ }}
s2s_ports = {{ }}
s2s_direct_tls_ports = {{ }}
proxy65_ports = {{ }}

-- Only what the tests and benches need. presence, message, iq, offline, c2s and posix are
-- loaded by Prosody itself; s2s is autoloaded too, hence modules_disabled.
-- No tls (no certificates), no network-facing extras.
-- mod_limits (the c2s/s2s byte-rate throttle, 10 kB/s c2s by default when
-- loaded) is deliberately NOT loaded: in 0.12 it is not autoloaded, so
-- without it nothing is throttled.
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping" }}
modules_disabled = {{ "s2s"; "s2s_auth_certs" }}
-- Only read if someone adds "limits" to modules_enabled; 0.12 syntax:
-- rate "<n><unit>/s", unit b/kb/mb, decimal (10mb/s = 10 000 000 B/s).
limits = {{ c2s = {{ rate = "100mb/s"; burst = "10s" }}; s2sin = {{ rate = "100mb/s"; burst = "10s" }} }}

c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "{auth}"
storage = "internal"
allow_registration = false
-- Graceful shutdown must not take long.
network_settings = {{ shutdown_deadline = 1 }}

log = {{
    {{ levels = {{ min = "{level}" }}; to = "file"; filename = {log} }};
}}

VirtualHost "localhost"
"#,
            data = path("data"),
            pidfile = path("prosody.pid"),
            admin_socket = path("prosody.sock"),
            certs = path("certs"),
            c2s = self.c2s_port,
            component = self.component_port,
            http = self.http_port,
            log = path("prosody.log"),
            plugins = lua_str(&contrib_dir().join("prosody").to_string_lossy()),
            // internal_plain: accounts can be written as files (benches).
            auth = if self.options.lean {
                "internal_plain"
            } else {
                "internal_hashed"
            },
        );
        for (domain, secret) in &self.options.components {
            let _ = write!(
                cfg,
                "\nComponent {}\n    component_secret = {}\n",
                lua_str(domain),
                lua_str(secret)
            );
        }
        // XEP-0033 for the components, as the private ejabberd has it (the
        // tests': at most 3 addresses per stanza, so that a test can cross
        // the limit).
        let senders: Vec<String> = self
            .options
            .components
            .iter()
            .map(|(d, _)| lua_str(d))
            .collect();
        let _ = write!(
            cfg,
            "\nComponent \"multicast.localhost\" \"talkgroups_multicast\"\n    \
             multicast_senders = {{ {} }}\n    multicast_max_addresses = {}\n",
            senders.join("; "),
            self.options.multicast_max_addresses.unwrap_or(100_000)
        );
        if let Some(muc) = &self.options.muc {
            let _ = write!(
                cfg,
                "\nComponent {} \"muc\"\n    muc_room_locking = false\n    \
                 restrict_room_creation = false\n",
                lua_str(muc)
            );
        }
        fs::write(&self.config_path, cfg).expect("write Prosody config");
    }

    fn spawn_and_wait(&mut self, bin: &Path) -> Result<(), StartError> {
        let log_offset = fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
        let stdout = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stdout_path)
            .expect("open Prosody stdout file");
        let stderr = stdout.try_clone().expect("clone file handle");
        let child = Command::new(bin)
            .arg("-F")
            .arg("--config")
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to run {}: {e}", bin.display()));
        self.child = Some(child);

        let c2s_line = format!("Activated service 'c2s' on [127.0.0.1]:{}", self.c2s_port);
        let comp_line = format!(
            "Activated service 'component' on [127.0.0.1]:{}",
            self.component_port
        );
        let deadline = Instant::now() + self.startup_timeout;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "Prosody exited during startup ({status}).\n--- stdout/stderr ---\n{}\n{}",
                    fs::read_to_string(&self.stdout_path).unwrap_or_default(),
                    self.log_tail(40)
                );
            }
            let log = read_from(&self.log_path, log_offset);
            if let Some(line) = log
                .lines()
                .find(|l| l.contains("Failed to open server port"))
            {
                return Err(StartError::PortInUse(line.to_string()));
            }
            let c2s_ok = log.contains(&c2s_line);
            let comp_ok = self.options.components.is_empty() || log.contains(&comp_line);
            if c2s_ok
                && comp_ok
                && port_accepts(self.c2s_port)
                && (self.options.components.is_empty() || port_accepts(self.component_port))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill_child(Duration::from_millis(500));
                panic!(
                    "Prosody did not open c2s port {} / component port {} within {:?}.\n{}",
                    self.c2s_port,
                    self.component_port,
                    self.startup_timeout,
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    /// `prosodyctl --config <cfg> register <user> localhost <pass>`.
    /// Works while the server runs (it writes the account file directly).
    pub fn register(&self, user: &str, pass: &str) {
        let ctl = prosodyctl_bin();
        let out = Command::new(&ctl)
            .arg("--config")
            .arg(&self.config_path)
            .args(["register", user, &self.domain, pass])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("failed to run {}: {e}", ctl.display()));
        if !out.status.success() {
            panic!(
                "prosodyctl register {user} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s). Data and ports are
    /// kept for [`Prosody::start_again`]. Connected clients see their stream
    /// closed.
    pub fn stop(&mut self) {
        self.kill_child(Duration::from_secs(5));
    }

    /// Starts the server again on the same ports, config and data (after
    /// [`Prosody::stop`]; stops it first if still running).
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        let bin = prosody_bin();
        if let Err(StartError::PortInUse(line)) = self.spawn_and_wait(&bin) {
            self.kill_child(Duration::from_millis(500));
            panic!(
                "Prosody could not re-bind its ports on restart: {line}\n{}",
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

    /// Address for a component: `"127.0.0.1:<component_port>"`.
    pub fn component_addr(&self) -> String {
        format!("127.0.0.1:{}", self.component_port)
    }

    /// Address for c2s: `"127.0.0.1:<c2s_port>"`.
    pub fn c2s_addr(&self) -> String {
        format!("127.0.0.1:{}", self.c2s_port)
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `n` lines of Prosody's log, with a header line.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log_path, n)
    }

    /// SIGTERM our child, wait up to `grace`, then SIGKILL. Only ever signals
    /// the process we spawned, and only while it is unreaped (so its PID
    /// cannot have been reused).
    fn kill_child(&mut self, grace: Duration) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, grace);
        }
    }

    /// Our Prosody process (`None` while stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Writes the account `user@localhost` with `pass` as a file (Prosody
    /// reads it at login): only with [`Options::lean`] (`internal_plain`).
    /// Many accounts take no time this way, unlike [`Prosody::register`].
    pub fn write_account(&self, user: &str, pass: &str) {
        assert!(
            self.options.lean,
            "Prosody::write_account needs Options::lean (internal_plain)"
        );
        let dir = self.data_dir().join(&self.domain).join("accounts");
        fs::create_dir_all(&dir).expect("create Prosody accounts dir");
        fs::write(
            dir.join(format!("{user}.dat")),
            format!("return {{\n\t[\"password\"] = {};\n}};\n", lua_str(pass)),
        )
        .expect("write Prosody account file");
    }

    /// Writes `user`'s roster as a file: each of `contacts` with
    /// subscription `both`, no groups.
    pub fn write_roster(&self, user: &str, contacts: &[&str]) {
        let dir = self.data_dir().join(&self.domain).join("roster");
        fs::create_dir_all(&dir).expect("create Prosody roster dir");
        let mut r = String::from("return {\n\t[false] = { [\"version\"] = 1; };\n");
        for c in contacts {
            let _ = writeln!(
                r,
                "\t[{}] = {{ [\"subscription\"] = \"both\"; [\"groups\"] = {{}}; }};",
                lua_str(c)
            );
        }
        r.push_str("};\n");
        fs::write(dir.join(format!("{user}.dat")), r).expect("write Prosody roster file");
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "Prosody (c2s {}, component {}) {}",
                self.c2s_port,
                self.component_port,
                self.log_tail(60)
            );
        }
        // Nothing needs to be flushed: be quick.
        self.kill_child(Duration::from_millis(300));
    }
}
