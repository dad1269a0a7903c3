//! The kernel's seccomp action cache (Linux ≥ 5.11), emulated.
//!
//! When a filter is attached, the kernel decides for each syscall number of the native (and
//! compat) arch whether the filter returns ALLOW whatever the arguments: it runs the filter
//! symbolically, knowing only `nr` and `arch`, and gives up at any other load or any
//! instruction other than `ld nr`, `ld arch`, `jeq/jge/jgt/jset #k`, `ja`, `and #k` and
//! `ret #k` (`seccomp_is_const_allow` in `kernel/seccomp.c`). Cached numbers never run BPF.

use super::insn::{op, SockFilter, OFF_ARCH, OFF_NR};

/// Whether the kernel would cache `nr` on `arch` as always allowed for this program.
pub fn const_allow(prog: &[SockFilter], arch: u32, nr: u32) -> bool {
    const ALLOW: u32 = 0x7fff_0000;
    let mut a = 0u32;
    let mut pc = 0usize;
    while let Some(i) = prog.get(pc) {
        match i.code {
            op::LD_ABS => match i.k {
                OFF_NR => a = nr,
                OFF_ARCH => a = arch,
                _ => return false,
            },
            op::RET_K => return i.k == ALLOW,
            op::JA_K => pc += i.k as usize,
            op::JEQ_K | op::JGE_K | op::JGT_K | op::JSET_K => {
                let taken = match i.code {
                    op::JEQ_K => a == i.k,
                    op::JGE_K => a >= i.k,
                    op::JGT_K => a > i.k,
                    _ => a & i.k != 0,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            op::AND_K => a &= i.k,
            _ => return false,
        }
        pc += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use SockFilter as F;

    #[test]
    fn argument_loads_defeat_the_cache() {
        let allow = F::stmt(op::RET_K, 0x7fff_0000);
        let deny = F::stmt(op::RET_K, 0x0005_0001);
        let p =
            [F::stmt(op::LD_ABS, OFF_NR), F::jump(op::JEQ_K, 39, 0, 1), allow, F::stmt(op::LD_ABS, 16), deny];
        assert!(const_allow(&p, 0xc000_003e, 39));
        assert!(!const_allow(&p, 0xc000_003e, 40));
        let q = [F::stmt(op::LD_ABS, 16), allow];
        assert!(!const_allow(&q, 0xc000_003e, 39));
        let r = [F::stmt(op::LD | op::IMM, 0), allow];
        assert!(!const_allow(&r, 0xc000_003e, 39));
    }
}
