//! The only place with `unsafe`: thin wrappers over the system calls the enforcer makes.
//! Each returns the positive errno on failure and allocates nothing, so it can run between
//! `fork` and `exec`.

pub mod landlock;
pub mod process;
pub mod seccomp;

/// The last OS error as a positive errno.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}
