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
    let steps = plan(conds, abi);
    for (n, step) in steps.iter().enumerate() {
        let c = &conds[step.rule];
        let t = target(e, c);
        if step.always {
            e.goto(t);
            break;
        }
        let last = n + 1 == steps.len();
        let next = if last { fallback } else { e.label() };
        match step.bits {
            Some((index, width, mask)) => any_bit(e, index, width, mask, abi, t, next),
            None => emit_conjunction(e, &c.args, abi, t, next),
        }
        if !last {
            e.bind(next);
        }
    }
    if steps.is_empty() {
        e.goto(fallback);
    }
}

/// One test of the chain: a rule, or (`bits`) rules next to each other with one verdict that
/// each test one bit of one argument: one test of any of those bits.
struct Step {
    rule: usize,
    bits: Option<(u8, u8, u64)>,
    /// The rule holds whatever the argument where it is tried.
    always: bool,
}

/// The tests to emit, last rule first: neighbouring one-bit rules with one verdict merged,
/// and rules left out that cannot match where they are tried: after `arg not in S` failed
/// (so the argument is in S), a rule `arg == v` or `arg in V` with no value in S; and a rule
/// `arg != v` or `arg not in V` with no value in S matches without a test.
fn plan(conds: &[CondIr], abi: ArgAbi) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    // What the rules tried so far tell of one argument: it is one of these (masked) values.
    let mut known: Option<(u8, u8, Vec<u64>)> = None;
    for (k, c) in conds.iter().enumerate().rev() {
        let single = match c.args.as_slice() {
            [a] => Some(a),
            _ => None,
        };
        if let (Some(a), Some((index, width, set))) = (single, &known) {
            let m = if !abi.arch32 && a.width == 64 { u64::MAX } else { u64::from(u32::MAX) };
            let disjoint = a.values.iter().all(|v| !set.contains(&(v & m)));
            if (a.index, a.width) == (*index, *width) && disjoint {
                match a.op {
                    // Cannot match here.
                    ArgOp::Eq | ArgOp::In => continue,
                    // Matches whatever the argument: it decides, and no rule after it is tried.
                    ArgOp::Ne | ArgOp::NotIn => {
                        steps.push(Step { rule: k, bits: None, always: true });
                        break;
                    }
                    _ => {}
                }
            }
        }
        if let Some(prev) = steps.last_mut() {
            let same_verdict = conds[prev.rule].action == c.action;
            let grown = match (prev.bits.or_else(|| one_bit(&conds[prev.rule], abi)), one_bit(c, abi)) {
                (Some((i, w, acc)), Some((i2, w2, b))) if same_verdict && (i, w) == (i2, w2) => {
                    Some((i, w, acc | b))
                }
                _ => None,
            };
            if let Some(g) = grown {
                prev.bits = Some(g);
                continue;
            }
        }
        steps.push(Step { rule: k, bits: None, always: false });
        if let Some(a) = single.filter(|a| a.op == ArgOp::NotIn) {
            let m = if !abi.arch32 && a.width == 64 { u64::MAX } else { u64::from(u32::MAX) };
            known = Some((a.index, a.width, a.values.iter().map(|v| v & m).collect()));
        }
    }
    steps
}

/// The argument, width and bit of a rule that tests one bit set (`masked_eq` of one bit on
/// itself) as `abi` compares it: a bit above the 32 an arch or a width compares is no bit
/// test (its mask and value are both 0 there: the rule always holds).
fn one_bit(c: &CondIr, abi: ArgAbi) -> Option<(u8, u8, u64)> {
    match c.args.as_slice() {
        [a] if a.op == ArgOp::MaskedEq => {
            let m = a.mask?;
            let wide = !abi.arch32 && a.width == 64;
            let compared = wide || m <= u64::from(u32::MAX);
            (compared && m.is_power_of_two() && a.values.first() == Some(&m)).then_some((a.index, a.width, m))
        }
        _ => None,
    }
}

