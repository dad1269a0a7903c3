//! Clone a process into namespaces that exist (by their files) and new ones, as the calling
//! process's own child: a joiner enters the existing ones (user first, mount last) and clones
//! the process with `CLONE_PARENT` (a pid namespace is entered only by the children of the
//! process that joins it), says its pid and exits. `create` uses it for config.json's
//! namespace `path`s, `exec` for the namespaces of the container's init.

use std::os::fd::OwnedFd;

use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Pid};
use policy::vocab::Namespace;

use super::OciError;
use crate::channel;
use crate::error::SysError;

/// What the joiner tells the caller.
#[derive(serde::Serialize, serde::Deserialize)]
enum Joined {
    /// The process's host pid.
    Pid(i32),
    /// Why it could not be made.
    Failed(String),
}

/// Which side of the clone this is.
pub(super) enum Cloned {
    /// The new process.
    Child,
    /// The caller, with the new process's host pid.
    Parent(Pid),
}

/// Namespaces in the order they are joined: user first (it gives the rights for the others),
/// mount last (after it, `/proc` is the container's).
pub(super) const ORDER: [Namespace; 8] = [
    Namespace::User,
    Namespace::Cgroup,
    Namespace::Ipc,
    Namespace::Uts,
    Namespace::Net,
    Namespace::Pid,
    Namespace::Time,
    Namespace::Mount,
];

/// `joins` sorted in [`ORDER`].
pub(super) fn ordered(mut joins: Vec<(Namespace, OwnedFd)>) -> Vec<(Namespace, OwnedFd)> {
    joins.sort_by_key(|(ns, _)| ORDER.iter().position(|o| o == ns));
    joins
}

/// A new process in `joins` and in the new namespaces of `flags`, this process's child.
pub(super) fn clone_into(joins: &[(Namespace, OwnedFd)], flags: CloneFlags) -> Result<Cloned, OciError> {
    let clone = |f| crate::sys::fork_into(f).map_err(|e| SysError::errno("clone", e));
    if joins.is_empty() {
        return Ok(match clone(flags)? {
            ForkResult::Child => Cloned::Child,
            ForkResult::Parent { child } => Cloned::Parent(child),
        });
    }
    let (tx, rx) = channel::channel::<Joined>()?;
    match crate::sys::fork().map_err(|e| SysError::errno("fork", e))? {
        ForkResult::Child => {
            drop(rx);
            for (ns, fd) in joins {
                let flag = CloneFlags::from_bits_retain(ns.clone_flag() as i32);
                if let Err(e) = nix::sched::setns(fd, flag) {
                    tx.send(&Joined::Failed(format!("join the {ns} namespace: {e}")));
                    std::process::exit(1);
                }
            }
            match clone(flags | CloneFlags::CLONE_PARENT) {
                Ok(ForkResult::Child) => Ok(Cloned::Child),
                Ok(ForkResult::Parent { child }) => {
                    tx.send(&Joined::Pid(child.as_raw()));
                    std::process::exit(0)
                }
                Err(e) => {
                    tx.send(&Joined::Failed(e.to_string()));
                    std::process::exit(1)
                }
            }
        }
        ForkResult::Parent { child: joiner } => {
            drop(tx);
            let said = rx.recv();
            let _ = nix::sys::wait::waitpid(joiner, None);
            match said {
                Some(Joined::Pid(p)) => Ok(Cloned::Parent(Pid::from_raw(p))),
                Some(Joined::Failed(why)) => Err(OciError::Init(why)),
                None => Err(OciError::Init("the process could not be made".into())),
            }
        }
    }
}
