//! `enforce`'s command line: every verb, its arguments and their help.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use runtime_lite::name::ContainerName;

/// Common tasks, shown by `enforce --help`.
const EXAMPLES: &str = "Examples:
  enforce run --profile builtin:build make            build here, write nowhere else
  enforce run --profile builtin:strict --allow-rw . -- sh -c 'ls > list'
  enforce run --dry-run --profile my.yaml -- ./server what would be applied
  enforce run --profile my.yaml --rootfs ./rootfs -- /bin/sh   a container
  enforce probe                                       what this kernel supports
  enforce completions bash > /etc/bash_completion.d/enforce";

/// Run a command with every tier of a Palisade profile applied: capabilities, securebits,
/// no_new_privs, Landlock, seccomp.
///
/// Exit codes: 125 the policy could not be applied (nothing ran), 126 the command cannot be
/// executed, 127 it was not found; otherwise the command's own status (128+N when it dies of
/// signal N: enforce execs in place).
#[derive(Parser)]
#[command(name = "enforce", version, about, long_about, after_long_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Apply a profile to this process, verify it, and exec CMD in its place.
    Run(Box<RunArgs>),
    /// List detached containers (running, exited with their status, or stale).
    Ps(PsArgs),
    /// Run a command in a running container's namespaces, under the same policy.
    Exec(ExecArgs),
    /// Print a detached container's output (stdout and stderr, each to its own stream).
    Logs(LogsArgs),
    /// Stop a container: SIGTERM to its PID 1, SIGKILL after --time seconds.
    Stop(StopArgs),
    /// Remove a stopped container's state and logs.
    Rm(RmArgs),
    /// Report what this kernel supports: seccomp actions and flags, Landlock ABI, LSMs, user
    /// namespaces, no_new_privs, cgroup layout.
    Probe(ProbeArgs),
    /// Run CMD (and every process and thread it starts) and write a profile that allows what it
    /// did, in all three tiers: its system calls (with the argument values the built-ins filter),
    /// the paths it used and the Landlock rights they needed, its address families and TCP
    /// ports, and the capabilities its calls used (inferred); no namespaces unless it made one
    /// (seccomp user notification: no ptrace, no root needed; Ctrl-C stops CMD, not the
    /// recording).
    ///
    /// Examples: `enforce record -o app.yaml -- ./app`; `enforce record --append -o app.yaml --
    /// ./app --other-mode`; `enforce record --profile builtin:web -o web-app.yaml -- ./server`
    /// (never wider than web); `enforce record --rootfs ./rootfs -o c.yaml -- /bin/sh -c ...`.
    Record(RecordArgs),
    /// Container images: `enforce image load FILE` unpacks an image into the store.
    #[command(subcommand)]
    Image(ImageCommand),
    /// List the images in the store (its id, tags, and root filesystem).
    Images(ImagesArgs),
    /// Remove an image from the store (by tag, or by id or a prefix of 12 hex digits or more).
    Rmi(RmiArgs),
    /// Print a shell completion script (`enforce completions bash > /etc/bash_completion.d/enforce`).
    Completions(crate::docs::CompletionsArgs),
    /// Print the man page, or write one per subcommand with -o DIR.
    Man(crate::docs::ManArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Human-readable.
    Text,
    /// JSON.
    Json,
}

