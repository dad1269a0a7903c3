//! The device allow-list on cgroup v2, which has no devices controller: the kernel asks an
//! eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the group instead. The rules
//! (config.json's `linux.resources.devices` plus runc's defaults, as the v1 controller gets
//! them) are first reduced with the v1 controller's own semantics ([`List`]), so a rule list
//! means the same on both; the program is generated from that list and checked against it.

use cgroups_rs::fs::devices::{DevicePermissions, DeviceType};
use cgroups_rs::fs::DeviceResource;

use crate::sys::bpf;

/// `BPF_DEVCG_ACC_MKNOD`, `_READ`, `_WRITE`: the access bits in the program's context.
pub const MKNOD: u32 = 1;
/// See [`MKNOD`].
pub const READ: u32 = 2;
/// See [`MKNOD`].
pub const WRITE: u32 = 4;
/// `BPF_DEVCG_DEV_BLOCK`, `_CHAR`: the device types in the program's context.
pub const BLOCK: u32 = 1;
/// See [`BLOCK`].
pub const CHAR: u32 = 2;

/// One exception to the default: `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// [`BLOCK`] or [`CHAR`].
    pub kind: Option<u32>,
    /// Major number.
    pub major: Option<u32>,
    /// Minor number.
    pub minor: Option<u32>,
    /// Access bits.
    pub access: u32,
}

impl Exception {
    fn covers(&self, kind: u32, major: u32, minor: u32) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }

    fn same_device(&self, other: &Exception) -> bool {
        (self.kind, self.major, self.minor) == (other.kind, other.major, other.minor)
    }
}

/// A device list as the v1 devices controller keeps it: a default and its exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// Whether what no exception names is allowed.
    pub default_allow: bool,
    /// Denied (default allow) or allowed (default deny) devices.
    pub exceptions: Vec<Exception>,
}

fn bits(access: &[DevicePermissions]) -> u32 {
    access.iter().fold(0, |b, a| {
        b | match a {
            DevicePermissions::Read => READ,
            DevicePermissions::Write => WRITE,
            DevicePermissions::MkNod => MKNOD,
        }
    })
}

/// A rule's number: `Some(None)` for any (negative: `-1`, `*`), `None` for a number no device
/// can have (beyond 32 bits: the rule names no device).
fn number(n: i64) -> Option<Option<u32>> {
    match n {
        ..0 => Some(None),
        n => u32::try_from(n).ok().map(Some),
    }
}

impl List {
    /// The list `rules` make, written in order to a new group (which allows everything, as
    /// the root group does), with the v1 controller's semantics: a rule for all devices (`a`)
    /// sets the default and clears the exceptions; a rule that agrees with the default takes
    /// its access away from the exception for the same device; any other rule adds its access
    /// to the exception for its device.
    pub fn of(rules: &[DeviceResource]) -> List {
        let mut list = List { default_allow: true, exceptions: Vec::new() };
        for r in rules {
            let kind = match r.devtype {
                DeviceType::All => {
                    list = List { default_allow: r.allow, exceptions: Vec::new() };
                    continue;
                }
                DeviceType::Char => Some(CHAR),
                DeviceType::Block => Some(BLOCK),
            };
            let (Some(major), Some(minor)) = (number(r.major), number(r.minor)) else {
                continue;
            };
            let e = Exception { kind, major, minor, access: bits(&r.access) };
            let at = list.exceptions.iter().position(|x| x.same_device(&e));
            match (r.allow == list.default_allow, at) {
                (true, Some(i)) => {
                    list.exceptions[i].access &= !e.access;
                    if list.exceptions[i].access == 0 {
                        list.exceptions.remove(i);
                    }
                }
                (true, None) => {}
                (false, Some(i)) => list.exceptions[i].access |= e.access,
                (false, None) if e.access != 0 => list.exceptions.push(e),
                (false, None) => {}
            }
        }
        list
    }

    /// The v1 controller's answer: default deny, allowed when one exception covers the device
    /// and every access asked for; default allow, denied when an exception covers the device
    /// and any access asked for.
    pub fn allows(&self, kind: u32, major: u32, minor: u32, access: u32) -> bool {
        let mut covering = self.exceptions.iter().filter(|e| e.covers(kind, major, minor));
        match self.default_allow {
            false => covering.any(|e| access & !e.access == 0),
            true => !covering.any(|e| access & e.access != 0),
        }
    }

    /// Whether the list allows everything (no program is needed).
    pub fn allows_all(&self) -> bool {
        self.default_allow && self.exceptions.is_empty()
    }

