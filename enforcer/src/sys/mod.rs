//! The kernel, as the launch path sees it: [`Kernel`] names every system call the apply steps
//! make to change the process or read it back, [`Linux`] makes them, and [`fake::Recorder`]
//! records them against a model of the process (so the order of the steps is tested without
//! root).
//!
//! The modules below hold the only `unsafe` code of the crate: thin wrappers over system
//! calls, each returning the positive errno on failure and allocating nothing, so they can run
//! between `fork` and `exec`.

pub mod fake;
pub mod landlock;
mod linux;
pub mod notify;
pub mod process;
pub mod seccomp;

use std::ffi::CStr;
use std::os::fd::OwnedFd;

use policy::vocab::{CapSet, FsAccess, NetAccess, Resource, ScopeSet};

pub use linux::{caller, landlock_abi, Linux};

/// The last OS error as a positive errno.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// One of the capability sets `capset(2)` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapKind {
    /// Effective.
    Effective,
    /// Permitted.
    Permitted,
    /// Inheritable.
    Inheritable,
}

/// What `landlock_restrict_self` reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LandlockStatus {
    /// Every handled right is enforced.
    FullyEnforced,
    /// Some are not (the kernel's ABI is older than the ruleset's).
    PartiallyEnforced,
    /// None is.
    NotEnforced,
}

impl LandlockStatus {
    /// Kebab-case name, as the report writes it.
    pub fn name(self) -> &'static str {
        match self {
            LandlockStatus::FullyEnforced => "fully-enforced",
            LandlockStatus::PartiallyEnforced => "partially-enforced",
            LandlockStatus::NotEnforced => "not-enforced",
        }
    }
}

/// The rights a Landlock ruleset handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled {
    /// `handled_access_fs`.
    pub fs: FsAccess,
    /// `handled_access_net`.
    pub net: NetAccess,
    /// `scoped`.
    pub scopes: ScopeSet,
}

/// Every system call of the launch path that changes the process or reads it back, in the
/// vocabulary of the plan. Errors are positive
/// errnos, or text where a library reports them (capabilities, Landlock).
pub trait Kernel {
    /// A Landlock ruleset being built.
    type Ruleset;

    /// Open `/proc/thread-self/status`, to read back once the policy is applied (by then
    /// Landlock may not let it be opened).
    fn open_status(&mut self) -> Result<OwnedFd, i32>;
    /// Its text, read again from the start.
    fn read_status(&mut self, fd: &OwnedFd) -> Result<String, i32>;
    /// The highest capability number this kernel knows.
    fn last_cap(&mut self) -> u8;
    /// `setrlimit`.
    fn setrlimit(&mut self, resource: Resource, soft: Option<u64>, hard: Option<u64>) -> Result<(), i32>;
    /// Mark every fd from `first` on close-on-exec.
    fn cloexec_from(&mut self, first: u32) -> Result<(), i32>;
    /// Drop capability number `cap` from the bounding set.
    fn drop_bounding(&mut self, cap: u8) -> Result<(), i32>;
    /// `PR_GET_SECUREBITS`: the whole value, named bits or not.
    fn securebits(&mut self) -> Result<u32, i32>;
    /// `PR_SET_SECUREBITS`.
    fn set_securebits(&mut self, bits: u32) -> Result<(), i32>;
    /// Whether the process may call `setgroups` (root, outside a user namespace whose
    /// `setgroups` is `deny`).
    fn may_setgroups(&mut self) -> bool;
    /// `setgroups(0, NULL)`.
    fn clear_groups(&mut self) -> Result<(), i32>;
    /// `setgroups` with these supplementary groups.
    fn set_groups(&mut self, groups: &[u32]) -> Result<(), i32>;
    /// `PR_SET_KEEPCAPS`.
    fn set_keepcaps(&mut self, on: bool) -> Result<(), i32>;
    /// `setresgid(gid, gid, gid)`.
    fn setresgid(&mut self, gid: u32) -> Result<(), i32>;
    /// `setresuid(uid, uid, uid)`.
    fn setresuid(&mut self, uid: u32) -> Result<(), i32>;
    /// Set one capability set of this thread exactly.
    fn capset(&mut self, kind: CapKind, set: CapSet) -> Result<(), String>;
    /// `PR_CAP_AMBIENT_CLEAR_ALL`.
    fn clear_ambient(&mut self) -> Result<(), i32>;
    /// `PR_CAP_AMBIENT_RAISE` of capability number `cap`.
    fn raise_ambient(&mut self, cap: u8) -> Result<(), i32>;
    /// `PR_SET_NO_NEW_PRIVS`.
    fn set_no_new_privs(&mut self) -> Result<(), i32>;
    /// Create a Landlock ruleset.
    fn landlock_ruleset(&mut self, handled: Handled) -> Result<Self::Ruleset, String>;
    /// Add a path-beneath rule (the path is opened now).
    fn landlock_add_path(
        &mut self,
        rs: Self::Ruleset,
        path: &str,
        access: FsAccess,
    ) -> Result<Self::Ruleset, String>;
    /// Add a port rule.
    fn landlock_add_port(
        &mut self,
        rs: Self::Ruleset,
        port: u16,
        access: NetAccess,
    ) -> Result<Self::Ruleset, String>;
    /// `landlock_restrict_self`.
    fn landlock_restrict(&mut self, rs: Self::Ruleset) -> Result<LandlockStatus, String>;
    /// Install a checked seccomp program (in the kernel's layout) on every thread.
    fn install_seccomp(&mut self, program: &[libc::sock_filter]) -> Result<(), i32>;
    /// Whether the filter it installs hands its listener to a recorder (`enforce record`):
    /// it then installs the plan's recording filter.
    fn hands_listener(&self) -> bool {
        false
    }
    /// `execve` with `env`, or this process's environment. The real kernel returns only on
    /// failure; a fake returns `Ok` for "the image was replaced".
    fn exec(
        &mut self,
        path: &CStr,
        argv: &[std::ffi::CString],
        env: Option<&[std::ffi::CString]>,
    ) -> Result<(), i32>;
}
