//! Cost figures of a filter on one arch: length, how many syscalls the kernel caches, and
//! the instructions executed where BPF runs. Works on any program (ours or libseccomp's).

use serde::Serialize;

use super::insn::{SeccompData, SockFilter};
use super::{cache, interp};
use crate::action::Action;
use crate::ir::{points, ArgCondIr, Policy};
use crate::syscalls::{table, Arch};

/// What a filter costs on one arch.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    /// Instructions in the program.
    pub len: usize,
    /// Syscalls in the arch's table.
    pub syscalls: usize,
    /// Of those, how many the kernel's action cache allows without running BPF.
    pub cached: usize,
    /// Syscalls the policy allows whatever the arguments but the kernel cannot cache.
    pub uncached_argument_free_allows: Vec<String>,
    /// Mean instructions executed over the syscalls that run BPF (arguments zero).
    pub mean_executed: f64,
    /// Most instructions executed by any syscall that runs BPF, over its boundary arguments.
    pub worst_executed: usize,
    /// The syscall with the most.
    pub worst_syscall: String,
    /// Instructions executed for a number above the table (1000, or the arch's max + 1).
    pub unknown_executed: usize,
}

/// The most instructions any path through a (loop-free) program executes.
pub fn longest_path(insns: &[SockFilter]) -> usize {
    use super::insn::op;
    // Longest path from each instruction to a return, computed back to front.
    let mut from = vec![0usize; insns.len()];
    for pc in (0..insns.len()).rev() {
        let i = insns[pc];
        let next = |off: usize| from.get(pc + 1 + off).copied().unwrap_or(0);
        from[pc] = 1 + match i.code & 0x07 {
            op::RET => 0,
            op::JMP if i.code == op::JA_K => next(i.k as usize),
            op::JMP => next(usize::from(i.jt)).max(next(usize::from(i.jf))),
            _ => next(0),
        };
    }
    from.first().copied().unwrap_or(0)
}

/// Measure `insns` (laid out for a kernel of the given byte order) on `arch` of `policy`.
pub fn measure(insns: &[SockFilter], big_endian: bool, arch: Arch, policy: &Policy) -> Stats {
    let aa = arch.audit_arch();
    let run = |nr: u32, args: [u64; 6]| {
        interp::run(insns, &SeccompData { nr, arch: aa, instruction_pointer: 0, args }, big_endian).executed
    };
    let mut s = Stats {
        len: insns.len(),
        syscalls: 0,
        cached: 0,
        uncached_argument_free_allows: Vec::new(),
        mean_executed: 0.0,
        worst_executed: 0,
        worst_syscall: String::new(),
        unknown_executed: 0,
    };
    let Some(t) = table::table(arch) else { return s };
    let at = policy.seccomp.tables.get(arch.name());
    let mut total = 0usize;
    let mut runs = 0usize;
    for (nr, name) in t.iter() {
        s.syscalls += 1;
        let ir = at.and_then(|at| at.syscalls.get(name));
        let (action, conds): (Action, Vec<&ArgCondIr>) = match ir {
            Some(sc) => (sc.action, sc.conditional.iter().flat_map(|c| &c.args).collect()),
            None => (policy.seccomp.undecided(arch, nr, true).0, Vec::new()),
        };
        if cache::const_allow(insns, aa, nr) {
            s.cached += 1;
            continue;
        }
        if action == Action::Allow && conds.is_empty() {
            s.uncached_argument_free_allows.push(name.to_string());
        }
        let e0 = run(nr, [0; 6]);
        total += e0;
        runs += 1;
        let worst = points::vectors(&conds, 4096).into_iter().map(|a| run(nr, a)).max().unwrap_or(e0).max(e0);
        if worst > s.worst_executed {
            s.worst_executed = worst;
            s.worst_syscall = name.to_string();
        }
    }
    s.mean_executed = if runs == 0 { 0.0 } else { total as f64 / runs as f64 };
    let unknown = if t.range().1 < 1000 { 1000 } else { t.range().1 + 1 };
    s.unknown_executed = run(unknown, [0; 6]);
    s
}