    /// The eBPF program that answers as [`List::allows`]: 1 allows, 0 denies.
    pub fn program(&self) -> Vec<Insn> {
        // r1 = the context: u32 access_type (access << 16 | type), u32 major, u32 minor.
        let mut p = vec![
            Insn::ldx_w(2, 1, 0),
            Insn::alu_k(AND, 2, 0xffff), // r2 = type
            Insn::ldx_w(3, 1, 0),
            Insn::alu_k(RSH, 3, 16), // r3 = access
            Insn::ldx_w(4, 1, 4),    // r4 = major
            Insn::ldx_w(5, 1, 8),    // r5 = minor
        ];
        let verdict = |allow: bool| [Insn::mov_k(0, i32::from(allow)), Insn::exit()];
        for e in &self.exceptions {
            // Each test jumps past the rest of the block when the exception does not apply.
            let mut tests: Vec<(Insn, bool)> = Vec::new();
            if let Some(k) = e.kind {
                tests.push((Insn::jmp_k(JNE, 2, k as i32, 0), true));
            }
            if let Some(m) = e.major {
                tests.push((Insn::jmp_k(JNE, 4, m as i32, 0), true));
            }
            if let Some(m) = e.minor {
                tests.push((Insn::jmp_k(JNE, 5, m as i32, 0), true));
            }
            tests.push((Insn::mov_x(1, 3), false));
            match self.default_allow {
                // An allow exception applies when nothing asked for is outside its access.
                false => {
                    tests.push((Insn::alu_k(AND, 1, (!e.access & 7) as i32), false));
                    tests.push((Insn::jmp_k(JNE, 1, 0, 0), true));
                }
                // A deny exception applies when anything asked for is in its access.
                true => {
                    tests.push((Insn::alu_k(AND, 1, e.access as i32), false));
                    tests.push((Insn::jmp_k(JEQ, 1, 0, 0), true));
                }
            }
            let len = tests.len() + 2;
            for (i, (mut insn, jumps)) in tests.into_iter().enumerate() {
                if jumps {
                    insn.off = (len - i - 1) as i16;
                }
                p.push(insn);
            }
            p.extend(verdict(!self.default_allow));
        }
        p.extend(verdict(self.default_allow));
        p
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low 4 bits), source register (high 4 bits).
    pub regs: u8,
    /// Jump offset or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

const AND: u8 = 0x50;
const RSH: u8 = 0x70;
const JEQ: u8 = 0x10;
const JNE: u8 = 0x50;
/// `BPF_JMP32 | BPF_K`: the comparison is of the low 32 bits (device numbers are u32; a 64-bit
/// compare would sign-extend the immediate).
const JMP32_K: u8 = 0x06;

impl Insn {
    /// `dst = *(u32 *)(src + off)`.
    fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
        Insn { code: 0x61, regs: dst | src << 4, off, imm: 0 }
    }
    /// `dst op= imm` (64-bit ALU; `op` [`AND`] or [`RSH`]).
    fn alu_k(op: u8, dst: u8, imm: i32) -> Insn {
        Insn { code: 0x07 | op, regs: dst, off: 0, imm }
    }
    /// `dst = src`.
    fn mov_x(dst: u8, src: u8) -> Insn {
        Insn { code: 0xbf, regs: dst | src << 4, off: 0, imm: 0 }
    }
    /// `dst = imm`.
    fn mov_k(dst: u8, imm: i32) -> Insn {
        Insn { code: 0xb7, regs: dst, off: 0, imm }
    }
    /// `if (u32)dst op (u32)imm goto +off` (`op` [`JEQ`] or [`JNE`]).
    fn jmp_k(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn { code: JMP32_K | op, regs: dst, off, imm }
    }
    /// `exit` (the verdict in r0).
    fn exit() -> Insn {
        Insn { code: 0x95, regs: 0, off: 0, imm: 0 }
    }
}

/// Run `program` (the subset [`List::program`] emits) on one device access, as the kernel
/// would: the verdict, or why the program is not one this module makes.
pub fn run(program: &[Insn], kind: u32, major: u32, minor: u32, access: u32) -> Result<bool, String> {
    let ctx = [access << 16 | kind, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = program.get(pc).ok_or(format!("ran off the end at {pc}"))?;
        let (dst, src) = (usize::from(i.regs & 0xf), usize::from(i.regs >> 4));
        let imm = i64::from(i.imm) as u64;
        pc += 1;
        match i.code {
            0x61 => {
                let word = usize::try_from(i.off / 4).map_err(|_| "negative offset")?;
                r[dst] = u64::from(*ctx.get(word).ok_or("load outside the context")?);
            }
            0x57 => r[dst] &= imm,
            0x77 => r[dst] >>= imm,
            0xbf => r[dst] = r[src],
            0xb7 => r[dst] = imm,
            0x16 | 0x56 => {
                if (r[dst] as u32 == i.imm as u32) == (i.code == 0x16) {
                    pc = pc.checked_add_signed(isize::from(i.off)).ok_or("jump before the start")?;
                }
            }
            0x95 => return Ok(r[0] != 0),
            other => return Err(format!("opcode {other:#x} at {}", pc - 1)),
        }
    }
}

