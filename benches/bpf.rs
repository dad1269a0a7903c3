//! Seccomp BPF benchmark: Palisade's generator against libseccomp, in one run.
//!
//! `cargo bench --bench bpf` prints the report; `cargo bench --bench bpf -- --write` also
//! replaces the generated section of docs/performance.md. Figures:
//! - program length; mean and worst BPF instructions executed over the x86-64 syscalls the
//!   kernel's action cache does not cover (mean with zero arguments; worst over each
//!   syscall's boundary arguments); how many syscalls are cacheable; every instruction count
//!   comes from running the program in our interpreter, which the live tests check against
//!   the kernel;
//! - compile time (median of many runs) for x86-64 alone and for x86-64 + x86 + x32;
//! - nanoseconds per system call in a child process under each filter.

#[path = "../tests/common/scmp.rs"]
mod scmp;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use enforcer::seccomp::{Filter, Flags};
use policy::backend::seccomp::bpf::{self, stats, SockFilter};
use policy::formats::docker::DockerProfile;
use policy::{Arch, Policy};

const MOBY: &str = include_str!("../tests/fixtures/seccomp/moby-default.json");
const PODMAN: &str = include_str!("../tests/fixtures/seccomp/podman-containers-common.json");
const DOCKER_DEFAULT_YAML: &str = include_str!("../profiles/docker-default.yaml");

struct Subject {
    name: &'static str,
    policy: Policy,
    json: DockerProfile,
    json_text: &'static str,
}

fn subjects() -> Vec<Subject> {
    let dd = policy::compile("builtin:docker-default", &Default::default()).expect("builtin").policy;
    let podman = policy::import::compile_docker("podman-default.json", PODMAN, &Default::default())
        .expect("podman imports")
        .policy;
    vec![
        Subject {
            name: "Docker default",
            policy: dd,
            json: policy::import::parse_docker("moby", MOBY).expect("moby"),
            json_text: MOBY,
        },
        Subject {
            name: "Podman default",
            policy: podman,
            json: policy::import::parse_docker("podman", PODMAN).expect("podman"),
            json_text: PODMAN,
        },
    ]
}

fn with_arches(p: &Policy, arches: &[Arch]) -> Policy {
    let mut q = p.clone();
    q.seccomp.arches = arches.to_vec();
    q
}

/// Median wall time of `f` over enough runs to fill ~300 ms (at least 20).
fn median_time(mut f: impl FnMut()) -> Duration {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 20 || (start.elapsed() < Duration::from_millis(300) && times.len() < 2000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

struct Row {
    build: String,
    stats: stats::Stats,
    len_three: usize,
    compile_one: Duration,
    compile_three: Duration,
}

fn ours(s: &Subject) -> Row {
    let one = with_arches(&s.policy, &[Arch::X86_64]);
    let three = with_arches(&s.policy, &[Arch::X86_64, Arch::X86, Arch::X32]);
    let prog = bpf::compile(&one, Arch::X86_64).expect("compiles");
    let st = stats::measure(&prog.insns, false, Arch::X86_64, &one);
    let len_three = bpf::compile(&three, Arch::X86_64).expect("compiles").insns.len();
    let compile_one = median_time(|| {
        std::hint::black_box(bpf::compile(&one, Arch::X86_64).expect("compiles"));
    });
    let compile_three = median_time(|| {
        std::hint::black_box(bpf::compile(&three, Arch::X86_64).expect("compiles"));
    });
    Row { build: "Palisade".into(), stats: st, len_three, compile_one, compile_three }
}

fn theirs(s: &Subject, opt: scmp::Optimize) -> (Row, Vec<SockFilter>) {
    let names: Vec<String> = s.policy.capabilities.granted.names().into_iter().map(String::from).collect();
    let caps = &names;
    let insns = scmp::export(&scmp::filter(&s.json, caps, false, opt));
    let st = stats::measure(&insns, false, Arch::X86_64, &s.policy);
    let len_three = scmp::export(&scmp::filter(&s.json, caps, true, opt)).len();
    let compile_one = median_time(|| {
        std::hint::black_box(scmp::export(&scmp::filter(&s.json, caps, false, opt)));
    });
    let compile_three = median_time(|| {
        std::hint::black_box(scmp::export(&scmp::filter(&s.json, caps, true, opt)));
    });
    let build = match opt {
        scmp::Optimize::Linear => "libseccomp (default)",
        scmp::Optimize::Tree => "libseccomp (binary tree)",
    };
    (Row { build: build.into(), stats: st, len_three, compile_one, compile_three }, insns)
}

/// ns per call of `nr(args)` over `n` calls in a child process under `filter`.
fn ns_per_call(filter: Option<&Filter>, nr: i64, args: [u64; 6], n: u64) -> f64 {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the two-element array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child makes system calls only and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY (block): system calls on local memory; no allocation after fork.
        unsafe {
            // One CPU for every sample, so migrations do not add noise.
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(0, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            if let Some(f) = filter {
                if f.install(Flags::default(), true).is_err() {
                    libc::_exit(2);
                }
            }
            let mut t0 = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            let mut t1 = t0;
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t0);
            for _ in 0..n {
                libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
            }
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t1);
            let ns: i64 = (t1.tv_sec - t0.tv_sec) * 1_000_000_000 + (t1.tv_nsec - t0.tv_nsec);
            libc::write(fds[1], (&ns as *const i64).cast(), 8);
            libc::_exit(0);
        }
    }
    let mut ns = 0i64;
    // SAFETY: closing our write end, reading 8 bytes into a local, reaping our child.
    unsafe {
        libc::close(fds[1]);
        libc::read(fds[0], (&mut ns as *mut i64).cast(), 8);
        libc::close(fds[0]);
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "benchmark child failed");
    }
    ns as f64 / n as f64
}

