//! Named syscall groups (`@docker-default`, systemd-like `@file-system`, ...).

use std::collections::BTreeSet;

/// A syscall group.
#[derive(Debug)]
pub struct Group {
    /// Name including the `@`.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Members: syscall names and other `@groups`, whitespace-separated.
    members: &'static str,
}

/// Every group, sorted by name.
pub const GROUPS: &[Group] = &[
    Group {
        name: "@basic-io",
        description: "Reading, writing, seeking and closing file descriptors",
        members: "_llseek close close_range dup dup2 dup3 lseek pread64 preadv preadv2 pwrite64
                  pwritev pwritev2 read readv write writev",
    },
    Group {
        name: "@chown",
        description: "Changing file ownership",
        members: "chown chown32 fchown fchown32 fchownat lchown lchown32",
    },
    Group {
        name: "@clock",
        description: "Setting the system clock",
        members: "adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64
                  settimeofday stime",
    },
    Group {
        name: "@cpu-emulation",
        description: "CPU emulation: vm86, modify_ldt, endianness switching",
        members: "modify_ldt subpage_prot switch_endian vm86 vm86old",
    },
    Group {
        name: "@debug",
        description: "Debugging, tracing and performance monitoring of processes",
        members: "lookup_dcookie perf_event_open pidfd_getfd ptrace rtas s390_runtime_instr
                  sys_debug_setcontext kcmp process_vm_readv process_vm_writev",
    },
    Group {
        name: "@default",
        description: "What nearly every program needs: exit, memory, time, identity queries",
        members: "arch_prctl brk cacheflush clock_getres clock_getres_time64 clock_gettime
                  clock_gettime64 clock_nanosleep clock_nanosleep_time64 exit exit_group futex
                  futex_time64 futex_waitv get_robust_list get_thread_area getegid getegid32
                  geteuid geteuid32 getgid getgid32 getgroups getgroups32 getpgid getpgrp getpid
                  getppid getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getsid
                  gettid gettimeofday getuid getuid32 membarrier mmap mmap2 mprotect munmap
                  nanosleep pause prlimit64 restart_syscall riscv_flush_icache rseq rt_sigreturn
                  sched_getaffinity sched_yield set_robust_list set_thread_area set_tid_address
                  set_tls sigreturn time ugetrlimit uname madvise mremap",
    },
    Group {
        name: "@docker-default",
        description: "What Docker's default seccomp profile allows unconditionally",
        members: include_str!("docker_default.txt"),
    },
    Group {
        name: "@file-system",
        description: "File system operations: open, stat, create, rename, remove, xattrs",
        members: "access chdir chmod close creat faccessat faccessat2 fallocate fchdir fchmod
                  fchmodat fchmodat2 fcntl fcntl64 fgetxattr flistxattr fremovexattr fsetxattr
                  fstat fstat64 fstatat64 fstatfs fstatfs64 ftruncate ftruncate64 futimesat
                  getcwd getdents getdents64 getxattr inotify_add_watch inotify_init
                  inotify_init1 inotify_rm_watch lgetxattr link linkat listxattr llistxattr
                  lremovexattr lsetxattr lstat lstat64 mkdir mkdirat mknod mknodat mmap mmap2
                  munmap newfstatat oldfstat oldlstat oldstat open openat openat2 readlink
                  readlinkat removexattr rename renameat renameat2 rmdir setxattr stat stat64
                  statfs statfs64 statx symlink symlinkat truncate truncate64 unlink unlinkat
                  utime utimensat utimensat_time64 utimes",
    },
    Group {
        name: "@io-event",
        description: "Event loops: select, poll, epoll, eventfd",
        members: "_newselect epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait
                  epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 poll ppoll
                  ppoll_time64 pselect6 pselect6_time64 select",
    },
    Group {
        name: "@io-uring",
        description: "io_uring (its operations bypass seccomp)",
        members: "io_uring_enter io_uring_register io_uring_setup",
    },
    Group {
        name: "@ipc",
        description: "SysV IPC, POSIX message queues, pipes, memfd, cross-process memory",
        members: "ipc memfd_create mq_getsetattr mq_notify mq_open mq_timedreceive
                  mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink msgctl
                  msgget msgrcv msgsnd pipe pipe2 process_madvise process_vm_readv
                  process_vm_writev semctl semget semop semtimedop semtimedop_time64 shmat
                  shmctl shmdt shmget",
    },
    Group {
        name: "@keyring",
        description: "Kernel keyring (not namespaced)",
        members: "add_key keyctl request_key",
    },
    Group {
        name: "@module",
        description: "Loading and unloading kernel modules",
        members: "delete_module finit_module init_module",
    },
    Group {
        name: "@mount",
        description: "Mounting, unmounting, chroot and pivot_root",
        members: "chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount
                  open_tree open_tree_attr pivot_root umount umount2",
    },
    Group {
        name: "@network-io",
        description: "Sockets: create, connect, send, receive",
        members: "accept accept4 bind connect getpeername getsockname getsockopt listen recv
                  recvfrom recvmmsg recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto
                  setsockopt shutdown socket socketcall socketpair",
    },
    Group {
        name: "@obsolete",
        description: "Syscalls no longer implemented or long deprecated",
        members: "_sysctl afs_syscall bdflush create_module ftime get_kernel_syms getpmsg
                  gtty idle lock mpx prof profil putpmsg query_module security sgetmask ssetmask
                  stty sysfs tuxcall ulimit uselib ustat vserver",
    },
    Group {
        name: "@privileged",
        description: "Calls that need privileges (capabilities) to succeed",
        members: "@chown @clock @module @raw-io @reboot @swap _sysctl acct bpf capset chroot
                  fanotify_init fanotify_mark nfsservctl open_by_handle_at pivot_root quotactl
                  quotactl_fd setdomainname setfsuid setfsuid32 setgroups setgroups32
                  sethostname setresuid setresuid32 setreuid setreuid32 setuid setuid32 vhangup",
    },
    Group {
        name: "@process",
        description: "Creating, signalling and waiting for processes; namespaces",
        members: "capget clone clone3 execve execveat fork getrusage kill pidfd_open
                  pidfd_send_signal prctl rt_sigqueueinfo rt_tgsigqueueinfo setns swapcontext
                  tgkill times tkill unshare vfork wait4 waitid waitpid",
    },
    Group {
        name: "@raw-io",
        description: "Raw I/O port and PCI access",
        members: "ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write
                  s390_pci_mmio_read s390_pci_mmio_write",
    },
    Group {
        name: "@reboot",
        description: "Rebooting and loading a new kernel",
        members: "kexec_file_load kexec_load reboot",
    },
    Group {
        name: "@signal",
        description: "Signal handling",
        members: "rt_sigaction rt_sigpending rt_sigprocmask rt_sigsuspend rt_sigtimedwait
                  rt_sigtimedwait_time64 sigaction sigaltstack signal signalfd signalfd4
                  sigpending sigprocmask sigsuspend",
    },
    Group { name: "@swap", description: "Enabling and disabling swap", members: "swapoff swapon" },
    Group {
        name: "@timer",
        description: "Timers and alarms",
        members: "alarm getitimer setitimer timer_create timer_delete timer_getoverrun
                  timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
                  timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times",
    },
];

