//! `policyc compile PROFILE [--emit KIND] [-o OUT]`: one output, or all of them into a directory.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use policy::backend::{caps, landlock, seccomp};
use policy::export;
use policy::{Arch, CompileOptions, Compiled};

use crate::args::{CompileArgs, Emit, Format};
use crate::common::{self, host_arch, json, write_out};

/// The text outputs of `--emit all`, with their file names.
const ALL: [(Emit, &str); 10] = [
    (Emit::Ir, "ir.json"),
    (Emit::Caps, "caps.json"),
    (Emit::DockerSeccomp, "docker-seccomp.json"),
    (Emit::OciSeccomp, "oci-seccomp.json"),
    (Emit::Landlock, "landlock.json"),
    (Emit::K8s, "k8s.yaml"),
    (Emit::OciConfig, "config.json"),
    (Emit::Systemd, "palisade.conf"),
    (Emit::Docker, "docker-flags.txt"),
    (Emit::Compose, "compose.yaml"),
];

pub fn run(a: CompileArgs) -> Result<ExitCode> {
    let kernel = match &a.kernel {
        Some(k) => Some(
            policy::ir::KernelVersion::parse(k).with_context(|| format!("invalid kernel version `{k}`"))?,
        ),
        None => None,
    };
    let arch = a.arch.as_deref().map(common::parse_arch).transpose()?;
    let opts = CompileOptions { kernel, ..CompileOptions::default() };
    let Some(c) = common::compile(&a.profile, &opts)? else { return Ok(common::invalid()) };
    // The JSON exports run under runc, which needs some calls of the filter itself.
    if matches!(a.emit, Emit::All | Emit::DockerSeccomp | Emit::OciSeccomp) {
        if let Some(w) = policy::syscalls::runc::export_warning(&c.policy) {
            enforcer::say!("warning: {w}");
        }
        if let Some(w) = policy::syscalls::runc::socketcall_warning(&c.policy) {
            enforcer::say!("warning: {w}");
        }
    }
    let ex = ExportArgs {
        texts: export::Texts::of(&c),
        options: export::Options {
            seccomp_path: a.seccomp_path.clone(),
            command: a.command.clone(),
            runtime_class: a.runtime_class.clone(),
            profile: a.profile.clone(),
        },
    };
    let mut losses = Vec::new();
    match a.emit {
        Emit::All => {
            all(&c, arch, &opts, a.output.as_deref().context("--emit all needs -o DIR")?, &ex, &mut losses)?
        }
        Emit::Bpf => {
            bpf(&c, arch, a.output.as_deref().context("--emit bpf writes binary records: give -o FILE")?)?
        }
        emit => write_out(a.output.as_deref(), &emit_one(&c, emit, arch, &opts, &ex, &mut losses)?)?,
    }
    report_losses(&losses, a.format);
    if a.fail_on_loss && !losses.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// What the exports need besides the policy.
struct ExportArgs {
    texts: export::Texts,
    options: export::Options,
}

/// The losses on stderr: one line each, or one JSON document.
fn report_losses(losses: &[export::Loss], format: Format) {
    match format {
        Format::Json => {
            let doc = serde_json::json!({ "losses": losses });
            enforcer::say!("{doc}");
        }
        Format::Text => {
            for l in losses {
                enforcer::say!("{l}");
            }
        }
    }
}

fn emit_one(
    c: &Compiled,
    emit: Emit,
    arch: Option<Arch>,
    opts: &CompileOptions,
    ex: &ExportArgs,
    losses: &mut Vec<export::Loss>,
) -> Result<String> {
    let p = &c.policy;
    let (t, o) = (&ex.texts, &ex.options);
    let mut take = |e: export::Exported| {
        losses.extend(e.losses);
        e.text
    };
    match emit {
        Emit::K8s => Ok(take(export::k8s::objects(p, t, o, arch.or_else(host_arch))?)),
        Emit::OciConfig => Ok(take(export::oci::config(p, t, o, arch.or_else(host_arch))?)),
        Emit::Systemd => Ok(take(export::systemd::dropin(p, t, o, arch.or_else(host_arch))?)),
        Emit::Docker => Ok(take(export::docker::docker(p, t, o))),
        Emit::Compose => Ok(take(export::docker::compose(p, t, o))),
        Emit::Ir => json(p),
        Emit::Caps => json(&caps::caps_output(p)),
        Emit::DockerSeccomp => json(&seccomp::docker::to_docker(p)?),
        Emit::OciSeccomp => {
            let native =
                seccomp::oci::target_arch(p, arch.or_else(host_arch)).context("the profile lists no arch")?;
            json(&seccomp::oci::to_oci(p, native, opts.kernel)?)
        }
        Emit::Landlock => json(&landlock::landlock_output(p)),
        Emit::BpfAsm => Ok(program(p, arch)?.asm()),
        Emit::Bpf => bail!("--emit bpf writes binary records: give -o FILE"),
        Emit::All => bail!("--emit all needs -o DIR"),
    }
}

/// The seccomp program for `arch` (default: this machine's, if the profile has it).
pub fn program(p: &policy::Policy, arch: Option<Arch>) -> Result<seccomp::bpf::Program> {
    let target = seccomp::bpf::target_for(p, arch, host_arch())?;
    Ok(seccomp::bpf::compile(p, target)?)
}

/// Every output is made in memory first, so a profile that one of them refuses leaves no file.
fn all(
    c: &Compiled,
    arch: Option<Arch>,
    opts: &CompileOptions,
    dir: &Path,
    ex: &ExportArgs,
    losses: &mut Vec<export::Loss>,
) -> Result<()> {
    // The kernel's programs first: what every tier enforces is refused before any export.
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut programs = Vec::new();
    for target in seccomp::bpf::targets(&c.policy) {
        let prog = seccomp::bpf::compile(&c.policy, target)?;
        texts.push((format!("seccomp.{target}.bpf.asm"), prog.asm()));
        programs.push((format!("seccomp.{target}.bpf"), prog.to_bytes()));
    }
    for (emit, file) in ALL {
        texts.push((file.to_string(), emit_one(c, emit, arch, opts, ex, losses)?));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, text) in texts {
        write_out(Some(&dir.join(file)), &text)?;
    }
    for (file, bytes) in programs {
        let file = dir.join(file);
        std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

fn bpf(c: &Compiled, arch: Option<Arch>, file: &Path) -> Result<()> {
    let prog = program(&c.policy, arch)?;
    std::fs::write(file, prog.to_bytes()).with_context(|| format!("cannot write {}", file.display()))?;
    let arches: Vec<&str> = prog.arches.iter().map(|a| a.name()).collect();
    enforcer::say!(
        "policyc: wrote {} ({} instructions for {} kernels: {})",
        file.display(),
        prog.insns.len(),
        prog.target,
        arches.join(", ")
    );
    Ok(())
}
