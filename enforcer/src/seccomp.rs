//! Installing a compiled seccomp program.
//!
//! [`Filter::new`] converts and checks a program ahead of time; [`Filter::install`] only makes
//! system calls, so it is safe between `fork` and `exec` (e.g. in `Command::pre_exec`). The
//! raw `seccomp(2)` call makes every flag reachable: TSYNC, LOG, SPEC_ALLOW, NEW_LISTENER.

use policy::backend::seccomp::bpf::{interp, Program, SockFilter};

use crate::sys;

/// Flags for `seccomp(SECCOMP_SET_MODE_FILTER, ...)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    /// Apply to every thread of the process (`SECCOMP_FILTER_FLAG_TSYNC`).
    pub const TSYNC: Flags = Flags(1);
    /// Log every action except ALLOW (`SECCOMP_FILTER_FLAG_LOG`).
    pub const LOG: Flags = Flags(2);
    /// Do not force Speculative Store Bypass mitigation (`SECCOMP_FILTER_FLAG_SPEC_ALLOW`).
    pub const SPEC_ALLOW: Flags = Flags(4);
    /// Return a user-notification listener fd (`SECCOMP_FILTER_FLAG_NEW_LISTENER`).
    pub const NEW_LISTENER: Flags = Flags(8);

    /// Both sets of flags.
    pub fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// Why a filter could not be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// The kernel's checker would refuse the program.
    #[error("refusing to install a seccomp program the kernel would reject: {0}")]
    Invalid(#[from] interp::CheckError),
    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    #[error("cannot set no_new_privs: {}", std::io::Error::from_raw_os_error(*.0))]
    NoNewPrivs(i32),
    /// `seccomp(2)` failed.
    #[error("cannot install the seccomp filter (flags {flags:#x}): {}", std::io::Error::from_raw_os_error(*errno))]
    Seccomp {
        /// Flags passed.
        flags: u32,
        /// errno.
        errno: i32,
    },
}

/// A program ready to install: converted to the kernel's layout and checked.
#[derive(Clone, Debug)]
pub struct Filter {
    insns: Vec<libc::sock_filter>,
}

impl Filter {
    /// Check and convert raw instructions.
    pub fn new(insns: &[SockFilter]) -> Result<Filter, InstallError> {
        interp::check(insns)?;
        let insns =
            insns.iter().map(|i| libc::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect();
        Ok(Filter { insns })
    }

    /// From a compiled program.
    pub fn from_program(p: &Program) -> Result<Filter, InstallError> {
        Filter::new(&p.insns)
    }

    /// The instructions as `seccomp(2)` takes them.
    pub fn kernel_layout(&self) -> &[libc::sock_filter] {
        &self.insns
    }

    /// The same program with every errno verdict handed to a supervisor instead
    /// (`SECCOMP_RET_USER_NOTIF`), for `enforce run --explain`, whose supervisor answers with
    /// the same errno after saying which rule decided.
    pub fn errno_notified(&self) -> Filter {
        const RET: u16 = 0x06;
        const ERRNO: u32 = 0x0005_0000;
        const NOTIFY: u32 = 0x7fc0_0000;
        let insns = self
            .insns
            .iter()
            .map(|i| match i.code == RET && i.k & 0xffff_0000 == ERRNO {
                true => libc::sock_filter { k: NOTIFY, ..*i },
                false => *i,
            })
            .collect();
        Filter { insns }
    }

    /// The same program behind a prefix that hands calls `nrs` of arch `audit_arch` to the
    /// supervisor (`SECCOMP_RET_USER_NOTIF`) before the program sees them: `enforce run
    /// --explain` looks at the paths and ports of calls the filter allows, for Landlock. The
    /// program's jumps are relative, so it runs unchanged after the prefix.
    pub fn notifying(&self, audit_arch: u32, nrs: &[u32]) -> Filter {
        const NOTIFY: u32 = 0x7fc0_0000;
        let n = nrs.len().min(250);
        if n == 0 {
            return self.clone();
        }
        let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
        let mut insns = vec![
            op(0x20, 0, 0, 4),                      // ld arch
            op(0x15, 0, (n + 2) as u8, audit_arch), // another arch: to the program
            op(0x20, 0, 0, 0),                      // ld nr
        ];
        for (i, nr) in nrs.iter().take(n).enumerate() {
            // jt: to the notify below; the last one's jf: past it, to the program.
            let jt = (n - 1 - i) as u8;
            insns.push(op(0x15, jt, u8::from(i == n - 1), *nr));
        }
        insns.push(op(0x06, 0, 0, NOTIFY));
        insns.extend_from_slice(&self.insns);
        Filter { insns }
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether the filter is empty (never true for a checked filter).
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Install on the calling thread (every thread with [`Flags::TSYNC`]). Sets
    /// no_new_privs first when `no_new_privs` is true (required without CAP_SYS_ADMIN).
    /// Returns the listener fd for [`Flags::NEW_LISTENER`], else 0. Makes system calls only.
    pub fn install(&self, flags: Flags, no_new_privs: bool) -> Result<i32, InstallError> {
        if no_new_privs {
            sys::seccomp::set_no_new_privs().map_err(InstallError::NoNewPrivs)?;
        }
        sys::seccomp::set_mode_filter(&self.insns, flags.0)
            .map_err(|errno| InstallError::Seccomp { flags: flags.0, errno })
    }
}
