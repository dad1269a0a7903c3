//! Networking inside a new network namespace: loopback up, nothing else.

use crate::error::SysError;

/// Bring `lo` up.
pub fn loopback_up() -> Result<(), SysError> {
    crate::sys::loopback_up()
}
