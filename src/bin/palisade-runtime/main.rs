//! `palisade-runtime`: an OCI runtime with runc's command line. It only parses and dispatches;
//! the work is in `runtime_lite::oci`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use runtime_lite::oci::{create, exec, ops, state, OciError};

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
    /// A Palisade profile (`builtin:NAME` or a path) applied on top of config.json: it can only
    /// narrow (capabilities, a stacked seccomp filter, Landlock). The `org.palisade.profile`
    /// annotation is used when this is not given, and replaces it when it is not wider.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// A directory whose profiles the `org.palisade.profile` annotation may name (besides
    /// `builtin:NAME`); repeatable.
    #[arg(long, global = true, default_value = create::PROFILE_DIR)]
    profile_dir: Vec<PathBuf>,
    /// Write the merged plan (config.json's process with the profile on top: ids, the five
    /// capability sets, no_new_privs, seccomp filters, Landlock) as a JSON report at create.
    #[arg(long, global = true)]
    report: Option<PathBuf>,
    /// Refused: only the cgroupfs driver is supported.
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// Refuse a config.json without a user namespace (new, or joined by path): in one, the
    /// container's root would be the host's root, with only capabilities taken away.
    #[arg(long, global = true)]
    require_userns: bool,
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
    /// Run another process in a running container.
    Exec(ExecArgs),
    /// Freeze every process of a running container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Apply new cgroup limits (runtime-spec `linux.resources` JSON, from a file or `-`).
    Update {
        /// The resources file (`-`: stdin).
        #[arg(short, long)]
        resources: String,
        id: String,
    },
    /// Print the container's resource usage.
    Events {
        /// Print one stats event and exit (the only mode).
        #[arg(long)]
        stats: bool,
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
struct ExecArgs {
    /// The process (runtime-spec `process` JSON); else the container's, with these options.
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Return once it runs.
    #[arg(short, long)]
    detach: bool,
    /// Write its pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// A terminal for the process (its master end goes to --console-socket).
    #[arg(short, long)]
    tty: bool,
    /// Unix socket that receives the terminal's master end (SCM_RIGHTS).
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Working directory in the container.
    #[arg(long)]
    cwd: Option<String>,
    /// NAME=VALUE added to the environment.
    #[arg(short, long)]
    env: Vec<String>,
    /// UID[:GID].
    #[arg(short, long)]
    user: Option<String>,
    /// Set no_new_privs.
    #[arg(long)]
    no_new_privs: bool,
    /// Pass descriptors 3..3+N on to the process.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Container id.
    id: String,
    /// Command and arguments (without --process).
    args: Vec<String>,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// Bundle directory (holds config.json).
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Write the init's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the terminal's master end (SCM_RIGHTS), for
    /// `process.terminal`.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Move the root into place and chroot instead of pivot_root (a root on ramfs).
    #[arg(long)]
    no_pivot: bool,
    /// Keep the caller's session keyring (else the container gets its own, `_ses.ID`).
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
    /// In the --log file; errors (and, without a log file, warnings) on stderr too, which is
    /// the container's once it runs.
    fn say(&self, level: &str, msg: &str) {
        if level == "error" || self.file.is_none() {
            eprintln!("palisade-runtime: {level}: {msg}");
        }
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

fn options(cli: &Cli, a: &CreateArgs) -> Result<create::Create, OciError> {
    let (root, profile) = (cli.root.as_path(), cli.profile.as_ref());
    Ok(create::Create {
        no_pivot: a.no_pivot,
        root: root.to_path_buf(),
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        profile: profile.cloned(),
        console_socket: a.console_socket.clone(),
        profile_dirs: cli.profile_dir.clone(),
        report: cli.report.clone(),
        require_userns: cli.require_userns,
        no_new_keyring: a.no_new_keyring,
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
            create::create(&options(cli, a)?, &mut warn)?;
        }
        Cmd::Start { id } => ops::start(root, id, &mut warn)?,
        Cmd::Run { create: a, detach } => return run(cli, a, *detach, &mut warn),
        Cmd::State { id } => println!("{}", json(&ops::state(root, id)?)),
        Cmd::Kill { all, id, signal } => {
            let name = signal.as_deref().unwrap_or("TERM");
            let sig = ops::signal(name).ok_or_else(|| OciError::Config {
                field: "signal".into(),
                why: format!("unknown signal `{name}`"),
            })?;
            ops::kill(root, id, sig, *all)?;
        }
        Cmd::Delete { force, id } => ops::delete(root, id, *force, &mut warn)?,
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
        Cmd::Exec(a) => {
            let code = exec(root, a, &mut warn)?;
            if !a.detach {
                return Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)));
            }
        }
        Cmd::Pause { id } => ops::pause(root, id, true)?,
        Cmd::Resume { id } => ops::pause(root, id, false)?,
        Cmd::Update { resources, id } => {
            let text = if resources == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| OciError::io("read stdin", e))?
            } else {
                std::fs::read_to_string(resources)
                    .map_err(|e| OciError::io(format!("read {resources}"), e))?
            };
            let r = serde_json::from_str(&text)
                .map_err(|e| OciError::Config { field: "--resources".into(), why: e.to_string() })?;
            ops::update(root, id, &r)?;
        }
        Cmd::Events { stats, id } => {
            if !stats {
                return Err(refuse("events without --stats"));
            }
            println!("{}", ops::stats(root, id)?);
        }
        Cmd::Spec { bundle } => runtime_lite::oci::spec::write_default(bundle)?,
        Cmd::Features => println!("{}", json(&runtime_lite::oci::spec::features())),
    }
    Ok(ExitCode::SUCCESS)
}

/// `exec`: the process from `--process` or the options, then run.
fn exec(root: &std::path::Path, a: &ExecArgs, warn: &mut dyn FnMut(&str)) -> Result<i32, OciError> {
    let given = exec::Given {
        process: a.process.clone(),
        args: a.args.clone(),
        cwd: a.cwd.clone(),
        env: a.env.clone(),
        user: a.user.clone(),
        no_new_privs: a.no_new_privs,
        tty: a.tty,
    };
    let process = exec::process(root, &a.id, &given, warn)?;
    let e = exec::Exec {
        process,
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        console_socket: a.console_socket.clone(),
    };
    exec::exec(root, &a.id, &e)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// create + start, then (unless detached) wait for the init, forwarding signals, and delete.
fn run(cli: &Cli, a: &CreateArgs, detach: bool, warn: &mut dyn FnMut(&str)) -> Result<ExitCode, OciError> {
    let o = options(cli, a)?;
    let root = cli.root.as_path();
    if !detach {
        // Blocked before the clone, so no SIGCHLD is missed; the init unblocks them.
        runtime_lite::shim::block().map_err(|e| OciError::Init(format!("block signals: {e}")))?;
    }
    let pid = create::create(&o, warn)?;
    if let Err(e) = ops::start(root, &a.id, warn) {
        let _ = ops::delete(root, &a.id, true, warn);
        return Err(e);
    }
    if detach {
        return Ok(ExitCode::SUCCESS);
    }
    let code = runtime_lite::shim::supervise(nix::unistd::Pid::from_raw(pid), None);
    ops::delete(root, &a.id, true, warn)?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}
