//! A classic-BPF interpreter for seccomp filters: the kernel's checker (`bpf_check_classic`
//! plus `seccomp_check_filter`) and its execution semantics, so compiled programs can be run
//! on any `seccomp_data` without loading them.

use super::insn::{op, SeccompData, SockFilter, MAX_INSNS, SECCOMP_DATA_LEN};

/// Why the kernel would refuse a program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Empty or longer than 4096 instructions.
    #[error("program has {0} instructions (the kernel accepts 1..=4096)")]
    Length(usize),
    /// An opcode seccomp does not accept.
    #[error("instruction {pc}: opcode {code:#06x} is not allowed in seccomp filters")]
    Opcode {
        /// Position.
        pc: usize,
        /// Opcode.
        code: u16,
    },
    /// A load outside `seccomp_data` or not 32-bit aligned.
    #[error("instruction {pc}: load offset {k} is outside seccomp_data or unaligned")]
    LoadOffset {
        /// Position.
        pc: usize,
        /// Offset.
        k: u32,
    },
    /// A jump past the end.
    #[error("instruction {pc}: jump leaves the program")]
    Jump {
        /// Position.
        pc: usize,
    },
    /// Division by constant zero or a shift by 32 or more.
    #[error("instruction {pc}: invalid constant operand {k}")]
    Operand {
        /// Position.
        pc: usize,
        /// Operand.
        k: u32,
    },
    /// Scratch memory index out of range or read before written.
    #[error("instruction {pc}: scratch slot {k} is out of range or read before it is written")]
    Memory {
        /// Position.
        pc: usize,
        /// Slot.
        k: u32,
    },
    /// The last instruction is not a return.
    #[error("the last instruction is not a return")]
    NoReturn,
}

const MEMWORDS: u32 = 16;

fn is_jump(code: u16) -> bool {
    code & 0x07 == op::JMP
}

/// Check `prog` as the kernel does when it is loaded.
pub fn check(prog: &[SockFilter]) -> Result<(), CheckError> {
    let len = prog.len();
    if len == 0 || len > MAX_INSNS {
        return Err(CheckError::Length(len));
    }
    for (pc, i) in prog.iter().enumerate() {
        let c = i.code;
        match c {
            _ if c == op::LD | op::W | op::ABS => {
                if i.k >= SECCOMP_DATA_LEN || i.k % 4 != 0 {
                    return Err(CheckError::LoadOffset { pc, k: i.k });
                }
            }
            _ if c == op::LD | op::W | op::LEN || c == op::LDX | op::W | op::LEN => {}
            _ if c == op::LD | op::IMM || c == op::LDX | op::IMM => {}
            _ if c == op::LD | op::MEM || c == op::LDX | op::MEM || c == op::ST || c == op::STX => {
                if i.k >= MEMWORDS {
                    return Err(CheckError::Memory { pc, k: i.k });
                }
            }
            _ if c == op::MISC | op::TAX || c == op::MISC | op::TXA => {}
            _ if c == op::RET | op::K || c == op::RET | op::A => {}
            _ if c & 0x07 == op::ALU => {
                let aop = c & 0xf0;
                let src = c & 0x08;
                let ok = matches!(aop, op::ADD | op::SUB | op::MUL | op::DIV | op::AND | op::OR | op::XOR)
                    || matches!(aop, op::LSH | op::RSH)
                    || (aop == op::NEG && src == 0);
                if !ok || c & !0xf8 != op::ALU {
                    return Err(CheckError::Opcode { pc, code: c });
                }
                if src == op::K
                    && ((aop == op::DIV && i.k == 0) || (matches!(aop, op::LSH | op::RSH) && i.k >= 32))
                {
                    return Err(CheckError::Operand { pc, k: i.k });
                }
            }
            _ if c == op::JMP | op::JA => {
                if u64::from(i.k) >= (len - pc - 1) as u64 {
                    return Err(CheckError::Jump { pc });
                }
            }
            _ if is_jump(c) => {
                let jop = c & 0xf0;
                if !matches!(jop, op::JEQ | op::JGT | op::JGE | op::JSET) || c & !0xf8 != op::JMP {
                    return Err(CheckError::Opcode { pc, code: c });
                }
                if pc + 1 + usize::from(i.jt) >= len || pc + 1 + usize::from(i.jf) >= len {
                    return Err(CheckError::Jump { pc });
                }
            }
            _ => return Err(CheckError::Opcode { pc, code: c }),
        }
    }
    if !matches!(prog[len - 1].code, c if c == op::RET | op::K || c == op::RET | op::A) {
        return Err(CheckError::NoReturn);
    }
    check_memory(prog)
}

