//! Code for the syscalls whose verdict depends on arguments.
//!
//! Conditions are tried from the last rule to the first (the last matching rule wins), each a
//! conjunction of per-argument tests. 64-bit values compare as a high/low word pair; 32-bit
//! arguments (and every argument on 32-bit arches) compare the low word only, so garbage in
//! the high word cannot slip past a deny (CVE-2019-7303).

use std::collections::BTreeMap;

use super::emit::{Emitter, Label};
use super::insn::{arg_hi, arg_lo, op};
use crate::ir::ArgOp;
use crate::ir::{ArgCondIr, CondIr};

/// How arguments are laid out and compared on one arch.
#[derive(Clone, Copy, Debug)]
pub struct ArgAbi {
    /// All arguments are 32 bits wide.
    pub arch32: bool,
    /// Byte order of `seccomp_data` on the host.
    pub big_endian: bool,
}

/// Emit the tests of `conds` (in rule order): jump to `target(cond)` for the last one that
/// holds, else to `fallback`.
pub fn emit_conditions<'c>(
    e: &mut Emitter,
    conds: &'c [CondIr],
    abi: ArgAbi,
    mut target: impl FnMut(&mut Emitter, &'c CondIr) -> Label,
    fallback: Label,
) {
    for (k, c) in conds.iter().enumerate().rev() {
        let t = target(e, c);
        let next = if k == 0 { fallback } else { e.label() };
        emit_conjunction(e, &c.args, abi, t, next);
        if k != 0 {
            e.bind(next);
        }
    }
}

fn emit_conjunction(e: &mut Emitter, args: &[ArgCondIr], abi: ArgAbi, t: Label, f: Label) {
    if args.is_empty() {
        e.goto(t);
        return;
    }
    for (k, c) in args.iter().enumerate() {
        let last = k + 1 == args.len();
        let ok = if last { t } else { e.label() };
        emit_condition(e, c, abi, ok, f);
        if !last {
            e.bind(ok);
        }
    }
}

struct Word {
    lo: u32,
    hi: u32,
    wide: bool,
}

fn word_offsets(index: u8, abi: ArgAbi) -> (u32, u32) {
    (arg_lo(index, abi.big_endian), arg_hi(index, abi.big_endian))
}

/// One argument test: jump to `t` when it holds, else to `f`.
pub fn emit_condition(e: &mut Emitter, c: &ArgCondIr, abi: ArgAbi, t: Label, f: Label) {
    let wide = !abi.arch32 && c.width == 64;
    let m = if wide { u64::MAX } else { u64::from(u32::MAX) };
    let (lo, hi) = word_offsets(c.index, abi);
    let w = Word { lo, hi, wide };
    let v = c.values.first().copied().unwrap_or(0) & m;
    let note = format!("arg{}", c.index);
    match c.op {
        ArgOp::Eq => equal(e, &w, v, t, f, &note),
        ArgOp::Ne => equal(e, &w, v, f, t, &note),
        ArgOp::Gt => greater(e, &w, v, true, t, f, &note),
        ArgOp::Ge => greater(e, &w, v, false, t, f, &note),
        ArgOp::Le => greater(e, &w, v, true, f, t, &note),
        ArgOp::Lt => greater(e, &w, v, false, f, t, &note),
        ArgOp::MaskedEq => masked(e, &w, c.mask.unwrap_or(0) & m, v, t, f, &note),
        ArgOp::In | ArgOp::NotIn => {
            let mut vals: Vec<u64> = c.values.iter().map(|x| x & m).collect();
            vals.sort_unstable();
            vals.dedup();
            if c.op == ArgOp::In {
                member(e, &w, &vals, t, f, &note)
            } else {
                member(e, &w, &vals, f, t, &note)
            }
        }
    }
}

