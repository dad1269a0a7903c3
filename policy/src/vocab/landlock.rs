//! Landlock access rights and scopes: names, bits (the kernel's `LANDLOCK_ACCESS_*` and
//! `LANDLOCK_SCOPE_*` values) and the ABI that introduced each.

use super::flags::flag_enum;
use super::{Flag, FlagSet};

/// Highest Landlock ABI this build knows (that of the `landlock` crate).
pub const MAX_ABI: u32 = 10;

/// ABI that introduced network rights.
pub const NET_ABI: u32 = 4;

/// ABI that introduced scopes.
pub const SCOPE_ABI: u32 = 6;

/// Declares every filesystem right once: an `FsRight::NAME` constant per right, and by bit
/// its name, the first ABI that knows it, and whether it applies to regular files (the others
/// only to directories).
macro_rules! fs_rights {
    ($($name:ident = $bit:literal, $text:literal, $abi:literal, $file:literal;)*) => {
        const FS: [(&str, u32, bool); [$($bit),*].len()] = [$(($text, $abi, $file)),*];

        #[allow(missing_docs)]
        impl FsRight {
            $(pub const $name: FsRight = FsRight($bit);)*
        }
    };
}

fs_rights! {
    EXECUTE = 0, "execute", 1, true;
    WRITE_FILE = 1, "write_file", 1, true;
    READ_FILE = 2, "read_file", 1, true;
    READ_DIR = 3, "read_dir", 1, false;
    REMOVE_DIR = 4, "remove_dir", 1, false;
    REMOVE_FILE = 5, "remove_file", 1, false;
    MAKE_CHAR = 6, "make_char", 1, false;
    MAKE_DIR = 7, "make_dir", 1, false;
    MAKE_REG = 8, "make_reg", 1, false;
    MAKE_SOCK = 9, "make_sock", 1, false;
    MAKE_FIFO = 10, "make_fifo", 1, false;
    MAKE_BLOCK = 11, "make_block", 1, false;
    MAKE_SYM = 12, "make_sym", 1, false;
    REFER = 13, "refer", 2, false;
    TRUNCATE = 14, "truncate", 3, true;
    IOCTL_DEV = 15, "ioctl_dev", 5, true;
    RESOLVE_UNIX = 16, "resolve_unix", 9, false;
}

/// A filesystem access right (`LANDLOCK_ACCESS_FS_*`, by bit number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FsRight(u8);

const FS_ALL: [FsRight; FS.len()] = {
    let mut all = [FsRight(0); FS.len()];
    let mut i = 0;
    while i < FS.len() {
        all[i] = FsRight(i as u8);
        i += 1;
    }
    all
};

/// Filesystem rights, as `handled_access_fs` and `allowed_access` take them.
pub type FsAccess = FlagSet<FsRight>;

impl FsRight {
    /// The first ABI that knows this right.
    pub fn abi(self) -> u32 {
        FS[usize::from(self.0)].1
    }

    /// Whether the right applies to regular files (the others only to directories).
    pub fn applies_to_files(self) -> bool {
        FS[usize::from(self.0)].2
    }
}

impl Flag for FsRight {
    const ALL: &'static [FsRight] = &FS_ALL;
    const KIND: &'static str = "filesystem access right";
    fn bit(self) -> u32 {
        u32::from(self.0)
    }
    fn name(self) -> &'static str {
        FS[usize::from(self.0)].0
    }
    fn parse(name: &str) -> Option<FsRight> {
        FS.iter().position(|r| r.0 == name).map(|i| FsRight(i as u8))
    }
}

impl FlagSet<FsRight> {
    /// A right or a group of the profile language: `read`, `write`, `execute`, `all`, or one
    /// right's name.
    pub fn parse_group(name: &str) -> Option<FsAccess> {
        Some(match name {
            "read" => [FsRight::READ_FILE, FsRight::READ_DIR].into_iter().collect(),
            "write" => [
                FsRight::WRITE_FILE,
                FsRight::REMOVE_DIR,
                FsRight::REMOVE_FILE,
                FsRight::MAKE_CHAR,
                FsRight::MAKE_DIR,
                FsRight::MAKE_REG,
                FsRight::MAKE_SOCK,
                FsRight::MAKE_FIFO,
                FsRight::MAKE_BLOCK,
                FsRight::MAKE_SYM,
                FsRight::REFER,
                FsRight::TRUNCATE,
            ]
            .into_iter()
            .collect(),
            "all" => FsAccess::for_abi(MAX_ABI),
            other => FsRight::parse(other).map(|r| [r].into_iter().collect())?,
        })
    }

    /// Every right an ABI handles.
    pub fn for_abi(abi: u32) -> FsAccess {
        FS_ALL.iter().copied().filter(|r| r.abi() <= abi).collect()
    }

    /// The rights that apply only to directories.
    pub fn directory_only() -> FsAccess {
        FS_ALL.iter().copied().filter(|r| !r.applies_to_files()).collect()
    }

    /// The lowest ABI that knows every right of the set.
    pub fn min_abi(self) -> u32 {
        self.iter().map(FsRight::abi).max().unwrap_or(1)
    }
}

/// A TCP right (`LANDLOCK_ACCESS_NET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetRight {
    /// Bind a TCP socket to a port.
    BindTcp,
    /// Connect a TCP socket to a port.
    ConnectTcp,
}

/// Network rights.
pub type NetAccess = FlagSet<NetRight>;

flag_enum!(NetRight, "network access right", {
    BindTcp => "bind_tcp",
    ConnectTcp => "connect_tcp",
});

impl FlagSet<NetRight> {
    /// Every network right an ABI handles.
    pub fn for_abi(abi: u32) -> NetAccess {
        if abi >= NET_ABI {
            NetAccess::all()
        } else {
            NetAccess::EMPTY
        }
    }
}

/// An IPC scope (`LANDLOCK_SCOPE_*`, ABI 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Abstract unix sockets of other domains cannot be connected to.
    AbstractUnixSocket,
    /// Processes of other domains cannot be signalled.
    Signal,
}

/// Scopes.
pub type ScopeSet = FlagSet<Scope>;

flag_enum!(Scope, "landlock scope", {
    AbstractUnixSocket => "abstract-unix-socket",
    Signal => "signal",
});

impl FlagSet<Scope> {
    /// Every scope an ABI handles.
    pub fn for_abi(abi: u32) -> ScopeSet {
        if abi >= SCOPE_ABI {
            ScopeSet::all()
        } else {
            ScopeSet::EMPTY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use landlock::{Access, AccessFs, AccessNet, Scope as LlScope, ABI};

    #[test]
    fn matches_the_landlock_crate_for_every_abi() {
        for abi in 1..=MAX_ABI {
            let a = ABI::from(abi as i32);
            assert_eq!(FsAccess::for_abi(abi).bits(), AccessFs::from_all(a).bits(), "fs rights of ABI {abi}");
            let net = AccessNet::from_all(a).bits() & 0b11;
            assert_eq!(NetAccess::for_abi(abi).bits(), net, "net rights of ABI {abi}");
            assert_eq!(ScopeSet::for_abi(abi).bits(), LlScope::from_all(a).bits(), "scopes of ABI {abi}");
        }
    }

    #[test]
    fn groups() {
        assert_eq!(FsAccess::parse_group("read").unwrap().names(), ["read_file", "read_dir"]);
        assert_eq!(FsAccess::parse_group("write").unwrap().min_abi(), 3);
        assert_eq!(FsAccess::parse_group("nope"), None);
        assert_eq!(FsAccess::parse_group("all"), Some(FsAccess::all()));
    }
}
