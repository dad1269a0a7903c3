//! Live kernel tests: every built-in profile's program loads in a forked child, and real
//! system calls get the verdicts the policy's reference evaluator predicts. x32 and foreign
//! arches are covered by simulation (policy/tests/bpf_differential.rs).
//!
//! These need a kernel with seccomp (every CI machine); they never skip.

use std::os::unix::process::CommandExt;
use std::process::Command;

use enforcer::seccomp::{Filter, Flags, InstallError};
use policy::backend::seccomp::bpf;
use policy::{Action, Arch, Policy};

const CLONE_NEWUSER: u64 = 0x1000_0000;
const ADDR_NO_RANDOMIZE: u64 = 0x0040000;
const TIOCSTI: u64 = 0x5412;

/// One raw system call and what "it ran" looks like when the filter allows it.
struct Probe {
    name: &'static str,
    args: [u64; 6],
    ran: fn(i64) -> bool,
}

fn probes() -> Vec<Probe> {
    let ok = |r: i64| r >= 0;
    vec![
        Probe { name: "getppid", args: [0; 6], ran: |r| r > 0 },
        Probe { name: "personality", args: [0xffff_ffff, 0, 0, 0, 0, 0], ran: ok },
        Probe { name: "personality", args: [ADDR_NO_RANDOMIZE, 0, 0, 0, 0, 0], ran: ok },
        Probe { name: "acct", args: [0; 6], ran: |r| r == 0 || r == -(libc::EPERM as i64) },
        // A size of 0 makes a clone3 that runs fail with EINVAL: never a new process.
        Probe { name: "clone3", args: [0; 6], ran: |r| r == -(libc::EINVAL as i64) },
        Probe { name: "unshare", args: [CLONE_NEWUSER, 0, 0, 0, 0, 0], ran: |r| r == 0 },
        Probe { name: "socket", args: [libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0], ran: ok },
        Probe { name: "socket", args: [libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0], ran: ok },
        Probe {
            name: "socket",
            args: [40 /* AF_VSOCK */, libc::SOCK_STREAM as u64, 0, 0, 0, 0],
            ran: |r| r != -(libc::EPERM as i64),
        },
        // fd -1: a TIOCSTI that runs fails with EBADF. High garbage bits must not change the verdict.
        Probe {
            name: "ioctl",
            args: [u64::MAX, TIOCSTI | (1 << 32), 0, 0, 0, 0],
            ran: |r| r == -(libc::EBADF as i64),
        },
        Probe { name: "ioctl", args: [u64::MAX, TIOCSTI, 0, 0, 0, 0], ran: |r| r == -(libc::EBADF as i64) },
        Probe { name: "mount", args: [0; 6], ran: |r| r < 0 && r != -(libc::EPERM as i64) },
    ]
}

struct ChildReport {
    install: i64,
    results: Vec<i64>,
    status: String,
    wait_status: i32,
}

/// Fork; in the child install `filter`, make each call, report results and
/// `/proc/self/status` over a pipe. The child only makes system calls (no allocation).
fn run_in_child(filter: &Filter, flags: Flags, calls: &[(i64, [u64; 6])]) -> ChildReport {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let path = b"/proc/self/status\0";
    // SAFETY: the child below only makes async-signal-safe system calls and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY (whole block): raw system calls on memory owned by this stack frame or
        // prepared before fork; no allocation, no locks; ends in _exit.
        unsafe {
            libc::close(fds[0]);
            let w = fds[1];
            let install: i64 = match filter.install(flags, true) {
                Ok(_) => 0,
                Err(InstallError::Seccomp { errno, .. }) | Err(InstallError::NoNewPrivs(errno)) => {
                    -(errno as i64)
                }
                Err(_) => -1,
            };
            libc::write(w, (&install as *const i64).cast(), 8);
            if install != 0 {
                libc::_exit(3);
            }
            for (nr, a) in calls {
                let r = libc::syscall(*nr, a[0], a[1], a[2], a[3], a[4], a[5]);
                let v: i64 = if r == -1 { -(*libc::__errno_location() as i64) } else { r };
                libc::write(w, (&v as *const i64).cast(), 8);
            }
            let mut buf = [0u8; 4096];
            let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY);
            if fd >= 0 {
                let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                if n > 0 {
                    libc::write(w, buf.as_ptr().cast(), n as usize);
                }
            }
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into a local buffer of the given length.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    let mut wait_status = 0;
    // SAFETY: waiting for our own child; closing our read end.
    unsafe {
        libc::waitpid(pid, &mut wait_status, 0);
        libc::close(fds[0]);
    }
    let word = |i: usize| out.get(i * 8..i * 8 + 8).map(|b| i64::from_ne_bytes(b.try_into().unwrap()));
    let install = word(0).expect("child reported");
    let n = if install == 0 { calls.len() } else { 0 };
    let results: Vec<i64> = (1..=n).map(|i| word(i).expect("a result per call")).collect();
    let status = String::from_utf8_lossy(out.get((n + 1) * 8..).unwrap_or_default()).into_owned();
    ChildReport { install, results, status, wait_status }
}

fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key)).map(str::trim)
}

fn host() -> Arch {
    Arch::parse(std::env::consts::ARCH).expect("a supported host arch")
}

fn check_profile(name: &str, p: &Policy) -> usize {
    let arch = host();
    let prog =
        bpf::compile(p, bpf::target_for(p, Some(arch), Some(arch)).expect("profile has the host arch"))
            .expect("compiles");
    let filter = Filter::from_program(&prog).expect("checks");
    let t = policy::syscalls::table::table(arch).unwrap();
    let probes = probes();
    let calls: Vec<(i64, [u64; 6])> =
        probes.iter().map(|pr| (i64::from(t.nr(pr.name).expect("syscall on host")), pr.args)).collect();
    let r = run_in_child(&filter, Flags::default(), &calls);
    assert_eq!(r.install, 0, "{name}: the kernel refused the program ({} instructions)", prog.insns.len());
    assert!(
        libc::WIFEXITED(r.wait_status) && libc::WEXITSTATUS(r.wait_status) == 0,
        "{name}: child died: {:#x}",
        r.wait_status
    );
    assert_eq!(field(&r.status, "Seccomp:"), Some("2"), "{name}: {}", r.status);
    assert_eq!(field(&r.status, "NoNewPrivs:"), Some("1"), "{name}");
    assert_eq!(field(&r.status, "Seccomp_filters:"), Some("1"), "{name}");
    let mut denied = 0;
    for ((pr, (nr, _)), got) in probes.iter().zip(&calls).zip(&r.results) {
        let want = p.evaluate(arch.audit_arch(), *nr as u32, pr.args);
        match want.action {
            Action::Errno(e) => {
                denied += 1;
                assert_eq!(
                    *got,
                    -i64::from(e),
                    "{name}: {}({:x?}) should fail with errno {e} ({:?})",
                    pr.name,
                    pr.args,
                    want.decided_by
                )
            }
            Action::Allow | Action::Log => {
                assert!((pr.ran)(*got), "{name}: {}({:x?}) should run, got {got}", pr.name, pr.args)
            }
            other => panic!(
                "{name}: probe {} would get {other}; pick calls the profile allows or denies with an errno",
                pr.name
            ),
        }
    }
    denied
}

#[test]
fn every_builtin_profile_loads_and_real_calls_get_the_predicted_verdicts() {
    for n in policy::builtin::names() {
        let p = policy::compile(&format!("builtin:{n}"), &Default::default()).unwrap().policy;
        let denied = check_profile(n, &p);
        assert!(denied >= 4, "{n}: only {denied} probes denied");
    }
}

#[test]
fn clone3_is_enosys_and_namespace_clone_is_eperm() {
    let p = policy::compile("builtin:docker-default", &Default::default()).unwrap().policy;
    let arch = host();
    let prog = bpf::compile(&p, arch).unwrap();
    let f = Filter::from_program(&prog).unwrap();
    let t = policy::syscalls::table::table(arch).unwrap();
    let calls = [
        (i64::from(t.nr("clone3").unwrap()), [0u64; 6]),
        (i64::from(t.nr("unshare").unwrap()), [CLONE_NEWUSER, 0, 0, 0, 0, 0]),
    ];
    let r = run_in_child(&f, Flags::default(), &calls);
    assert_eq!(r.results, vec![-(libc::ENOSYS as i64), -(libc::EPERM as i64)]);
}

/// Runs only as the re-executed child of `threads_work_under_the_filter`.
#[test]
fn probe_threads_child() {
    if std::env::var_os("PALISADE_THREAD_PROBE").is_none() {
        return;
    }
    let h = std::thread::spawn(|| 42);
    assert_eq!(h.join().unwrap(), 42);
    println!("THREAD-OK");
}

