//! The lint rules. IDs are stable: a rule may change its wording, never its ID.

use super::{finding, locate, Finding, Level};
use crate::action::Action;
use crate::error::Origin;
use crate::frontend::loader::Layer;
use crate::ir::{ArchTable, KernelVersion, Policy, SyscallIr};
use crate::syscalls::{table, Arch};
use crate::vocab::{Cap, FsAccess, FsRight, LandlockMode};

/// A lint rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable ID.
    pub id: &'static str,
    /// Short kebab-case name.
    pub name: &'static str,
    /// Severity.
    pub level: Level,
    /// What it flags, one line.
    pub summary: &'static str,
    /// How to fix it, one line.
    pub fix: &'static str,
}

/// Every rule.
pub const RULES: [Rule; 16] = [
    Rule {
        id: "PAL001",
        name: "io-uring-bypass",
        level: Level::Error,
        summary: "io_uring is allowed while seccomp restricts file or network syscalls",
        fix: "set `deny_io_uring: true`: io_uring operations never pass through seccomp",
    },
    Rule {
        id: "PAL002",
        name: "errno-zero-on-privilege-call",
        level: Level::Error,
        summary: "errno(0) on a set*id, setgroups, capset or prctl call fakes success",
        fix: "use a real errno such as errno(EPERM): with errno(0) the program believes it dropped privileges",
    },
    Rule {
        id: "PAL003",
        name: "personality-unrestricted",
        level: Level::Warning,
        summary: "personality is allowed for every argument (it can turn off ASLR for later execs)",
        fix: "allow only Docker's values: args [{ index: 0, op: in, values: [0x0, 0x8, 0x20000, 0x20008, 0xffffffff] }]",
    },
    Rule {
        id: "PAL004",
        name: "namespace-creation",
        level: Level::Warning,
        summary: "creating or joining namespaces is allowed without CAP_SYS_ADMIN",
        fix: "set `restrict_namespaces: true` (or mask clone's CLONE_NEW* flags and deny unshare/setns)",
    },
    Rule {
        id: "PAL005",
        name: "ptrace-before-4.8",
        level: Level::Warning,
        summary: "ptrace or process_vm_* is allowed without a kernel >= 4.8 condition",
        fix: "add `when: { min_kernel: \"4.8\" }` (before 4.8 a tracer could bypass seccomp) or deny the calls",
    },
    Rule {
        id: "PAL006",
        name: "dead-capability-grant",
        level: Level::Warning,
        summary: "a granted capability is only for syscalls that seccomp denies",
        fix: "drop the capability, or allow the syscalls it is for",
    },
    Rule {
        id: "PAL007",
        name: "useless-allow",
        level: Level::Warning,
        summary: "seccomp allows a syscall that always needs a capability the profile does not grant",
        fix: "remove the allow (the kernel refuses the call with EPERM anyway), or grant the capability",
    },
    Rule {
        id: "PAL008",
        name: "near-root-capability",
        level: Level::Warning,
        summary: "SYS_ADMIN, SYS_MODULE, SYS_PTRACE or DAC_READ_SEARCH is granted",
        fix: "grant the narrower capability the workload needs: these are close to full root",
    },
    Rule {
        id: "PAL009",
        name: "denylist-without-arch-protection",
        level: Level::Warning,
        summary: "a denylist (default allow) accepts other ABIs: compat arches it lists",
        fix: "accept only the native arch (compat calls then get kill-process), or make it an allowlist with a deny default",
    },
    Rule {
        id: "PAL010",
        name: "landlock-write-and-execute",
        level: Level::Warning,
        summary: "a Landlock path is both writable and executable",
        fix: "split it: a writable directory without `execute`, and read-only executables elsewhere",
    },
    Rule {
        id: "PAL011",
        name: "landlock-deny-inside-allow",
        level: Level::Warning,
        summary: "a narrower Landlock rule beneath a broader one takes nothing away",
        fix: "Landlock only adds rights: narrow the parent rule, or list its other subdirectories instead",
    },
    Rule {
        id: "PAL012",
        name: "landlock-best-effort-without-min-abi",
        level: Level::Warning,
        summary: "Landlock is best-effort with no `min_abi`: any kernel, even one enforcing nothing, runs it",
        fix: "set `min_abi` to the lowest ABI whose rights matter for this workload",
    },
    Rule {
        id: "PAL013",
        name: "seccomp-default-allow",
        level: Level::Warning,
        summary: "the seccomp default allows every syscall no rule names",
        fix: "use a deny default such as errno(EPERM) and allow what the workload needs",
    },
    Rule {
        id: "PAL014",
        name: "non-root-capabilities-without-ambient",
        level: Level::Warning,
        summary: "a non-root user is granted capabilities that are not ambient, so exec drops them",
        fix: "leave `ambient: auto` (the default) or list the capabilities in `ambient`",
    },
    Rule {
        id: "PAL015",
        name: "exec-denied",
        level: Level::Error,
        summary: "seccomp denies a call that any exec, or enforce after installing the filter, makes: nothing can start",
        fix: "allow execve, exit_group, write, pread64, prctl (PR_GET_SECUREBITS), brk, mmap and munmap",
    },
    Rule {
        id: "PAL016",
        name: "clone3-bypasses-clone-filter",
        level: Level::Warning,
        summary: "clone is filtered by argument while clone3, whose flags seccomp cannot see, is allowed",
        fix: "give clone3 errno(ENOSYS) (libc then falls back to clone), or leave `clone3_fallback` on and name clone3 in no rule",
    },
];

fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).unwrap_or(&RULES[0])
}

/// Capabilities and the syscalls they are for: whether every call of the syscall needs the
/// capability, and whether the syscalls are all the capability is for.
const CAP_CALLS: [(Cap, &[&str], bool, bool); 11] = [
    (Cap::SYS_MODULE, &["init_module", "finit_module", "delete_module"], true, true),
    (Cap::SYS_BOOT, &["reboot", "kexec_load", "kexec_file_load"], true, true),
    (Cap::SYS_TIME, &["settimeofday", "clock_settime", "stime"], true, false),
    (Cap::SYS_CHROOT, &["chroot"], true, true),
    (Cap::SYS_PACCT, &["acct"], true, true),
    (Cap::SYS_RAWIO, &["iopl", "ioperm"], true, false),
    (
        Cap::SYS_ADMIN,
        &["mount", "umount2", "pivot_root", "swapon", "swapoff", "sethostname", "setdomainname"],
        true,
        false,
    ),
    (Cap::SYS_PTRACE, &["ptrace", "process_vm_readv", "process_vm_writev"], false, false),
    (Cap::BPF, &["bpf"], false, true),
    (Cap::PERFMON, &["perf_event_open"], false, true),
    (Cap::SYSLOG, &["syslog"], false, false),
];

/// The policy's verdicts on one arch (x86-64 when it has it, else aarch64, else the first arch
/// with a table).
struct View<'a> {
    layers: &'a [Layer],
    policy: &'a Policy,
    arch: Arch,
    table: Option<&'a ArchTable>,
}

impl<'a> View<'a> {
    fn new(layers: &'a [Layer], policy: &'a Policy) -> Option<View<'a>> {
        let arches = &policy.seccomp.arches;
        let arch = [Arch::X86_64, Arch::Aarch64]
            .into_iter()
            .find(|a| arches.contains(a))
            .or_else(|| arches.iter().copied().find(|a| table::table(*a).is_some()))?;
        Some(View { layers, policy, arch, table: policy.seccomp.tables.get(arch.name()) })
    }

    fn known(&self, name: &str) -> bool {
        table::table(self.arch).is_some_and(|t| t.nr(name).is_some())
    }

    fn entry(&self, name: &str) -> Option<&'a SyscallIr> {
        self.table.and_then(|t| t.syscalls.get(name))
    }

    fn default(&self) -> Action {
        self.policy.seccomp.default_action
    }

    /// What `name` gets when no rule decides it: the default, or ENOSYS above the arch's
    /// `unknown: enosys-after` cut-off.
    fn fallback(&self, name: &str) -> Action {
        match table::table(self.arch).and_then(|t| t.nr(name)) {
            Some(nr) => self.policy.seccomp.undecided(self.arch, nr, true).0,
            None => self.default(),
        }
    }

    /// Some call of `name` is allowed.
    fn may_allow(&self, name: &str) -> bool {
        self.known(name)
            && match self.entry(name) {
                Some(s) => s.action.permits() || s.conditional.iter().any(|c| c.action.permits()),
                None => self.fallback(name).permits(),
            }
    }

    /// Every call of `name` is allowed, whatever its arguments.
    fn allows_all(&self, name: &str) -> bool {
        self.known(name)
            && match self.entry(name) {
                Some(s) => s.action.permits() && s.conditional.iter().all(|c| c.action.permits()),
                None => self.fallback(name).permits(),
            }
    }

    /// The verdict for `name` with `args`.
    fn verdict(&self, name: &str, args: [u64; 6]) -> Action {
        self.entry(name).map_or(self.fallback(name), |s| s.verdict(&args, self.arch.is_32bit()))
    }

    /// Where the verdict on `name` is written: the deciding rule, or the default.
    fn origin(&self, name: &str) -> Origin {
        let rule = self.entry(name).and_then(|s| {
            s.conditional.iter().rev().find(|c| c.action.permits()).map(|c| &c.origin).or(s.origin.as_ref())
        });
        match rule {
            Some(o) => o.clone(),
            None => self.default_origin(),
        }
    }

    fn default_origin(&self) -> Origin {
        locate::last(self.layers, |p| p.seccomp.as_ref().and_then(|s| s.default.as_ref()).map(locate::pos))
    }

    fn granted(&self, cap: Cap) -> bool {
        self.policy.capabilities.granted.contains(cap)
    }
}

