//! Classic BPF instructions as seccomp sees them: `struct sock_filter`, opcodes, and the
//! layout of `struct seccomp_data`.

use serde::Serialize;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

impl SockFilter {
    /// A non-jump instruction.
    pub const fn stmt(code: u16, k: u32) -> SockFilter {
        SockFilter { code, jt: 0, jf: 0, k }
    }

    /// A conditional jump.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    /// The 8 bytes of this record in the given byte order.
    pub fn to_bytes(self, big_endian: bool) -> [u8; 8] {
        let (c, k) = if big_endian {
            (self.code.to_be_bytes(), self.k.to_be_bytes())
        } else {
            (self.code.to_le_bytes(), self.k.to_le_bytes())
        };
        [c[0], c[1], self.jt, self.jf, k[0], k[1], k[2], k[3]]
    }

    /// Parse one 8-byte record.
    pub fn from_bytes(b: [u8; 8], big_endian: bool) -> SockFilter {
        let (code, k) = if big_endian {
            (u16::from_be_bytes([b[0], b[1]]), u32::from_be_bytes([b[4], b[5], b[6], b[7]]))
        } else {
            (u16::from_le_bytes([b[0], b[1]]), u32::from_le_bytes([b[4], b[5], b[6], b[7]]))
        };
        SockFilter { code, jt: b[2], jf: b[3], k }
    }
}

/// Serialize a program as `struct sock_filter` records.
pub fn encode(prog: &[SockFilter], big_endian: bool) -> Vec<u8> {
    prog.iter().flat_map(|i| i.to_bytes(big_endian)).collect()
}

/// Parse `struct sock_filter` records; `None` when the length is not a multiple of 8.
pub fn decode(bytes: &[u8], big_endian: bool) -> Option<Vec<SockFilter>> {
    if bytes.len() % 8 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| SockFilter::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]], big_endian))
            .collect(),
    )
}

/// Opcode parts (`linux/bpf_common.h`).
#[allow(missing_docs)]
pub mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;

    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;

    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;

    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;

    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;

    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const A: u16 = 0x10;

    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;

    /// `ld [k]` (32-bit absolute load from `seccomp_data`).
    pub const LD_ABS: u16 = LD | W | ABS;
    /// `and #k`.
    pub const AND_K: u16 = ALU | AND | K;
    /// `ja +k`.
    pub const JA_K: u16 = JMP | JA;
    /// `jeq #k`.
    pub const JEQ_K: u16 = JMP | JEQ | K;
    /// `jgt #k`.
    pub const JGT_K: u16 = JMP | JGT | K;
    /// `jge #k`.
    pub const JGE_K: u16 = JMP | JGE | K;
    /// `jset #k`.
    pub const JSET_K: u16 = JMP | JSET | K;
    /// `ret #k`.
    pub const RET_K: u16 = RET | K;
}

/// Most instructions the kernel accepts in one filter (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Size of `struct seccomp_data`.
pub const SECCOMP_DATA_LEN: u32 = 64;
/// Offset of `nr`.
pub const OFF_NR: u32 = 0;
/// Offset of `arch`.
pub const OFF_ARCH: u32 = 4;
/// Offset of `instruction_pointer` (64-bit).
pub const OFF_IP: u32 = 8;

/// Offset of the low 32 bits of argument `i`.
pub fn arg_lo(i: u8, big_endian: bool) -> u32 {
    16 + 8 * u32::from(i) + if big_endian { 4 } else { 0 }
}

/// Offset of the high 32 bits of argument `i`.
pub fn arg_hi(i: u8, big_endian: bool) -> u32 {
    16 + 8 * u32::from(i) + if big_endian { 0 } else { 4 }
}

/// What seccomp sees of one syscall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// Syscall number.
    pub nr: u32,
    /// `AUDIT_ARCH_*`.
    pub arch: u32,
    /// Instruction pointer.
    pub instruction_pointer: u64,
    /// Arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at `offset` as the kernel lays the struct out in memory.
    pub fn word(&self, offset: u32, big_endian: bool) -> Option<u32> {
        if offset % 4 != 0 || offset >= SECCOMP_DATA_LEN {
            return None;
        }
        let split = |v: u64, second: bool| -> u32 {
            // First word in memory is the high half on big-endian machines.
            let hi_first = big_endian;
            if second == hi_first {
                v as u32
            } else {
                (v >> 32) as u32
            }
        };
        Some(match offset {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => split(self.instruction_pointer, offset == 12),
            _ => {
                let i = ((offset - 16) / 8) as usize;
                split(self.args[i], offset % 8 == 4)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_endianness() {
        let d = SeccompData {
            nr: 1,
            arch: 2,
            instruction_pointer: 0,
            args: [0x1111_2222_3333_4444, 0, 0, 0, 0, 0],
        };
        assert_eq!(d.word(arg_lo(0, false), false), Some(0x3333_4444));
        assert_eq!(d.word(arg_hi(0, false), false), Some(0x1111_2222));
        assert_eq!(d.word(arg_lo(0, true), true), Some(0x3333_4444));
        assert_eq!(d.word(arg_hi(0, true), true), Some(0x1111_2222));
        assert_eq!(d.word(3, false), None);
        assert_eq!(d.word(64, false), None);
    }

    #[test]
    fn records_round_trip() {
        let p =
            vec![SockFilter::jump(op::JEQ_K, 0xc000_003e, 1, 2), SockFilter::stmt(op::RET_K, 0x7fff_0000)];
        for be in [false, true] {
            assert_eq!(decode(&encode(&p, be), be).unwrap(), p);
        }
        assert_eq!(&encode(&p, false)[..4], &[0x15, 0x00, 1, 2]);
    }
}
