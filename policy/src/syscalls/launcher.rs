//! The system calls a launcher makes between installing a seccomp filter and the workload's
//! exec, and those that exec itself needs: a filter that denies one of them stops every
//! workload before it starts (`enforce` checks before applying; `policyc lint` says so as
//! PAL015).

/// `PR_GET_SECUREBITS`, the read-back of the securebits.
const PR_GET_SECUREBITS: u64 = 27;
/// `PROT_READ | PROT_WRITE`.
const PROT_RW: u64 = 3;
/// `MAP_PRIVATE | MAP_ANONYMOUS`.
const MAP_ANON: u64 = 0x22;

/// (syscall, arguments as the launcher passes them; 0 where any value will do), in the order
/// they are made.
pub const AFTER_FILTER: [(&str, [u64; 6]); 8] = [
    ("pread64", [0; 6]),
    ("prctl", [PR_GET_SECUREBITS, 0, 0, 0, 0, 0]),
    ("brk", [0; 6]),
    ("mmap", [0, 4096, PROT_RW, MAP_ANON, u64::MAX, 0]),
    ("munmap", [0; 6]),
    ("write", [2, 0, 0, 0, 0, 0]),
    ("execve", [0; 6]),
    ("exit_group", [0; 6]),
];

/// `PR_CAP_AMBIENT`, with which the shim clears its ambient set.
const PR_CAP_AMBIENT: u64 = 47;

/// What runtime-lite's PID-1 shim calls once it has confined itself with the container's
/// policy (its own image: it never execs): reading back its status, dropping every capability,
/// waiting for and forwarding signals, reaping, reporting the exit status, and giving memory
/// back (reading `/proc/self/maps`, which it does without when Landlock refuses it). A profile
/// learned in a container allows these too (a prctl by its option, the rest by name).
pub const SHIM: [(&str, [u64; 6]); 20] = [
    ("pread64", [0; 6]),
    ("prctl", [PR_GET_SECUREBITS, 0, 0, 0, 0, 0]),
    ("prctl", [PR_CAP_AMBIENT, 0, 0, 0, 0, 0]),
    ("fcntl", [0; 6]),
    ("close", [0; 6]),
    ("capget", [0; 6]),
    ("capset", [0; 6]),
    ("rt_sigtimedwait", [0; 6]),
    ("rt_sigprocmask", [0; 6]),
    ("kill", [0; 6]),
    ("wait4", [0; 6]),
    ("madvise", [0; 6]),
    ("brk", [0; 6]),
    ("mmap", [0; 6]),
    ("munmap", [0; 6]),
    ("openat", [0; 6]),
    ("read", [0; 6]),
    ("write", [0; 6]),
    ("sigaltstack", [0; 6]),
    ("exit_group", [0; 6]),
];

/// How a call of [`AFTER_FILTER`] is shown: `prctl(PR_GET_SECUREBITS)`, `execve`.
pub fn shown(name: &str) -> &str {
    match name {
        "prctl" => "prctl(PR_GET_SECUREBITS)",
        other => other,
    }
}
