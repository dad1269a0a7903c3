//! Container names, checked once where they come in (the command line, a state file) and
//! typed from there on: every verb (`run --name`, `exec`, `logs`, `stop`, `rm`) takes a
//! [`ContainerName`], so no name can climb out of the state directory or reach a cgroup of
//! the host.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest name accepted.
pub const MAX_LEN: usize = 64;

/// Names that are directories of the runtime directory with another use.
const RESERVED: [&str; 1] = ["cache"];

/// A valid container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (Docker's rule), at most
/// [`MAX_LEN`] characters, not a reserved name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerName(String);

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid container name {shown}: {why}")]
pub struct NameError {
    /// The name as given, quoted and escaped (it may hold anything).
    shown: String,
    /// What is wrong with it.
    why: &'static str,
}

impl ContainerName {
    /// Check `name`.
    pub fn parse(name: &str) -> Result<ContainerName, NameError> {
        let refuse = |why| Err(NameError { shown: format!("{name:?}"), why });
        let mut chars = name.chars();
        match chars.next() {
            None => return refuse("it is empty"),
            Some(c) if !c.is_ascii_alphanumeric() => {
                return refuse(
                    "it must start with a letter or a digit (the rule is [a-zA-Z0-9][a-zA-Z0-9_.-]*)",
                )
            }
            Some(_) => {}
        }
        if !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return refuse(
                "use only letters, digits, `_`, `.` and `-` (the rule is [a-zA-Z0-9][a-zA-Z0-9_.-]*)",
            );
        }
        if name.len() > MAX_LEN {
            return refuse("it is longer than 64 characters");
        }
        if RESERVED.contains(&name) {
            return refuse("it is reserved (the compile cache's directory)");
        }
        Ok(ContainerName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ContainerName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContainerName::parse(s)
    }
}

impl TryFrom<String> for ContainerName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ContainerName::parse(&s)
    }
}

impl From<ContainerName> for String {
    fn from(n: ContainerName) -> String {
        n.0
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_pass_and_nothing_that_leaves_the_directory() {
        for good in ["web", "a", "web-1.2_x", "0", "A9"] {
            assert_eq!(ContainerName::parse(good).map(|n| n.to_string()), Ok(good.to_string()));
        }
        let long = "a".repeat(65);
        for bad in ["", "../x", "..", ".", "a/b", "/etc", "-x", "_x", ".x", "x y", "x\n", "cache", &long, "é"]
        {
            assert!(ContainerName::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let e = ContainerName::parse("../X").unwrap_err().to_string();
        assert_eq!(e, "invalid container name \"../X\": it must start with a letter or a digit (the rule is [a-zA-Z0-9][a-zA-Z0-9_.-]*)");
        assert!(serde_json::from_str::<ContainerName>("\"../x\"").is_err());
    }
}
