//! prctl, securebits, capability bounding set, close_range.

use super::errno;

/// `prctl(option, arg2, arg3, 0, 0)`; returns its non-negative result.
pub fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> Result<i32, i32> {
    // SAFETY: prctl with integer arguments only; no memory is passed.
    let r = unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// `PR_SET_SECUREBITS`.
pub fn set_securebits(bits: u32) -> Result<(), i32> {
    prctl(libc::PR_SET_SECUREBITS, libc::c_ulong::from(bits), 0).map(|_| ())
}

/// `PR_GET_SECUREBITS`.
pub fn securebits() -> Result<u32, i32> {
    prctl(libc::PR_GET_SECUREBITS, 0, 0).map(|b| b as u32)
}

/// `PR_SET_KEEPCAPS`.
pub fn set_keepcaps(on: bool) -> Result<(), i32> {
    prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(on), 0).map(|_| ())
}

/// `PR_CAPBSET_DROP` of capability `index`.
pub fn drop_bounding(index: u8) -> Result<(), i32> {
    prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(index), 0).map(|_| ())
}

/// `PR_CAP_AMBIENT_CLEAR_ALL`.
pub fn clear_ambient() -> Result<(), i32> {
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0).map(|_| ())
}

/// `PR_CAP_AMBIENT_RAISE` of capability `index`.
pub fn raise_ambient(index: u8) -> Result<(), i32> {
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, libc::c_ulong::from(index))
        .map(|_| ())
}

/// `PR_GET_NO_NEW_PRIVS`.
pub fn no_new_privs() -> Result<bool, i32> {
    prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0).map(|v| v == 1)
}

/// Mark every fd from `first` on close-on-exec (`close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`).
pub fn cloexec_from(first: u32) -> Result<(), i32> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: integer arguments only; changes fd flags, closes nothing.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Re-read a file from offset 0 through an fd opened earlier (e.g. `/proc/self/status` after
/// Landlock would no longer let us open it).
pub fn pread_all(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, i32> {
    use std::os::fd::AsRawFd;
    // SAFETY: reading into a buffer we own, of the length we pass.
    let r = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: `path` resolved as if
/// `root` were `/` (symbolic links and `..` never leave it; no `/proc` magic links), so a
/// path of a container image is looked up in the image, never on the host.
pub fn open_in_root(
    root: &std::os::fd::OwnedFd,
    path: &std::path::Path,
    flags: i32,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let how = OpenHow {
        // O_PATH takes no other flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
        flags: (flags | libc::O_CLOEXEC | if flags & libc::O_PATH == 0 { libc::O_NOCTTY } else { 0 }) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: openat2 reads a NUL-terminated path and an `open_how` of the size given, both
    // alive for the call, and returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            std::os::fd::AsRawFd::as_raw_fd(root),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor, owned by nobody else.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) })
}