/// Run every rule over a profile's layers and its compiled policy.
pub fn check(layers: &[Layer], policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(v) = View::new(layers, policy) {
        io_uring(&v, &mut out);
        errno_zero(&v, &mut out);
        personality(&v, &mut out);
        namespaces(&v, &mut out);
        clone3(&v, &mut out);
        ptrace_kernel(&v, &mut out);
        cap_calls(&v, &mut out);
        default_allow(&v, &mut out);
        exec_denied(&v, &mut out);
    }
    near_root(layers, policy, &mut out);
    denylist_arches(layers, policy, &mut out);
    landlock(layers, policy, &mut out);
    ambient(layers, policy, &mut out);
    out
}

fn io_uring(v: &View, out: &mut Vec<Finding>) {
    let Some(ring) =
        ["io_uring_setup", "io_uring_enter", "io_uring_register"].into_iter().find(|n| v.may_allow(n))
    else {
        return;
    };
    let watched = [
        "open",
        "openat",
        "openat2",
        "unlinkat",
        "renameat2",
        "mkdirat",
        "socket",
        "connect",
        "bind",
        "accept4",
        "sendto",
        "sendmsg",
    ];
    let restricted: Vec<&str> = watched.into_iter().filter(|n| v.known(n) && !v.allows_all(n)).collect();
    if restricted.is_empty() {
        return;
    }
    let m = format!(
        "`{ring}` is allowed while seccomp restricts {}: io_uring reads, writes, opens and connects without passing through seccomp",
        restricted.iter().take(4).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    );
    out.push(finding(rule("PAL001"), v.origin(ring), m));
}

fn errno_zero(v: &View, out: &mut Vec<Finding>) {
    let calls = [
        "setuid",
        "setgid",
        "setreuid",
        "setregid",
        "setresuid",
        "setresgid",
        "setfsuid",
        "setfsgid",
        "setgroups",
        "setuid32",
        "setgid32",
        "setreuid32",
        "setregid32",
        "setresuid32",
        "setresgid32",
        "setfsuid32",
        "setfsgid32",
        "setgroups32",
        "capset",
        "prctl",
    ];
    let zero = Action::Errno(0);
    let mut by_default = Vec::new();
    for name in calls.into_iter().filter(|n| v.known(n)) {
        match v.entry(name) {
            Some(s) => {
                let hit = std::iter::once((s.action, s.origin.as_ref()))
                    .chain(s.conditional.iter().map(|c| (c.action, Some(&c.origin))))
                    .find(|(a, _)| *a == zero);
                if let Some((_, origin)) = hit {
                    let at = origin.cloned().unwrap_or_else(|| v.default_origin());
                    let m =
                        format!("`{name}` gets errno(0): the call fails silently while reporting success");
                    out.push(finding(rule("PAL002"), at, m));
                }
            }
            None if v.fallback(name) == zero => by_default.push(name),
            None => {}
        }
    }
    if let Some(first) = by_default.first() {
        let m = format!(
            "the default errno(0) covers `{first}` and {} more privilege calls: they fail silently while reporting success",
            by_default.len() - 1
        );
        out.push(finding(rule("PAL002"), v.default_origin(), m));
    }
}

