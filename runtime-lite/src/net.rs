//! Networking inside a new network namespace: loopback up, nothing else.

/// Bring `lo` up (`SIOCSIFFLAGS` with IFF_UP).
pub fn loopback_up() -> Result<(), String> {
    // SAFETY: a datagram socket fd that we close below; ifreq is a plain C struct we own.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            result = Err(format!("SIOCGIFFLAGS lo: {}", std::io::Error::last_os_error()));
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
                result = Err(format!("SIOCSIFFLAGS lo: {}", std::io::Error::last_os_error()));
            }
        }
        libc::close(fd);
        result
    }
}
