//! Either server, and what to configure on it.

use std::time::Duration;

use crate::{Ejabberd, Prosody};

/// Which server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prosody,
    Ejabberd,
}

impl Kind {
    /// `"prosody"` or `"ejabberd"`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prosody => "prosody",
            Kind::Ejabberd => "ejabberd",
        }
    }
}

/// What a private server has besides the virtual host `localhost` (with
/// c2s, plaintext SASL PLAIN on loopback) and `multicast.localhost`
/// (XEP-0033: Prosody's contrib/prosody mod_talkgroups_multicast, ejabberd's
/// mod_multicast).
#[derive(Clone, Debug)]
pub struct Options {
    /// External components (XEP-0114), `(domain, secret)`. Prosody has them
    /// all on one listener; ejabberd gets one listener each (it routes every
    /// host of a listener to every connection on it).
    pub components: Vec<(String, String)>,
    /// A MUC service on this domain: rooms unlocked and created by anyone
    /// (ejabberd: also no history and no MAM). Without it, ejabberd's
    /// default module list still has `mod_muc` on `conference.localhost`.
    pub muc: Option<String>,
    /// Addresses per XEP-0033 stanza; `None`: no limit. The tests' 3 lets a
    /// test cross the limit with a few clients.
    pub multicast_max_addresses: Option<u32>,
    /// The benchmarks' set-up. Prosody: accounts stored in plain
    /// (`internal_plain`), so [`Prosody::write_account`] can make many
    /// accounts as files. ejabberd: no shapers on c2s or components, and
    /// only the modules a benchmark needs instead of Debian's default list.
    pub lean: bool,
    /// How long to wait for the ports (default: Prosody 20 s, ejabberd 60 s).
    pub startup_timeout: Option<Duration>,
}

impl Options {
    /// The integration tests' set-up with these components (`(domain,
    /// secret)`).
    pub fn new(components: &[(&str, &str)]) -> Options {
        Options {
            components: components
                .iter()
                .map(|(d, s)| (d.to_string(), s.to_string()))
                .collect(),
            muc: None,
            multicast_max_addresses: Some(3),
            lean: false,
            startup_timeout: None,
        }
    }

    /// The benchmarks' set-up ([`Options::lean`], no XEP-0033 address
    /// limit) with these components.
    pub fn bench(components: &[(&str, &str)]) -> Options {
        Options {
            multicast_max_addresses: None,
            lean: true,
            ..Options::new(components)
        }
    }

    /// Adds a MUC service on `domain` (see [`Options::muc`]).
    pub fn with_muc(mut self, domain: &str) -> Options {
        self.muc = Some(domain.to_string());
        self
    }

    pub fn with_startup_timeout(mut self, timeout: Duration) -> Options {
        self.startup_timeout = Some(timeout);
        self
    }
}

/// What a client and a component runner need from a server.
pub trait XmppServer {
    /// The virtual host users live on (`"localhost"`).
    fn domain(&self) -> &str;
    fn c2s_port(&self) -> u16;
    /// `"127.0.0.1:<port>"` of the listener `component` must connect to.
    fn component_addr_for(&self, component: &str) -> String;
    /// Creates `user@domain` with `pass` (or resets the password).
    fn register(&self, user: &str, pass: &str);
}

impl XmppServer for Prosody {
    fn domain(&self) -> &str {
        &self.domain
    }
    fn c2s_port(&self) -> u16 {
        self.c2s_port
    }
    fn component_addr_for(&self, _component: &str) -> String {
        self.component_addr()
    }
    fn register(&self, user: &str, pass: &str) {
        Prosody::register(self, user, pass)
    }
}

impl XmppServer for Ejabberd {
    fn domain(&self) -> &str {
        &self.domain
    }
    fn c2s_port(&self) -> u16 {
        self.c2s_port
    }
    fn component_addr_for(&self, component: &str) -> String {
        Ejabberd::component_addr_for(self, component)
    }
    fn register(&self, user: &str, pass: &str) {
        Ejabberd::register(self, user, pass)
    }
}

/// A private Prosody or ejabberd (see [`Prosody`], [`Ejabberd`]).
pub enum Server {
    Prosody(Prosody),
    Ejabberd(Ejabberd),
}

impl Server {
    /// Starts a server of `kind` with the given components
    /// (`(domain, secret)`); see [`Prosody::start`] and [`Ejabberd::start`].
    pub fn start(kind: Kind, components: &[(&str, &str)]) -> Server {
        Server::start_with(kind, &Options::new(components))
    }

    /// Starts a server of `kind` configured by `options`.
    pub fn start_with(kind: Kind, options: &Options) -> Server {
        match kind {
            Kind::Prosody => Server::Prosody(Prosody::start_with(options)),
            Kind::Ejabberd => Server::Ejabberd(Ejabberd::start_with(options)),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Server::Prosody(_) => Kind::Prosody,
            Server::Ejabberd(_) => Kind::Ejabberd,
        }
    }

    pub fn is_ejabberd(&self) -> bool {
        self.kind() == Kind::Ejabberd
    }

    pub fn register(&self, user: &str, pass: &str) {
        XmppServer::register(self, user, pass)
    }

    /// Stops the server, keeping ports and data for [`Server::start_again`].
    pub fn stop(&mut self) {
        match self {
            Server::Prosody(p) => p.stop(),
            Server::Ejabberd(e) => e.stop(),
        }
    }

    /// Starts the server again on the same ports, config and data.
    pub fn start_again(&mut self) {
        match self {
            Server::Prosody(p) => p.start_again(),
            Server::Ejabberd(e) => e.start_again(),
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self {
            Server::Prosody(p) => p.is_running(),
            Server::Ejabberd(e) => e.is_running(),
        }
    }

    pub fn c2s_addr(&self) -> String {
        format!("127.0.0.1:{}", self.c2s_port())
    }

    /// The (first) component listener's port.
    pub fn component_port(&self) -> u16 {
        match self {
            Server::Prosody(p) => p.component_port,
            Server::Ejabberd(e) => e.component_port(),
        }
    }

    /// The port of the listener `component` connects to.
    pub fn component_port_for(&self, component: &str) -> u16 {
        match self {
            Server::Prosody(p) => p.component_port,
            Server::Ejabberd(e) => e.component_port_for(component),
        }
    }

    /// The PID whose CPU time is the server's (Prosody's process;
    /// ejabberd's Erlang VM); `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Server::Prosody(p) => p.pid(),
            Server::Ejabberd(e) => e.vm_pid(),
        }
    }

    pub fn log_tail(&self, n: usize) -> String {
        match self {
            Server::Prosody(p) => p.log_tail(n),
            Server::Ejabberd(e) => e.log_tail(n),
        }
    }
}

impl XmppServer for Server {
    fn domain(&self) -> &str {
        match self {
            Server::Prosody(p) => XmppServer::domain(p),
            Server::Ejabberd(e) => XmppServer::domain(e),
        }
    }
    fn c2s_port(&self) -> u16 {
        match self {
            Server::Prosody(p) => p.c2s_port,
            Server::Ejabberd(e) => e.c2s_port,
        }
    }
    fn component_addr_for(&self, component: &str) -> String {
        match self {
            Server::Prosody(p) => XmppServer::component_addr_for(p, component),
            Server::Ejabberd(e) => e.component_addr_for(component),
        }
    }
    fn register(&self, user: &str, pass: &str) {
        match self {
            Server::Prosody(p) => p.register(user, pass),
            Server::Ejabberd(e) => e.register(user, pass),
        }
    }
}