fn main() {
    let write = std::env::args().any(|a| a == "--write");
    let quick = std::env::args().any(|a| a == "--quick");
    let mut out = String::new();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let v = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Measured by `cargo bench --bench bpf -- --write` on Linux {}, {cpu}, libseccomp {v}.\n",
        kernel.trim()
    );
    let _ = writeln!(
        out,
        "| profile | build | length | length x86_64+x86+x32 | mean executed | worst executed (syscall) | cacheable | compile x86_64 (ms) | compile x86_64+x86+x32 (ms) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let mut programs: Vec<(String, String, Vec<SockFilter>)> = Vec::new();
    for s in subjects() {
        let row = ours(&s);
        let prog = bpf::compile(&with_arches(&s.policy, &[Arch::X86_64]), Arch::X86_64).expect("compiles");
        programs.push((s.name.into(), row.build.clone(), prog.insns.clone()));
        let mut rows = vec![row];
        for opt in [scmp::Optimize::Linear, scmp::Optimize::Tree] {
            let (r, insns) = theirs(&s, opt);
            programs.push((s.name.into(), r.build.clone(), insns));
            rows.push(r);
        }
        for r in &rows {
            let st = &r.stats;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {} ({}) | {} of {}{} | {} | {} |",
                s.name,
                r.build,
                st.len,
                r.len_three,
                st.mean_executed,
                st.worst_executed,
                st.worst_syscall,
                st.cached,
                st.syscalls,
                if st.uncached_argument_free_allows.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} argument-free allows not cacheable)",
                        st.uncached_argument_free_allows.len()
                    )
                },
                ms(r.compile_one),
                ms(r.compile_three),
            );
        }
        if s.name == "Docker default" {
            // The whole pipeline for comparison: YAML profile text → BPF, JSON text → libseccomp BPF.
            let yaml = median_time(|| {
                let c = policy::compile_text(
                    "docker-default.yaml",
                    DOCKER_DEFAULT_YAML,
                    None,
                    &Default::default(),
                )
                .expect("compiles");
                std::hint::black_box(bpf::compile(&c.policy, Arch::X86_64).expect("bpf"));
            });
            let caps: Vec<String> =
                s.policy.capabilities.granted.names().into_iter().map(String::from).collect();
            let json = median_time(|| {
                let d = policy::import::parse_docker("moby", s.json_text).expect("parses");
                std::hint::black_box(scmp::export(&scmp::filter(&d, &caps, true, scmp::Optimize::Tree)));
            });
            let _ = writeln!(
                out,
                "\nWhole pipeline, Docker default, all arches of its x86_64 family: Palisade YAML text → BPF {} ms (the profile lists {} arches; parsing and IR included); JSON text → libseccomp binary tree {} ms.\n",
                ms(yaml),
                s.policy.seccomp.arches.len(),
                ms(json)
            );
        }
    }
    // Syscall cost under each x86-64 program of the Docker default.
    let n: u64 = if quick { 200_000 } else { 2_000_000 };
    let reps = 7;
    let t = policy::syscalls::table::table(Arch::X86_64).expect("table");
    let calls: [(&str, [u64; 6]); 3] =
        [("getppid", [0; 6]), ("personality", [0xffff_ffff, 0, 0, 0, 0, 0]), ("acct", [0; 6])];
    let _ = writeln!(out, "\nnanoseconds per call (median of {reps} interleaved runs of {n} calls, each in a fresh child process pinned to CPU 0):\n");
    let _ = writeln!(out, "| filter (Docker default, x86_64) | length | getppid | personality(0xffffffff) | acct(NULL) (denied) |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let mut filters: Vec<(String, Option<Filter>, usize)> = vec![("none".into(), None, 0)];
    for (subject, build, insns) in programs.iter().filter(|p| p.0 == "Docker default") {
        let _ = subject;
        filters.push((build.clone(), Some(Filter::new(insns).expect("loadable")), insns.len()));
    }
    // Interleave: every repetition runs every filter and call once, so drift (frequency,
    // other load) spreads over all of them; report the median per cell.
    let mut samples = vec![vec![Vec::new(); calls.len()]; filters.len()];
    for _ in 0..reps {
        for (fi, (_, f, _)) in filters.iter().enumerate() {
            for (ci, (call, args)) in calls.iter().enumerate() {
                let nr = i64::from(t.nr(call).expect("x86_64 syscall"));
                samples[fi][ci].push(ns_per_call(f.as_ref(), nr, *args, n));
            }
        }
    }
    for ((name, _, len), cells) in filters.iter().zip(&mut samples) {
        let cells: Vec<String> = cells
            .iter_mut()
            .map(|v| {
                v.sort_by(f64::total_cmp);
                format!("{:.0}", v[v.len() / 2])
            })
            .collect();
        let len = if *len == 0 { "-".to_string() } else { len.to_string() };
        let _ = writeln!(out, "| {name} | {len} | {} |", cells.join(" | "));
    }
    print!("{out}");
    if write {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/performance.md");
        let doc = std::fs::read_to_string(path).expect("docs/performance.md exists");
        let (begin, end) = ("<!-- bench:bpf:begin -->", "<!-- bench:bpf:end -->");
        let (a, b) = (doc.find(begin).expect("begin marker"), doc.find(end).expect("end marker"));
        let new = format!("{}{begin}\n{out}{}", &doc[..a], &doc[b..]);
        std::fs::write(path, new).expect("writes docs/performance.md");
        eprintln!("updated {path}");
    }
}
