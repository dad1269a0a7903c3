//! The BPF interpreter's checker (`interp::check`, the kernel's rules for a seccomp filter)
//! and what runs after it. The input is `struct sock_filter` records (8 bytes each,
//! little-endian; a shorter tail is dropped). Whatever the checker says must not panic; a
//! program it accepts must then run to a return on any call (forward jumps only: each
//! instruction at most once), and the action-cache emulation must be sound: a number it
//! caches as allowed must be allowed whatever the arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::backend::seccomp::bpf::{asm, cache, insn, interp, SeccompData};

/// `SECCOMP_RET_ALLOW`.
const ALLOW: u32 = 0x7fff_0000;

fuzz_target!(|data: &[u8]| {
    let whole = data.len() - data.len() % 8;
    let Some(prog) = insn::decode(&data[..whole], false) else { return };
    if interp::check(&prog).is_err() {
        return;
    }
    let _ = asm::disassemble_raw(&prog);
    let x86_64 = policy::Arch::X86_64.audit_arch();
    let aarch64 = policy::Arch::Aarch64.audit_arch();
    // A call made of the input too: its first record, as a number.
    let first = data.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0);
    let calls = [
        (x86_64, 0, [0; 6]),
        (x86_64, 59, [1, 2, 3, 4, 5, 6]),
        (aarch64, u32::MAX, [u64::MAX; 6]),
        (0, 0x4000_0001, [0xffff_ffff_0000_0000; 6]),
        (first as u32, (first >> 32) as u32, [first; 6]),
    ];
    for (arch, nr, args) in calls {
        let cached = cache::const_allow(&prog, arch, nr);
        for big_endian in [false, true] {
            for args in [args, [0; 6], [first.rotate_left(17); 6]] {
                let d = SeccompData { nr, arch, instruction_pointer: first, args };
                let r = interp::run(&prog, &d, big_endian);
                assert!(
                    r.executed <= prog.len(),
                    "{} instructions run in a program of {}",
                    r.executed,
                    prog.len()
                );
                if let Some(pc) = r.ret_pc {
                    assert!(pc < prog.len() && prog[pc].code & 0x07 == insn::op::RET, "ended at {pc}");
                }
                if cached {
                    assert_eq!(
                        r.ret,
                        ALLOW,
                        "cached as allowed, but arch {arch:#x} nr {nr:#x} args {args:x?} gets {:#x}:\n{}",
                        r.ret,
                        asm::disassemble_raw(&prog)
                    );
                }
            }
        }
    }
});
