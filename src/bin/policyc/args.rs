//! `policyc`'s command line: every verb, its arguments and their help.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Common tasks, shown by `policyc --help`.
const EXAMPLES: &str = "Examples:
  policyc explain builtin:web                         what a profile allows, tier by tier, and why
  policyc compile builtin:web --emit all -o out/      every output and export into out/
  policyc compile my.yaml --emit docker-seccomp -o s.json
  policyc compile my.yaml --emit docker --seccomp-path s.json   docker run flags (and what they lose)
  policyc compile my.yaml --emit k8s --runtime-class palisade   SeccompProfile, Pod, RuntimeClass
  policyc compile my.yaml --emit oci-config -o bundle/config.json -- /app/server
  policyc diff git:main:my.yaml my.yaml               does the change widen anything? (exit 1 if so)
  policyc lint my.yaml --format sarif                 dangerous or ineffective rules, for CI
  policyc import moby.json -o moby.yaml               a Docker/Podman profile, SeccompProfile or config.json
  policyc completions bash > /etc/bash_completion.d/policyc";

/// Compile one YAML security profile into capabilities, seccomp and Landlock.
///
/// PROFILE is a path or `builtin:NAME` (see `policyc list`). Exit codes: 0 ok, 1 invalid
/// input (messages as file:line:column: error: ...), 2 usage. The CI gates `diff` and `lint`
/// exit 1 when the gate fails and 2 when an input cannot be read or compiled.
#[derive(Parser)]
#[command(name = "policyc", version, about, long_about, after_long_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Compile a profile and print (or write) one or all outputs.
    Compile(CompileArgs),
    /// Check profiles; print every error and warning.
    Validate(ValidateArgs),
    /// Summarise every tier, or say what happens to one syscall and which rule decides it.
    Explain(ExplainArgs),
    /// Run syscalls through the reference evaluator and the compiled BPF program side by side.
    ///
    /// Prints, per call, both verdicts, the deciding rule (file:line) and the BPF instructions
    /// executed ("c": the kernel's action cache allows it without running BPF). Exits 1 when
    /// the two disagree.
    Simulate(SimulateArgs),
    /// Convert a Docker/Podman seccomp JSON profile, a Kubernetes SeccompProfile (YAML) or a
    /// runtime-spec config.json into a Palisade profile.
    Import(ImportArgs),
    /// Merge learned profiles (`enforce record` output) into one that allows what each allows.
    ///
    /// The result is checked: compiled and compared with each input, it must not narrow any.
    /// A profile that is not an allow-list (deny rules, extends) is refused with its location.
    /// Example: `policyc merge run1.yaml run2.yaml -o suite.yaml`.
    Merge(MergeArgs),
    /// Say what changed in meaning between two policies, tier by tier, each change classified
    /// widen / narrow / neutral.
    ///
    /// OLD and NEW are profiles (paths, builtin:NAME), compiled IR JSON files (`.json`, from
    /// `policyc compile --emit ir`) or `git:REV:PATH` (the profile in a revision of the current
    /// repository, its `extends` read from the same revision). Exit codes: 0 the gate passes,
    /// 1 it fails (see --fail-on), 2 an input cannot be read or compiled.
    Diff(DiffArgs),
    /// Check profiles for dangerous or ineffective policy (rules PAL001..PAL015, see docs/cli.md).
    ///
    /// PROFILE is a path, builtin:NAME, or a Docker/Podman seccomp JSON file (`.json`). Each
    /// finding names its rule, severity, file:line:column and a fix. Exit codes: 0 nothing
    /// fails, 1 an error (or with --deny warnings, a warning) was found, 2 a profile cannot be
    /// read or compiled.
    Lint(LintArgs),
    /// Print the JSON Schema of the profile language.
    Schema,
    /// List the built-in profiles.
    List(ListArgs),
    /// List syscall groups, or the members of one.
    Groups(GroupsArgs),
    /// Print a shell completion script (`policyc completions bash > /etc/bash_completion.d/policyc`).
    Completions(crate::docs::CompletionsArgs),
    /// Print the man page, or write one per subcommand with -o DIR.
    Man(crate::docs::ManArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Emit {
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
    /// Disassembly of that program, with jump targets and the rules behind each verdict
    BpfAsm,
    /// Kubernetes: an SPO SeccompProfile, a Pod with its securityContext (and with
    /// --runtime-class, a RuntimeClass selecting palisade-runtime) (YAML).
    K8s,
    /// A complete runtime-spec config.json that runc and crun run (JSON).
    OciConfig,
    /// A systemd unit drop-in, `[Service]` (INI).
    Systemd,
    /// `docker run` flags (one shell line).
    Docker,
    /// A compose service fragment (YAML).
    Compose,
    /// All of the above, one file each, into the `-o` directory (BPF for every kernel arch).
    All,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Human-readable.
    Text,
    /// JSON.
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Deny {
    /// Warnings fail too.
    Warnings,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LintFormat {
    /// `file:line:column: level[ID]: message`, then the fix.
    Text,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0 (for code-scanning UIs).
    Sarif,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    /// Any widening change.
    Widen,
    /// Any change at all.
    Any,
    /// Nothing: report only.
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Colour {
    /// When stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

// The arguments of `policyc compile`.
#[derive(clap::Args)]
pub struct CompileArgs {
    /// Profile path or builtin:NAME.
    pub profile: String,
    /// What to emit.
    #[arg(long, value_enum, default_value = "ir")]
    pub emit: Emit,
    /// Output file (or directory with `--emit all`); stdout when absent.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Kernel arch for `bpf`/`bpf-asm` and native arch for `oci-seccomp` (default: this
    /// machine's, if the profile has it, else the profile's first).
    #[arg(long)]
    pub arch: Option<String>,
    /// Target kernel `MAJOR.MINOR` for `when.min_kernel` (default: a current kernel).
    #[arg(long)]
    pub kernel: Option<String>,
    /// `docker`, `compose`: the Docker seccomp JSON's path (default `docker-seccomp.json`);
    /// `k8s`: the SeccompProfile's path under the kubelet's seccomp directory (default
    /// `operator/default/NAME.json`, where the operator installs it).
    #[arg(long)]
    pub seccomp_path: Option<String>,
    /// `k8s`: also a RuntimeClass of this name (handler `palisade`) and the pod annotation that
    /// gives palisade-runtime this profile, so Landlock reaches the pod.
    #[arg(long)]
    pub runtime_class: Option<String>,
    /// Exit 1 when an export cannot express a part of the profile (the losses are printed
    /// either way).
    #[arg(long)]
    pub fail_on_loss: bool,
    /// How the losses are printed on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// `oci-config`: the process's command; `systemd`: the `enforce run` alternative's.
    #[arg(last = true)]
    pub command: Vec<String>,
}

// The arguments of `policyc validate`.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Profiles.
    #[arg(required = true)]
    pub profiles: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// The arguments of `policyc explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Profile path or builtin:NAME.
    pub profile: String,
    /// `NAME[:a0,a1,...]`; arguments are numbers or constants (AF_INET, 0x5412, ...).
    #[arg(long)]
    pub syscall: Option<String>,
    /// Only this arch (default: every arch of the profile).
    #[arg(long)]
    pub arch: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// The arguments of `policyc simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Profile path or builtin:NAME.
    pub profile: String,
    /// `NAME[:a0,a1,...]` or `NUMBER[:a0,...]`; arguments are numbers or constants.
    pub calls: Vec<String>,
    /// Arch the calls are made on (default: this machine's, if the profile has it).
    #[arg(long)]
    pub arch: Option<String>,
    /// Every number of the arch's table, plus the first one above it.
    #[arg(long)]
    pub all: bool,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// The arguments of `policyc import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Docker seccomp JSON, a SeccompProfile YAML, or a config.json (told apart by content).
    pub file: PathBuf,
    /// Output YAML file; stdout when absent.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

// The arguments of `policyc merge`.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The learned profiles (two or more).
    #[arg(required = true, num_args = 2..)]
    pub profiles: Vec<PathBuf>,
    /// Output YAML file; stdout when absent.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

// The arguments of `policyc diff`.
#[derive(clap::Args)]
pub struct DiffArgs {
    /// The policy before.
    pub old: String,
    /// The policy after.
    pub new: String,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 1 when anything widens (default), on any change, or never.
    #[arg(long, value_enum, default_value = "widen")]
    pub fail_on: FailOn,
    /// Colour the text: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Colour,
}

// The arguments of `policyc lint`.
#[derive(clap::Args)]
pub struct LintArgs {
    /// Profiles.
    #[arg(required = true)]
    pub profiles: Vec<String>,
    /// `warnings`: fail on warnings as well as errors.
    #[arg(long, value_enum)]
    pub deny: Option<Deny>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LintFormat,
}

// The arguments of `policyc list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// The arguments of `policyc groups`.
#[derive(clap::Args)]
pub struct GroupsArgs {
    /// Group name (with or without `@`).
    pub name: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}
