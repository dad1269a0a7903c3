//! Seccomp architectures: names, `AUDIT_ARCH_*` values, Docker/libseccomp names, and the host
//! family each belongs to.

use std::fmt;

/// `__X32_SYSCALL_BIT`: x32 syscalls arrive as x86_64 with this bit set in the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A seccomp architecture (the `arch` field of `struct seccomp_data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// x86-64 (native 64-bit).
    X86_64,
    /// i386, also reached from x86-64 through `int 0x80`.
    X86,
    /// The x32 ABI: x86-64 arch value, numbers with bit 30 set.
    X32,
    /// ARM 64-bit.
    Aarch64,
    /// ARM 32-bit (EABI).
    Arm,
    /// RISC-V 64-bit.
    Riscv64,
    /// IBM Z 64-bit.
    S390x,
    /// IBM Z 31-bit (no syscall table here: names are passed through to Docker JSON only).
    S390,
    /// POWER 64-bit little endian.
    Ppc64le,
    /// POWER 64-bit big endian.
    Ppc64,
    /// POWER 32-bit.
    Ppc,
    /// MIPS o32 big endian.
    Mips,
    /// MIPS o32 little endian.
    Mipsel,
    /// MIPS n64 big endian.
    Mips64,
    /// MIPS n64 little endian.
    Mipsel64,
    /// MIPS n32 big endian (no syscall table here).
    Mips64n32,
    /// MIPS n32 little endian (no syscall table here).
    Mipsel64n32,
    /// LoongArch 64-bit.
    Loongarch64,
}

/// Every architecture, in a stable order.
pub const ALL_ARCHES: [Arch; 18] = [
    Arch::X86_64,
    Arch::X86,
    Arch::X32,
    Arch::Aarch64,
    Arch::Arm,
    Arch::Riscv64,
    Arch::S390x,
    Arch::S390,
    Arch::Ppc64le,
    Arch::Ppc64,
    Arch::Ppc,
    Arch::Mips,
    Arch::Mipsel,
    Arch::Mips64,
    Arch::Mipsel64,
    Arch::Mips64n32,
    Arch::Mipsel64n32,
    Arch::Loongarch64,
];

/// Docker host-architecture names accepted in `when.arches` (as moby's profile uses them).
pub const HOST_NAMES: [&str; 17] = [
    "amd64", "x86", "386", "x32", "arm64", "arm", "riscv64", "s390x", "s390", "ppc64le", "ppc64", "ppc",
    "mips", "mipsle", "mips64", "mips64le", "loong64",
];

impl Arch {
    /// Our name (`x86_64`, `aarch64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86 => "x86",
            Arch::X32 => "x32",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
            Arch::Riscv64 => "riscv64",
            Arch::S390x => "s390x",
            Arch::S390 => "s390",
            Arch::Ppc64le => "ppc64le",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc => "ppc",
            Arch::Mips => "mips",
            Arch::Mipsel => "mipsel",
            Arch::Mips64 => "mips64",
            Arch::Mipsel64 => "mipsel64",
            Arch::Mips64n32 => "mips64n32",
            Arch::Mipsel64n32 => "mipsel64n32",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// Parse our name, also accepting libseccomp's `SCMP_ARCH_*` and a few aliases.
    pub fn parse(s: &str) -> Option<Arch> {
        let lower = s.strip_prefix("SCMP_ARCH_").unwrap_or(s).to_ascii_lowercase();
        let name = match lower.as_str() {
            "amd64" | "x86-64" => "x86_64",
            "i386" | "i686" => "x86",
            "arm64" => "aarch64",
            "loong64" => "loongarch64",
            other => other,
        };
        ALL_ARCHES.iter().copied().find(|a| a.name() == name)
    }

    /// libseccomp / Docker JSON name (`SCMP_ARCH_X86_64`).
    pub fn scmp_name(self) -> String {
        format!("SCMP_ARCH_{}", self.name().to_ascii_uppercase())
    }

