//! The dispatch of the built-in profiles stays within its budget (issue 15): on x86-64, every
//! syscall that runs BPF executes at most [`WORST_CASE_BUDGET`] instructions over the boundary
//! arguments of its conditions, and every syscall the policy allows whatever its arguments is
//! cached by the kernel. Instruction counts of the program, not timings.

use policy::backend::seccomp::bpf::{self, codegen::WORST_CASE_BUDGET, stats};
use policy::Arch;

#[test]
fn builtins_dispatch_within_the_worst_case_budget_and_stay_cacheable() {
    for name in policy::builtin::names() {
        let p = policy::compile(&format!("builtin:{name}"), &Default::default()).expect("compiles").policy;
        if !p.seccomp.arches.contains(&Arch::X86_64) {
            continue;
        }
        let prog = bpf::compile(&p, Arch::X86_64).expect("x86-64 program");
        let st = stats::measure(&prog.insns, false, Arch::X86_64, &p);
        assert!(
            st.worst_executed <= WORST_CASE_BUDGET,
            "{name}: worst {} ({}) over the budget of {WORST_CASE_BUDGET}",
            st.worst_executed,
            st.worst_syscall
        );
        assert!(
            st.uncached_argument_free_allows.is_empty(),
            "{name}: {:?}",
            st.uncached_argument_free_allows
        );
    }
}

/// Five allowed `personality` values, four of them every combination of two bits: one `jeq`
/// and one masked compare, not five `jeq`s.
#[test]
fn a_value_set_that_is_a_cube_is_one_masked_compare() {
    let yaml = "name: t\nseccomp:\n  arches: [x86_64]\n  rules:\n    - allow: [personality]\n      args: [{ index: 0, op: in, values: [0, 8, 0x20000, 0x20008, 0xFFFFFFFF] }]\n";
    let p = policy::compile_text("t.yaml", yaml, None, &Default::default()).expect("compiles").policy;
    let prog = bpf::compile(&p, Arch::X86_64).expect("program");
    let asm = prog.asm();
    assert_eq!(asm.matches("jeq   #0xffffffff").count(), 1, "{asm}");
    assert!(asm.contains("and  #0xfffdfff7") || asm.contains("and   #0xfffdfff7"), "{asm}");
    for (v, allowed) in [
        (0u64, true),
        (8, true),
        (0x20000, true),
        (0x20008, true),
        (0xffff_ffff, true),
        (1, false),
        (0x20010, false),
        (0x2_0000_0008, true),
    ] {
        let s = prog.simulate_name(Arch::X86_64, "personality", [v, 0, 0, 0, 0, 0]).expect("known");
        assert_eq!(s.action.permits(), allowed, "personality({v:#x}): {}", s.action);
    }
}
