//! `palisade-runtime`: an OCI runtime with runc's command line. It only parses and dispatches;
//! the work is in `runtime_lite::oci`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use runtime_lite::oci::{create, ops, state, OciError};

#[derive(Parser)]
#[command(
    name = "palisade-runtime",
    version,
    about = "An OCI runtime (runc's command line) that applies Palisade's enforcement"
)]
struct Cli {
    /// Directory for the containers' state.
    #[arg(long, global = true, default_value = state::DEFAULT_ROOT)]
    root: PathBuf,
    /// Also write errors and warnings to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Format of the --log file.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Accepted for runc compatibility (nothing more is logged).
    #[arg(long, global = true)]
    debug: bool,
    /// Refused: only the cgroupfs driver is supported.
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a container: its init waits in its namespaces until `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container, and wait for it unless --detach.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once it is started.
        #[arg(short, long)]
        detach: bool,
    },
    /// Print a container's state (OCI state JSON).
    State { id: String },
    /// Send a signal (name or number, default SIGTERM) to a container's init.
    Kill {
        /// To every process of the container.
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Remove a stopped or created container.
    Delete {
        /// Kill it first if it runs.
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List the containers.
    List {
        /// `table` or `json`.
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// The processes of a container.
    Ps {
        /// `table` or `json`.
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
    },
    /// Write a default config.json in the bundle directory.
    Spec {
        /// Bundle directory.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// What this runtime supports (runtime-spec features.json).
    Features,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// Bundle directory (holds config.json).
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Write the init's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Refused: terminals are not supported yet.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Refused: pivot_root is always used.
    #[arg(long)]
    no_pivot: bool,
    /// Accepted (no session keyring is made).
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass descriptors 3..3+N on to the process.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Container id.
    id: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = Log { file: cli.log.clone(), format: cli.log_format };
    match dispatch(&cli, &log) {
        Ok(code) => code,
        Err(e) => {
            log.say("error", &e.to_string());
            ExitCode::FAILURE
        }
    }
}

struct Log {
    file: Option<PathBuf>,
    format: LogFormat,
}

impl Log {
    /// On stderr, and in the --log file.
    fn say(&self, level: &str, msg: &str) {
        eprintln!("palisade-runtime: {level}: {msg}");
        let Some(path) = &self.file else { return };
        let time = state::rfc3339_now();
        let line = match self.format {
            LogFormat::Json => serde_json::json!({"level": level, "msg": msg, "time": time}).to_string(),
            LogFormat::Text => format!("time=\"{time}\" level={level} msg={msg:?}"),
        };
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn refuse(what: &str) -> OciError {
    OciError::Config { field: what.into(), why: "not supported yet".into() }
}

fn options(root: &std::path::Path, a: &CreateArgs) -> Result<create::Create, OciError> {
    if a.console_socket.is_some() {
        return Err(refuse("--console-socket"));
    }
    if a.no_pivot {
        return Err(refuse("--no-pivot"));
    }
    Ok(create::Create {
        root: root.to_path_buf(),
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
    })
}

fn dispatch(cli: &Cli, log: &Log) -> Result<ExitCode, OciError> {
    if cli.systemd_cgroup {
        return Err(refuse("--systemd-cgroup"));
    }
    let root = cli.root.as_path();
    let mut warn = |m: &str| log.say("warning", m);
    match &cli.command {
        Cmd::Create(a) => {
            create::create(&options(root, a)?, &mut warn)?;
        }
        Cmd::Start { id } => ops::start(root, id)?,
        Cmd::Run { create: a, detach } => return run(root, a, *detach, &mut warn),
        Cmd::State { id } => println!("{}", json(&ops::state(root, id)?)),
        Cmd::Kill { all, id, signal } => {
            let name = signal.as_deref().unwrap_or("TERM");
            let sig = ops::signal(name).ok_or_else(|| OciError::Config {
                field: "signal".into(),
                why: format!("unknown signal `{name}`"),
            })?;
            ops::kill(root, id, sig, *all)?;
        }
        Cmd::Delete { force, id } => ops::delete(root, id, *force)?,
        Cmd::List { format, quiet } => {
            let all = ops::list(root)?;
            if *quiet {
                all.iter().for_each(|s| println!("{}", s.id));
            } else if format == "json" {
                println!("{}", serde_json::to_string(&all).unwrap_or_default());
            } else {
                println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
                for s in all {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        s.id,
                        s.pid,
                        s.status,
                        s.bundle.display(),
                        s.created,
                        s.owner
                    );
                }
            }
        }
        Cmd::Ps { format, id } => {
            let s = ops::state(root, id)?;
            let pids = if s.pid == 0 { Vec::new() } else { ops::pids(s.pid) };
            if format == "json" {
                println!("{}", serde_json::to_string(&pids).unwrap_or_default());
            } else {
                println!("PID");
                pids.iter().for_each(|p| println!("{p}"));
            }
        }
        Cmd::Spec { bundle } => runtime_lite::oci::spec::write_default(bundle)?,
        Cmd::Features => println!("{}", json(&runtime_lite::oci::spec::features())),
    }
    Ok(ExitCode::SUCCESS)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// create + start, then (unless detached) wait for the init, forwarding signals, and delete.
fn run(
    root: &std::path::Path,
    a: &CreateArgs,
    detach: bool,
    warn: &mut dyn FnMut(&str),
) -> Result<ExitCode, OciError> {
    let o = options(root, a)?;
    if !detach {
        // Blocked before the clone, so no SIGCHLD is missed; the init unblocks them.
        runtime_lite::shim::block().map_err(|e| OciError::Init(format!("block signals: {e}")))?;
    }
    let pid = create::create(&o, warn)?;
    if let Err(e) = ops::start(root, &a.id) {
        let _ = ops::delete(root, &a.id, true);
        return Err(e);
    }
    if detach {
        return Ok(ExitCode::SUCCESS);
    }
    let code = runtime_lite::shim::supervise(nix::unistd::Pid::from_raw(pid), None);
    ops::delete(root, &a.id, true)?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}
