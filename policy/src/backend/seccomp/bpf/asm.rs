//! A readable disassembly: absolute jump targets and, for each `ret`, the rule that decided
//! it (`file:line`). Stable for a given program, so it can be snapshot-tested.

use std::fmt::Write;

use super::insn::{op, SockFilter};
use super::Program;
use crate::action::Action;

/// The text of one instruction at position `pc`.
pub fn insn_text(i: &SockFilter, pc: usize) -> String {
    let c = i.code;
    let src = if c & op::X != 0 { "x".to_string() } else { format!("#{:#x}", i.k) };
    match c & 0x07 {
        op::LD | op::LDX => {
            let reg = if c & 0x07 == op::LD { "ld" } else { "ldx" };
            match c & 0xe0 {
                op::ABS => format!("{reg}   [{}]", i.k),
                op::LEN => format!("{reg}   len"),
                op::IMM => format!("{reg}   #{:#x}", i.k),
                op::MEM => format!("{reg}   M[{}]", i.k),
                _ => format!("{reg}   ?{c:#06x}"),
            }
        }
        op::ST => format!("st    M[{}]", i.k),
        op::STX => format!("stx   M[{}]", i.k),
        op::ALU => {
            let name = match c & 0xf0 {
                op::ADD => "add",
                op::SUB => "sub",
                op::MUL => "mul",
                op::DIV => "div",
                op::OR => "or",
                op::AND => "and",
                op::LSH => "lsh",
                op::RSH => "rsh",
                op::NEG => return "neg".into(),
                op::MOD => "mod",
                op::XOR => "xor",
                _ => "alu?",
            };
            format!("{name:<5} {src}")
        }
        op::JMP => {
            if c & 0xf0 == op::JA {
                return format!("ja    {}", pc + 1 + i.k as usize);
            }
            let name = match c & 0xf0 {
                op::JEQ => "jeq",
                op::JGT => "jgt",
                op::JGE => "jge",
                op::JSET => "jset",
                _ => "j?",
            };
            let t = pc + 1 + usize::from(i.jt);
            let f = pc + 1 + usize::from(i.jf);
            format!("{name:<5} {src:<12} {t:>4} {f:>4}")
        }
        op::RET => {
            if c & 0x18 == op::A {
                "ret   a".into()
            } else {
                format!("ret   {}", Action::from_ret(i.k))
            }
        }
        _ => {
            if c & 0xf8 == op::TXA {
                "txa".into()
            } else {
                "tax".into()
            }
        }
    }
}

/// Disassemble a compiled program with its notes.
pub fn disassemble(p: &Program) -> String {
    let mut out = String::new();
    let arches: Vec<&str> = p.arches.iter().map(|a| a.name()).collect();
    let _ = writeln!(
        out,
        "; seccomp BPF for {} kernels, accepting {}: {} instructions",
        p.target,
        arches.join(", "),
        p.insns.len()
    );
    let _ = writeln!(out, "; jumps: jt jf (absolute); every other arch: kill-process");
    for (pc, i) in p.insns.iter().enumerate() {
        let text = insn_text(i, pc);
        let note = match (p.notes.get(pc), p.rets.get(pc).and_then(Option::as_ref)) {
            (Some(n), _) if !n.is_empty() => n.to_string(),
            (_, Some(k)) => k.origins.join(", "),
            _ => String::new(),
        };
        if note.is_empty() {
            let _ = writeln!(out, "{pc:>4}  {text}");
        } else {
            let _ = writeln!(out, "{pc:>4}  {text:<32} ; {note}");
        }
    }
    out
}

/// Disassemble bare instructions (e.g. another compiler's output).
pub fn disassemble_raw(insns: &[SockFilter]) -> String {
    let mut out = String::new();
    for (pc, i) in insns.iter().enumerate() {
        let _ = writeln!(out, "{pc:>4}  {}", insn_text(i, pc));
    }
    out
}