/// `check_load_and_stores`: a scratch slot must be written on every path before it is read.
fn check_memory(prog: &[SockFilter]) -> Result<(), CheckError> {
    let mut valid = vec![u16::MAX; prog.len()];
    valid[0] = 0;
    for (pc, i) in prog.iter().enumerate() {
        let mut m = valid[pc];
        let c = i.code;
        if c == op::ST || c == op::STX {
            m |= 1 << i.k;
        } else if (c == op::LD | op::MEM || c == op::LDX | op::MEM) && m & (1 << i.k) == 0 {
            return Err(CheckError::Memory { pc, k: i.k });
        }
        if c == op::JMP | op::JA {
            valid[pc + 1 + i.k as usize] &= m;
        } else if is_jump(c) {
            valid[pc + 1 + usize::from(i.jt)] &= m;
            valid[pc + 1 + usize::from(i.jf)] &= m;
        } else if c & 0x07 != op::RET && pc + 1 < prog.len() {
            valid[pc + 1] &= m;
        }
    }
    Ok(())
}

/// The outcome of running a program once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// The 32-bit return value (`SECCOMP_RET_*` | data).
    pub ret: u32,
    /// Instructions executed, the return included.
    pub executed: usize,
    /// Position of the return instruction that ended the run (`None`: division by zero).
    pub ret_pc: Option<usize>,
}

