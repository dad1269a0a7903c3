//! libseccomp as an oracle: load a Docker seccomp JSON profile the way Docker and runc do
//! (includes/excludes resolved for the host, capabilities and kernel; entries whose action is
//! the default skipped; names libseccomp does not know skipped) and export its BPF.

#![allow(dead_code)]

use std::io::Read;

pub use libseccomp::ScmpArch;
use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use policy::backend::seccomp::bpf::{insn, SockFilter};
use policy::formats::docker::{DockerFilter, DockerProfile};

/// libseccomp's optimisation level: 1 = linear list, 2 = binary tree.
#[derive(Clone, Copy, Debug)]
pub enum Optimize {
    Linear = 1,
    Tree = 2,
}

fn action(name: &str, errno: Option<u32>, default_errno: Option<u32>) -> ScmpAction {
    match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno.or(default_errno).unwrap_or(1) as i32),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno.unwrap_or(0) as u16),
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        other => panic!("unknown action {other}"),
    }
}

fn kernel_at_least(min: &str, kernel: (u32, u32)) -> bool {
    let mut it = min.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let want = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    kernel >= want
}

/// Docker's `includes`/`excludes` test for host `amd64`.
fn wanted(
    inc: Option<&DockerFilter>,
    exc: Option<&DockerFilter>,
    caps: &[String],
    kernel: (u32, u32),
) -> bool {
    let host = "amd64";
    if let Some(i) = inc {
        if !i.arches.is_empty() && !i.arches.iter().any(|a| a == host) {
            return false;
        }
        if !i.caps.iter().all(|c| caps.contains(c)) {
            return false;
        }
        if let Some(k) = &i.min_kernel {
            if !kernel_at_least(k, kernel) {
                return false;
            }
        }
    }
    if let Some(e) = exc {
        if e.arches.iter().any(|a| a == host) || e.caps.iter().any(|c| caps.contains(c)) {
            return false;
        }
    }
    true
}

/// The kernel the filters are built for (Docker resolves `minKernel` against it).
const KERNEL: (u32, u32) = (6, 18);

/// The entries of `profile` that Docker hands runc on an x86-64 host with `caps` granted
/// (includes/excludes resolved), whatever their action.
pub fn kept<'a>(
    profile: &'a DockerProfile,
    caps: &[String],
) -> Vec<&'a policy::formats::docker::DockerSyscall> {
    profile
        .syscalls
        .iter()
        .filter(|s| wanted(s.includes.as_ref(), s.excludes.as_ref(), caps, KERNEL))
        .collect()
}

/// The names in `profile` that libseccomp cannot resolve on x86-64 (runc skips them).
pub fn unknown_names(profile: &DockerProfile) -> Vec<String> {
    let mut out: Vec<String> = profile
        .syscalls
        .iter()
        .flat_map(|s| s.names.iter().chain(s.name.iter()))
        .filter(|n| ScmpSyscall::from_name_by_arch(n, ScmpArch::X8664).is_err())
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Build the libseccomp filter for an x86-64 host with `caps` granted (only x86-64, or with
/// the sub-arches of the archMap when `sub_arches`).
pub fn filter(
    profile: &DockerProfile,
    caps: &[String],
    sub_arches: bool,
    opt: Optimize,
) -> ScmpFilterContext {
    let mut arches = vec![ScmpArch::X8664];
    if sub_arches {
        for m in &profile.arch_map {
            if m.architecture == "SCMP_ARCH_X86_64" {
                for s in m.sub_architectures.iter().flatten() {
                    arches.push(s.parse::<ScmpArch>().expect("arch name"));
                }
            }
        }
    }
    filter_for(profile, caps, &arches, opt)
}

/// Build the libseccomp filter for `arches` (the first is the native one) with `caps` granted.
pub fn filter_for(
    profile: &DockerProfile,
    caps: &[String],
    arches: &[ScmpArch],
    opt: Optimize,
) -> ScmpFilterContext {
    let kernel = KERNEL;
    let default = action(&profile.default_action, None, profile.default_errno_ret);
    let mut ctx = ScmpFilterContext::new(default).expect("seccomp_init");
    ctx.set_ctl_nnp(false).expect("nnp attr");
    ctx.set_ctl_optimize(opt as u32).expect("optimize attr");
    for a in arches {
        ctx.add_arch(*a).expect("add arch");
    }
    for s in &profile.syscalls {
        if !wanted(s.includes.as_ref(), s.excludes.as_ref(), caps, kernel) {
            continue;
        }
        let act = action(&s.action, s.errno_ret, profile.default_errno_ret);
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = s
            .args
            .iter()
            .flatten()
            .map(|a| {
                let op = match a.op.as_str() {
                    "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
                    "SCMP_CMP_LT" => ScmpCompareOp::Less,
                    "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
                    "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
                    "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
                    "SCMP_CMP_GT" => ScmpCompareOp::Greater,
                    "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value),
                    other => panic!("unknown op {other}"),
                };
                let datum = if a.op == "SCMP_CMP_MASKED_EQ" { a.value_two } else { a.value };
                ScmpArgCompare::new(a.index, op, datum)
            })
            .collect();
        for name in s.names.iter().chain(s.name.iter()) {
            let Ok(sc) = ScmpSyscall::from_name(name) else { continue };
            if conds.is_empty() {
                ctx.add_rule(act, sc).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                ctx.add_rule_conditional(act, sc, &conds).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
    ctx
}

/// The BPF libseccomp generates for `ctx`.
pub fn export(ctx: &ScmpFilterContext) -> Vec<SockFilter> {
    let path = std::env::temp_dir().join(format!(
        "palisade-scmp-{}-{:?}.bpf",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::File::create(&path).expect("temp file");
    ctx.export_bpf(&file).expect("seccomp_export_bpf");
    drop(file);
    let mut bytes = Vec::new();
    std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).expect("read back");
    let _ = std::fs::remove_file(&path);
    insn::decode(&bytes, cfg!(target_endian = "big")).expect("whole records")
}
