//! Which syscall arguments are 32-bit C types (`int`, `unsigned int`, `pid_t`, `umode_t`...).
//!
//! On 64-bit arches the kernel ignores the high word of such an argument, so a filter must
//! compare only the low 32 bits (CVE-2019-7303: `ioctl(fd, TIOCSTI | 1 << 32)`). Arguments not
//! listed are compared as 64-bit values; a condition can override with `width`.

/// `syscall index index ...` per line: the 32-bit argument indexes of each syscall.
const TABLE: &str = "
accept 0
accept4 0 3
access 1
bind 0 2
bpf 0 2
chmod 1
chown 1 2
clone 0
close 0
connect 0 2
creat 1
dup 0
dup2 0 1
dup3 0 1 2
epoll_ctl 0 1 2
faccessat 0 2
faccessat2 0 2 3
fchmod 0 1
fchmodat 0 2
fchown 0 1 2
fchownat 0 2 3 4
fcntl 0 1
fcntl64 0 1
flock 0 1
getrandom 2
getsockopt 0 1 2
ioctl 0 1
io_uring_setup 0
ipc 0 1
kcmp 0 1 2
keyctl 0
kill 0 1
lchown 1 2
listen 0 1
madvise 2
memfd_create 1
mkdir 1
mkdirat 0 2
mknod 1 2
mknodat 0 2 3
open 1 2
openat 0 2 3
perf_event_open 1 2 3
personality 0
pidfd_open 0 1
pidfd_send_signal 0 1 3
prctl 0
quotactl 0
read 0
reboot 0 1 2
recvfrom 0 3
recvmsg 0 2
sched_setscheduler 0 1
seccomp 0 1
sendmsg 0 2
sendto 0 3
setgid 0
setns 0 1
setpriority 0 1 2
setregid 0 1
setresgid 0 1 2
setresuid 0 1 2
setreuid 0 1
setsockopt 0 1 2 4
setuid 0
shutdown 0 1
socket 0 1 2
socketcall 0
socketpair 0 1 2
syslog 0 2
tgkill 0 1 2
tkill 0 1
unlinkat 0 2
write 0
";

/// The width in bits (32 or 64) of argument `index` of `syscall` on 64-bit arches.
pub fn arg_width(syscall: &str, index: u8) -> u8 {
    for line in TABLE.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(syscall) {
            let hit = words.any(|w| w.parse::<u8>().ok() == Some(index));
            return if hit { 32 } else { 64 };
        }
    }
    64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(arg_width("ioctl", 1), 32);
        assert_eq!(arg_width("ioctl", 2), 64);
        assert_eq!(arg_width("socket", 0), 32);
        assert_eq!(arg_width("clone", 0), 32);
        assert_eq!(arg_width("unshare", 0), 64);
        assert_eq!(arg_width("nonexistent", 0), 64);
    }
}