    /// `AUDIT_ARCH_*` value seen in `seccomp_data.arch`.
    pub fn audit_arch(self) -> u32 {
        const B64: u32 = 0x8000_0000;
        const LE: u32 = 0x4000_0000;
        const N32: u32 = 0x2000_0000;
        match self {
            Arch::X86_64 | Arch::X32 => B64 | LE | 62,
            Arch::X86 => LE | 3,
            Arch::Aarch64 => B64 | LE | 183,
            Arch::Arm => LE | 40,
            Arch::Riscv64 => B64 | LE | 243,
            Arch::S390x => B64 | 22,
            Arch::S390 => 22,
            Arch::Ppc64le => B64 | LE | 21,
            Arch::Ppc64 => B64 | 21,
            Arch::Ppc => 20,
            Arch::Mips => 8,
            Arch::Mipsel => LE | 8,
            Arch::Mips64 => B64 | 8,
            Arch::Mipsel64 => B64 | LE | 8,
            Arch::Mips64n32 => B64 | N32 | 8,
            Arch::Mipsel64n32 => B64 | LE | N32 | 8,
            Arch::Loongarch64 => B64 | LE | 258,
        }
    }

    /// The 64-bit native architecture of this one's family (x86 and x32 → x86_64, arm →
    /// aarch64, ...); a native arch is its own head.
    pub fn family_head(self) -> Arch {
        match self {
            Arch::X86 | Arch::X32 => Arch::X86_64,
            Arch::Arm => Arch::Aarch64,
            Arch::S390 => Arch::S390x,
            Arch::Ppc => Arch::Ppc64,
            Arch::Mips | Arch::Mips64n32 => Arch::Mips64,
            Arch::Mipsel | Arch::Mipsel64n32 => Arch::Mipsel64,
            other => other,
        }
    }

    /// Docker's (Go's) name of the host when this arch is the native one.
    pub fn host_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::X86 => "x86",
            Arch::X32 => "x32",
            Arch::Aarch64 => "arm64",
            Arch::Arm => "arm",
            Arch::Riscv64 => "riscv64",
            Arch::S390x => "s390x",
            Arch::S390 => "s390",
            Arch::Ppc64le => "ppc64le",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc => "ppc",
            Arch::Mips => "mips",
            Arch::Mipsel => "mipsle",
            Arch::Mips64 | Arch::Mips64n32 => "mips64",
            Arch::Mipsel64 | Arch::Mipsel64n32 => "mips64le",
            Arch::Loongarch64 => "loong64",
        }
    }

    /// Whether symbolic constants of the generic (x86/arm/asm-generic) ABI are valid here.
    /// MIPS and POWER number some `O_*`, `SOCK_*` and `TIOC*` constants differently.
    pub fn uses_generic_constants(self) -> bool {
        !matches!(
            self,
            Arch::Mips
                | Arch::Mipsel
                | Arch::Mips64
                | Arch::Mipsel64
                | Arch::Mips64n32
                | Arch::Mipsel64n32
                | Arch::Ppc
                | Arch::Ppc64
                | Arch::Ppc64le
        )
    }

    /// Whether syscall arguments are 32 bits wide on this arch (all of them, whatever their
    /// C type).
    pub fn is_32bit(self) -> bool {
        matches!(self, Arch::X86 | Arch::Arm | Arch::S390 | Arch::Ppc | Arch::Mips | Arch::Mipsel)
    }
}

/// Normalise a Docker host-arch name (`386` → `x86`); `None` when unknown.
pub fn normalize_host(name: &str) -> Option<&'static str> {
    let n = if name == "386" { "x86" } else { name };
    HOST_NAMES.iter().copied().find(|h| *h == n)
}

/// The host an arch runs under in a policy: its family head when the policy lists that head,
/// else its own host name.
pub fn host_of(arch: Arch, policy_arches: &[Arch]) -> &'static str {
    let head = arch.family_head();
    if policy_arches.contains(&head) {
        head.host_name()
    } else {
        arch.host_name()
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
