//! The steps of applying a policy, in order, and why one failed.

use serde::Serialize;

/// One step of applying a policy, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Find the executable.
    ResolveCommand,
    /// Open what later steps need while still privileged (Landlock paths, report, status).
    Prepare,
    /// setrlimit.
    Rlimits,
    /// Mark inherited fds close-on-exec.
    CloseFds,
    /// Drop the capability bounding set.
    Bounding,
    /// Set securebits (needs CAP_SETPCAP, so before the final capability sets).
    Securebits,
    /// setgroups, setresgid, setresuid.
    SwitchUser,
    /// Permitted, effective, inheritable, ambient.
    Capabilities,
    /// PR_SET_NO_NEW_PRIVS.
    NoNewPrivs,
    /// Wait until the container is started (`palisade-runtime create`/`start`; not in
    /// [`Step::ALL`]: only a launcher given a gate runs it).
    Gate,
    /// landlock_restrict_self.
    Landlock,
    /// Install the seccomp filter.
    Seccomp,
    /// Read everything back and compare with the policy.
    Verify,
    /// execve.
    Exec,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 13] = [
        Step::ResolveCommand,
        Step::Prepare,
        Step::Rlimits,
        Step::CloseFds,
        Step::Bounding,
        Step::Securebits,
        Step::SwitchUser,
        Step::Capabilities,
        Step::NoNewPrivs,
        Step::Landlock,
        Step::Seccomp,
        Step::Verify,
        Step::Exec,
    ];

    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Step::ResolveCommand => "resolve-command",
            Step::Prepare => "prepare",
            Step::Rlimits => "rlimits",
            Step::CloseFds => "close-fds",
            Step::Bounding => "bounding",
            Step::Securebits => "securebits",
            Step::SwitchUser => "switch-user",
            Step::Capabilities => "capabilities",
            Step::NoNewPrivs => "no-new-privs",
            Step::Gate => "gate",
            Step::Landlock => "landlock",
            Step::Seccomp => "seccomp",
            Step::Verify => "verify",
            Step::Exec => "exec",
        }
    }

    /// Parse a kebab-case name.
    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// What went wrong in a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The command does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The command exists but cannot be executed.
    #[error("{0}")]
    NotExecutable(String),
    /// A system call failed.
    #[error("{what}: {}", std::io::Error::from_raw_os_error(*errno))]
    Syscall {
        /// The call and its object.
        what: String,
        /// errno.
        errno: i32,
    },
    /// The policy cannot be applied as the profile asks (on this kernel, or from this input).
    #[error("{0}")]
    Refused(String),
    /// A test made the step fail.
    #[error("injected failure")]
    Injected,
}

/// A step failed; the command did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {failure}", step.name())]
pub struct LaunchError {
    /// The step.
    pub step: Step,
    /// What went wrong.
    pub failure: Failure,
}

impl LaunchError {
    /// The policy cannot be applied in `step` (exit 125).
    pub fn refused(step: Step, message: impl Into<String>) -> LaunchError {
        LaunchError { step, failure: Failure::Refused(message.into()) }
    }

    /// A failed system call in `step` (exit 125).
    pub fn sys(step: Step, what: impl Into<String>, errno: i32) -> LaunchError {
        LaunchError { step, failure: Failure::Syscall { what: what.into(), errno } }
    }

    /// Exit status for `enforce`, as Docker's: 127 not found, 126 cannot execute, 125 the
    /// policy was not applied.
    pub fn exit_code(&self) -> i32 {
        match (&self.failure, self.step) {
            (Failure::NotFound(_), _) => 127,
            (Failure::NotExecutable(_), _) | (Failure::Injected, Step::Exec) => 126,
            _ => 125,
        }
    }
}
