//! `enforce`: run a command under a Palisade profile. Argument parsing only; the work is in
//! the `enforcer` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use enforcer::{Launcher, Options, Plan, ReportTo};

/// Run a command with every tier of a Palisade profile applied: capabilities, securebits,
/// no_new_privs, Landlock, seccomp.
///
/// Exit codes: 125 the policy could not be applied (nothing ran), 126 the command cannot be
/// executed, 127 it was not found; otherwise the command's own status (128+N when it dies of
/// signal N: enforce execs in place).
#[derive(Parser)]
#[command(name = "enforce", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply a profile to this process, verify it, and exec CMD in its place.
    Run {
        /// Profile path or builtin:NAME.
        #[arg(long, default_value = "builtin:docker-default")]
        profile: String,
        /// Write the report of what was applied as JSON: `-` for stderr, or a file.
        #[arg(long, value_name = "FILE|-")]
        report: Option<String>,
        /// Print the plan (the same report) to stdout and run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run with the Landlock rights this kernel can enforce, even when the profile says
        /// `enforce`; what is dropped is reported.
        #[arg(long)]
        best_effort: bool,
        /// Compile the profile even when the compile cache holds it (see docs/enforcement.md).
        #[arg(long)]
        no_cache: bool,
        /// Run isolated in namespaces with this root filesystem (implies the profile's
        /// `isolation` section, or its defaults).
        #[arg(long, value_name = "DIR")]
        rootfs: Option<PathBuf>,
        /// Run detached (needs --name): logs go to bounded files, see `enforce logs`.
        #[arg(short = 'd', long, requires = "name")]
        detach: bool,
        /// Name of a detached container.
        #[arg(long)]
        name: Option<String>,
        /// The command and its arguments.
        #[arg(required = true, last = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
    /// List detached containers (running, exited with their status, or stale).
    Ps {
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run a command in a running container's namespaces, under the same policy.
    Exec {
        /// Container name.
        name: String,
        /// Run with the Landlock rights this kernel can enforce.
        #[arg(long)]
        best_effort: bool,
        /// The command and its arguments.
        #[arg(required = true, last = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
    /// Print a detached container's output (stdout and stderr, each to its own stream).
    Logs {
        /// Container name.
        name: String,
        /// Keep printing until the container exits.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
    /// Stop a container: SIGTERM to its PID 1, SIGKILL after --time seconds.
    Stop {
        /// Container name.
        name: String,
        /// Seconds to wait before SIGKILL.
        #[arg(long, default_value_t = 10)]
        time: u64,
    },
    /// Remove a stopped container's state and logs.
    Rm {
        /// Container name.
        name: String,
        /// Stop it first if it runs.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Report what this kernel supports: seccomp actions and flags, Landlock ABI, LSMs, user
    /// namespaces, no_new_privs, cgroup layout.
    Probe {
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// Human-readable.
    Text,
    /// JSON.
    Json,
}

fn fail(code: i32, msg: String) -> ExitCode {
    eprintln!("enforce: {msg}");
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Compile for this machine (tables only for its arch family: enforce runs nowhere else),
/// through the compile cache unless `use_cache` is false; with the cache, this machine's
/// seccomp program comes along.
fn compile(profile: &str, use_cache: bool) -> Result<enforcer::cache::Prepared, String> {
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    match enforcer::cache::compile(profile, &opts, use_cache) {
        Ok((c, note)) => {
            if let Some(n) = note {
                eprintln!("enforce: {n}");
            }
            Ok(c)
        }
        Err(e) => Err(format!("cannot compile {profile}:\n{e}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Probe { format } => {
            let p = enforcer::probe::probe();
            match format {
                Format::Text => print!("{}", enforcer::probe::text(&p)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default()),
            }
            ExitCode::SUCCESS
        }
        Command::Ps { format } => {
            let list = runtime_lite::state::list();
            match format {
                Format::Text => print!("{}", runtime_lite::lifecycle::ps_text(&list)),
                Format::Json => {
                    let rows: Vec<serde_json::Value> = list
                        .iter()
                        .map(|s| {
                            let mut v = serde_json::to_value(s).unwrap_or_default();
                            v["status"] = serde_json::json!(s.checked_status());
                            v
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
                }
            }
            ExitCode::SUCCESS
        }
        Command::Exec { name, best_effort, cmd } => {
            let st = match runtime_lite::state::State::load(&name) {
                Ok(s) => s,
                Err(e) => return fail(125, e),
            };
            let policy = match compile(&st.profile, true).and_then(|c| c.into_compiled()).map(|c| c.policy) {
                Ok(p) => p,
                Err(e) => return fail(125, e),
            };
            match runtime_lite::lifecycle::exec(&name, policy, &cmd, best_effort) {
                Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
                Err((code, m)) => fail(code, m),
            }
        }
        Command::Logs { name, follow, tail } => match runtime_lite::lifecycle::logs(&name, tail, follow) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, e),
        },
        Command::Stop { name, time } => match runtime_lite::lifecycle::stop(&name, time) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, e),
        },
        Command::Rm { name, force } => match runtime_lite::lifecycle::rm(&name, force) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, e),
        },
        Command::Run { profile, report, dry_run, best_effort, no_cache, rootfs, detach, name, cmd } => {
            let prepared = match compile(&profile, !no_cache) {
                Ok(c) => c,
                Err(e) => return fail(125, e),
            };
            for w in prepared.warnings() {
                eprintln!("{w}");
            }
            let to = match report.as_deref() {
                None => ReportTo::None,
                Some("-") => ReportTo::Stderr,
                Some(f) => ReportTo::File(PathBuf::from(f)),
            };
            let isolated = prepared.head().isolation.enabled;
            if detach && rootfs.is_none() && !isolated {
                return fail(
                    125,
                    "-d runs a container: give --rootfs or use a profile with an isolation section".into(),
                );
            }
            if (rootfs.is_some() || isolated) && !dry_run {
                let spec = runtime_lite::RunSpec {
                    profile: profile.clone(),
                    prepared,
                    argv: cmd,
                    rootfs,
                    report: to,
                    best_effort,
                    on_started: None,
                    name: name.clone(),
                };
                if detach {
                    let name = name.unwrap_or_default();
                    return match runtime_lite::lifecycle::detach(spec, &name, &profile) {
                        Ok(()) => {
                            println!("{name}");
                            ExitCode::SUCCESS
                        }
                        Err((code, m)) => fail(code, m),
                    };
                }
                return match runtime_lite::run(spec) {
                    Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
                    Err(e) => fail(e.code, e.message),
                };
            }
            let plan = match Plan::from_prepared(&profile, prepared, &cmd, Options { best_effort }) {
                Ok(p) => p,
                Err(e) => return fail(e.exit_code, e.to_string()),
            };
            if dry_run {
                return match enforcer::report::Report::planned(&plan) {
                    Ok(r) => {
                        print!("{}", r.to_json());
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e.exit_code, e.to_string()),
                };
            }
            let e = Launcher::new(plan, to).run();
            fail(e.exit_code, e.to_string())
        }
    }
}
