//! Linux namespaces: the one list of their names, clone flags and `/proc/PID/ns` entries.

use super::flags::flag_enum;
use super::{Flag, FlagSet};

/// A kind of namespace. Declared in name order, which is the order the IR lists them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// cgroup root.
    Cgroup,
    /// System V IPC and POSIX message queues.
    Ipc,
    /// Mount table.
    Mount,
    /// Network devices, addresses, ports.
    Net,
    /// Process ids.
    Pid,
    /// `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` offsets.
    Time,
    /// User and group ids, capabilities.
    User,
    /// Host and domain name.
    Uts,
}

/// A set of namespaces.
pub type NamespaceSet = FlagSet<Namespace>;

impl Namespace {
    /// The `CLONE_NEW*` flag that creates it (for `clone`, `unshare` and `setns`).
    pub fn clone_flag(self) -> u64 {
        match self {
            Namespace::Cgroup => 0x0200_0000,
            Namespace::Ipc => 0x0800_0000,
            Namespace::Mount => 0x0002_0000,
            Namespace::Net => 0x4000_0000,
            Namespace::Pid => 0x2000_0000,
            Namespace::Time => 0x0000_0080,
            Namespace::User => 0x1000_0000,
            Namespace::Uts => 0x0400_0000,
        }
    }

    /// Whether `clone(2)` can create it. `CLONE_NEWTIME` shares its bit with the exit signal
    /// of `clone`, so a time namespace is made with `unshare` (or `clone3`).
    pub fn clone_can_create(self) -> bool {
        self != Namespace::Time
    }

    /// Its entry in `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            other => other.name(),
        }
    }
}

flag_enum!(Namespace, "namespace", {
    Cgroup => "cgroup",
    Ipc => "ipc",
    Mount => "mount",
    Net => "net",
    Pid => "pid",
    Time => "time",
    User => "user",
    Uts => "uts",
});

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FlagSet<Namespace> {
    /// The `CLONE_NEW*` flags of the set.
    pub fn clone_flags(self) -> u64 {
        self.iter().fold(0, |f, n| f | n.clone_flag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_flags_are_the_kernels() {
        let names: Vec<&str> = Namespace::ALL.iter().map(|n| n.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "the IR lists namespaces by name: declare them so");
        assert_eq!(NamespaceSet::all().clone_flags() & !0x80, 0x7E02_0000, "Docker's CLONE_NEW* mask");
        assert_eq!(Namespace::Mount.proc_name(), "mnt");
    }
}
