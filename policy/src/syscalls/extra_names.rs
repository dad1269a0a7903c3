// Shared by the build script (which generates the syscall tables) and the library.

/// x32 syscalls that differ from x86-64: the compat entry points at 512..=547.
const X32_SPECIFIC: [&str; 36] = [
    "rt_sigaction",
    "rt_sigreturn",
    "ioctl",
    "readv",
    "writev",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "execve",
    "ptrace",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "sigaltstack",
    "timer_create",
    "mq_notify",
    "kexec_load",
    "waitid",
    "set_robust_list",
    "get_robust_list",
    "vmsplice",
    "move_pages",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "recvmmsg",
    "sendmmsg",
    "process_vm_readv",
    "process_vm_writev",
    "setsockopt",
    "getsockopt",
    "io_setup",
    "io_submit",
    "execveat",
    "preadv2",
    "pwritev2",
];

/// x86-64-only entries that x32 does not have at all (`64` in the kernel's `syscall_64.tbl`,
/// other than the 64-bit forms x32 has its own entries for).
const X32_ABSENT: [&str; 12] = [
    "set_thread_area",
    "get_thread_area",
    "map_shadow_stack",
    "uselib",
    "_sysctl",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "nfsservctl",
    "epoll_ctl_old",
    "epoll_wait_old",
    "vserver",
];

/// Names libseccomp knows that no table here has (arch-specific or long gone); accepted so
/// Docker profiles import cleanly.
const EXTRA_NAMES: [&str; 9] = [
    "set_tls",
    "breakpoint",
    "cacheflush",
    "arm_sync_file_range",
    "sync_file_range2",
    "sysfs",
    "bdflush",
    "clock_settime64",
    "stime",
];

