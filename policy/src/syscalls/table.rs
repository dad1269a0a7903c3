//! Per-arch syscall tables (name ↔ number), from the `syscalls` crate plus our own x32 table.

use std::sync::OnceLock;

use super::arch::{Arch, ALL_ARCHES, X32_SYSCALL_BIT};

/// One arch's syscalls: two sorted vectors (by number and by name), searched by bisection.
#[derive(Debug)]
pub struct SyscallTable {
    by_name: Vec<(&'static str, u32)>,
    by_nr: Vec<(u32, &'static str)>,
}

impl SyscallTable {
    fn from_pairs(pairs: impl Iterator<Item = (&'static str, u32)>) -> Self {
        // The syscalls crate spells Rust keywords as raw identifiers (`r#break`). Where a
        // number or a name repeats, the last pair wins.
        let pairs: Vec<(&'static str, u32)> =
            pairs.map(|(name, nr)| (name.strip_prefix("r#").unwrap_or(name), nr)).collect();
        let last = |mut v: Vec<(usize, (u32, &'static str))>| {
            v.sort_unstable_by_key(|(i, (k, _))| (*k, std::cmp::Reverse(*i)));
            v.dedup_by_key(|(_, (k, _))| *k);
            v.into_iter().map(|(_, p)| p).collect::<Vec<_>>()
        };
        let by_nr = last(pairs.iter().enumerate().map(|(i, (name, nr))| (i, (*nr, *name))).collect());
        let mut by_name: Vec<(usize, (&'static str, u32))> =
            pairs.iter().enumerate().map(|(i, (name, nr))| (i, (*name, *nr))).collect();
        by_name.sort_unstable_by_key(|(i, (k, _))| (*k, std::cmp::Reverse(*i)));
        by_name.dedup_by_key(|(_, (k, _))| *k);
        let by_name = by_name.into_iter().map(|(_, p)| p).collect();
        SyscallTable { by_name, by_nr }
    }

    /// The number of `name`, if this arch has it.
    pub fn nr(&self, name: &str) -> Option<u32> {
        self.by_name.binary_search_by(|(s, _)| (*s).cmp(name)).ok().map(|i| self.by_name[i].1)
    }

    /// The name of `nr`, if it is a syscall here.
    pub fn name(&self, nr: u32) -> Option<&'static str> {
        self.by_nr.binary_search_by_key(&nr, |(n, _)| *n).ok().map(|i| self.by_nr[i].1)
    }

    /// Lowest and highest syscall number.
    pub fn range(&self) -> (u32, u32) {
        let lo = self.by_nr.first().map(|p| p.0).unwrap_or(0);
        let hi = self.by_nr.last().map(|p| p.0).unwrap_or(0);
        (lo, hi)
    }

    /// All (number, name) pairs in number order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'static str)> + '_ {
        self.by_nr.iter().copied()
    }

    /// How many syscalls.
    pub fn len(&self) -> usize {
        self.by_nr.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_nr.is_empty()
    }
}

macro_rules! crate_table {
    ($module:ident) => {{
        SyscallTable::from_pairs(syscalls::$module::Sysno::iter().map(|s| (s.name(), s.id() as u32)))
    }};
}

/// x32 syscalls that differ from x86-64: the compat entry points at 512..=547.
const X32_SPECIFIC: [&str; 36] = [
    "rt_sigaction",
    "rt_sigreturn",
    "ioctl",
    "readv",
    "writev",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "execve",
    "ptrace",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "sigaltstack",
    "timer_create",
    "mq_notify",
    "kexec_load",
    "waitid",
    "set_robust_list",
    "get_robust_list",
    "vmsplice",
    "move_pages",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "recvmmsg",
    "sendmmsg",
    "process_vm_readv",
    "process_vm_writev",
    "setsockopt",
    "getsockopt",
    "io_setup",
    "io_submit",
    "execveat",
    "preadv2",
    "pwritev2",
];

/// x86-64-only entries that x32 does not have at all.
const X32_ABSENT: [&str; 9] = [
    "uselib",
    "_sysctl",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "nfsservctl",
    "epoll_ctl_old",
    "epoll_wait_old",
    "vserver",
];

fn x32_table() -> SyscallTable {
    let mut pairs = Vec::new();
    for s in syscalls::x86_64::Sysno::iter() {
        let name = s.name();
        if X32_SPECIFIC.contains(&name) || X32_ABSENT.contains(&name) {
            continue;
        }
        pairs.push((name, s.id() as u32 | X32_SYSCALL_BIT));
    }
    for (i, name) in X32_SPECIFIC.iter().enumerate() {
        pairs.push((*name, (512 + i as u32) | X32_SYSCALL_BIT));
    }
    SyscallTable::from_pairs(pairs.into_iter())
}

fn build(arch: Arch) -> Option<SyscallTable> {
    Some(match arch {
        Arch::X86_64 => crate_table!(x86_64),
        Arch::X86 => crate_table!(x86),
        Arch::X32 => x32_table(),
        Arch::Aarch64 => crate_table!(aarch64),
        Arch::Arm => crate_table!(arm),
        Arch::Riscv64 => crate_table!(riscv64),
        Arch::S390x => crate_table!(s390x),
        Arch::Ppc64le | Arch::Ppc64 => crate_table!(powerpc64),
        Arch::Ppc => crate_table!(powerpc),
        Arch::Mips | Arch::Mipsel => crate_table!(mips),
        Arch::Mips64 | Arch::Mipsel64 => crate_table!(mips64),
        Arch::Loongarch64 => crate_table!(loongarch64),
        Arch::S390 | Arch::Mips64n32 | Arch::Mipsel64n32 => return None,
    })
}

/// The syscall table of `arch`, or `None` for arches we only pass through (s390, MIPS n32).
/// (Each arch's table is built on first use: the enforcer needs one family only.)
pub fn table(arch: Arch) -> Option<&'static SyscallTable> {
    static TABLES: [OnceLock<Option<SyscallTable>>; ALL_ARCHES.len()] =
        [const { OnceLock::new() }; ALL_ARCHES.len()];
    let idx = ALL_ARCHES.iter().position(|a| *a == arch)?;
    TABLES[idx].get_or_init(|| build(arch)).as_ref()
}

macro_rules! crate_names {
    ($v:ident, $($module:ident),*) => {{
        $( $v.extend(syscalls::$module::Sysno::iter().map(|s| s.name().strip_prefix("r#").unwrap_or(s.name()))); )*
    }};
}

/// Every syscall name known on any arch, sorted (straight from the syscalls crate: building
/// every arch's table is not needed for this).
pub fn all_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut v: Vec<&'static str> = Vec::with_capacity(8192);
        crate_names!(
            v,
            x86_64,
            x86,
            aarch64,
            arm,
            riscv64,
            s390x,
            powerpc64,
            powerpc,
            mips,
            mips64,
            loongarch64
        );
        v.extend(X32_SPECIFIC);
        v.extend(EXTRA_NAMES);
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// Names libseccomp knows that no table here has (arch-specific or long gone); accepted so
/// Docker profiles import cleanly.
const EXTRA_NAMES: [&str; 9] = [
    "set_tls",
    "breakpoint",
    "cacheflush",
    "arm_sync_file_range",
    "sync_file_range2",
    "sysfs",
    "bdflush",
    "clock_settime64",
    "stime",
];

/// Whether `name` is a syscall on some arch.
pub fn is_known(name: &str) -> bool {
    all_names().binary_search(&name).is_ok()
}

/// The known names closest to `name` (for "did you mean").
pub fn suggest(name: &str) -> Option<&'static str> {
    all_names()
        .iter()
        .map(|c| (strsim(name, c), *c))
        .filter(|(d, _)| *d <= 2.max(name.len() / 4))
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance.
pub fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_numbers() {
        let t = table(Arch::X86_64).unwrap();
        assert_eq!(t.nr("read"), Some(0));
        assert_eq!(t.nr("ptrace"), Some(101));
        assert_eq!(t.nr("clone3"), Some(435));
    }

    #[test]
    fn x32_numbers_carry_the_bit() {
        let t = table(Arch::X32).unwrap();
        assert_eq!(t.nr("read"), Some(X32_SYSCALL_BIT));
        assert_eq!(t.nr("ioctl"), Some(514 | X32_SYSCALL_BIT));
        assert_eq!(t.nr("execveat"), Some(545 | X32_SYSCALL_BIT));
        assert_eq!(t.nr("uselib"), None);
    }

    #[test]
    fn aarch64_has_no_open() {
        let t = table(Arch::Aarch64).unwrap();
        assert_eq!(t.nr("open"), None);
        assert_eq!(t.nr("openat"), Some(56));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("ptrac"), Some("ptrace"));
        assert_eq!(suggest("zzzzzzzzzzzz"), None);
    }
}
