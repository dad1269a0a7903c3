//! The container's session keyring, as runc makes it (unless `create --no-new-keyring`): the
//! init joins a new keyring named `_ses.ID`, so the container's processes do not share the
//! caller's session keyring (a container shim's, say), and `exec`'s processes join the same
//! one. The keyring gets search permission for the processes that join it later: for others
//! in a user namespace (their ids are not the owner's on the host), for the owner's uid
//! otherwise.

use crate::error::SysError;

/// `KEY_OTH_SEARCH`.
const OTHERS_SEARCH: u32 = 0x08;
/// `KEY_USR_SEARCH`.
const OWNER_SEARCH: u32 = 0x08_0000;

/// The init: make the session keyring of container `id` (or join one of that name) and let
/// later joiners search it. A kernel without keyrings (`ENOSYS`) is no error, as in runc.
pub(super) fn make(id: &str, userns: bool) -> Result<(), SysError> {
    match enter(id)? {
        Some(serial) => {
            crate::sys::add_key_permissions(serial, if userns { OTHERS_SEARCH } else { OWNER_SEARCH })
        }
        None => Ok(()),
    }
}

/// `exec`: join the container's session keyring (its serial; `None` without keyrings).
pub(super) fn enter(id: &str) -> Result<Option<i32>, SysError> {
    match crate::sys::join_session_keyring(&format!("_ses.{id}")) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.source.raw_os_error() == Some(libc::ENOSYS) => Ok(None),
        Err(e) => Err(e),
    }
}