// The arguments of `enforce run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Profile path or builtin:NAME.
    #[arg(long, default_value = "builtin:docker-default")]
    pub profile: String,
    /// Write the report of what was applied as JSON: `-` for stderr, or a file.
    #[arg(long, value_name = "FILE|-")]
    pub report: Option<String>,
    /// Print the plan (the same report) to stdout and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Say on stderr, once per call and rule, each system call the profile refuses with an
    /// errno, its arguments and the rule that decided (`file:line:column`), and each path or
    /// port Landlock refuses, with the rights no rule grants and the rules that cover the path;
    /// the command gets the same answer. Host runs.
    #[arg(long)]
    pub explain: bool,
    /// Run with the Landlock rights this kernel can enforce, even when the profile says
    /// `enforce`; what is dropped is reported.
    #[arg(long)]
    pub best_effort: bool,
    /// Compile the profile even when the compile cache holds it (see docs/enforcement.md).
    #[arg(long)]
    pub no_cache: bool,
    /// Run isolated in namespaces with this root filesystem (implies the profile's
    /// `isolation` section, or its defaults).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Run detached (needs --name): logs go to bounded files, see `enforce logs`.
    #[arg(short = 'd', long, requires = "name")]
    pub detach: bool,
    /// The container's name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters (needed with -d).
    #[arg(long)]
    pub name: Option<ContainerName>,
    /// Remove a detached container's state and logs when it exits.
    #[arg(long, requires = "detach")]
    pub rm: bool,
    /// Give the container's workload a terminal (its output comes back through it).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Relay stdin to the workload (with -t: raw mode when stdin is a terminal).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Print the profile this run compiles (the flags below as a layer over --profile) and
    /// run nothing.
    #[arg(long)]
    pub print_profile: bool,
    /// Run a container of this image: a stored image (`name:tag`, or an id), or an archive or
    /// OCI layout to load first (`PATH` or `PATH:TAG`). Its Entrypoint and Cmd (CMD replaces
    /// Cmd), Env (under --env-file and -e) and WorkingDir (under --workdir) apply as with
    /// `docker run`; its User too, unless --user or the profile's process.user names one. The
    /// container writes a layer of its own over the image (see docs/runtime.md).
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// With an image (--image, or the profile's `isolation.image`): replace its Entrypoint
    /// (and drop its Cmd).
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[command(flatten)]
    pub flags: ProfileFlags,
    /// The command and its arguments (`--` before it is needed only when its first word
    /// starts with `-`); with an image (--image, or the profile's `isolation.image`), the
    /// arguments that replace its Cmd.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

/// Flags that add to the profile: each is what the same key written in a child profile means
/// (docs/cli.md). Relative paths are relative to the working directory.
#[derive(clap::Args, Clone)]
#[command(next_help_heading = "Profile flags (a layer over --profile)")]
pub struct ProfileFlags {
    /// Landlock: read beneath PATH (repeatable; the first --allow-* makes Landlock restrict
    /// the filesystem to the listed paths, if the profile did not already).
    #[arg(long = "allow-ro", value_name = "PATH")]
    pub allow_ro: Vec<String>,
    /// Landlock: read and write beneath PATH.
    #[arg(long = "allow-rw", value_name = "PATH")]
    pub allow_rw: Vec<String>,
    /// Landlock: read and execute beneath PATH.
    #[arg(long = "allow-exec", value_name = "PATH")]
    pub allow_exec: Vec<String>,
    /// Landlock: the command may bind this TCP port (the first port flag restricts TCP).
    #[arg(long = "bind-tcp", value_name = "PORT")]
    pub bind_tcp: Vec<u16>,
    /// Landlock: the command may connect to this TCP port.
    #[arg(long = "connect-tcp", value_name = "PORT")]
    pub connect_tcp: Vec<u16>,
    /// Set an environment variable (`K` alone: this process's value).
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read variables from a file of `K=V` lines (before -e, which wins).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory of the command.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Run as `uid`, `uid:gid`, or `caller` (yourself).
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Container: bind SRC (a host path) at DST, read-only with `:ro`.
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]")]
    pub volume: Vec<String>,
    /// Container: a new tmpfs at DST.
    #[arg(long = "tmpfs", value_name = "DST")]
    pub tmpfs: Vec<String>,
    /// Container: a read-only root filesystem.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Container: `none` (loopback only), `private` (its own network with outbound
    /// connectivity, through pasta) or `host`.
    #[arg(long, value_enum, value_name = "MODE")]
    pub network: Option<Network>,
    /// Container: forward a host port to the container's, `[ADDRESS:]HOST:CONTAINER[/tcp|udp]`
    /// as `docker run -p` writes it (repeatable; implies `--network private`, and is an error
    /// where the profile or `--network` says `none` or `host`).
    #[arg(short = 'p', long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Container: memory limit (`256Mi`, `1G`, bytes).
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Container: most processes.
    #[arg(long = "pids-limit", value_name = "N")]
    pub pids_limit: Option<u64>,
    /// Container: CPUs (0.5 is half a CPU).
    #[arg(long, value_name = "N")]
    pub cpus: Option<f64>,
    /// Container: its host name.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own, loopback only.
    None,
    /// A network namespace of its own with outbound connectivity and published ports.
    Private,
    /// The host's network.
    Host,
}

