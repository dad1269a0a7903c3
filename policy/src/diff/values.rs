//! Argument values in a reviewer's words: `AF_NETLINK (0x10)`, `CLONE_NEWUSER (0x10000000)`.

use crate::syscalls::consts::CONSTANTS;

/// Name prefixes of the constants that make sense for an argument.
fn prefixes(syscall: &str, index: u8) -> &'static [&'static str] {
    match (syscall, index) {
        ("socket" | "socketpair", 0) => &["AF_"],
        ("clone" | "unshare", 0) | ("setns", 1) => &["CLONE_"],
        ("ioctl", 1) => &["TIOC", "TC", "FIO", "SIOC"],
        ("prctl", 0) => &["PR_"],
        ("personality", 0) => &["PER_"],
        _ => &[],
    }
}

fn named(value: u64, prefixes: &[&str]) -> Option<&'static str> {
    CONSTANTS
        .iter()
        .find(|c| c.value == value && prefixes.iter().any(|p| c.name.starts_with(p)))
        .map(|c| c.name)
}

/// `flags` as `A|B` when every set bit has a name.
fn flags(value: u64, prefixes: &[&str]) -> Option<String> {
    let names: Option<Vec<&str>> =
        (0..64).filter(|b| value & (1u64 << b) != 0).map(|b| named(1u64 << b, prefixes)).collect();
    names.filter(|n| !n.is_empty()).map(|n| n.join("|"))
}

/// `argN = NAME (0x..)`, or `argN = 0x..` when the value has no name here.
pub(super) fn describe(syscall: &str, index: u8, value: u64) -> String {
    let p = prefixes(syscall, index);
    let name = match p.first() {
        Some(&"CLONE_") => flags(value, p),
        Some(_) => named(value, p).map(str::to_string),
        None => None,
    };
    match name {
        Some(n) => format!("arg{index} = {n} ({value:#x})"),
        None => format!("arg{index} = {value:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_argument() {
        assert_eq!(describe("socket", 0, 16), "arg0 = AF_NETLINK (0x10)");
        assert_eq!(describe("clone", 0, 0x1000_0000), "arg0 = CLONE_NEWUSER (0x10000000)");
        assert_eq!(describe("unshare", 0, 0x1002_0000), "arg0 = CLONE_NEWNS|CLONE_NEWUSER (0x10020000)");
        assert_eq!(describe("ioctl", 1, 0x5412), "arg1 = TIOCSTI (0x5412)");
        assert_eq!(describe("write", 2, 16), "arg2 = 0x10");
        assert_eq!(describe("clone", 0, 1), "arg0 = 0x1");
    }
}
