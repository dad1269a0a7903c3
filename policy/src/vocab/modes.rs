//! The modes a profile chooses between: how strictly Landlock and cgroup limits are applied,
//! which securebits are set, which network the workload gets.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Defines `name()` (the profile language's word), `parse()` and `Display` for a mode enum.
macro_rules! words {
    ($t:ident { $($v:ident = $w:literal),+ $(,)? }) => {
        impl $t {
            /// Every mode.
            pub const ALL: &'static [$t] = &[$($t::$v),+];

            /// The profile language's word for it.
            pub fn name(self) -> &'static str {
                match self { $($t::$v => $w),+ }
            }

            /// The mode called `word`.
            pub fn parse(word: &str) -> Option<$t> {
                $t::ALL.iter().copied().find(|m| m.name() == word)
            }

            /// The words, for a hint: "`a`, `b` or `c`".
            pub fn choices() -> String {
                let words: Vec<String> = $t::ALL.iter().map(|m| format!("`{}`", m.name())).collect();
                match words.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                }
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// Landlock enforcement mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LandlockMode {
    /// Fail when the kernel cannot enforce what the profile asks.
    Enforce,
    /// Enforce what the kernel can; report the rest.
    BestEffort,
    /// No Landlock at all.
    Off,
}
words!(LandlockMode { Enforce = "enforce", BestEffort = "best-effort", Off = "off" });

/// Securebits mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "Securebits")]
pub enum SecurebitsMode {
    /// Leave securebits as they are.
    None,
    /// NOROOT, NO_SETUID_FIXUP and KEEP_CAPS (off), each locked.
    Locked,
}
words!(SecurebitsMode { None = "none", Locked = "locked" });

/// The workload's temporary directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TmpdirMode {
    /// The caller's (`$TMPDIR` or `/tmp`), as it is.
    #[default]
    Inherit,
    /// A new directory of its own under it, `TMPDIR` in the workload's environment, writable
    /// under Landlock.
    Private,
}
words!(TmpdirMode { Inherit = "inherit", Private = "private" });

impl TmpdirMode {
    /// Whether it is the default (left out of the IR's JSON).
    pub fn is_inherit(&self) -> bool {
        *self == TmpdirMode::Inherit
    }
}

/// The network a container gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    /// A network namespace of its own with loopback only.
    None,
    /// A network namespace of its own with outbound connectivity and published ports, through
    /// a user-mode network stack (pasta).
    Private,
    /// The host's network namespace.
    Host,
}
words!(NetworkMode { None = "none", Private = "private", Host = "host" });

impl NetworkMode {
    /// How far it reaches: `none` < `private` < `host`.
    pub fn reach(self) -> u8 {
        match self {
            NetworkMode::None => 0,
            NetworkMode::Private => 1,
            NetworkMode::Host => 2,
        }
    }
}

/// How cgroup limits are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitsMode {
    /// Fail when the host cannot apply a limit.
    Enforce,
    /// Run without limits the host cannot apply, and say so.
    BestEffort,
}
words!(LimitsMode { Enforce = "enforce", BestEffort = "best-effort" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_serde() {
        for m in LandlockMode::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
            assert_eq!(LandlockMode::parse(m.name()), Some(*m));
        }
        for m in NetworkMode::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        for m in LimitsMode::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        for m in SecurebitsMode::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        assert_eq!(NetworkMode::choices(), "`none`, `private` or `host`");
        assert_eq!(LandlockMode::choices(), "`enforce`, `best-effort` or `off`");
    }
}