// The arguments of `enforce ps`.
#[derive(clap::Args)]
pub struct PsArgs {
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// The arguments of `enforce exec`.
#[derive(clap::Args)]
pub struct ExecArgs {
    /// Container name.
    pub name: ContainerName,
    /// Run with the Landlock rights this kernel can enforce.
    #[arg(long)]
    pub best_effort: bool,
    /// Relay stdin to the command (without it, its stdin is /dev/null).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give the command a terminal of the container's own (needs a terminal here).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// The command and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

// The arguments of `enforce logs`.
#[derive(clap::Args)]
pub struct LogsArgs {
    /// Container name.
    pub name: ContainerName,
    /// Keep printing until the container exits.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

// The arguments of `enforce stop`.
#[derive(clap::Args)]
pub struct StopArgs {
    /// Container name.
    pub name: ContainerName,
    /// Seconds to wait before SIGKILL.
    #[arg(long, default_value_t = 10)]
    pub time: u64,
}

// The arguments of `enforce rm`.
#[derive(clap::Args)]
pub struct RmArgs {
    /// Container name.
    pub name: ContainerName,
    /// Stop it first if it runs.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `enforce image ...`.
#[derive(Subcommand)]
pub enum ImageCommand {
    /// Check and unpack an image into the store: an OCI image layout directory, an OCI archive
    /// (`podman save --format oci-archive`), or a `docker save` archive. Every blob is checked
    /// against its digest; entries that would leave the root are refused; nothing is left
    /// half-unpacked. Loading an image already stored unpacks nothing.
    Load(ImageLoadArgs),
}

// The arguments of `enforce image load`.
#[derive(clap::Args)]
pub struct ImageLoadArgs {
    /// The archive or layout directory.
    pub file: std::path::PathBuf,
    /// Which image of it (`name:tag` or `tag`), when it holds several.
    #[arg(long)]
    pub tag: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// The arguments of `enforce images`.
#[derive(clap::Args)]
pub struct ImagesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// The arguments of `enforce rmi`.
#[derive(clap::Args)]
pub struct RmiArgs {
    /// A tag (`name:tag`, or `name` for `name:latest`), or an id.
    pub image: String,
}

// The arguments of `enforce record`.
#[derive(clap::Args)]
pub struct RecordArgs {
    /// Where the learned profile goes (checked before the command runs).
    #[arg(short, long)]
    pub output: std::path::PathBuf,
    /// The learned profile's name (default: the command's).
    #[arg(long)]
    pub name: Option<String>,
    /// Record in a container with this root filesystem (as `enforce run --rootfs`); the paths
    /// learned are the container's.
    #[arg(long)]
    pub rootfs: Option<std::path::PathBuf>,
    /// Merge this run into the profile already at `-o` (as `policyc merge` does): several runs
    /// make one profile.
    #[arg(long)]
    pub append: bool,
    /// Record under this profile (a file or `builtin:NAME`), applied as `enforce run` applies
    /// it: what it refuses is reported, never learned, and the learned profile is never wider.
    #[arg(long)]
    pub profile: Option<String>,
    /// `json`: also print the raw observations on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// How the paths seen become Landlock rules: `none` (each path), `dir` (files into their
    /// directories), `tree` (as dir, and system trees and the working, home and temporary
    /// directories at their roots).
    #[arg(long, value_enum, default_value = "tree")]
    pub collapse: CollapseArg,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `--collapse`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CollapseArg {
    None,
    Dir,
    Tree,
}

impl From<CollapseArg> for enforcer::record::collapse::Collapse {
    fn from(c: CollapseArg) -> Self {
        use enforcer::record::collapse::Collapse;
        match c {
            CollapseArg::None => Collapse::None,
            CollapseArg::Dir => Collapse::Dir,
            CollapseArg::Tree => Collapse::Tree,
        }
    }
}

// The arguments of `enforce probe`.
#[derive(clap::Args)]
pub struct ProbeArgs {
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}
