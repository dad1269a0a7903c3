//! A recording [`Kernel`] for unit tests: it makes no system call, records every call in
//! order, and keeps a model of the process (ids, capability sets, securebits, no_new_privs,
//! filters) with the kernel's main permission rules, so a step made out of order fails here as
//! it would on a real kernel. `/proc/thread-self/status` is written from the model.

use std::ffi::{CStr, CString};
use std::os::fd::OwnedFd;

use policy::vocab::{Cap, CapSet, Flag, FsAccess, NetAccess, Resource, Securebit};

use super::{CapKind, Handled, Kernel, LandlockStatus};

/// One recorded call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `open_status`.
    OpenStatus,
    /// `read_status`.
    ReadStatus,
    /// `setrlimit`.
    Setrlimit(Resource, Option<u64>, Option<u64>),
    /// `cloexec_from`.
    CloexecFrom(u32),
    /// `drop_bounding`.
    DropBounding(u8),
    /// `set_securebits`.
    SetSecurebits(u32),
    /// `clear_groups`.
    ClearGroups,
    /// setgroups with a list.
    SetGroups(Vec<u32>),
    /// `set_keepcaps`.
    SetKeepcaps(bool),
    /// `setresgid`.
    Setresgid(u32),
    /// `setresuid`.
    Setresuid(u32),
    /// `capset`.
    Capset(CapKind, CapSet),
    /// `clear_ambient`.
    ClearAmbient,
    /// `raise_ambient`.
    RaiseAmbient(u8),
    /// `set_no_new_privs`.
    SetNoNewPrivs,
    /// `landlock_ruleset`.
    LandlockRuleset(Handled),
    /// `landlock_add_path`.
    LandlockPath(String, FsAccess),
    /// `landlock_add_port`.
    LandlockPort(u16, NetAccess),
    /// `landlock_restrict`.
    LandlockRestrict,
    /// `install_seccomp`, with the program's length.
    InstallSeccomp(usize),
    /// `exec`.
    Exec(String),
}

impl Call {
    /// The call's kind, without its arguments (for [`Recorder::fail_on`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Call::OpenStatus => "open_status",
            Call::ReadStatus => "read_status",
            Call::Setrlimit(..) => "setrlimit",
            Call::CloexecFrom(..) => "cloexec_from",
            Call::DropBounding(..) => "drop_bounding",
            Call::SetSecurebits(..) => "set_securebits",
            Call::ClearGroups => "clear_groups",
            Call::SetGroups(_) => "set_groups",
            Call::SetKeepcaps(..) => "set_keepcaps",
            Call::Setresgid(..) => "setresgid",
            Call::Setresuid(..) => "setresuid",
            Call::Capset(..) => "capset",
            Call::ClearAmbient => "clear_ambient",
            Call::RaiseAmbient(..) => "raise_ambient",
            Call::SetNoNewPrivs => "set_no_new_privs",
            Call::LandlockRuleset(..) => "landlock_ruleset",
            Call::LandlockPath(..) => "landlock_add_path",
            Call::LandlockPort(..) => "landlock_add_port",
            Call::LandlockRestrict => "landlock_restrict",
            Call::InstallSeccomp(..) => "install_seccomp",
            Call::Exec(..) => "exec",
        }
    }
}

/// The modelled process.
#[derive(Clone, Debug)]
pub struct Process {
    /// Real, effective and saved uid (kept equal).
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Whether supplementary groups were cleared.
    pub groups_cleared: bool,
    /// Bounding set.
    pub bounding: CapSet,
    /// Permitted set.
    pub permitted: CapSet,
    /// Effective set.
    pub effective: CapSet,
    /// Inheritable set.
    pub inheritable: CapSet,
    /// Ambient set.
    pub ambient: CapSet,
    /// Securebits (the kernel's whole value).
    pub securebits: u32,
    /// `PR_SET_KEEPCAPS`.
    pub keepcaps: bool,
    /// no_new_privs.
    pub no_new_privs: bool,
    /// Seccomp filters installed.
    pub filters: u32,
    /// Whether a Landlock domain is in force.
    pub landlocked: bool,
}

impl Process {
    /// Host root with every capability, as `enforce` runs.
    pub fn root() -> Process {
        Process {
            uid: 0,
            gid: 0,
            groups_cleared: false,
            bounding: CapSet::all(),
            permitted: CapSet::all(),
            effective: CapSet::all(),
            inheritable: CapSet::EMPTY,
            ambient: CapSet::EMPTY,
            securebits: 0,
            keepcaps: false,
            no_new_privs: false,
            filters: 0,
            landlocked: false,
        }
    }

