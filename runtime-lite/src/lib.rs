//! A small namespace runtime (user, pid, mount, net, uts, ipc, cgroup namespaces, pivot_root, PID-1 shim); see issue 5.
#![deny(missing_docs)]