/// Jump to `t` when any bit of `mask` is set in the argument, else to `f`.
fn any_bit(e: &mut Emitter, index: u8, width: u8, mask: u64, abi: ArgAbi, t: Label, f: Label) {
    let wide = !abi.arch32 && width == 64;
    let (lo, hi) = word_offsets(index, abi);
    let (mh, ml) = split(if wide { mask } else { mask & u64::from(u32::MAX) });
    let note = format!("arg{index}");
    if mh != 0 {
        let next = if ml != 0 { e.label() } else { f };
        e.load(hi, format!("{note} hi"));
        e.jump(op::JSET_K, mh, t, next, "any of these bits");
        if ml == 0 {
            return;
        }
        e.bind(next);
    }
    if ml == 0 {
        e.goto(f);
        return;
    }
    e.load(lo, format!("{note} lo"));
    e.jump(op::JSET_K, ml, t, f, "any of these bits");
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
        let lo_note = format!("{note} lo");
        e.load(w.lo, lo_note.as_str());
        match Lookup::best(lows) {
            Lookup::Chain => chain(e, lows, t, f),
            Lookup::Search => search(e, lows, t, f),
            Lookup::Cubes(singles, cubes) => chain_then(e, &singles, t, |e| {
                for (k, (fixed, free)) in cubes.iter().enumerate() {
                    if k > 0 {
                        e.load(w.lo, lo_note.as_str());
                    }
                    let next = if k + 1 == cubes.len() { f } else { e.label() };
                    e.and(!free);
                    e.jump(op::JEQ_K, *fixed, t, next, format!("{} values", 1u64 << free.count_ones()));
                    if k + 1 != cubes.len() {
                        e.bind(next);
                    }
                }
            }),
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

/// How a set of 32-bit values is looked up in the accumulator, chosen for the fewest
/// instructions on the longest path (then the fewest instructions).
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    /// One `jeq` per value.
    Chain,
    /// A binary search (`jge`) down to short `jeq` chains.
    Search,
    /// `jeq` for each lone value, then `and #~free; jeq #fixed` for each cube of values that
    /// differ only in the `free` bits (the accumulator is reloaded between cubes).
    Cubes(Vec<u32>, Vec<(u32, u32)>),
}

/// Values at most this many are looked for cubes (the search is quadratic in them).
const CUBE_SEARCH_MAX: usize = 64;

impl Lookup {
    fn best(vals: &[u32]) -> Lookup {
        let n = vals.len();
        let mut best = (n, n, Lookup::Chain);
        let (depth, len) = search_cost(vals);
        if (depth, len) < (best.0, best.1) {
            best = (depth, len, Lookup::Search);
        }
        if n <= CUBE_SEARCH_MAX {
            let (singles, cubes) = cube_cover(vals);
            if !cubes.is_empty() {
                let cost = singles.len() + 3 * cubes.len() - 1;
                if (cost, cost) < (best.0, best.1) {
                    best = (cost, cost, Lookup::Cubes(singles, cubes));
                }
            }
        }
        best.2
    }
}

/// Split `vals` (distinct) into cubes of at least two values, as large as found greedily, and
/// the values left alone. A cube `(fixed, free)` holds exactly the values `v` with
/// `v & !free == fixed`, all of them in `vals`.
fn cube_cover(vals: &[u32]) -> (Vec<u32>, Vec<(u32, u32)>) {
    use std::collections::BTreeSet;
    let mut left: BTreeSet<u32> = vals.iter().copied().collect();
    let mut cubes = Vec::new();
    // Grow a cube from each value still left: add a free bit while every value of the doubled
    // cube is still left.
    for &v in vals {
        if !left.contains(&v) {
            continue;
        }
        let (mut fixed, mut free) = (v, 0u32);
        for bit in (0..32).map(|b| 1u32 << b) {
            if free & bit != 0 {
                continue;
            }
            let other = (fixed ^ bit) & !free;
            if members(other, free).all(|x| left.contains(&x)) {
                fixed &= !bit;
                free |= bit;
            }
        }
        if free != 0 {
            for x in members(fixed, free) {
                left.remove(&x);
            }
            cubes.push((fixed, free));
        }
    }
    let singles = vals.iter().copied().filter(|v| left.contains(v)).collect();
    (singles, cubes)
}

/// The values of the cube `(fixed, free)`: every subset of the free bits over `fixed`.
fn members(fixed: u32, free: u32) -> impl Iterator<Item = u32> {
    // Walk the subsets of `free` (Gosper-free: sub = (sub - free) & free).
    let mut sub = 0u32;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let v = fixed | sub;
        sub = sub.wrapping_sub(free) & free;
        done = sub == 0;
        Some(v)
    })
}