    fn has(&self, cap: Cap) -> bool {
        self.effective.contains(cap)
    }

    /// `/proc/thread-self/status` as the kernel would write it.
    pub fn status(&self) -> String {
        let ids = |v: u32| format!("{v}\t{v}\t{v}\t{v}");
        format!(
            "Name:\tfake\nUid:\t{}\nGid:\t{}\nCapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\nNoNewPrivs:\t{}\nSeccomp:\t{}\nSeccomp_filters:\t{}\n",
            ids(self.uid),
            ids(self.gid),
            self.inheritable.bits(),
            self.permitted.bits(),
            self.effective.bits(),
            self.bounding.bits(),
            self.ambient.bits(),
            u8::from(self.no_new_privs),
            if self.filters > 0 { 2 } else { 0 },
            self.filters
        )
    }
}

/// The recording kernel.
#[derive(Debug)]
pub struct Recorder {
    /// Every call, in order.
    pub calls: Vec<Call>,
    /// The process as the calls left it.
    pub process: Process,
    /// Make the first call of this kind fail with EPERM.
    pub fail_on: Option<&'static str>,
    /// The status read back is this instead of the model's (to test verification).
    pub status_override: Option<String>,
}

impl Recorder {
    /// A recorder for `process`.
    pub fn new(process: Process) -> Recorder {
        Recorder { calls: Vec::new(), process, fail_on: None, status_override: None }
    }

    /// The kinds of the calls made, in order, consecutive repeats once.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for c in &self.calls {
            if out.last() != Some(&c.kind()) {
                out.push(c.kind());
            }
        }
        out
    }

    fn record(&mut self, call: Call) -> Result<(), i32> {
        let kind = call.kind();
        self.calls.push(call);
        if self.fail_on == Some(kind) {
            self.fail_on = None;
            return Err(libc::EPERM);
        }
        Ok(())
    }

    fn need(&self, ok: bool) -> Result<(), i32> {
        if ok {
            Ok(())
        } else {
            Err(libc::EPERM)
        }
    }
}

impl Kernel for Recorder {
    type Ruleset = ();

    fn open_status(&mut self) -> Result<OwnedFd, i32> {
        self.record(Call::OpenStatus)?;
        std::fs::File::open("/dev/null").map(OwnedFd::from).map_err(|_| libc::EIO)
    }

    fn read_status(&mut self, _fd: &OwnedFd) -> Result<String, i32> {
        self.record(Call::ReadStatus)?;
        Ok(self.status_override.clone().unwrap_or_else(|| self.process.status()))
    }

    fn last_cap(&mut self) -> u8 {
        40
    }

    fn setrlimit(&mut self, resource: Resource, soft: Option<u64>, hard: Option<u64>) -> Result<(), i32> {
        self.record(Call::Setrlimit(resource, soft, hard))
    }

    fn cloexec_from(&mut self, first: u32) -> Result<(), i32> {
        self.record(Call::CloexecFrom(first))
    }

    fn drop_bounding(&mut self, cap: u8) -> Result<(), i32> {
        self.record(Call::DropBounding(cap))?;
        self.need(self.process.has(Cap::SETPCAP))?;
        if let Some(c) = Cap::from_number(cap) {
            self.process.bounding = self.process.bounding - [c].into_iter().collect();
        }
        Ok(())
    }

    fn securebits(&mut self) -> Result<u32, i32> {
        Ok(self.process.securebits)
    }

    fn set_securebits(&mut self, bits: u32) -> Result<(), i32> {
        self.record(Call::SetSecurebits(bits))?;
        self.need(self.process.has(Cap::SETPCAP))?;
        self.process.securebits = bits;
        Ok(())
    }

    fn may_setgroups(&mut self) -> bool {
        self.process.uid == 0
    }

    fn clear_groups(&mut self) -> Result<(), i32> {
        self.record(Call::ClearGroups)?;
        self.need(self.process.has(Cap::SETGID))?;
        self.process.groups_cleared = true;
        Ok(())
    }

    fn set_groups(&mut self, groups: &[u32]) -> Result<(), i32> {
        self.record(Call::SetGroups(groups.to_vec()))?;
        self.need(self.process.has(Cap::SETGID))?;
        self.process.groups_cleared = true;
        Ok(())
    }

    fn set_keepcaps(&mut self, on: bool) -> Result<(), i32> {
        self.record(Call::SetKeepcaps(on))?;
        self.process.keepcaps = on;
        Ok(())
    }

