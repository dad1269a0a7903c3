//! `policyc`: compile Palisade profiles. Argument parsing only; the work is in `policy`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use policy::backend::{caps, landlock, seccomp};
use policy::{report, Arch, CompileOptions, Compiled, Error};

/// Compile one YAML security profile into capabilities, seccomp and Landlock.
///
/// PROFILE is a path or `builtin:NAME` (see `policyc list`). Exit codes: 0 ok, 1 invalid
/// input (messages as file:line:column: error: ...), 2 usage. The CI gates `diff` and `lint`
/// exit 1 when the gate fails and 2 when an input cannot be read or compiled.
#[derive(Parser)]
#[command(name = "policyc", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a profile and print (or write) one or all outputs.
    Compile {
        /// Profile path or builtin:NAME.
        profile: String,
        /// What to emit.
        #[arg(long, value_enum, default_value = "ir")]
        emit: Emit,
        /// Output file (or directory with `--emit all`); stdout when absent.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Kernel arch for `bpf`/`bpf-asm` and native arch for `oci-seccomp` (default: this
        /// machine's, if the profile has it, else the profile's first).
        #[arg(long)]
        arch: Option<String>,
        /// Target kernel `MAJOR.MINOR` for `when.min_kernel` (default: a current kernel).
        #[arg(long)]
        kernel: Option<String>,
    },
    /// Check profiles; print every error and warning.
    Validate {
        /// Profiles.
        #[arg(required = true)]
        profiles: Vec<String>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Summarise every tier, or say what happens to one syscall and which rule decides it.
    Explain {
        /// Profile path or builtin:NAME.
        profile: String,
        /// `NAME[:a0,a1,...]`; arguments are numbers or constants (AF_INET, 0x5412, ...).
        #[arg(long)]
        syscall: Option<String>,
        /// Only this arch (default: every arch of the profile).
        #[arg(long)]
        arch: Option<String>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run syscalls through the reference evaluator and the compiled BPF program side by side.
    ///
    /// Prints, per call, both verdicts, the deciding rule (file:line) and the BPF instructions
    /// executed ("c": the kernel's action cache allows it without running BPF). Exits 1 when
    /// the two disagree.
    Simulate {
        /// Profile path or builtin:NAME.
        profile: String,
        /// `NAME[:a0,a1,...]` or `NUMBER[:a0,...]`; arguments are numbers or constants.
        calls: Vec<String>,
        /// Arch the calls are made on (default: this machine's, if the profile has it).
        #[arg(long)]
        arch: Option<String>,
        /// Every number of the arch's table, plus the first one above it.
        #[arg(long)]
        all: bool,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Convert a Docker/Podman seccomp JSON profile into a Palisade profile.
    Import {
        /// Docker seccomp JSON file.
        file: PathBuf,
        /// Output YAML file; stdout when absent.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Say what changed in meaning between two policies, tier by tier, each change classified
    /// widen / narrow / neutral.
    ///
    /// OLD and NEW are profiles (paths, builtin:NAME), compiled IR JSON files (`.json`, from
    /// `policyc compile --emit ir`) or `git:REV:PATH` (the profile in a revision of the current
    /// repository, its `extends` read from the same revision). Exit codes: 0 the gate passes,
    /// 1 it fails (see --fail-on), 2 an input cannot be read or compiled.
    Diff {
        /// The policy before.
        old: String,
        /// The policy after.
        new: String,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Exit 1 when anything widens (default), on any change, or never.
        #[arg(long, value_enum, default_value = "widen")]
        fail_on: FailOn,
        /// Colour the text: auto (a terminal, and NO_COLOR unset), always, never.
        #[arg(long, value_enum, default_value = "auto")]
        color: Colour,
    },
    /// Check profiles for dangerous or ineffective policy (rules PAL001..PAL014, see docs/cli.md).
    ///
    /// PROFILE is a path, builtin:NAME, or a Docker/Podman seccomp JSON file (`.json`). Each
    /// finding names its rule, severity, file:line:column and a fix. Exit codes: 0 nothing
    /// fails, 1 an error (or with --deny warnings, a warning) was found, 2 a profile cannot be
    /// read or compiled.
    Lint {
        /// Profiles.
        #[arg(required = true)]
        profiles: Vec<String>,
        /// `warnings`: fail on warnings as well as errors.
        #[arg(long, value_enum)]
        deny: Option<Deny>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: LintFormat,
    },
    /// Print the JSON Schema of the profile language.
    Schema,
    /// List the built-in profiles.
    List {
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List syscall groups, or the members of one.
    Groups {
        /// Group name (with or without `@`).
        name: Option<String>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Emit {
    /// Canonical IR (JSON).
    Ir,
    /// Capability sets and Docker CLI flags (JSON).
    Caps,
    /// Docker/Podman seccomp profile (JSON).
    DockerSeccomp,
    /// OCI `linux.seccomp` with conditions resolved (JSON).
    OciSeccomp,
    /// Landlock ruleset per ABI (JSON).
    Landlock,
    /// Seccomp classic-BPF program (`struct sock_filter` records, target byte order) for `--arch`.
    Bpf,
    /// Disassembly of that program, with jump targets and each verdict's rule.
    BpfAsm,
    /// All of the above, one file each, into the `-o` directory (BPF for every kernel arch).
    All,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// Human-readable.
    Text,
    /// JSON.
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Deny {
    /// Warnings fail too.
    Warnings,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LintFormat {
    /// `file:line:column: level[ID]: message`, then the fix.
    Text,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0 (for code-scanning UIs).
    Sarif,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum FailOn {
    /// Any widening change.
    Widen,
    /// Any change at all.
    Any,
    /// Nothing: report only.
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Colour {
    /// When stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A failure whose message was already printed, with its exit status.
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// An invalid-input failure (exit 1) whose message was already printed.
#[derive(Debug)]
struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid input")
    }
}

impl std::error::Error for Reported {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Reported>().is_some() => ExitCode::from(1),
        Err(e) if e.downcast_ref::<Exit>().is_some() => {
            ExitCode::from(e.downcast_ref::<Exit>().map_or(1, |x| x.0))
        }
        Err(e) => {
            eprintln!("policyc: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn compile(profile: &str, opts: &CompileOptions) -> Result<Compiled> {
    match policy::compile(profile, opts) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("{w}");
            }
            Ok(c)
        }
        Err(e @ Error::Invalid(_)) => {
            eprintln!("{e}");
            Err(Reported.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn parse_arch(a: &str) -> Result<Arch> {
    Arch::parse(a).with_context(|| format!("unknown arch `{a}`"))
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

fn write_out(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn emit_one(c: &Compiled, emit: Emit, arch: Option<Arch>, opts: &CompileOptions) -> Result<String> {
    let p = &c.policy;
    match emit {
        Emit::Ir => json(p),
        Emit::Caps => json(&caps::caps_output(p)),
        Emit::DockerSeccomp => json(&seccomp::docker::to_docker(p)?),
        Emit::OciSeccomp => {
            let native =
                seccomp::oci::target_arch(p, arch.or_else(host_arch)).context("the profile lists no arch")?;
            json(&seccomp::oci::to_oci(p, native, opts.kernel))
        }
        Emit::Landlock => json(&landlock::landlock_output(p)),
        Emit::BpfAsm => Ok(bpf_program(p, arch)?.asm()),
        Emit::Bpf => bail!("--emit bpf writes binary records: give -o FILE"),
        Emit::All => bail!("--emit all needs -o DIR"),
    }
}

fn bpf_program(p: &policy::Policy, arch: Option<Arch>) -> Result<seccomp::bpf::Program> {
    let target = seccomp::bpf::target_for(p, arch, host_arch())?;
    Ok(seccomp::bpf::compile(p, target)?)
}

fn host_arch() -> Option<Arch> {
    Arch::parse(std::env::consts::ARCH)
}

/// `policyc diff`: load both sides (errors exit 2), print, apply the gate.
fn diff(old: &str, new: &str, format: Format, fail_on: FailOn, colour: Colour) -> Result<()> {
    use std::io::IsTerminal;
    let opts = CompileOptions::default();
    let load = |spec: &str| {
        policy::diff::input::load(spec, &opts).map_err(|e| {
            eprintln!("{e}");
            anyhow::Error::from(Exit(2))
        })
    };
    let (a, b) = (load(old)?, load(new)?);
    let mut d = policy::diff::diff(&a, &b);
    // Name the sides as given (two files may hold profiles of the same name).
    (d.old, d.new) = (old.to_string(), new.to_string());
    let colour = match colour {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match format {
        Format::Text => print!("{}", policy::diff::render::text(&d, colour)),
        Format::Json => println!("{}", policy::diff::render::json(&d)),
    }
    let failed = match fail_on {
        FailOn::Widen => d.widens(),
        FailOn::Any => !d.is_empty(),
        FailOn::Never => false,
    };
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// `policyc lint`: every profile, then one report; errors reading a profile exit 2.
fn lint(profiles: &[String], deny: Option<Deny>, format: LintFormat) -> Result<()> {
    use policy::lint::Level;
    let mut findings = Vec::new();
    let mut unreadable = false;
    for p in profiles {
        match policy::lint::lint(p) {
            Ok(f) => findings.extend(f),
            Err(e) => {
                eprintln!("{e}");
                unreadable = true;
            }
        }
    }
    match format {
        LintFormat::Text => {
            for f in &findings {
                println!("{f}");
            }
            let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
            println!(
                "lint: {} errors, {} warnings, {} notes in {} profiles",
                count(Level::Error),
                count(Level::Warning),
                count(Level::Note),
                profiles.len()
            );
        }
        LintFormat::Json => print!("{}", json(&findings)?),
        LintFormat::Sarif => print!("{}", json(&policy::lint::sarif::sarif(&findings))?),
    }
    if unreadable {
        return Err(Exit(2).into());
    }
    let fails = |l: Level| l == Level::Error || (l == Level::Warning && deny == Some(Deny::Warnings));
    if findings.iter().any(|f| fails(f.level)) {
        return Err(Exit(1).into());
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Lint { profiles, deny, format } => lint(&profiles, deny, format),
        Command::Diff { old, new, format, fail_on, color } => diff(&old, &new, format, fail_on, color),
        Command::Compile { profile, emit, output, arch, kernel } => {
            let kernel = match kernel {
                Some(k) => Some(
                    policy::ir::KernelVersion::parse(&k)
                        .with_context(|| format!("invalid kernel version `{k}`"))?,
                ),
                None => None,
            };
            let arch = arch.as_deref().map(parse_arch).transpose()?;
            let opts = CompileOptions { kernel, ..CompileOptions::default() };
            let c = compile(&profile, &opts)?;
            if emit == Emit::All {
                let dir = output.context("--emit all needs -o DIR")?;
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                for (e, file) in [
                    (Emit::Ir, "ir.json"),
                    (Emit::Caps, "caps.json"),
                    (Emit::DockerSeccomp, "docker-seccomp.json"),
                    (Emit::OciSeccomp, "oci-seccomp.json"),
                    (Emit::Landlock, "landlock.json"),
                ] {
                    write_out(Some(&dir.join(file)), &emit_one(&c, e, arch, &opts)?)?;
                }
                for target in seccomp::bpf::targets(&c.policy) {
                    let prog = seccomp::bpf::compile(&c.policy, target)?;
                    let file = dir.join(format!("seccomp.{target}.bpf"));
                    std::fs::write(&file, prog.to_bytes())
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    write_out(Some(&dir.join(format!("seccomp.{target}.bpf.asm"))), &prog.asm())?;
                }
                return Ok(());
            }
            if emit == Emit::Bpf {
                let file = output.context("--emit bpf writes binary records: give -o FILE")?;
                let prog = bpf_program(&c.policy, arch)?;
                std::fs::write(&file, prog.to_bytes())
                    .with_context(|| format!("cannot write {}", file.display()))?;
                eprintln!(
                    "policyc: wrote {} ({} instructions for {} kernels: {})",
                    file.display(),
                    prog.insns.len(),
                    prog.target,
                    prog.arches.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
                );
                return Ok(());
            }
            write_out(output.as_deref(), &emit_one(&c, emit, arch, &opts)?)
        }
        Command::Validate { profiles, format } => {
            let mut failed = false;
            let mut reports = Vec::new();
            for p in &profiles {
                match policy::compile(p, &CompileOptions::default()) {
                    Ok(c) => {
                        if format == Format::Text {
                            for w in &c.warnings {
                                eprintln!("{w}");
                            }
                            println!("{p}: ok");
                        }
                        reports.push(
                            serde_json::json!({"profile": p, "valid": true, "diagnostics": c.warnings}),
                        );
                    }
                    Err(e) => {
                        failed = true;
                        if format == Format::Text {
                            eprintln!("{e}");
                        }
                        let diags: Vec<_> = e.diagnostics().to_vec();
                        let message = if diags.is_empty() { Some(e.to_string()) } else { None };
                        reports.push(serde_json::json!({"profile": p, "valid": false, "diagnostics": diags, "error": message}));
                    }
                }
            }
            if format == Format::Json {
                print!("{}", json(&reports)?);
            }
            if failed {
                return Err(Reported.into());
            }
            Ok(())
        }
        Command::Explain { profile, syscall, arch, format } => {
            let c = compile(&profile, &CompileOptions::default())?;
            let arches: Vec<Arch> = arch.as_deref().map(parse_arch).transpose()?.into_iter().collect();
            match syscall {
                Some(q) => {
                    let q = report::parse_query(&q).map_err(anyhow::Error::msg)?;
                    let results = report::query(&c.policy, &q, &arches);
                    match format {
                        Format::Text => print!("{}", report::query_text(&results)),
                        Format::Json => print!("{}", json(&results)?),
                    }
                }
                None => match format {
                    Format::Text => print!("{}", report::explain_text(&c.policy)),
                    Format::Json => print!("{}", json(&c.policy)?),
                },
            }
            Ok(())
        }
        Command::Simulate { profile, calls, arch, all, format } => {
            let c = compile(&profile, &CompileOptions::default())?;
            let requested = arch.as_deref().map(parse_arch).transpose()?;
            let prog = bpf_program(&c.policy, requested)?;
            let call_arch = requested.unwrap_or(prog.target);
            let mut list = Vec::new();
            if all {
                list = policy::simulate::all_calls(call_arch);
            }
            for text in &calls {
                list.push(policy::simulate::parse_call(text, call_arch).map_err(anyhow::Error::msg)?);
            }
            if list.is_empty() {
                bail!("name at least one call (NAME[:a0,a1,...]) or give --all");
            }
            let out = policy::simulate::simulate(&c.policy, &prog, call_arch, &list);
            match format {
                Format::Text => print!("{}", policy::simulate::text(&out)),
                Format::Json => print!("{}", json(&out)?),
            }
            if out.iter().any(|o| !o.agree) {
                return Err(Reported.into());
            }
            Ok(())
        }
        Command::Import { file, output } => {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {name}"))?;
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "imported".into());
            let result = policy::import::parse_docker(&name, &text)
                .and_then(|d| policy::import::import(&name, &stem, &d));
            let imported = match result {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("{e}");
                    return Err(Reported.into());
                }
            };
            for w in &imported.warnings {
                eprintln!("{w}");
            }
            write_out(output.as_deref(), &policy::import::to_yaml(&imported.profile)?)
        }
        Command::Schema => {
            print!("{}", json(&policy::schema())?);
            Ok(())
        }
        Command::List { format } => {
            let items: Vec<_> = policy::builtin::names()
                .into_iter()
                .map(|n| serde_json::json!({"name": format!("builtin:{n}"), "description": policy::builtin::description(n)}))
                .collect();
            match format {
                Format::Json => print!("{}", json(&items)?),
                Format::Text => {
                    for n in policy::builtin::names() {
                        println!("builtin:{n:<16} {}", policy::builtin::description(n).unwrap_or_default());
                    }
                }
            }
            Ok(())
        }
        Command::Groups { name, format } => {
            let groups = report::groups(name.as_deref()).map_err(anyhow::Error::msg)?;
            match format {
                Format::Json => print!("{}", json(&groups)?),
                Format::Text if name.is_some() => {
                    for g in &groups {
                        println!("{} - {}", g.name, g.description);
                        for s in &g.syscalls {
                            println!("  {s}");
                        }
                    }
                }
                Format::Text => {
                    for g in &groups {
                        println!("{:<16} {:>4}  {}", g.name, g.syscalls.len(), g.description);
                    }
                }
            }
            Ok(())
        }
    }
}
