//! Seccomp verdicts.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::syscalls::consts;

/// What seccomp does with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Run the call.
    Allow,
    /// Fail it with this errno (1..=4095; 0 fakes success).
    Errno(u16),
    /// Kill the whole process (SECCOMP_RET_KILL_PROCESS).
    KillProcess,
    /// Kill only the calling thread (SECCOMP_RET_KILL_THREAD).
    KillThread,
    /// Send SIGSYS.
    Trap,
    /// Run the call and log it.
    Log,
    /// Notify a ptrace tracer with this message (ENOSYS without a tracer).
    Trace(u16),
    /// Ask a user-space supervisor (SECCOMP_RET_USER_NOTIF).
    Notify,
}

/// Why an action string is not valid.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// Not one of the known forms.
    #[error("not an action (allow, errno(N|NAME), kill-process, kill-thread, trap, log, trace(N), notify)")]
    Unknown,
    /// errno outside 0..=4095 or an unknown errno name.
    #[error("errno `{0}` is not a number in 0..=4095 or a known name")]
    BadErrno(String),
    /// trace data outside 0..=65535.
    #[error("trace data `{0}` is not in 0..=65535")]
    BadTrace(String),
}

impl Action {
    /// Parse `allow`, `errno(N|NAME)`, `kill`, `kill-process`, `kill-thread`, `trap`, `log`,
    /// `trace(N)`, `notify`; also libseccomp's `SCMP_ACT_*` names.
    pub fn parse(s: &str) -> Result<Action, ActionError> {
        let t = s.trim();
        if let Some(inner) = t.strip_prefix("errno(").and_then(|r| r.strip_suffix(')')) {
            let inner = inner.trim();
            let n = consts::errno(inner)
                .map(u32::from)
                .or_else(|| inner.parse::<u32>().ok())
                .ok_or_else(|| ActionError::BadErrno(inner.to_string()))?;
            if n > 4095 {
                return Err(ActionError::BadErrno(inner.to_string()));
            }
            return Ok(Action::Errno(n as u16));
        }
        if let Some(inner) = t.strip_prefix("trace(").and_then(|r| r.strip_suffix(')')) {
            let n = inner.trim().parse::<u16>().map_err(|_| ActionError::BadTrace(inner.to_string()))?;
            return Ok(Action::Trace(n));
        }
        Ok(match t {
            "allow" | "SCMP_ACT_ALLOW" => Action::Allow,
            "kill" | "kill-process" | "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "kill-thread" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_KILL" => Action::KillThread,
            "trap" | "SCMP_ACT_TRAP" => Action::Trap,
            "log" | "SCMP_ACT_LOG" => Action::Log,
            "notify" | "SCMP_ACT_NOTIFY" => Action::Notify,
            "enosys" => Action::Errno(38),
            _ => return Err(ActionError::Unknown),
        })
    }

    /// Whether the call runs (allow or log).
    pub fn permits(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }

    /// The `SECCOMP_RET_*` value with its data.
    pub fn ret_value(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0,
            Action::Trap => 0x0003_0000,
            Action::Errno(e) => 0x0005_0000 | u32::from(e),
            Action::Notify => 0x7fc0_0000,
            Action::Trace(d) => 0x7ff0_0000 | u32::from(d),
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
        }
    }

    /// The verdict the kernel takes from a filter's return value: the action in the top 16
    /// bits (unknown actions kill the process), errno data capped at 4095.
    pub fn from_ret(v: u32) -> Action {
        let data = (v & 0xffff) as u16;
        match v & 0xffff_0000 {
            0x0000_0000 => Action::KillThread,
            0x0003_0000 => Action::Trap,
            0x0005_0000 => Action::Errno(data.min(4095)),
            0x7fc0_0000 => Action::Notify,
            0x7ff0_0000 => Action::Trace(data),
            0x7ffc_0000 => Action::Log,
            0x7fff_0000 => Action::Allow,
            _ => Action::KillProcess,
        }
    }
    /// libseccomp's name (`SCMP_ACT_ERRNO`) and the errno for Docker JSON.
    pub fn scmp(self) -> (&'static str, Option<u16>) {
        match self {
            Action::Allow => ("SCMP_ACT_ALLOW", None),
            Action::Errno(e) => ("SCMP_ACT_ERRNO", Some(e)),
            Action::KillProcess => ("SCMP_ACT_KILL_PROCESS", None),
            Action::KillThread => ("SCMP_ACT_KILL_THREAD", None),
            Action::Trap => ("SCMP_ACT_TRAP", None),
            Action::Log => ("SCMP_ACT_LOG", None),
            Action::Trace(d) => ("SCMP_ACT_TRACE", Some(d)),
            Action::Notify => ("SCMP_ACT_NOTIFY", None),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Allow => f.write_str("allow"),
            Action::Errno(e) => match consts::errno_name(*e) {
                Some(n) => write!(f, "errno({n})"),
                None => write!(f, "errno({e})"),
            },
            Action::KillProcess => f.write_str("kill-process"),
            Action::KillThread => f.write_str("kill-thread"),
            Action::Trap => f.write_str("trap"),
            Action::Log => f.write_str("log"),
            Action::Trace(d) => write!(f, "trace({d})"),
            Action::Notify => f.write_str("notify"),
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Action;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an action such as `allow` or `errno(EPERM)`")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Action, E> {
                Action::parse(s).map_err(|e| E::custom(format!("`{s}`: {e}")))
            }
        }
        d.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        for s in [
            "allow",
            "errno(EPERM)",
            "errno(1234)",
            "kill-process",
            "kill-thread",
            "trap",
            "log",
            "trace(7)",
            "notify",
        ] {
            assert_eq!(Action::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Action::parse("kill"), Ok(Action::KillProcess));
        assert_eq!(Action::parse("errno(4096)"), Err(ActionError::BadErrno("4096".into())));
        assert_eq!(Action::parse("errno(EWHAT)"), Err(ActionError::BadErrno("EWHAT".into())));
        assert_eq!(Action::parse("deny"), Err(ActionError::Unknown));
    }
}