fn personality(v: &View, out: &mut Vec<Finding>) {
    if v.allows_all("personality") {
        let m = "`personality` is allowed for every argument, ADDR_NO_RANDOMIZE included".to_string();
        out.push(finding(rule("PAL003"), v.origin("personality"), m));
    }
}

const CLONE_NEWUSER: u64 = 0x1000_0000;

fn namespaces(v: &View, out: &mut Vec<Finding>) {
    if v.granted(Cap::SYS_ADMIN) {
        return;
    }
    // clone's flags are its first argument on the arches View picks (x86-64, aarch64, ...).
    for (name, args) in [
        ("unshare", [CLONE_NEWUSER, 0, 0, 0, 0, 0]),
        ("clone", [CLONE_NEWUSER, 0, 0, 0, 0, 0]),
        ("setns", [0, CLONE_NEWUSER, 0, 0, 0, 0]),
    ] {
        if v.known(name) && v.verdict(name, args).permits() {
            let m =
                format!("`{name}` may create or join a user namespace (CLONE_NEWUSER) without CAP_SYS_ADMIN");
            out.push(finding(rule("PAL004"), v.origin(name), m));
        }
    }
}

/// A `clone` argument filter is worth nothing while `clone3` (flags in memory) is allowed.
fn clone3(v: &View, out: &mut Vec<Finding>) {
    if v.known("clone3") && v.may_allow("clone") && !v.allows_all("clone") && v.may_allow("clone3") {
        let m = "`clone` is filtered by argument, but `clone3` is allowed: it takes the same flags from memory, where seccomp cannot look".to_string();
        out.push(finding(rule("PAL016"), v.origin("clone3"), m));
    }
}

fn ptrace_kernel(v: &View, out: &mut Vec<Finding>) {
    let min = KernelVersion(4, 8);
    for name in ["ptrace", "process_vm_readv", "process_vm_writev"] {
        if !v.may_allow(name) {
            continue;
        }
        let guarded = v.entry(name).and_then(|s| s.origin.as_ref()).is_some_and(|o| {
            v.policy
                .seccomp
                .rules
                .iter()
                .any(|r| r.origin == *o && r.when.min_kernel.is_some_and(|k| k >= min))
        });
        if !guarded {
            let m =
                format!("`{name}` is allowed on any kernel; before 4.8 a tracer could skip seccomp's checks");
            out.push(finding(rule("PAL005"), v.origin(name), m));
        }
    }
}

fn cap_calls(v: &View, out: &mut Vec<Finding>) {
    for (cap, calls, always, only) in CAP_CALLS {
        let calls: Vec<&str> = calls.iter().copied().filter(|c| v.known(c)).collect();
        if calls.is_empty() {
            continue;
        }
        if v.granted(cap) {
            if only && calls.iter().all(|c| !v.may_allow(c)) {
                let list = calls.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
                let m = format!("{cap} is granted but seccomp denies every syscall it is for ({list})");
                out.push(finding(rule("PAL006"), locate::cap(v.layers, cap), m));
            }
        } else if always {
            for c in calls {
                // Allowed by a rule of the profile (a default allow is PAL013's business).
                if v.may_allow(c) && v.entry(c).is_some() {
                    let m = format!("`{c}` is allowed but always needs {cap}, which is not granted: the kernel refuses it");
                    out.push(finding(rule("PAL007"), v.origin(c), m));
                }
            }
        }
    }
}

fn exec_denied(v: &View, out: &mut Vec<Finding>) {
    let denied: Vec<(&str, Action)> = crate::syscalls::launcher::AFTER_FILTER
        .iter()
        .filter(|(name, _)| v.known(name))
        .map(|(name, args)| (*name, v.verdict(name, *args)))
        .filter(|(_, a)| !a.permits())
        .collect();
    let Some((first, _)) = denied.first() else { return };
    let list: Vec<String> =
        denied.iter().map(|(n, a)| format!("`{}` ({a})", crate::syscalls::launcher::shown(n))).collect();
    let m = format!(
        "seccomp denies {}: a workload cannot start under this filter (enforce makes these after installing it, and exec needs them)",
        list.join(", ")
    );
    out.push(finding(rule("PAL015"), v.origin(first), m));
}