fn split(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

fn equal(e: &mut Emitter, w: &Word, v: u64, t: Label, f: Label, note: &str) {
    let (vh, vl) = split(v);
    if w.wide {
        let next = e.label();
        e.load(w.hi, format!("{note} hi"));
        e.jump(op::JEQ_K, vh, next, f, "");
        e.bind(next);
    }
    e.load(w.lo, format!("{note} lo"));
    e.jump(op::JEQ_K, vl, t, f, "");
}

/// `a > v` (`strict`) or `a >= v`.
fn greater(e: &mut Emitter, w: &Word, v: u64, strict: bool, t: Label, f: Label, note: &str) {
    let (vh, vl) = split(v);
    let lo_op = if strict { op::JGT_K } else { op::JGE_K };
    if w.wide {
        e.load(w.hi, format!("{note} hi"));
        // hi > vh: true. hi < vh: false. hi == vh: compare the low word.
        if vh != u32::MAX {
            let not_above = e.label();
            e.jump(op::JGT_K, vh, t, not_above, "");
            e.bind(not_above);
        }
        if vh != 0 {
            let equal_hi = e.label();
            e.jump(op::JEQ_K, vh, equal_hi, f, "");
            e.bind(equal_hi);
        }
    }
    e.load(w.lo, format!("{note} lo"));
    e.jump(lo_op, vl, t, f, "");
}

#[allow(clippy::too_many_arguments)]
fn masked(e: &mut Emitter, w: &Word, mask: u64, v: u64, t: Label, f: Label, note: &str) {
    if v & !mask != 0 {
        e.goto(f);
        return;
    }
    let (mh, ml) = split(mask);
    let (vh, vl) = split(v);
    let mut words: Vec<(u32, u32, u32, &str)> = Vec::new();
    if w.wide && mh != 0 {
        words.push((w.hi, mh, vh, "hi"));
    }
    if ml != 0 {
        words.push((w.lo, ml, vl, "lo"));
    }
    if words.is_empty() {
        e.goto(t);
        return;
    }
    let n = words.len();
    for (k, (off, mw, vw, part)) in words.into_iter().enumerate() {
        let ok = if k + 1 == n { t } else { e.label() };
        e.load(off, format!("{note} {part}"));
        if vw == 0 {
            e.jump(op::JSET_K, mw, f, ok, "");
        } else if vw == mw && mw.is_power_of_two() {
            e.jump(op::JSET_K, mw, ok, f, "");
        } else {
            e.and(mw);
            e.jump(op::JEQ_K, vw, ok, f, "");
        }
        if k + 1 != n {
            e.bind(ok);
        }
    }
}

fn member(e: &mut Emitter, w: &Word, vals: &[u64], t: Label, f: Label, note: &str) {
    if vals.is_empty() {
        e.goto(f);
        return;
    }
    let lows = |e: &mut Emitter, lows: &[u32]| {
        e.load(w.lo, format!("{note} lo"));
        for (k, l) in lows.iter().enumerate() {
            if k + 1 == lows.len() {
                e.jump(op::JEQ_K, *l, t, f, "");
            } else {
                let next = e.label();
                e.jump(op::JEQ_K, *l, t, next, "");
                e.bind(next);
            }
        }
    };
    if !w.wide {
        let l: Vec<u32> = vals.iter().map(|v| *v as u32).collect();
        lows(e, &l);
        return;
    }
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for v in vals {
        let (h, l) = split(*v);
        groups.entry(h).or_default().push(l);
    }
    e.load(w.hi, format!("{note} hi"));
    let labels: Vec<Label> = groups.keys().map(|_| e.label()).collect();
    let n = groups.len();
    for (k, (h, l)) in groups.keys().zip(&labels).enumerate() {
        if k + 1 == n {
            e.jump(op::JEQ_K, *h, *l, f, "");
        } else {
            let next = e.label();
            e.jump(op::JEQ_K, *h, *l, next, "");
            e.bind(next);
        }
    }
    for (l, lo) in labels.iter().zip(groups.values()) {
        e.bind(*l);
        lows(e, lo);
    }
}
