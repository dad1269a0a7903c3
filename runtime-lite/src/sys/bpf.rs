//! The `bpf(2)` calls of the cgroup v2 device allow-list ([`crate::devices`]): load a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program, list the ones attached to a group, attach and detach.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::devices::Insn;
use crate::error::SysError;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The `BPF_PROG_LOAD` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` part.
#[repr(C)]
#[derive(Default)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// The `BPF_PROG_QUERY` part.
#[repr(C)]
#[derive(Default)]
struct Query {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// The `BPF_PROG_GET_FD_BY_ID` part.
#[repr(C)]
#[derive(Default)]
struct ById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> Result<libc::c_long, nix::errno::Errno> {
    // SAFETY: `attr` is a `#[repr(C)]` prefix of `union bpf_attr` for `cmd`, alive and writable
    // for the call, its size passed (the kernel takes the rest as zero); every pointer inside it
    // points at memory the caller keeps alive across the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(r)
}

fn owned(fd: libc::c_long) -> OwnedFd {
    super::received(fd as i32)
}

/// Load `program` as a cgroup device program; a refusal carries the verifier's log.
pub fn load_device_program(program: &[Insn]) -> Result<OwnedFd, SysError> {
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    attr.prog_name[..8].copy_from_slice(b"palisade");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(owned(fd)),
        Err(e) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let said = String::from_utf8_lossy(&log[..end]).trim().to_string();
            Err(SysError::errno(format!("load the device program ({said})"), e))
        }
    }
}

/// Attach `program` to the cgroup v2 directory `cgroup`, beside the programs there.
pub fn attach_device_program(cgroup: &impl AsRawFd, program: &OwnedFd) -> Result<(), SysError> {
    let mut attr = Attach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| SysError::errno("attach the device program", e))?;
    Ok(())
}

/// Detach `program` from `cgroup`.
pub fn detach_device_program(cgroup: &impl AsRawFd, program: &OwnedFd) -> Result<(), SysError> {
    let mut attr = Attach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
    };
    bpf(BPF_PROG_DETACH, &mut attr).map_err(|e| SysError::errno("detach a device program", e))?;
    Ok(())
}

/// The device programs attached to `cgroup` itself (not its parents'), opened.
pub fn device_programs(cgroup: &impl AsRawFd) -> Result<Vec<OwnedFd>, SysError> {
    let mut ids = [0u32; 64];
    let mut attr = Query {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr).map_err(|e| SysError::errno("list the device programs", e))?;
    let n = (attr.prog_cnt as usize).min(ids.len());
    ids[..n]
        .iter()
        .map(|id| {
            let mut by = ById { prog_id: *id, ..Default::default() };
            bpf(BPF_PROG_GET_FD_BY_ID, &mut by)
                .map(owned)
                .map_err(|e| SysError::errno(format!("open device program {id}"), e))
        })
        .collect()
}