/// Longest path and length of [`search`] over `vals`.
fn search_cost(vals: &[u32]) -> (usize, usize) {
    if vals.len() <= SEARCH_LEAF {
        return (vals.len(), vals.len());
    }
    let mid = vals.len() / 2;
    let (dl, ll) = search_cost(&vals[..mid]);
    let (dr, lr) = search_cost(&vals[mid..]);
    (1 + dl.max(dr), 1 + ll + lr)
}

/// Values at most this many end a search in a `jeq` chain.
const SEARCH_LEAF: usize = 2;

/// `jeq` each of `vals` (sorted) to `t`, else `f`.
fn chain(e: &mut Emitter, vals: &[u32], t: Label, f: Label) {
    chain_then(e, vals, t, |e| e.goto(f));
}

/// `jeq` each of `vals` to `t`; when none matches, `rest`.
fn chain_then(e: &mut Emitter, vals: &[u32], t: Label, rest: impl FnOnce(&mut Emitter)) {
    for v in vals {
        let next = e.label();
        e.jump(op::JEQ_K, *v, t, next, "");
        e.bind(next);
    }
    rest(e);
}

/// A binary search over `vals` (sorted): `jge` halves, `jeq` at the ends.
fn search(e: &mut Emitter, vals: &[u32], t: Label, f: Label) {
    if vals.len() <= SEARCH_LEAF {
        let (last, rest) = vals.split_last().expect("not empty");
        for v in rest {
            let next = e.label();
            e.jump(op::JEQ_K, *v, t, next, "");
            e.bind(next);
        }
        e.jump(op::JEQ_K, *last, t, f, "");
        return;
    }
    let mid = vals.len() / 2;
    let (left, right) = (e.label(), e.label());
    e.jump(op::JGE_K, vals[mid], right, left, "");
    e.bind(left);
    search(e, &vals[..mid], t, f);
    e.bind(right);
    search(e, &vals[mid..], t, f);
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    #[test]
    fn personality_values_are_one_cube_and_one_value() {
        let vals = [0, 8, 0x20000, 0x20008, 0xffff_ffff];
        assert_eq!(cube_cover(&vals), (vec![0xffff_ffff], vec![(0, 0x20008)]));
        assert_eq!(Lookup::best(&vals), Lookup::Cubes(vec![0xffff_ffff], vec![(0, 0x20008)]));
    }

    #[test]
    fn cubes_hold_only_listed_values() {
        // 1, 3 and 5 share no cube of four: {1,3} and {5} (or {1,5} and {3}).
        let (singles, cubes) = cube_cover(&[1, 3, 5]);
        let mut all: Vec<u32> = singles.clone();
        for (fixed, free) in &cubes {
            all.extend(members(*fixed, *free));
        }
        all.sort_unstable();
        assert_eq!(all, vec![1, 3, 5]);
        assert_eq!(members(0, 0b101).collect::<Vec<_>>(), vec![0, 1, 4, 5]);
    }

    #[test]
    fn long_lists_are_searched() {
        let vals: Vec<u32> = (0..40).map(|v| v * 7 + 3).collect();
        assert_eq!(Lookup::best(&vals), Lookup::Search);
        assert_eq!(search_cost(&vals).0, 7);
    }
}
