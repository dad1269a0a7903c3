//! `policyc simulate`: run calls through the reference evaluator and the compiled BPF side
//! by side, with the deciding rule and the instructions executed.

use std::fmt::Write;

use serde::Serialize;

use crate::action::Action;
use crate::backend::seccomp::bpf::{self, Program};
use crate::explain::{parse_args, parse_query};
use crate::ir::Policy;
use crate::syscalls::{consts, table, Arch};

/// One call: a syscall name or number and up to six arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Syscall number on the call's arch.
    pub nr: u32,
    /// Name, when the number is in the table.
    pub name: Option<String>,
    /// Arguments.
    pub args: [u64; 6],
}

/// Parse `NAME[:a0,...]` or `NUMBER[:a0,...]` for `arch`.
pub fn parse_call(text: &str, arch: Arch) -> Result<Call, String> {
    let (head, rest) = text.split_once(':').unwrap_or((text, ""));
    if let Ok((nr, _)) = consts::parse_value(head) {
        let nr = u32::try_from(nr).map_err(|_| format!("syscall number `{head}` does not fit in 32 bits"))?;
        let name = table::table(arch).and_then(|t| t.name(nr)).map(str::to_string);
        return Ok(Call { nr, name, args: parse_args(rest)? });
    }
    let q = parse_query(text)?;
    let nr = table::table(arch)
        .and_then(|t| t.nr(&q.name))
        .ok_or_else(|| format!("`{}` is not a syscall on {arch}", q.name))?;
    Ok(Call { nr, name: Some(q.name), args: q.args })
}

/// A verdict and what decided it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Verdict {
    /// Action.
    pub action: Action,
    /// `file:line`, `default`, `unknown`, `bad-arch` or `x32`.
    pub origin: String,
}

/// The BPF side of one call.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BpfVerdict {
    /// Action.
    pub action: Action,
    /// The rules whose calls share the `ret` reached (one of them decided).
    pub origins: Vec<String>,
    /// Instructions executed.
    pub executed: usize,
    /// Whether the kernel's action cache allows this number without running BPF.
    pub cached: bool,
}

/// One simulated call.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Arch of the call.
    pub arch: String,
    /// Syscall name, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// Number.
    pub nr: u32,
    /// Arguments (hex).
    pub args: Vec<String>,
    /// The reference evaluator's verdict.
    pub reference: Verdict,
    /// The compiled program's verdict.
    pub bpf: BpfVerdict,
    /// Whether both agree on action and rule.
    pub agree: bool,
}

/// Simulate `calls` on `arch` (which must be one of `prog`'s arches, or is treated as foreign).
pub fn simulate(policy: &Policy, prog: &Program, arch: Arch, calls: &[Call]) -> Vec<Outcome> {
    calls
        .iter()
        .map(|c| {
            let e = policy.evaluate(arch.audit_arch(), c.nr, c.args);
            let reference = Verdict { action: e.action, origin: bpf::decider_origin(&e.decided_by) };
            let s = prog.simulate(arch.audit_arch(), c.nr, c.args);
            let in_table = table::table(arch).is_some_and(|t| c.nr <= t.range().1);
            let cached = arch != Arch::X32 && in_table && prog.cached(arch, c.nr);
            let agree = reference.action == s.action && s.decided_by(&reference.origin);
            let bpf = BpfVerdict { action: s.action, origins: s.origins, executed: s.executed, cached };
            let last = c.args.iter().rposition(|a| *a != 0).map(|i| i + 1).unwrap_or(0);
            Outcome {
                arch: arch.name().into(),
                syscall: c.name.clone(),
                nr: c.nr,
                args: c.args[..last].iter().map(|a| format!("{a:#x}")).collect(),
                reference,
                bpf,
                agree,
            }
        })
        .collect()
}

/// Every number of `arch`'s table range, plus the first number above it.
pub fn all_calls(arch: Arch) -> Vec<Call> {
    let Some(t) = table::table(arch) else { return Vec::new() };
    let (lo, hi) = t.range();
    (lo..=hi + 1).map(|nr| Call { nr, name: t.name(nr).map(str::to_string), args: [0; 6] }).collect()
}

/// The text report.
pub fn text(outcomes: &[Outcome]) -> String {
    let mut o = String::new();
    let _ =
        writeln!(o, "{:<36} {:>10}  {:<16} {:<16} {:>5}  rule", "call", "nr", "reference", "bpf", "insns");
    for r in outcomes {
        let name = r.syscall.clone().unwrap_or_else(|| format!("#{}", r.nr));
        let call = if r.args.is_empty() { name } else { format!("{name}:{}", r.args.join(",")) };
        let insns = if r.bpf.cached { format!("{} c", r.bpf.executed) } else { r.bpf.executed.to_string() };
        let rule = if r.agree {
            r.reference.origin.clone()
        } else {
            format!("MISMATCH: reference {} / bpf {}", r.reference.origin, r.bpf.origins.join(", "))
        };
        let _ = writeln!(
            o,
            "{call:<36} {:>10}  {:<16} {:<16} {insns:>5}  {rule}",
            r.nr,
            r.reference.action.to_string(),
            r.bpf.action.to_string()
        );
    }
    let n = outcomes.len();
    let agree = outcomes.iter().filter(|r| r.agree).count();
    let cached = outcomes.iter().filter(|r| r.bpf.cached).count();
    let _ = writeln!(
        o,
        "{n} calls: {agree} agree, {} differ; {cached} kernel-cached (c: BPF does not run)",
        n - agree
    );
    o
}