/// Run a program that passed [`check`] on `data`. Arguments are laid out as on a machine of
/// the given endianness.
pub fn run(prog: &[SockFilter], data: &SeccompData, big_endian: bool) -> Run {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; MEMWORDS as usize];
    let mut pc = 0usize;
    let mut executed = 0usize;
    loop {
        let Some(i) = prog.get(pc) else {
            // Unreachable for checked programs; treat like the kernel's "no verdict".
            return Run { ret: 0, executed, ret_pc: None };
        };
        executed += 1;
        let c = i.code;
        let src = if c & op::X != 0 { x } else { i.k };
        match c & 0x07 {
            op::LD | op::LDX => {
                let v = match c & 0xe0 {
                    op::ABS => data.word(i.k, big_endian).unwrap_or(0),
                    op::LEN => SECCOMP_DATA_LEN,
                    op::IMM => i.k,
                    op::MEM => mem[(i.k % MEMWORDS) as usize],
                    _ => 0,
                };
                if c & 0x07 == op::LD {
                    a = v
                } else {
                    x = v
                }
            }
            op::ST => mem[(i.k % MEMWORDS) as usize] = a,
            op::STX => mem[(i.k % MEMWORDS) as usize] = x,
            op::ALU => {
                a = match c & 0xf0 {
                    op::ADD => a.wrapping_add(src),
                    op::SUB => a.wrapping_sub(src),
                    op::MUL => a.wrapping_mul(src),
                    op::DIV => {
                        if src == 0 {
                            // The kernel's converted program returns 0 (kill) on a zero divisor.
                            return Run { ret: 0, executed, ret_pc: None };
                        }
                        a / src
                    }
                    op::AND => a & src,
                    op::OR => a | src,
                    op::XOR => a ^ src,
                    op::LSH => a.wrapping_shl(src & 31),
                    op::RSH => a.wrapping_shr(src & 31),
                    op::NEG => a.wrapping_neg(),
                    _ => a,
                }
            }
            op::JMP => {
                let off = if c & 0xf0 == op::JA {
                    i.k as usize
                } else {
                    let taken = match c & 0xf0 {
                        op::JEQ => a == src,
                        op::JGT => a > src,
                        op::JGE => a >= src,
                        _ => a & src != 0,
                    };
                    usize::from(if taken { i.jt } else { i.jf })
                };
                pc += 1 + off;
                continue;
            }
            op::RET => {
                let ret = if c & 0x18 == op::A { a } else { i.k };
                return Run { ret, executed, ret_pc: Some(pc) };
            }
            _ => {
                if c & 0xf8 == op::TXA {
                    a = x
                } else {
                    x = a
                }
            }
        }
        pc += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SockFilter as F;

    fn ret(k: u32) -> SockFilter {
        F::stmt(op::RET_K, k)
    }

    #[test]
    fn checker_matches_kernel_rules() {
        assert_eq!(check(&[]), Err(CheckError::Length(0)));
        assert_eq!(check(&[F::stmt(op::LD_ABS, 2), ret(0)]), Err(CheckError::LoadOffset { pc: 0, k: 2 }));
        assert_eq!(check(&[F::stmt(op::LD_ABS, 64), ret(0)]), Err(CheckError::LoadOffset { pc: 0, k: 64 }));
        assert_eq!(check(&[F::jump(op::JEQ_K, 0, 1, 0), ret(0)]), Err(CheckError::Jump { pc: 0 }));
        assert_eq!(check(&[F::stmt(op::JA_K, 1), ret(0)]), Err(CheckError::Jump { pc: 0 }));
        assert_eq!(check(&[F::stmt(op::LD_ABS, 0)]), Err(CheckError::NoReturn));
        assert!(check(&[F::stmt(op::LD | op::B | op::ABS, 0), ret(0)]).is_err());
        assert!(check(&[F::stmt(op::ALU | op::MOD | op::K, 3), ret(0)]).is_err());
        assert_eq!(
            check(&[F::stmt(op::ALU | op::DIV | op::K, 0), ret(0)]),
            Err(CheckError::Operand { pc: 0, k: 0 })
        );
        assert_eq!(check(&[F::stmt(op::LD | op::MEM, 3), ret(0)]), Err(CheckError::Memory { pc: 0, k: 3 }));
        // A slot written on only one path cannot be read after the join.
        let p = [F::jump(op::JEQ_K, 0, 0, 1), F::stmt(op::ST, 3), F::stmt(op::LD | op::MEM, 3), ret(0)];
        assert_eq!(check(&p), Err(CheckError::Memory { pc: 2, k: 3 }));
        assert_eq!(
            check(&[F::stmt(op::ST, 3), F::stmt(op::LD | op::MEM, 3), F::stmt(op::RET | op::A, 0)]),
            Ok(())
        );
    }

    #[test]
    fn runs_every_instruction_class() {
        let d = SeccompData { nr: 39, arch: 0xc000_003e, instruction_pointer: 0, args: [7, 0, 0, 0, 0, 0] };
        let p = [
            F::stmt(op::LD_ABS, 16),               // A = 7
            F::stmt(op::ALU | op::MUL | op::K, 6), // 42
            F::stmt(op::MISC | op::TAX, 0),        // X = 42
            F::stmt(op::LD | op::IMM, 2),          // A = 2
            F::stmt(op::ALU | op::ADD | op::X, 0), // 44
            F::stmt(op::ST, 0),
            F::stmt(op::LDX | op::W | op::LEN, 0),       // X = 64
            F::stmt(op::LD | op::MEM, 0),                // A = 44
            F::stmt(op::ALU | op::LSH | op::K, 1),       // 88
            F::jump(op::JMP | op::JGT | op::X, 0, 0, 1), // 88 > 64
            F::stmt(op::RET | op::A, 0),
            ret(1),
        ];
        check(&p).unwrap();
        let r = run(&p, &d, false);
        assert_eq!((r.ret, r.executed, r.ret_pc), (88, 11, Some(10)));
        let div0 = [F::stmt(op::LDX | op::IMM, 0), F::stmt(op::ALU | op::DIV | op::X, 0), ret(5)];
        assert_eq!(run(&div0, &d, false).ret, 0);
    }
}
