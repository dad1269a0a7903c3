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
        /// Run isolated in namespaces with this root filesystem (implies the profile's
        /// `isolation` section, or its defaults).
        #[arg(long, value_name = "DIR")]
        rootfs: Option<PathBuf>,
        /// The command and its arguments.
        #[arg(required = true, last = true, value_name = "CMD")]
        cmd: Vec<String>,
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
        Command::Run { profile, report, dry_run, best_effort, rootfs, cmd } => {
            let fail = |code: i32, msg: String| {
                eprintln!("enforce: {msg}");
                ExitCode::from(code as u8)
            };
            let compiled = match policy::compile(&profile, &policy::CompileOptions::default()) {
                Ok(c) => c,
                Err(e) => return fail(125, format!("cannot compile {profile}:\n{e}")),
            };
            for w in &compiled.warnings {
                eprintln!("{w}");
            }
            let to = match report.as_deref() {
                None => ReportTo::None,
                Some("-") => ReportTo::Stderr,
                Some(f) => ReportTo::File(PathBuf::from(f)),
            };
            if (rootfs.is_some() || compiled.policy.isolation.enabled) && !dry_run {
                let spec = runtime_lite::RunSpec {
                    profile,
                    policy: compiled.policy,
                    argv: cmd,
                    rootfs,
                    report: to,
                    best_effort,
                };
                return match runtime_lite::run(spec) {
                    Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
                    Err(e) => fail(e.code, e.message),
                };
            }
            let plan = match Plan::new(&profile, compiled.policy, &cmd, Options { best_effort }) {
                Ok(p) => p,
                Err(e) => return fail(e.exit_code, e.to_string()),
            };
            if dry_run {
                print!("{}", enforcer::report::Report::planned(&plan).to_json());
                return ExitCode::SUCCESS;
            }
            let e = Launcher::new(plan, to).run();
            fail(e.exit_code, e.to_string())
        }
    }
}
