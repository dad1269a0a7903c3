//! `seccomp(2)` and `prctl(PR_SET_NO_NEW_PRIVS)`, async-signal-safe (no allocation).

/// `SECCOMP_SET_MODE_FILTER`.
const SET_MODE_FILTER: libc::c_uint = 1;

/// `SECCOMP_FILTER_FLAG_TSYNC`: install on every thread of the process.
pub const FILTER_FLAG_TSYNC: libc::c_uint = 1;

use super::errno;

/// `prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)`.
pub fn set_no_new_privs() -> Result<(), i32> {
    // SAFETY: prctl with integer arguments only; no memory is passed.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Whether the kernel knows `flag` for `SECCOMP_SET_MODE_FILTER`: with a NULL program a known
/// flag fails with EFAULT (the kernel checked the flags, then could not read the program) and
/// an unknown one with EINVAL. Nothing is installed either way.
pub fn filter_flag_supported(flag: libc::c_uint) -> bool {
    // SAFETY: a NULL program pointer; the kernel fails before it could install anything.
    let r = unsafe {
        libc::syscall(libc::SYS_seccomp, SET_MODE_FILTER, flag, std::ptr::null::<libc::sock_fprog>())
    };
    r < 0 && errno() == libc::EFAULT
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`; returns the syscall's non-negative result
/// (a listener fd with `SECCOMP_FILTER_FLAG_NEW_LISTENER`, else 0).
pub fn set_mode_filter(filter: &[libc::sock_filter], flags: libc::c_uint) -> Result<i32, i32> {
    let len = libc::c_ushort::try_from(filter.len()).map_err(|_| libc::EINVAL)?;
    let prog = libc::sock_fprog { len, filter: filter.as_ptr().cast_mut() };
    // SAFETY: `prog` points at `filter`, which outlives the call; the kernel copies the program
    // and does not write through the pointer.
    let r =
        unsafe { libc::syscall(libc::SYS_seccomp, SET_MODE_FILTER, flags, &prog as *const libc::sock_fprog) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as i32)
    }
}