fn default_allow(v: &View, out: &mut Vec<Finding>) {
    if v.default().permits() {
        let m = format!("the default verdict is {}: every syscall no rule names runs", v.default());
        out.push(finding(rule("PAL013"), v.default_origin(), m));
    }
}

fn near_root(layers: &[Layer], policy: &Policy, out: &mut Vec<Finding>) {
    for cap in [Cap::SYS_ADMIN, Cap::SYS_MODULE, Cap::SYS_PTRACE, Cap::DAC_READ_SEARCH] {
        if policy.capabilities.granted.contains(cap) {
            let m = format!("{cap} is granted: it is close to full root");
            out.push(finding(rule("PAL008"), locate::cap(layers, cap), m));
        }
    }
}

/// Compat ABIs: the same kernel, other syscall numbers and multiplexers (`socketcall`, `ipc`),
/// where a denylist written for the native names is easy to walk around.
const COMPAT: [Arch; 4] = [Arch::X86, Arch::X32, Arch::Arm, Arch::Mips64n32];

fn denylist_arches(layers: &[Layer], policy: &Policy, out: &mut Vec<Finding>) {
    let s = &policy.seccomp;
    if !s.default_action.permits() {
        return;
    }
    for a in COMPAT.iter().filter(|a| s.arches.contains(a)) {
        let name = a.name();
        let at = locate::last(layers, |p| {
            let arches = p.seccomp.as_ref()?.arches.as_ref()?;
            arches.iter().find(|x| x.value == name).map(locate::pos)
        });
        let m = format!(
            "a denylist (default {}) also accepts `{name}`: calls through that ABI (its own numbers, socketcall/ipc multiplexers) get the default unless each deny is mirrored there",
            s.default_action
        );
        out.push(finding(rule("PAL009"), at, m));
    }
}

fn landlock(layers: &[Layer], policy: &Policy, out: &mut Vec<Finding>) {
    let l = &policy.landlock;
    if l.mode == LandlockMode::Off {
        return;
    }
    let execute: FsAccess = [FsRight::EXECUTE].into_iter().collect();
    let writes: FsAccess = [FsRight::WRITE_FILE, FsRight::MAKE_REG].into_iter().collect();
    for r in &l.filesystem {
        let at = || r.origins.first().cloned().unwrap_or_else(|| locate::file_start(layers));
        if !(r.access & execute).is_empty() && !(r.access & writes).is_empty() {
            let m = format!("`{}` is writable and executable: a written file can be run", r.path);
            out.push(finding(rule("PAL010"), at(), m));
        }
        let above = l
            .filesystem
            .iter()
            .filter(|a| a.path != r.path && a.covers(&r.path))
            .fold(FsAccess::EMPTY, |acc, a| acc | a.access);
        let extra = above - r.access;
        if r.access.is_subset(above) && !extra.is_empty() {
            let mut names = extra.names();
            names.sort_unstable();
            let m = format!(
                "`{}` lists fewer rights than the paths above it, which also allow {}: Landlock cannot take them away",
                r.path,
                names.join(", ")
            );
            out.push(finding(rule("PAL011"), at(), m));
        }
    }
    let min_abi_set = layers.iter().any(|x| x.profile.landlock.as_ref().is_some_and(|l| l.min_abi.is_some()));
    if l.mode == LandlockMode::BestEffort && !min_abi_set {
        let at = locate::last(layers, |p| p.landlock.as_ref().and_then(|l| l.mode.as_ref()).map(locate::pos));
        let m = "Landlock is `best-effort` without `min_abi`: a kernel that enforces none of it still runs the workload".into();
        out.push(finding(rule("PAL012"), at, m));
    }
}

fn ambient(layers: &[Layer], policy: &Policy, out: &mut Vec<Finding>) {
    let c = &policy.capabilities;
    if policy.process.user.is_root() || c.granted.is_empty() {
        return;
    }
    let missing = (c.granted - c.ambient).names();
    if missing.is_empty() {
        return;
    }
    let at =
        locate::last(layers, |p| p.capabilities.as_ref().and_then(|c| c.ambient.as_ref()).map(locate::pos));
    let m = format!(
        "user {} is granted {} but not as ambient: exec drops them before the workload runs",
        policy.process.user,
        missing.join(", ")
    );
    out.push(finding(rule("PAL014"), at, m));
}
