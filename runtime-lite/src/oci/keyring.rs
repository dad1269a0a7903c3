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

/// Join the session keyring of container `id` (making it when it does not exist). A kernel
/// without keyrings (`ENOSYS`) is no error, as in runc.
pub(super) fn join(id: &str, userns: bool) -> Result<(), SysError> {
    let serial = match crate::sys::join_session_keyring(&format!("_ses.{id}")) {
        Ok(s) => s,
        Err(e) if e.source.raw_os_error() == Some(libc::ENOSYS) => return Ok(()),
        Err(e) => return Err(e),
    };
    crate::sys::add_key_permissions(serial, if userns { OTHERS_SEARCH } else { OWNER_SEARCH })
}
