//! Named constants usable as argument values (`AF_INET`, `CLONE_NEWUSER`, `TIOCSTI`, ...) and
//! errno names.

use super::arch::Arch;

/// On which arches a constant has the value given here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Valid {
    /// Every arch.
    Everywhere,
    /// Not on MIPS (whose ABI numbers it differently).
    NotMips,
    /// Not on MIPS or POWER.
    NotMipsPpc,
}

/// A named constant.
#[derive(Debug)]
pub struct Constant {
    /// The name.
    pub name: &'static str,
    /// Its value on the arches where it is valid.
    pub value: u64,
    /// Where this value holds.
    pub valid: Valid,
}

const fn c(name: &'static str, value: u64, valid: Valid) -> Constant {
    Constant { name, value, valid }
}

use Valid::{Everywhere as E, NotMips as NM, NotMipsPpc as NMP};

/// Every named constant.
pub const CONSTANTS: &[Constant] = &[
    // Address families.
    c("AF_UNSPEC", 0, E),
    c("AF_UNIX", 1, E),
    c("AF_LOCAL", 1, E),
    c("AF_INET", 2, E),
    c("AF_AX25", 3, E),
    c("AF_IPX", 4, E),
    c("AF_APPLETALK", 5, E),
    c("AF_NETROM", 6, E),
    c("AF_BRIDGE", 7, E),
    c("AF_ATMPVC", 8, E),
    c("AF_X25", 9, E),
    c("AF_INET6", 10, E),
    c("AF_ROSE", 11, E),
    c("AF_DECNET", 12, E),
    c("AF_NETBEUI", 13, E),
    c("AF_SECURITY", 14, E),
    c("AF_KEY", 15, E),
    c("AF_NETLINK", 16, E),
    c("AF_PACKET", 17, E),
    c("AF_ASH", 18, E),
    c("AF_ECONET", 19, E),
    c("AF_ATMSVC", 20, E),
    c("AF_RDS", 21, E),
    c("AF_SNA", 22, E),
    c("AF_IRDA", 23, E),
    c("AF_PPPOX", 24, E),
    c("AF_WANPIPE", 25, E),
    c("AF_LLC", 26, E),
    c("AF_IB", 27, E),
    c("AF_MPLS", 28, E),
    c("AF_CAN", 29, E),
    c("AF_TIPC", 30, E),
    c("AF_BLUETOOTH", 31, E),
    c("AF_IUCV", 32, E),
    c("AF_RXRPC", 33, E),
    c("AF_ISDN", 34, E),
    c("AF_PHONET", 35, E),
    c("AF_IEEE802154", 36, E),
    c("AF_CAIF", 37, E),
    c("AF_ALG", 38, E),
    c("AF_NFC", 39, E),
    c("AF_VSOCK", 40, E),
    c("AF_KCM", 41, E),
    c("AF_QIPCRTR", 42, E),
    c("AF_SMC", 43, E),
    c("AF_XDP", 44, E),
    c("AF_MCTP", 45, E),
    // clone / unshare flags.
    c("CSIGNAL", 0xff, E),
    c("CLONE_NEWTIME", 0x80, E),
    c("CLONE_VM", 0x100, E),
    c("CLONE_FS", 0x200, E),
    c("CLONE_FILES", 0x400, E),
    c("CLONE_SIGHAND", 0x800, E),
    c("CLONE_PIDFD", 0x1000, E),
    c("CLONE_PTRACE", 0x2000, E),
    c("CLONE_VFORK", 0x4000, E),
    c("CLONE_PARENT", 0x8000, E),
    c("CLONE_THREAD", 0x10000, E),
    c("CLONE_NEWNS", 0x20000, E),
    c("CLONE_SYSVSEM", 0x40000, E),
    c("CLONE_SETTLS", 0x80000, E),
    c("CLONE_PARENT_SETTID", 0x10_0000, E),
    c("CLONE_CHILD_CLEARTID", 0x20_0000, E),
    c("CLONE_DETACHED", 0x40_0000, E),
    c("CLONE_UNTRACED", 0x80_0000, E),
    c("CLONE_CHILD_SETTID", 0x100_0000, E),
    c("CLONE_NEWCGROUP", 0x200_0000, E),
    c("CLONE_NEWUTS", 0x400_0000, E),
    c("CLONE_NEWIPC", 0x800_0000, E),
    c("CLONE_NEWUSER", 0x1000_0000, E),
    c("CLONE_NEWPID", 0x2000_0000, E),
    c("CLONE_NEWNET", 0x4000_0000, E),
    c("CLONE_IO", 0x8000_0000, E),
    // Memory protection.
    c("PROT_NONE", 0, E),
    c("PROT_READ", 1, E),
    c("PROT_WRITE", 2, E),
    c("PROT_EXEC", 4, E),
    c("PROT_GROWSDOWN", 0x100_0000, E),
    c("PROT_GROWSUP", 0x200_0000, E),
    // open flags (generic numbering; MIPS differs).
    c("O_RDONLY", 0, E),
    c("O_WRONLY", 1, E),
    c("O_RDWR", 2, E),
    c("O_ACCMODE", 3, E),
    c("O_CREAT", 0o100, NM),
    c("O_EXCL", 0o200, NM),
    c("O_NOCTTY", 0o400, NM),
    c("O_TRUNC", 0o1000, NM),
    c("O_APPEND", 0o2000, NM),
    c("O_NONBLOCK", 0o4000, NM),
    c("O_DSYNC", 0o10000, NM),
    c("O_CLOEXEC", 0o2000000, NM),
    // Socket types (MIPS swaps STREAM and DGRAM).
    c("SOCK_STREAM", 1, NM),
    c("SOCK_DGRAM", 2, NM),
    c("SOCK_RAW", 3, E),
    c("SOCK_RDM", 4, E),
    c("SOCK_SEQPACKET", 5, E),
    c("SOCK_NONBLOCK", 0o4000, NM),
    c("SOCK_CLOEXEC", 0o2000000, NM),
    // Terminal ioctls (generic numbering; MIPS and POWER differ).
    c("TCGETS", 0x5401, NMP),
    c("TCSETS", 0x5402, NMP),
    c("TIOCSCTTY", 0x540E, NMP),
    c("TIOCGPGRP", 0x540F, NMP),
    c("TIOCSPGRP", 0x5410, NMP),
    c("TIOCSTI", 0x5412, NMP),
    c("TIOCGWINSZ", 0x5413, NMP),
    c("TIOCSWINSZ", 0x5414, NMP),
    c("FIONREAD", 0x541B, NMP),
    c("TIOCLINUX", 0x541C, NMP),
    c("TIOCCONS", 0x541D, NMP),
    c("FIONBIO", 0x5421, NMP),
    c("TIOCNOTTY", 0x5422, NMP),
    c("TIOCSETD", 0x5423, NMP),
    c("FIONCLEX", 0x5450, NMP),
    c("FIOCLEX", 0x5451, NMP),
    // personality.
    c("PER_LINUX", 0, E),
    c("PER_LINUX32", 8, E),
    c("UNAME26", 0x002_0000, E),
    c("ADDR_NO_RANDOMIZE", 0x004_0000, E),
    c("READ_IMPLIES_EXEC", 0x040_0000, E),
    c("ADDR_LIMIT_32BIT", 0x080_0000, E),
];

