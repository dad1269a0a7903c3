//! Networking inside a new network namespace: loopback up, nothing else.

/// Bring `lo` up.
pub fn loopback_up() -> Result<(), String> {
    crate::sys::loopback_up()
}
