//! Per-arch syscall tables (name ↔ number), from the `syscalls` crate plus our own x32 table.

use super::arch::Arch;

/// One arch's syscalls: two sorted slices (by number and by name), searched by bisection.
/// Generated at build time (`build.rs`) from the syscalls crate and our x32 table; names are
/// indices into the list of every name (which is sorted, so index order is name order).
#[derive(Debug)]
pub struct SyscallTable {
    by_name: &'static [(u16, u32)],
    by_nr: &'static [(u32, u16)],
}

impl SyscallTable {
    /// The number of `name`, if this arch has it.
    pub fn nr(&self, name: &str) -> Option<u32> {
        self.by_name.binary_search_by(|(i, _)| name_at(*i).cmp(name)).ok().map(|i| self.by_name[i].1)
    }

    /// The name of `nr`, if it is a syscall here.
    pub fn name(&self, nr: u32) -> Option<&'static str> {
        self.by_nr.binary_search_by_key(&nr, |(n, _)| *n).ok().map(|i| name_at(self.by_nr[i].1))
    }

    /// Lowest and highest syscall number.
    pub fn range(&self) -> (u32, u32) {
        let lo = self.by_nr.first().map(|p| p.0).unwrap_or(0);
        let hi = self.by_nr.last().map(|p| p.0).unwrap_or(0);
        (lo, hi)
    }

    /// All (number, name) pairs in number order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'static str)> + '_ {
        self.by_nr.iter().map(|&(n, i)| (n, name_at(i)))
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

include!(concat!(env!("OUT_DIR"), "/syscall_tables.rs"));

/// Name number `i` of the list of every name.
fn name_at(i: u16) -> &'static str {
    let span = NAME_SPANS[usize::from(i)] as usize;
    let (start, len) = (span >> 8, span & 0xff);
    &NAME_TEXT[start..start + len]
}

/// The syscall table of `arch`, or `None` for arches we only pass through (s390, MIPS n32).
pub fn table(arch: Arch) -> Option<&'static SyscallTable> {
    Some(match arch {
        Arch::X86_64 => &X86_64,
        Arch::X86 => &X86,
        Arch::X32 => &X32,
        Arch::Aarch64 => &AARCH64,
        Arch::Arm => &ARM,
        Arch::Riscv64 => &RISCV64,
        Arch::S390x => &S390X,
        Arch::Ppc64le | Arch::Ppc64 => &POWERPC64,
        Arch::Ppc => &POWERPC,
        Arch::Mips | Arch::Mipsel => &MIPS,
        Arch::Mips64 | Arch::Mipsel64 => &MIPS64,
        Arch::Loongarch64 => &LOONGARCH64,
        Arch::S390 | Arch::Mips64n32 | Arch::Mipsel64n32 => return None,
    })
}

/// Every syscall name known on any arch, sorted (our x32 and libseccomp-only names included).
pub fn all_names() -> impl ExactSizeIterator<Item = &'static str> {
    (0..NAME_SPANS.len()).map(|i| name_at(i as u16))
}

/// Whether `name` is a syscall on some arch.
pub fn is_known(name: &str) -> bool {
    let (mut lo, mut hi) = (0, NAME_SPANS.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        match name_at(mid as u16).cmp(name) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// The known names closest to `name` (for "did you mean").
pub fn suggest(name: &str) -> Option<&'static str> {
    all_names()
        .map(|c| (strsim(name, c), c))
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
    use crate::syscalls::arch::X32_SYSCALL_BIT;

    #[test]
    fn generated_tables_are_sorted_and_unique() {
        for arch in crate::syscalls::arch::ALL_ARCHES {
            let Some(t) = table(arch) else { continue };
            assert!(t.by_nr.windows(2).all(|w| w[0].0 < w[1].0), "{arch:?} by number");
            assert!(t.by_name.windows(2).all(|w| name_at(w[0].0) < name_at(w[1].0)), "{arch:?} by name");
            assert_eq!(t.by_nr.len(), t.by_name.len(), "{arch:?}");
            for (nr, name) in t.iter() {
                assert!(is_known(name), "{name}");
                assert_eq!(t.nr(name), Some(nr), "{arch:?} {name}");
            }
        }
        let all: Vec<&str> = all_names().collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(all.iter().all(|n| is_known(n) && !n.is_empty()));
        assert!(!is_known("") && !is_known("zzz") && !is_known("aaa"));
        assert!(is_known("break") && is_known("set_tls") && !is_known("r#break"));
    }

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