/// Errno names (generic numbering).
pub const ERRNOS: &[(&str, u16)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("ENXIO", 6),
    ("E2BIG", 7),
    ("ENOEXEC", 8),
    ("EBADF", 9),
    ("ECHILD", 10),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENODEV", 19),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("ENOTTY", 25),
    ("ETXTBSY", 26),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("EPIPE", 32),
    ("ERANGE", 34),
    ("ENOSYS", 38),
    ("ENOTSOCK", 88),
    ("EPROTONOSUPPORT", 93),
    ("EOPNOTSUPP", 95),
    ("EAFNOSUPPORT", 97),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETUNREACH", 101),
    ("ECONNREFUSED", 111),
];

/// Look up a constant.
pub fn constant(name: &str) -> Option<&'static Constant> {
    CONSTANTS.iter().find(|c| c.name == name)
}

/// The `AF_*` name of an address family number (`AF_UNIX`, not its alias `AF_LOCAL`).
pub fn family_name(value: u64) -> Option<&'static str> {
    CONSTANTS
        .iter()
        .find(|c| c.name.starts_with("AF_") && c.name != "AF_LOCAL" && c.value == value)
        .map(|c| c.name)
}

/// The number of an errno name.
pub fn errno(name: &str) -> Option<u16> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name of an errno number.
pub fn errno_name(value: u16) -> Option<&'static str> {
    ERRNOS.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
}

impl Constant {
    /// Whether the value is right on `arch`.
    pub fn valid_on(&self, arch: Arch) -> bool {
        match self.valid {
            Valid::Everywhere => true,
            Valid::NotMips => !arch.name().starts_with("mips"),
            Valid::NotMipsPpc => arch.uses_generic_constants(),
        }
    }
}

/// Why a value could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ValueError {
    /// A part is neither a number nor a known constant.
    Unknown(String),
}

/// Parse a number (`42`, `0x2a`, `0o52`, `0b101010`) or `|`-joined constant names and numbers;
/// returns the value and the constants used.
pub fn parse_value(text: &str) -> Result<(u64, Vec<&'static Constant>), ValueError> {
    let mut value = 0u64;
    let mut used = Vec::new();
    for part in text.split('|').map(str::trim) {
        if let Some(n) = parse_number(part) {
            value |= n;
        } else if let Some(c) = constant(part) {
            value |= c.value;
            used.push(c);
        } else {
            return Err(ValueError::Unknown(part.to_string()));
        }
    }
    Ok((value, used))
}

/// Parse an unsigned number in decimal, hex, octal or binary.
pub fn parse_number(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(o) = s.strip_prefix("0o") {
        u64::from_str_radix(o, 8).ok()
    } else if let Some(b) = s.strip_prefix("0b") {
        u64::from_str_radix(b, 2).ok()
    } else if let Some(neg) = s.strip_prefix('-') {
        neg.parse::<i64>().ok().map(|v| (-v) as u64)
    } else {
        s.parse().ok()
    }
}

/// Closest constant name, for hints.
pub fn suggest(name: &str) -> Option<&'static str> {
    CONSTANTS
        .iter()
        .map(|c| (super::table::strsim(name, c.name), c.name))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_value("AF_INET").unwrap().0, 2);
        assert_eq!(parse_value("0x7E020000").unwrap().0, 0x7E02_0000);
        let ns =
            "CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET|CLONE_NEWCGROUP";
        assert_eq!(parse_value(ns).unwrap().0, 0x7E02_0000);
        assert_eq!(parse_value("-1").unwrap().0, u64::MAX);
        assert!(parse_value("AF_INETT").is_err());
        assert_eq!(suggest("AF_INETT"), Some("AF_INET"));
    }
}
