//! The `talkgroups` command line: parses arguments, sets up logging and
//! runs `talkgroups::app` (see the library's documentation for the parts).

use talkgroups::{app, config, store};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "talkgroups",
    version,
    about = "Roster-based group chat for XMPP (an external component)"
)]
struct Args {
    /// The TOML configuration file.
    #[arg(long, short, global = true, env = "TALKGROUPS_CONFIG")]
    config: Option<PathBuf>,
    /// Log format (verbosity comes from RUST_LOG, default "info").
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the component (the default).
    Run,
    /// Validate the config, open and migrate the database, print the
    /// effective settings.
    Check,
    /// API tokens (the operations API, /api/v1): add, list, revoke. Works
    /// while the component runs.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Subcommand, Debug)]
enum TokenAction {
    /// Make a token and print it (once: only its SHA-256 is stored).
    Add {
        /// `service` (everything) or `group:NAME` (that group only).
        #[arg(long)]
        scope: String,
        /// A note for `token list`.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// The tokens: id, scope, label, when made (never the tokens).
    List,
    /// Revoke the token with this id (see `token list`).
    Revoke { id: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    tune_malloc();
    let args = Args::parse();
    init_tracing(args.log_format);
    let Some(path) = args.config.clone() else {
        eprintln!(
            "talkgroups: error: no config file: pass --config FILE (or set TALKGROUPS_CONFIG)"
        );
        return ExitCode::from(2);
    };
    let cfg = match config::Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("talkgroups: error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command.unwrap_or(Command::Run) {
        Command::Check => check(&cfg),
        Command::Token { action } => token(&cfg, action),
        Command::Run => app::run(cfg, shutdown_signal()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("talkgroups: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// glibc's malloc gives each thread that allocates its own arena (up to
/// eight per core) and raises its trim threshold after every large free, so
/// memory freed after a burst (thousands of presences at start, a fan-out
/// to 10 000 members) stays with the process, several MB per arena.
/// talkgroups has a handful of threads and little contention: two arenas
/// and fixed thresholds keep its RSS near what is in use (BENCHMARKS.md,
/// "memory"). `MALLOC_ARENA_MAX`, `MALLOC_TRIM_THRESHOLD_` or
/// `MALLOC_MMAP_THRESHOLD_` in the environment turn this off.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    let tuned_by_env = [
        "MALLOC_ARENA_MAX",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_MMAP_THRESHOLD_",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if tuned_by_env {
        return;
    }
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// The error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // tokio-xmpp logs the handshake hash (secret-derived) at trace level:
    // keep it at info unless RUST_LOG names it explicitly.
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let spec = if spec.contains("tokio_xmpp") {
        spec
    } else {
        format!("{spec},tokio_xmpp=info")
    };
    let filter =
        EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info,tokio_xmpp=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Checks the config and the database. A database that a running
/// talkgroups holds is not opened (a migration would race it); that is
/// said, and the config is still checked.
fn token(cfg: &config::Config, action: TokenAction) -> anyhow::Result<()> {
    let mut store = store::Store::open(&cfg.storage.database)?;
    match action {
        TokenAction::Add { scope, label } => {
            if !store::tokens::valid_scope(&scope) {
                anyhow::bail!("--scope {scope:?} must be service or group:NAME");
            }
            if label.chars().count() > 100 || label.chars().any(char::is_control) {
                anyhow::bail!("--label must be at most 100 printable characters");
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let (token, rec) = store.add_token(&scope, &label, now)?;
            println!("{token}");
            eprintln!(
                "token {} ({}) made; it is shown only now: keep it. A running talkgroups accepts it at once.",
                rec.id, rec.scope
            );
        }
        TokenAction::List => {
            let all = store.list_tokens()?;
            if all.is_empty() {
                println!("no tokens");
            }
            for t in all {
                println!(
                    "{}\t{}\t{}\t{}",
                    t.id,
                    t.scope,
                    talkgroups::core::stanza::human_time(t.created_at),
                    t.label
                );
            }
        }
        TokenAction::Revoke { id } => {
            if !store.revoke_token(&id)? {
                anyhow::bail!("no token with id {id:?} (see talkgroups token list)");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

fn check(cfg: &config::Config) -> anyhow::Result<()> {
    let _lock = match store::lock_database(&cfg.storage.database) {
        Ok(l) => l,
        Err(store::StoreError::InUse { pid, lock, .. }) => {
            print!("{}", cfg.describe());
            println!(
                "database: in use by a running talkgroups ({}holding {}): not opened",
                pid.map(|p| format!("pid {p}, ")).unwrap_or_default(),
                lock.display()
            );
            println!("config ok");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let mut store = store::Store::open(&cfg.storage.database)?;
    let snap = store.load(1)?;
    let instance = store.instance_id()?;
    print!("{}", cfg.describe());
    println!(
        "database: ok ({}, schema version {}, {} groups, {} members)",
        cfg.storage.database.display(),
        store.schema_version()?,
        snap.groups.len(),
        snap.members.len()
    );
    println!("instance id: {instance}");
    println!("config ok");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