/// The group called `name` (with its `@`).
pub fn group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

impl Group {
    /// Direct members as written (names and nested groups).
    pub fn members(&self) -> impl Iterator<Item = &'static str> {
        self.members.split_whitespace()
    }

    /// All syscall names, nested groups expanded, sorted.
    pub fn expand(&self) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        for m in self.members() {
            if m.starts_with('@') {
                if let Some(g) = group(m) {
                    out.extend(g.expand());
                }
            } else {
                out.insert(m);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::table::is_known;

    #[test]
    fn groups_are_sorted_and_nested_groups_exist() {
        let names: Vec<_> = GROUPS.iter().map(|g| g.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for g in GROUPS {
            for m in g.members().filter(|m| m.starts_with('@')) {
                assert!(group(m).is_some(), "{} names missing group {m}", g.name);
            }
        }
    }

    #[test]
    fn docker_default_group_has_docker_count() {
        assert_eq!(group("@docker-default").unwrap().expand().len(), 361);
    }

    #[test]
    fn members_are_known_syscalls() {
        let mut unknown = Vec::new();
        for g in GROUPS {
            for m in g.expand() {
                if !is_known(m) {
                    unknown.push(format!("{}:{m}", g.name));
                }
            }
        }
        assert!(unknown.is_empty(), "unknown group members: {unknown:?}");
    }
}