    fn setresgid(&mut self, gid: u32) -> Result<(), i32> {
        self.record(Call::Setresgid(gid))?;
        self.need(gid == self.process.gid || self.process.has(Cap::SETGID))?;
        self.process.gid = gid;
        Ok(())
    }

    fn setresuid(&mut self, uid: u32) -> Result<(), i32> {
        self.record(Call::Setresuid(uid))?;
        let p = &mut self.process;
        if uid != p.uid && !p.has(Cap::SETUID) {
            return Err(libc::EPERM);
        }
        // Leaving uid 0 clears the sets unless NO_SETUID_FIXUP (or KEEPCAPS, which keeps the
        // permitted set only).
        if p.uid == 0 && uid != 0 && p.securebits & (1 << Securebit::NoSetuidFixup.bit()) == 0 {
            if !p.keepcaps {
                p.permitted = CapSet::EMPTY;
            }
            p.effective = CapSet::EMPTY;
            p.ambient = CapSet::EMPTY;
        }
        p.uid = uid;
        Ok(())
    }

    fn capset(&mut self, kind: CapKind, set: CapSet) -> Result<(), String> {
        self.record(Call::Capset(kind, set)).map_err(|e| format!("errno {e}"))?;
        let p = &mut self.process;
        let ok = match kind {
            // New inheritable bits need CAP_SETPCAP, or must be in the permitted set, and in
            // the bounding set.
            CapKind::Inheritable => {
                let added = set - p.inheritable;
                (p.has(Cap::SETPCAP) || added.is_subset(p.permitted)) && added.is_subset(p.bounding)
            }
            CapKind::Effective => set.is_subset(p.permitted),
            CapKind::Permitted => set.is_subset(p.permitted),
        };
        if !ok {
            return Err(format!("capset {kind:?} {set:?}: Operation not permitted"));
        }
        match kind {
            CapKind::Inheritable => p.inheritable = set,
            CapKind::Effective => p.effective = set,
            CapKind::Permitted => {
                p.permitted = set;
                p.effective = p.effective & set;
                p.ambient = p.ambient & set;
            }
        }
        Ok(())
    }

    fn clear_ambient(&mut self) -> Result<(), i32> {
        self.record(Call::ClearAmbient)?;
        self.process.ambient = CapSet::EMPTY;
        Ok(())
    }

    fn raise_ambient(&mut self, cap: u8) -> Result<(), i32> {
        self.record(Call::RaiseAmbient(cap))?;
        let c = Cap::from_number(cap).ok_or(libc::EINVAL)?;
        let p = &self.process;
        self.need(p.permitted.contains(c) && p.inheritable.contains(c))?;
        self.process.ambient.insert(c);
        Ok(())
    }

    fn set_no_new_privs(&mut self) -> Result<(), i32> {
        self.record(Call::SetNoNewPrivs)?;
        self.process.no_new_privs = true;
        Ok(())
    }

    fn landlock_ruleset(&mut self, handled: Handled) -> Result<(), String> {
        self.record(Call::LandlockRuleset(handled)).map_err(|e| format!("errno {e}"))
    }

    fn landlock_add_path(&mut self, _rs: (), path: &str, access: FsAccess) -> Result<(), String> {
        self.record(Call::LandlockPath(path.to_string(), access)).map_err(|e| format!("errno {e}"))
    }

    fn landlock_add_port(&mut self, _rs: (), port: u16, access: NetAccess) -> Result<(), String> {
        self.record(Call::LandlockPort(port, access)).map_err(|e| format!("errno {e}"))
    }

    fn landlock_restrict(&mut self, _rs: ()) -> Result<LandlockStatus, String> {
        self.record(Call::LandlockRestrict).map_err(|e| format!("errno {e}"))?;
        let p = &self.process;
        if !(p.no_new_privs || p.has(Cap::SYS_ADMIN)) {
            return Err("landlock_restrict_self: Operation not permitted (no no_new_privs)".into());
        }
        self.process.landlocked = true;
        Ok(LandlockStatus::FullyEnforced)
    }

    fn install_seccomp(&mut self, program: &[libc::sock_filter]) -> Result<(), i32> {
        self.record(Call::InstallSeccomp(program.len()))?;
        let p = &self.process;
        if !(p.no_new_privs || p.has(Cap::SYS_ADMIN)) {
            return Err(libc::EACCES);
        }
        self.process.filters += 1;
        Ok(())
    }

    fn exec(&mut self, path: &CStr, _argv: &[CString], _env: Option<&[CString]>) -> Result<(), i32> {
        self.record(Call::Exec(path.to_string_lossy().into_owned()))
    }
}
