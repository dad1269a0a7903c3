//! Length, mean and worst executed instructions of a profile's x86-64 program (a quick look;
//! the benchmark `benches/bpf.rs` is the measurement of record).
use policy::backend::seccomp::bpf::{self, stats};
use policy::Arch;

fn main() {
    let spec = std::env::args().nth(1).unwrap_or_else(|| "builtin:docker-default".into());
    let c = match policy::compile(&spec, &Default::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut one = c.policy.clone();
    one.seccomp.arches = vec![Arch::X86_64];
    for (what, p) in [("x86_64 only", &one), ("all arches", &c.policy)] {
        match bpf::compile(p, Arch::X86_64) {
            Ok(prog) => {
                let st = stats::measure(&prog.insns, false, Arch::X86_64, &one);
                println!(
                    "{spec} ({what}): length {}, mean {:.2}, worst {} ({}), cached {} of {}",
                    st.len, st.mean_executed, st.worst_executed, st.worst_syscall, st.cached, st.syscalls
                );
            }
            Err(e) => println!("{spec} ({what}): {e}"),
        }
        let start = std::time::Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            let _ = bpf::compile(p, Arch::X86_64);
        }
        println!(
            "  compile x86_64 program: {:.3} ms",
            start.elapsed().as_secs_f64() * 1000.0 / rounds as f64
        );
    }
}