/// Attach the program for `rules` to the cgroup v2 directory `dir` (alongside what is there:
/// `BPF_F_ALLOW_MULTI`, every program must allow), replacing the device programs this
/// directory had (an `update`). Nothing is attached when the rules allow everything.
pub fn attach(dir: &std::path::Path, rules: &[DeviceResource]) -> Result<(), String> {
    let list = List::of(rules);
    let cg = std::fs::File::open(dir).map_err(|e| format!("open {}: {e}", dir.display()))?;
    let before = bpf::device_programs(&cg).map_err(|e| e.to_string())?;
    if !list.allows_all() {
        let prog = bpf::load_device_program(&list.program()).map_err(|e| e.to_string())?;
        bpf::attach_device_program(&cg, &prog).map_err(|e| e.to_string())?;
    }
    for old in before {
        bpf::detach_device_program(&cg, &old).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, devtype: DeviceType, major: i64, minor: i64, access: &str) -> DeviceResource {
        let access = access
            .chars()
            .map(|c| match c {
                'r' => DevicePermissions::Read,
                'w' => DevicePermissions::Write,
                _ => DevicePermissions::MkNod,
            })
            .collect();
        DeviceResource { allow, devtype, major, minor, access }
    }

    /// Docker's list: deny all, the default devices, mknod of any; then odd additions.
    fn lists() -> Vec<Vec<DeviceResource>> {
        use DeviceType::*;
        let docker = vec![
            rule(false, All, -1, -1, "rwm"),
            rule(true, Char, 1, 3, "rwm"),
            rule(true, Char, 1, 5, "rwm"),
            rule(true, Char, 136, -1, "rwm"),
            rule(true, Char, 10, 200, "rw"),
            rule(true, Char, -1, -1, "m"),
            rule(true, Block, -1, -1, "m"),
        ];
        let mut taken_back = docker.clone();
        taken_back.push(rule(false, Char, 1, 3, "w"));
        taken_back.push(rule(false, Char, 10, 200, "rw"));
        let blacklist = vec![
            rule(true, All, -1, -1, "rwm"),
            rule(false, Block, 8, -1, "w"),
            rule(false, Char, 1, 5, "rwm"),
        ];
        let far = vec![
            rule(false, All, -1, -1, "rwm"),
            rule(true, Char, 4_294_967_295, 0, "r"),
            rule(true, Char, 1 << 33, -1, "rwm"),
        ];
        vec![docker, taken_back, blacklist, vec![], vec![rule(false, All, 0, 0, "r")], far]
    }

    #[test]
    fn the_program_answers_as_the_v1_list_on_every_boundary() {
        let kinds = [BLOCK, CHAR];
        let numbers = [0u32, 1, 3, 5, 8, 10, 136, 200, 4095, u32::MAX];
        for rules in lists() {
            let list = List::of(&rules);
            let p = list.program();
            for kind in kinds {
                for major in numbers {
                    for minor in numbers {
                        for access in 1..8 {
                            let want = list.allows(kind, major, minor, access);
                            let got = run(&p, kind, major, minor, access).unwrap();
                            assert_eq!(got, want, "{list:?}: {kind} {major}:{minor} {access}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_v1_semantics_of_defaults_and_exceptions() {
        let l = List::of(&lists()[0]);
        assert!(!l.default_allow);
        assert!(l.allows(CHAR, 1, 3, READ | WRITE) && l.allows(BLOCK, 8, 0, MKNOD));
        assert!(!l.allows(BLOCK, 8, 0, READ) && !l.allows(CHAR, 10, 200, MKNOD | READ));
        assert!(l.allows(CHAR, 136, 7, WRITE), "a wildcard minor");
        let back = List::of(&lists()[1]);
        assert!(back.allows(CHAR, 1, 3, READ) && !back.allows(CHAR, 1, 3, WRITE));
        assert!(!back.exceptions.iter().any(|e| e.major == Some(10)), "an emptied exception goes");
        let b = List::of(&lists()[2]);
        assert!(b.default_allow && b.allows(BLOCK, 8, 1, READ) && !b.allows(BLOCK, 8, 1, READ | WRITE));
        assert!(List::of(&[]).allows_all());
        assert_eq!(List::of(&lists()[4]), List { default_allow: false, exceptions: vec![] });
    }
}