#[test]
fn threads_work_under_the_filter() {
    // pthread_create tries clone3 first and falls back to clone only on ENOSYS (pitfall 5).
    for n in ["docker-default", "strict"] {
        let p = policy::compile(&format!("builtin:{n}"), &Default::default()).unwrap().policy;
        let f = Filter::from_program(&bpf::compile(&p, host()).unwrap()).unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "probe_threads_child", "--nocapture", "--test-threads=1"]);
        cmd.env("PALISADE_THREAD_PROBE", "1");
        // SAFETY: install makes system calls only, which is what pre_exec allows.
        unsafe {
            cmd.pre_exec(move || {
                f.install(Flags::default(), true)
                    .map(|_| ())
                    .map_err(|e| std::io::Error::other(e.to_string()))
            });
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("THREAD-OK"),
            "{n}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_failed_install_leaves_no_filter_and_reports_why() {
    let p = policy::compile("builtin:docker-default", &Default::default()).unwrap().policy;
    let f = Filter::from_program(&bpf::compile(&p, host()).unwrap()).unwrap();
    let r = run_in_child(&f, Flags(0x8000_0000), &[]);
    assert_eq!(r.install, -(libc::EINVAL as i64));
    assert_eq!(libc::WEXITSTATUS(r.wait_status), 3, "the child stops when installing fails");
    // Programs the kernel would refuse are refused before the syscall.
    let bad = [policy::backend::seccomp::bpf::SockFilter::stmt(0x20, 2)];
    assert!(matches!(Filter::new(&bad), Err(InstallError::Invalid(_))));
}

/// Syscalls the kernel runs without consulting seccomp: on x86-64, `uretprobe` and `uprobe`
/// pass through every filter (`seccomp_uprobe_exception()`, Linux 6.11+ and 6.16+); they only
/// act when called from a uprobe trampoline.
const SECCOMP_BYPASS: [&str; 2] = ["uretprobe", "uprobe"];

#[test]
fn the_kernel_passes_uprobe_syscalls_through_any_filter() {
    let arch = host();
    let t = policy::syscalls::table::table(arch).unwrap();
    let Some(nr) = t.nr("uprobe") else {
        eprintln!("NOTE: no uprobe syscall on {arch}; nothing to check");
        return;
    };
    let yaml = "name: t\nseccomp:\n  default: allow\n  rules:\n    - deny: [getpid, uprobe]\n";
    let p = policy::compile_text("t.yaml", yaml, None, &Default::default()).unwrap().policy;
    let f = Filter::from_program(&bpf::compile(&p, arch).unwrap()).unwrap();
    let getpid = i64::from(t.nr("getpid").unwrap());
    let r = run_in_child(&f, Flags::default(), &[(getpid, [0; 6]), (i64::from(nr), [0; 6])]);
    assert_eq!(r.results[0], -(libc::EPERM as i64), "the filter is in force");
    // Not EPERM: the kernel ran uprobe itself (ENXIO outside a trampoline) - or, on a
    // kernel without it, ENOSYS. Either way seccomp was not consulted.
    assert_ne!(r.results[1], -(libc::EPERM as i64), "uprobe got the filter's verdict: the bypass is gone");
}

#[test]
fn the_kernel_agrees_with_our_interpreter_on_every_host_number() {
    // Run docker-default's program in the kernel for a spread of numbers with a
    // distinguishing errno: a filter returning ERRNO(nr-dependent) would differ here first.
    let p = policy::compile("builtin:docker-default", &Default::default()).unwrap().policy;
    let arch = host();
    let prog = bpf::compile(&p, arch).unwrap();
    let f = Filter::from_program(&prog).unwrap();
    // Numbers whose verdict is an errno in the interpreter (the call never runs), except
    // those the kernel never filters.
    let t = policy::syscalls::table::table(arch).unwrap();
    let bypass: Vec<u32> = SECCOMP_BYPASS.iter().filter_map(|n| t.nr(n)).collect();
    let calls: Vec<(i64, [u64; 6])> = (0..1024u32)
        .filter(|nr| !bypass.contains(nr))
        .filter(|nr| matches!(prog.simulate(arch.audit_arch(), *nr, [0; 6]).action, Action::Errno(_)))
        .map(|nr| (i64::from(nr), [0u64; 6]))
        .collect();
    assert!(calls.len() > 500, "{} denied numbers", calls.len());
    let r = run_in_child(&f, Flags::default(), &calls);
    for ((nr, _), got) in calls.iter().zip(&r.results) {
        let Action::Errno(e) = prog.simulate(arch.audit_arch(), *nr as u32, [0; 6]).action else {
            unreachable!()
        };
        assert_eq!(*got, -i64::from(e), "nr {nr}");
    }
}
