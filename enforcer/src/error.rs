//! Steps of `enforce run` and why one failed.

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

/// A step failed; the command did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", step.name())]
pub struct LaunchError {
    /// The step.
    pub step: Step,
    /// Exit status for `enforce`: 125 policy not applied, 126 cannot execute, 127 not found.
    pub exit_code: i32,
    /// What went wrong.
    pub message: String,
}

impl LaunchError {
    /// A failure of `step`.
    pub fn new(step: Step, exit_code: i32, message: impl Into<String>) -> LaunchError {
        LaunchError { step, exit_code, message: message.into() }
    }

    /// A failed system call in `step` (exit 125).
    pub fn sys(step: Step, what: &str, errno: i32) -> LaunchError {
        LaunchError::new(step, 125, format!("{what}: {}", std::io::Error::from_raw_os_error(errno)))
    }
}
