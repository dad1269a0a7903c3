//! Landlock access rights: names, bits and the ABI that introduced each.

/// Highest Landlock ABI this build knows (that of the `landlock` crate).
pub const MAX_ABI: u32 = 10;

/// A filesystem right.
#[derive(Debug)]
pub struct Right {
    /// Our name.
    pub name: &'static str,
    /// `LANDLOCK_ACCESS_FS_*` bit.
    pub bit: u64,
    /// First ABI that knows it.
    pub abi: u32,
    /// Whether it applies to regular files (the others only to directories).
    pub file: bool,
}

const fn r(name: &'static str, shift: u32, abi: u32, file: bool) -> Right {
    Right { name, bit: 1 << shift, abi, file }
}

/// Every filesystem right, in bit order.
pub const FS_RIGHTS: [Right; 17] = [
    r("execute", 0, 1, true),
    r("write_file", 1, 1, true),
    r("read_file", 2, 1, true),
    r("read_dir", 3, 1, false),
    r("remove_dir", 4, 1, false),
    r("remove_file", 5, 1, false),
    r("make_char", 6, 1, false),
    r("make_dir", 7, 1, false),
    r("make_reg", 8, 1, false),
    r("make_sock", 9, 1, false),
    r("make_fifo", 10, 1, false),
    r("make_block", 11, 1, false),
    r("make_sym", 12, 1, false),
    r("refer", 13, 2, false),
    r("truncate", 14, 3, true),
    r("ioctl_dev", 15, 5, true),
    r("resolve_unix", 16, 9, false),
];

/// Network rights: (name, bit, ABI).
pub const NET_RIGHTS: [(&str, u64, u32); 2] = [("bind_tcp", 1, 4), ("connect_tcp", 2, 4)];

/// Scopes: (name, bit); all from ABI 6.
pub const SCOPES: [(&str, u64); 2] = [("abstract-unix-socket", 1), ("signal", 2)];

/// ABI that introduced scopes.
pub const SCOPE_ABI: u32 = 6;

fn bits_of(names: &[&str]) -> u64 {
    FS_RIGHTS.iter().filter(|r| names.contains(&r.name)).fold(0, |b, r| b | r.bit)
}

/// Parse a right or a group (`read`, `write`, `execute`, `all`) into bits.
pub fn parse_access(name: &str) -> Option<u64> {
    match name {
        "read" => Some(bits_of(&["read_file", "read_dir"])),
        "write" => Some(bits_of(&[
            "write_file",
            "remove_dir",
            "remove_file",
            "make_char",
            "make_dir",
            "make_reg",
            "make_sock",
            "make_fifo",
            "make_block",
            "make_sym",
            "refer",
            "truncate",
        ])),
        "all" => Some(all_fs(MAX_ABI)),
        other => FS_RIGHTS.iter().find(|r| r.name == other).map(|r| r.bit),
    }
}

/// All filesystem rights an ABI handles.
pub fn all_fs(abi: u32) -> u64 {
    FS_RIGHTS.iter().filter(|r| r.abi <= abi).fold(0, |b, r| b | r.bit)
}

/// All network rights an ABI handles.
pub fn all_net(abi: u32) -> u64 {
    NET_RIGHTS.iter().filter(|(_, _, a)| *a <= abi).fold(0, |b, (_, bit, _)| b | bit)
}

/// Names of the filesystem rights in `bits`, in bit order.
pub fn fs_names(bits: u64) -> Vec<String> {
    FS_RIGHTS.iter().filter(|r| bits & r.bit != 0).map(|r| r.name.to_string()).collect()
}

/// Names of the network rights in `bits`.
pub fn net_names(bits: u64) -> Vec<String> {
    NET_RIGHTS.iter().filter(|(_, b, _)| bits & b != 0).map(|(n, _, _)| n.to_string()).collect()
}

/// Lowest ABI that knows every right in `bits`.
pub fn min_abi_for_fs(bits: u64) -> u32 {
    FS_RIGHTS.iter().filter(|r| bits & r.bit != 0).map(|r| r.abi).max().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use landlock::{Access, AccessFs, AccessNet, Scope, ABI};

    #[test]
    fn matches_the_landlock_crate_for_every_abi() {
        for abi in 1..=MAX_ABI {
            let a = ABI::from(abi as i32);
            assert_eq!(all_fs(abi), AccessFs::from_all(a).bits(), "fs rights of ABI {abi}");
            let net = AccessNet::from_all(a).bits() & 0b11;
            assert_eq!(all_net(abi), net, "net rights of ABI {abi}");
            let scopes = Scope::from_all(a).bits();
            let ours = if abi >= SCOPE_ABI { 0b11 } else { 0 };
            assert_eq!(ours, scopes, "scopes of ABI {abi}");
        }
    }

    #[test]
    fn groups() {
        assert_eq!(fs_names(parse_access("read").unwrap()), ["read_file", "read_dir"]);
        assert_eq!(min_abi_for_fs(parse_access("write").unwrap()), 3);
        assert_eq!(parse_access("nope"), None);
    }
}
