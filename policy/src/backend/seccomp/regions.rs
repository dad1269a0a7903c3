//! Disjoint argument regions: turning an ordered, last-match-wins rule list into entries that
//! do not overlap, so that order-free consumers (libseccomp via Docker/OCI JSON) mean the same.
//!
//! Each argument's values are cut into *cells*: the elementary intervals between the bounds of
//! every condition on it, or, when a mask is not a prefix (`masked_eq` on flags) or widths mix,
//! disjoint *cubes* (`x & mask == value`). A condition is a union of cells, a rule a box of cell
//! sets. The region where a rule decides is its box minus the boxes of the later rules that
//! meet it (found through an index, so rules that do not overlap cost nothing); the regions of
//! one rule are merged, and each box is written with at most one `SCMP_CMP_*` condition per
//! argument:
//! - where libseccomp compares exactly what the profile compares (64-bit arguments, and every
//!   argument on 32-bit arches) with `SCMP_CMP_EQ`, `SCMP_CMP_NE`, `SCMP_CMP_LE`, `SCMP_CMP_GE`
//!   (unsigned, exact on 64 bits since libseccomp 2.4), so a range costs one condition;
//! - where it cannot (32-bit arguments on 64-bit arches, whose high word the kernel ignores:
//!   CVE-2019-7303), and for intervals bounded on both sides, with `SCMP_CMP_MASKED_EQ` prefixes
//!   on the compared bits: at most 2 per bit of width for one interval.
//!
//! The work and the number of entries are charged to a [`Budget`] *before* they are done, so a
//! profile whose export would be too large is refused quickly, naming the rule.

use std::collections::btree_map::Entry as Entry_;
use std::collections::{BTreeMap, BTreeSet};

use crate::ir::{ArgCondIr, ArgOp};

/// Values `x` with `x & mask == value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cube {
    /// Bits that are fixed.
    pub mask: u64,
    /// Their values (a subset of `mask`).
    pub value: u64,
}

impl Cube {
    /// Every value.
    pub const ANY: Cube = Cube { mask: 0, value: 0 };

    /// Common part of two cubes.
    pub fn intersect(self, o: Cube) -> Option<Cube> {
        let common = self.mask & o.mask;
        (self.value & common == o.value & common)
            .then_some(Cube { mask: self.mask | o.mask, value: self.value | o.value })
    }

    /// `self \ o` as disjoint cubes.
    pub fn minus(self, o: Cube) -> Vec<Cube> {
        if self.intersect(o).is_none() {
            return vec![self];
        }
        let extra = o.mask & !self.mask;
        let mut out = Vec::new();
        let mut cur = self;
        for bit in (0..64).rev().map(|b| 1u64 << b).filter(|b| extra & b != 0) {
            out.push(Cube { mask: cur.mask | bit, value: cur.value | (!o.value & bit) });
            cur = Cube { mask: cur.mask | bit, value: cur.value | (o.value & bit) };
        }
        out
    }

    /// Whether `x` is in the cube.
    pub fn contains(self, x: u64) -> bool {
        x & self.mask == self.value
    }
}

/// The interval `lo..=hi` of `width`-bit values as disjoint cubes (aligned blocks: at most
/// `2 * width` of them).
pub fn interval(lo: u64, hi: u64, width: u8) -> Vec<Cube> {
    prefix_cubes(lo, hi, width_mask(width))
}

/// `lo..=hi` (values of `x & wm`, `wm` a low-bits mask) as maximal aligned blocks.
fn prefix_cubes(lo: u64, hi: u64, wm: u64) -> Vec<Cube> {
    let (mut lo, hi) = (u128::from(lo & wm), u128::from(hi & wm));
    let bits = wm.count_ones();
    let mut out = Vec::new();
    while lo <= hi {
        let mut k = 0u32;
        while k < bits && lo % (1u128 << (k + 1)) == 0 && lo + (1u128 << (k + 1)) - 1 <= hi {
            k += 1;
        }
        let span = (1u128 << k) - 1;
        out.push(Cube { mask: wm & !(span as u64), value: lo as u64 });
        lo += span + 1;
    }
    out
}

/// Low `width` bits set.
pub fn width_mask(width: u8) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// The bits a condition compares: its width, or 32 on 32-bit arches.
fn compared(c: &ArgCondIr, arch32: bool) -> u64 {
    width_mask(if arch32 { 32 } else { c.width })
}

/// A condition's set of values (for `width`-bit comparison) as disjoint cubes.
pub fn cond_cubes(c: &ArgCondIr, arch32: bool) -> Vec<Cube> {
    let wm = compared(c, arch32);
    let v = c.values.first().copied().unwrap_or(0) & wm;
    let point = |v: u64| Cube { mask: wm, value: v & wm };
    let complement = |pts: &[u64]| -> Vec<Cube> {
        pts.iter().fold(vec![Cube::ANY], |acc, p| acc.into_iter().flat_map(|c| c.minus(point(*p))).collect())
    };
    match c.op {
        ArgOp::Eq => vec![point(v)],
        ArgOp::Ne => complement(&[v]),
        ArgOp::Lt if v == 0 => vec![],
        ArgOp::Lt => prefix_cubes(0, v - 1, wm),
        ArgOp::Le => prefix_cubes(0, v, wm),
        ArgOp::Gt if v == wm => vec![],
        ArgOp::Gt => prefix_cubes(v + 1, wm, wm),
        ArgOp::Ge => prefix_cubes(v, wm, wm),
        ArgOp::MaskedEq => {
            let m = c.mask.unwrap_or(0) & wm;
            if v & !m != 0 {
                vec![]
            } else {
                vec![Cube { mask: m, value: v }]
            }
        }
        ArgOp::In => c.values.iter().map(|x| point(*x)).collect::<BTreeSet<_>>().into_iter().collect(),
        ArgOp::NotIn => complement(&c.values),
    }
}

/// The values of `x & wm` where `c` holds, as sorted disjoint intervals; `None` when that
/// set is not a union of a few intervals (a `masked_eq` whose mask is not a prefix).
pub fn cond_intervals(c: &ArgCondIr, wm: u64) -> Option<Vec<(u64, u64)>> {
    let v = c.values.first().copied().unwrap_or(0) & wm;
    let points = || c.values.iter().map(|x| x & wm).collect::<BTreeSet<_>>();
    Some(match c.op {
        ArgOp::Eq => vec![(v, v)],
        ArgOp::Ne => complement(&[v].into(), wm),
        ArgOp::Lt if v == 0 => vec![],
        ArgOp::Lt => vec![(0, v - 1)],
        ArgOp::Le => vec![(0, v)],
        ArgOp::Gt if v == wm => vec![],
        ArgOp::Gt => vec![(v + 1, wm)],
        ArgOp::Ge => vec![(v, wm)],
        ArgOp::In => points().into_iter().map(|p| (p, p)).collect(),
        ArgOp::NotIn => complement(&points(), wm),
        ArgOp::MaskedEq => {
            let m = c.mask.unwrap_or(0) & wm;
            let free = !m & wm;
            if free & free.wrapping_add(1) != 0 {
                return None;
            }
            if v & !m != 0 {
                vec![]
            } else {
                vec![(v, v | free)]
            }
        }
    })
}

/// `0..=wm` without `points` (all `<= wm`).
fn complement(points: &BTreeSet<u64>, wm: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut next = Some(0u64);
    for &p in points {
        if let Some(n) = next {
            if p > n {
                out.push((n, p - 1));
            }
        }
        next = p.checked_add(1).filter(|x| *x <= wm);
    }
    if let Some(n) = next {
        out.push((n, wm));
    }
    out
}

/// A comparison the exports write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cmp {
    /// `SCMP_CMP_EQ`.
    Eq,
    /// `SCMP_CMP_NE`.
    Ne,
    /// `SCMP_CMP_LE`.
    Le,
    /// `SCMP_CMP_GE`.
    Ge,
    /// `SCMP_CMP_MASKED_EQ`.
    MaskedEq,
}

impl Cmp {
    /// The `SCMP_CMP_*` name.
    pub fn scmp_name(self) -> &'static str {
        match self {
            Cmp::Eq => "SCMP_CMP_EQ",
            Cmp::Ne => "SCMP_CMP_NE",
            Cmp::Le => "SCMP_CMP_LE",
            Cmp::Ge => "SCMP_CMP_GE",
            Cmp::MaskedEq => "SCMP_CMP_MASKED_EQ",
        }
    }
}

/// One condition of an entry: `arg[index] op value`; for `MaskedEq`, `arg & value ==
/// value_two` (the JSON's `value` and `valueTwo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Atom {
    /// Argument index.
    pub index: u8,
    /// Comparison.
    pub op: Cmp,
    /// Datum (the mask for `MaskedEq`).
    pub value: u64,
    /// The masked value for `MaskedEq`, else 0.
    pub value_two: u64,
}

impl Atom {
    fn cube(index: u8, c: Cube) -> Atom {
        if c.mask == u64::MAX {
            Atom { index, op: Cmp::Eq, value: c.value, value_two: 0 }
        } else {
            Atom { index, op: Cmp::MaskedEq, value: c.mask, value_two: c.value }
        }
    }

    /// Whether libseccomp's filter holds for `arg`: 64-bit comparisons, or on 32-bit arches
    /// (`arch32`) the low words of the argument and of the datum.
    pub fn holds(&self, arg: u64, arch32: bool) -> bool {
        let t = |x: u64| if arch32 { x & u64::from(u32::MAX) } else { x };
        let (a, v) = (t(arg), t(self.value));
        match self.op {
            Cmp::Eq => a == v,
            Cmp::Ne => a != v,
            Cmp::Le => a <= v,
            Cmp::Ge => a >= v,
            Cmp::MaskedEq => a & v == t(self.value_two),
        }
    }
}

/// A rule exceeded the export's budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// The rule whose conditions asked for it (an index into the policy's rules).
    pub rule: usize,
    /// Which limit.
    pub limit: Limit,
    /// What was asked (saturating).
    pub asked: u64,
    /// What the limit is.
    pub allowed: u64,
    /// Whether the rule's own conditions ask for it (else: with the rules that overlap it).
    pub alone: bool,
}

/// The limits of a [`Budget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Entries written.
    Entries,
    /// Steps of the computation (cells, pieces of regions, merges).
    Work,
}

/// What one export may do: steps of work and entries written. Both are charged before the
/// work, so an export over the budget stops early and says which rule asked for it.
#[derive(Clone, Debug)]
pub struct Budget {
    work: u64,
    entries: u64,
    work_limit: u64,
    entry_limit: u64,
}

/// Entries any profile may need (Docker's default profile needs about 400).
pub const BASE_ENTRIES: u64 = 1 << 15;
/// Entries allowed per condition value of the profile, on top of [`BASE_ENTRIES`]: a 32-bit
/// range costs up to 62 masked entries, a 32-bit `ne` 32, a two-sided 64-bit range up to 126.
pub const ENTRIES_PER_VALUE: u64 = 64;
/// Entries never exceeded, whatever the input (some 40 MiB of JSON, 200 MiB of memory).
pub const MAX_ENTRIES: u64 = 100_000;
/// Steps of work never exceeded (a step is 2 to 20 ns: under a second).
pub const MAX_WORK: u64 = 50_000_000;
/// Steps one piece of a region costs (it is copied, merged and written).
const LEAF_COST: u64 = 8;
/// Steps one rule costs in a plan (its cells, its place in the index, its pieces).
const RULE_COST: u64 = 64;
/// Steps a plan costs whatever its rules (six axes, an index, the merge).
const PLAN_COST: u64 = 256;
/// Most cubes one argument is cut into (masks that are not prefixes, or mixed widths).
const MAX_CELLS: usize = 1 << 16;

impl Budget {
    /// A budget of `work` steps and `entries` entries.
    pub fn new(work: u64, entries: u64) -> Budget {
        Budget { work, entries, work_limit: work, entry_limit: entries }
    }

    /// The budget of an export of `rules`: entries grow linearly with the condition values,
    /// up to [`MAX_ENTRIES`]; work up to [`MAX_WORK`].
    pub fn for_rules<'a>(rules: impl IntoIterator<Item = &'a [ArgCondIr]>) -> Budget {
        let values: u64 = rules
            .into_iter()
            .flat_map(|args| args.iter())
            .map(|c| c.values.len().max(1) as u64)
            .fold(0u64, u64::saturating_add);
        let entries = BASE_ENTRIES.saturating_add(values.saturating_mul(ENTRIES_PER_VALUE)).min(MAX_ENTRIES);
        Budget::new(MAX_WORK, entries)
    }

    /// Entries still allowed.
    pub fn entries_left(&self) -> u64 {
        self.entries
    }

    /// Charge `n` steps of work to `rule`.
    pub fn work(&mut self, n: u64, rule: usize) -> Result<(), OverBudget> {
        match self.work.checked_sub(n) {
            Some(left) => {
                self.work = left;
                Ok(())
            }
            None => Err(OverBudget {
                rule,
                limit: Limit::Work,
                asked: n.saturating_add(self.work_limit - self.work),
                allowed: self.work_limit,
                alone: false,
            }),
        }
    }

    /// The error of a budget spent at once, for work that is known to be too much.
    pub fn exhausted(&mut self, rule: usize) -> OverBudget {
        let asked = self.work_limit.saturating_add(1);
        self.work = 0;
        OverBudget { rule, limit: Limit::Work, asked, allowed: self.work_limit, alone: false }
    }

    /// Give back `n` entries (written once, though charged for each context).
    pub fn refund_entries(&mut self, n: u64) {
        self.entries = self.entries.saturating_add(n).min(self.entry_limit);
    }

    /// Charge `n` entries to `rule`.
    pub fn entries(&mut self, n: u64, rule: usize) -> Result<(), OverBudget> {
        match self.entries.checked_sub(n) {
            Some(left) => {
                self.entries = left;
                Ok(())
            }
            None => Err(OverBudget {
                rule,
                limit: Limit::Entries,
                asked: n.saturating_add(self.entry_limit - self.entries),
                allowed: self.entry_limit,
                alone: false,
            }),
        }
    }
}

/// One rule as the partition sees it.
pub struct Ranked<'a, T> {
    /// Its conditions.
    pub args: &'a [ArgCondIr],
    /// Its verdict.
    pub action: T,
    /// Identifies the rule (its index in the policy's rules).
    pub rule: usize,
}

/// Cell indexes `start..end`, sorted, disjoint and not adjacent.
type Runs = Vec<(u32, u32)>;

/// A box: per argument, the cells it covers (`None`: every value).
type CellBox = [Option<Runs>; 6];

/// How one argument's values are cut into cells.
#[derive(Clone, Debug)]
enum Axis {
    /// No rule tests the argument.
    Free,
    /// Cell `k` is `starts[k]..=starts[k + 1] - 1` of `x & wm` (the last ends at `wm`).
    /// `exact`: libseccomp compares exactly these bits (64-bit argument or 32-bit arch).
    Ranges { exact: bool, wm: u64, starts: Vec<u64> },
    /// Disjoint cubes covering every value.
    Cubes { cells: Vec<Cube> },
}

impl Axis {
    fn len(&self) -> u32 {
        match self {
            Axis::Free => 1,
            Axis::Ranges { starts, .. } => starts.len() as u32,
            Axis::Cubes { cells } => cells.len() as u32,
        }
    }

    /// The cells of one argument, from the conditions of every rule on it (each with its rule,
    /// which the budget names).
    fn build(conds: &[(&ArgCondIr, usize)], arch32: bool, budget: &mut Budget) -> Result<Axis, OverBudget> {
        let Some((first, _)) = conds.first() else { return Ok(Axis::Free) };
        let wm = compared(first, arch32);
        let same_width = conds.iter().all(|(c, _)| compared(c, arch32) == wm);
        if same_width {
            let mut cuts: BTreeSet<u64> = [0].into();
            let mut ok = true;
            for (c, rule) in conds {
                let Some(ivs) = cond_intervals(c, wm) else {
                    ok = false;
                    break;
                };
                budget.work(ivs.len() as u64 + 1, *rule)?;
                for (lo, hi) in ivs {
                    cuts.insert(lo);
                    if hi < wm {
                        cuts.insert(hi + 1);
                    }
                }
            }
            if ok {
                return Ok(Axis::Ranges {
                    exact: arch32 || wm == u64::MAX,
                    wm,
                    starts: cuts.into_iter().collect(),
                });
            }
        }
        // Refine every value into cubes on which each condition is constant.
        let mut cells = vec![Cube::ANY];
        let mut seen = BTreeSet::new();
        for (c, rule) in conds {
            let cubes = cond_cubes(c, arch32);
            budget.work(cubes.len() as u64 + 1, *rule)?;
            if !seen.insert(cubes.clone()) {
                continue;
            }
            let mut next = Vec::new();
            for cell in cells {
                let mut rest = vec![cell];
                for k in &cubes {
                    if let Some(x) = cell.intersect(*k) {
                        next.push(x);
                        let pieces: Vec<Cube> = rest.iter().flat_map(|r| r.minus(*k)).collect();
                        budget.work(LEAF_COST * (pieces.len() as u64 + 1), *rule)?;
                        rest = pieces;
                    }
                }
                next.extend(rest);
                if next.len() > MAX_CELLS {
                    // The conditions cut this argument into more pieces than any export can
                    // use: refuse now, as if the work were done.
                    return Err(budget.exhausted(*rule));
                }
            }
            cells = next;
        }
        cells.sort();
        Ok(Axis::Cubes { cells })
    }

    /// The cells where `c` holds.
    fn runs_of(&self, c: &ArgCondIr, arch32: bool) -> Runs {
        match self {
            Axis::Free => vec![(0, 1)],
            Axis::Ranges { wm, starts, .. } => {
                let at = |x: u64| starts.partition_point(|s| *s < x) as u32;
                let n = starts.len() as u32;
                let ivs = cond_intervals(c, *wm).unwrap_or_default();
                coalesce(
                    ivs.into_iter()
                        .map(|(lo, hi)| (at(lo), if hi >= *wm { n } else { at(hi + 1) }))
                        .filter(|(a, b)| a < b)
                        .collect(),
                )
            }
            Axis::Cubes { cells } => {
                let mut out: Runs = Vec::new();
                for (k, cell) in cells.iter().enumerate() {
                    if c.matches(cell.value, arch32) {
                        push_run(&mut out, (k as u32, k as u32 + 1));
                    }
                }
                out
            }
        }
    }

    /// The conditions that say "the argument is in `runs`", alternatives of one entry (any
    /// number of them may hold; their union is exactly `runs`).
    fn atoms(&self, index: u8, runs: &Runs) -> Vec<Atom> {
        match self {
            Axis::Free => vec![],
            Axis::Ranges { exact, wm, starts } => {
                let (exact, wm) = (*exact, *wm);
                let ivs = intervals(starts, wm, runs);
                if let [(0, a), (b, hi)] = ivs[..] {
                    if exact && hi == wm && a.checked_add(2) == Some(b) {
                        return vec![Atom { index, op: Cmp::Ne, value: a + 1, value_two: 0 }];
                    }
                }
                let mut out = Vec::new();
                let mut cubes = Vec::new();
                for (lo, hi) in ivs {
                    if exact && lo < hi && lo == 0 {
                        out.push(Atom { index, op: Cmp::Le, value: hi, value_two: 0 });
                    } else if exact && lo < hi && hi == wm {
                        out.push(Atom { index, op: Cmp::Ge, value: lo, value_two: 0 });
                    } else {
                        cubes.extend(prefix_cubes(lo, hi, wm));
                    }
                }
                let point = |c: Cube| exact && c.mask == wm;
                out.extend(merge_cubes(cubes).into_iter().map(|c| match point(c) {
                    true => Atom { index, op: Cmp::Eq, value: c.value, value_two: 0 },
                    false => Atom::cube(index, c),
                }));
                out
            }
            Axis::Cubes { cells } => {
                let cubes: Vec<Cube> =
                    runs.iter().flat_map(|(a, b)| (*a..*b).map(|k| cells[k as usize])).collect();
                merge_cubes(cubes).into_iter().map(|c| Atom::cube(index, c)).collect()
            }
        }
    }

    /// Steps [`Axis::atoms`] takes for `runs`, about.
    fn atoms_cost(&self, runs: &Runs) -> u64 {
        match self {
            Axis::Free => 0,
            Axis::Ranges { .. } => runs.len() as u64 * 16,
            Axis::Cubes { .. } => runs.iter().map(|(a, b)| u64::from(b - a)).sum::<u64>() * 16,
        }
    }
}

/// The value intervals of a set of range cells.
fn intervals(starts: &[u64], wm: u64, runs: &Runs) -> Vec<(u64, u64)> {
    let end = |k: u32| starts.get(k as usize).map(|s| s - 1).unwrap_or(wm);
    runs.iter().map(|(a, b)| (starts[*a as usize], end(*b))).collect()
}

/// Merge cubes that differ in one fixed bit into one, until none do (the union is unchanged,
/// the cubes stay disjoint). Cubes are taken by mask, most fixed bits first, so a merged cube
/// meets its siblings in a later round.
fn merge_cubes(cubes: Vec<Cube>) -> Vec<Cube> {
    let mut groups: BTreeMap<(u32, u64), Vec<u64>> = BTreeMap::new();
    for c in cubes {
        groups.entry((c.mask.count_zeros(), c.mask)).or_default().push(c.value);
    }
    let mut out = Vec::new();
    while let Some(((free, mask), mut values)) = groups.pop_first() {
        values.sort_unstable();
        values.dedup();
        // Only bits where the values differ can pair two of them.
        let (any, all) = values.iter().fold((0u64, u64::MAX), |(o, a), v| (o | v, a & v));
        let mut bits = mask & (any ^ all);
        while bits != 0 && values.len() > 1 {
            let bit = bits & bits.wrapping_neg();
            bits &= bits - 1;
            let mut used = vec![false; values.len()];
            let mut merged = Vec::new();
            for k in 0..values.len() {
                let v = values[k];
                if used[k] || v & bit != 0 {
                    continue;
                }
                if let Ok(p) = values.binary_search(&(v | bit)) {
                    if !used[p] {
                        used[k] = true;
                        used[p] = true;
                        merged.push(v);
                    }
                }
            }
            if !merged.is_empty() {
                groups.entry((free + 1, mask & !bit)).or_default().extend(merged);
                values = values.into_iter().zip(used).filter(|(_, u)| !u).map(|(v, _)| v).collect();
            }
        }
        out.extend(values.into_iter().map(|value| Cube { mask, value }));
    }
    out.sort_unstable();
    out
}

fn push_run(out: &mut Runs, (a, b): (u32, u32)) {
    match out.last_mut() {
        Some(last) if last.1 >= a => last.1 = last.1.max(b),
        _ => out.push((a, b)),
    }
}

/// Sort and join runs.
fn coalesce(mut runs: Runs) -> Runs {
    runs.sort_unstable();
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        push_run(&mut out, r);
    }
    out
}

/// Cells in both.
fn intersect(a: &Runs, b: &Runs) -> Runs {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let (lo, hi) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if lo < hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// One export entry: its conditions (at most one per argument, by index), verdict and
/// deciding rule.
pub type Entry<T> = (Vec<Atom>, T, usize);

/// Whether two run lists share a cell.
fn overlap(a: &Runs, b: &Runs) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].0.max(b[j].0) < a[i].1.min(b[j].1) {
            return true;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    false
}

/// Cells of `a` not in `b`.
fn minus(a: &Runs, b: &Runs) -> Runs {
    let mut out = Vec::new();
    let mut j = 0;
    for &(mut lo, hi) in a {
        while j < b.len() && b[j].1 <= lo {
            j += 1;
        }
        let mut k = j;
        while lo < hi {
            match b.get(k) {
                Some(&(blo, bhi)) if blo < hi => {
                    if blo > lo {
                        out.push((lo, blo));
                    }
                    lo = lo.max(bhi);
                    k += 1;
                }
                _ => {
                    out.push((lo, hi));
                    break;
                }
            }
        }
    }
    out
}

fn boxes_meet(a: &CellBox, b: &CellBox) -> bool {
    a.iter().zip(b).all(|(x, y)| match (x, y) {
        (Some(x), Some(y)) => overlap(x, y),
        _ => true,
    })
}

/// `a \ b` (`a` and `b` meet) as disjoint boxes: at most one per argument `b` tests.
fn box_minus(a: &CellBox, b: &CellBox, axes: &[Axis]) -> Vec<CellBox> {
    let mut out = Vec::new();
    let mut cur = a.clone();
    for (i, axis) in axes.iter().enumerate() {
        let Some(bi) = &b[i] else { continue };
        let (rest, common) = match &cur[i] {
            None => (minus(&vec![(0, axis.len())], bi), bi.clone()),
            Some(ci) => (minus(ci, bi), intersect(ci, bi)),
        };
        if !rest.is_empty() {
            let mut piece = cur.clone();
            piece[i] = Some(rest);
            out.push(piece);
        }
        cur[i] = Some(common);
    }
    out
}

/// A growing union of cells (the cuts of the later rules that test one argument).
#[derive(Default)]
struct Covered {
    /// start → end of disjoint, non-adjacent runs.
    runs: BTreeMap<u32, u32>,
}

impl Covered {
    /// Add cells.
    fn insert(&mut self, add: &Runs) {
        for &(mut a, mut b) in add {
            if let Some((&s, &e)) = self.runs.range(..=a).next_back() {
                if e >= a {
                    a = s;
                    b = b.max(e);
                }
            }
            let inside: Vec<(u32, u32)> = self.runs.range(a..=b).map(|(s, e)| (*s, *e)).collect();
            for (s, e) in inside {
                self.runs.remove(&s);
                b = b.max(e);
            }
            self.runs.insert(a, b);
        }
    }

    /// The cells of `from` (`None`: all `n`) that are not covered, and the steps it took.
    fn subtract(&self, from: Option<&Runs>, n: u32) -> (Runs, u64) {
        let all = [(0, n)];
        let from = from.map_or(&all[..], Vec::as_slice);
        let mut out = Vec::new();
        let mut steps = 0u64;
        for &(lo, hi) in from {
            let first = match self.runs.range(..=lo).next_back() {
                Some((&s, &e)) if e > lo => s,
                _ => lo,
            };
            let mut at = lo;
            for (&s, &e) in self.runs.range(first..hi) {
                steps += 1;
                if s > at {
                    out.push((at, s));
                }
                at = at.max(e);
            }
            if at < hi {
                out.push((at, hi));
            }
            steps += 1;
        }
        (out, steps)
    }
}

/// The boxes whose cells along one argument may meet a given span: the spans sorted by
/// start, as an implicit search tree that knows the furthest end below each node.
struct SpanIndex {
    /// (start, end, box) by start.
    spans: Vec<(u32, u32, usize)>,
    /// Furthest end in the subtree rooted at each position.
    reach: Vec<u32>,
}

impl SpanIndex {
    fn new(mut spans: Vec<(u32, u32, usize)>) -> SpanIndex {
        spans.sort_unstable();
        let mut reach = vec![0; spans.len()];
        fn build(spans: &[(u32, u32, usize)], reach: &mut [u32], lo: usize, hi: usize) -> u32 {
            if lo >= hi {
                return 0;
            }
            let mid = (lo + hi) / 2;
            let r = spans[mid].1.max(build(spans, reach, lo, mid)).max(build(spans, reach, mid + 1, hi));
            reach[mid] = r;
            r
        }
        build(&spans, &mut reach, 0, spans.len());
        SpanIndex { spans, reach }
    }

    /// Push the boxes whose span meets `start..end`.
    fn query(&self, start: u32, end: u32, out: &mut Vec<usize>) {
        self.walk(0, self.spans.len(), start, end, out);
    }

    fn walk(&self, lo: usize, hi: usize, start: u32, end: u32, out: &mut Vec<usize>) {
        if lo >= hi {
            return;
        }
        let mid = (lo + hi) / 2;
        if self.reach[mid] <= start {
            return;
        }
        self.walk(lo, mid, start, end, out);
        let (s, e, k) = self.spans[mid];
        if s < end {
            if e > start {
                out.push(k);
            }
            self.walk(mid + 1, hi, start, end, out);
        }
    }
}

/// The one argument a box tests, if it tests exactly one.
fn only_arg(b: &CellBox) -> Option<usize> {
    let mut tested = b.iter().enumerate().filter(|(_, x)| x.is_some()).map(|(k, _)| k);
    match (tested.next(), tested.next()) {
        (Some(k), None) => Some(k),
        _ => None,
    }
}

/// Per rule of `ranked`: the disjoint boxes where it decides (it holds and no later rule
/// does): the rule's box minus the later rules' boxes that meet it. Rules are taken from the
/// last; the later rules that test one argument are kept as one union per argument, the
/// others are found through an index, so rules that do not overlap cost little.
fn regions_of<T>(
    ranked: &[Ranked<T>],
    sets: &[CellBox],
    axes: &[Axis],
    budget: &mut Budget,
) -> Result<Vec<Vec<CellBox>>, OverBudget> {
    let live: Vec<bool> =
        sets.iter().map(|s| s.iter().all(|r| r.as_ref().is_none_or(|r| !r.is_empty()))).collect();
    let single: Vec<Option<usize>> = sets.iter().map(only_arg).collect();
    // The other boxes, by their span along the argument most of them test.
    let multi = |k: &usize| live[*k] && single[*k].is_none();
    let key = (0..6)
        .max_by_key(|i| {
            ((0..sets.len()).filter(|k| multi(k) && sets[*k][*i].is_some()).count(), usize::MAX - i)
        })
        .unwrap_or(0);
    let span = |s: &CellBox| s[key].as_ref().and_then(|r| Some((r.first()?.0, r.last()?.1)));
    let mut anywhere = Vec::new();
    let mut spans = Vec::new();
    for k in (0..sets.len()).filter(multi) {
        match span(&sets[k]) {
            Some((a, b)) => spans.push((a, b, k)),
            None => anywhere.push(k),
        }
    }
    let index = SpanIndex::new(spans);
    let mut covered: [Covered; 6] = Default::default();
    let mut out = vec![Vec::new(); ranked.len()];
    let mut later = Vec::new();
    for (i, r) in ranked.iter().enumerate().rev() {
        if !live[i] {
            continue;
        }
        let mut pieces = vec![sets[i].clone()];
        for (k, cov) in covered.iter().enumerate() {
            if cov.runs.is_empty() {
                continue;
            }
            let mut steps = 0;
            pieces.retain_mut(|p| {
                let (rest, n) = cov.subtract(p[k].as_ref(), axes[k].len());
                steps += n;
                let keep = !rest.is_empty();
                p[k] = Some(rest);
                keep
            });
            budget.work(steps, r.rule)?;
        }
        later.clear();
        match span(&sets[i]) {
            Some((a, b)) => index.query(a, b, &mut later),
            None => later.extend(index.spans.iter().map(|s| s.2)),
        }
        later.extend(anywhere.iter().copied());
        later.retain(|j| *j > i);
        later.sort_unstable();
        budget.work(later.len() as u64 + 1, r.rule)?;
        for j in &later {
            if pieces.is_empty() {
                break;
            }
            let b = &sets[*j];
            let size = |x: &CellBox| x.iter().flatten().map(Vec::len).sum::<usize>() as u64 + 1;
            budget.work(1 + pieces.len() as u64, r.rule)?;
            if !pieces.iter().any(|p| boxes_meet(p, b)) {
                continue;
            }
            budget.work(pieces.iter().map(|p| size(p) + size(b)).sum(), r.rule)?;
            let mut next = Vec::with_capacity(pieces.len());
            for p in pieces {
                if boxes_meet(&p, b) {
                    let cut = box_minus(&p, b, axes);
                    budget.work(cut.iter().map(|c| LEAF_COST + size(c)).sum(), r.rule)?;
                    next.extend(cut);
                } else {
                    next.push(p);
                }
            }
            pieces = next;
        }
        for p in &mut pieces {
            for (i, axis) in axes.iter().enumerate() {
                if p[i].as_ref().is_some_and(|r| *r == [(0, axis.len())]) {
                    p[i] = None;
                }
            }
        }
        out[i] = pieces;
        if let (Some(k), Some(runs)) = (single[i], sets[i].iter().flatten().next()) {
            budget.work(runs.len() as u64, r.rule)?;
            covered[k].insert(runs);
        }
    }
    Ok(out)
}

/// Replace boxes that agree on every argument but one by their union, until none do.
fn merge_boxes(
    mut boxes: Vec<CellBox>,
    axes: &[Axis],
    budget: &mut Budget,
    rule: usize,
) -> Result<Vec<CellBox>, OverBudget> {
    for _round in 0..8 {
        let before = boxes.len();
        for (i, axis) in axes.iter().enumerate() {
            budget.work(boxes.len() as u64, rule)?;
            let mut groups: BTreeMap<CellBox, Option<Runs>> = BTreeMap::new();
            for mut b in boxes {
                let mine = b[i].take();
                match groups.entry(b) {
                    Entry_::Vacant(v) => {
                        v.insert(mine);
                    }
                    Entry_::Occupied(mut o) => {
                        let union = match (o.get_mut().take(), mine) {
                            (Some(mut a), Some(b)) => {
                                a.extend(b);
                                let u = coalesce(a);
                                (u != [(0, axis.len())]).then_some(u)
                            }
                            _ => None,
                        };
                        *o.get_mut() = union;
                    }
                }
            }
            boxes = groups
                .into_iter()
                .map(|(mut b, mine)| {
                    b[i] = mine;
                    b
                })
                .collect();
        }
        if boxes.len() == before {
            break;
        }
    }
    Ok(boxes)
}

/// Disjoint boxes of cells with their verdicts, before they are written as entries.
struct Plan<T> {
    axes: Vec<Axis>,
    /// Verdict, deciding rule, box.
    boxes: Vec<(T, usize, CellBox)>,
}

impl<T: Copy> Plan<T> {
    /// Per argument a box tests, the conditions one of which holds there.
    fn alternatives(
        &self,
        b: &CellBox,
        rule: usize,
        budget: &mut Budget,
    ) -> Result<Vec<Vec<Atom>>, OverBudget> {
        let mut out = Vec::new();
        for (i, runs) in b.iter().enumerate() {
            let Some(runs) = runs else { continue };
            budget.work(self.axes[i].atoms_cost(runs), rule)?;
            out.push(self.axes[i].atoms(i as u8, runs));
        }
        Ok(out)
    }

    /// Entries every box needs: per box, the product of its alternatives.
    fn count(&self, budget: &mut Budget) -> Result<u64, OverBudget> {
        let mut n = 0u64;
        for (_, rule, b) in &self.boxes {
            n = n.saturating_add(product(&self.alternatives(b, *rule, budget)?));
        }
        Ok(n)
    }

    /// The entries, each box charged to the budget before it is written.
    fn expand(self, budget: &mut Budget) -> Result<Vec<Entry<T>>, OverBudget> {
        let mut out = Vec::new();
        for (action, rule, b) in &self.boxes {
            let alts = self.alternatives(b, *rule, budget)?;
            budget.entries(product(&alts), *rule)?;
            let mut combos: Vec<Vec<Atom>> = vec![vec![]];
            for alt in alts {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        alt.iter().map(move |a| {
                            let mut c = c.clone();
                            c.push(*a);
                            c
                        })
                    })
                    .collect();
            }
            out.extend(combos.into_iter().map(|c| (c, *action, *rule)));
        }
        Ok(out)
    }
}

/// The number of entries: one per choice of an alternative for each argument.
fn product(alts: &[Vec<Atom>]) -> u64 {
    alts.iter().map(|a| a.len() as u64).fold(1u64, u64::saturating_mul)
}

/// Cut an ordered rule list (last match wins) into disjoint boxes whose verdict is not
/// `default`, merged per verdict and rule (per verdict only without `by_rule`).
fn plan<T: Copy + Ord>(
    rules: &[Ranked<T>],
    default: T,
    arch32: bool,
    by_rule: bool,
    budget: &mut Budget,
) -> Result<Plan<T>, OverBudget> {
    // A rule without conditions hides every rule before it.
    let start = rules.iter().rposition(|r| r.args.is_empty()).unwrap_or(0);
    let ranked = &rules[start..];
    let Some(last_rule) = ranked.last() else { return Ok(Plan { axes: vec![], boxes: vec![] }) };
    budget.work(PLAN_COST + RULE_COST * ranked.len() as u64, last_rule.rule)?;
    let mut axes = Vec::with_capacity(6);
    for i in 0..6u8 {
        let conds: Vec<(&ArgCondIr, usize)> = ranked
            .iter()
            .flat_map(|r| r.args.iter().filter(|c| c.index == i).map(move |c| (c, r.rule)))
            .collect();
        axes.push(Axis::build(&conds, arch32, budget)?);
    }
    let mut sets = Vec::with_capacity(ranked.len());
    for r in ranked {
        let mut s: CellBox = Default::default();
        for c in r.args {
            let i = usize::from(c.index);
            let cost = match axes[i] {
                Axis::Cubes { .. } => u64::from(axes[i].len()),
                _ => c.values.len() as u64 + 1,
            };
            budget.work(cost, r.rule)?;
            let cells = axes[i].runs_of(c, arch32);
            s[i] = Some(match s[i].take() {
                None => cells,
                Some(prev) => intersect(&prev, &cells),
            });
        }
        sets.push(s);
    }
    let regions = regions_of(ranked, &sets, &axes, budget)?;
    let mut by_key: BTreeMap<(T, usize), (usize, Vec<CellBox>)> = BTreeMap::new();
    for (r, boxes) in ranked.iter().zip(regions) {
        if r.action != default && !boxes.is_empty() {
            let key = (r.action, if by_rule { r.rule } else { 0 });
            by_key.entry(key).or_insert_with(|| (r.rule, Vec::new())).1.extend(boxes);
        }
    }
    let mut boxes = Vec::new();
    for ((action, _), (rule, bs)) in by_key {
        for b in merge_boxes(bs, &axes, budget, rule)? {
            boxes.push((action, rule, b));
        }
    }
    Ok(Plan { axes, boxes })
}

/// The entries of an ordered rule list (last match wins): disjoint, at most one condition per
/// argument, only where the verdict is not `default`; entries of one verdict and rule are
/// merged (of one verdict only, without `by_rule`).
pub fn entries<T: Copy + Ord>(
    rules: &[Ranked<T>],
    default: T,
    arch32: bool,
    by_rule: bool,
    budget: &mut Budget,
) -> Result<Vec<Entry<T>>, OverBudget> {
    plan(rules, default, arch32, by_rule, budget)?.expand(budget)
}

/// How many entries the conditions `args` of rule `rule` need on their own (one rule that
/// matches there, nothing else), without writing them.
pub fn entries_alone(
    args: &[ArgCondIr],
    rule: usize,
    arch32: bool,
    budget: &mut Budget,
) -> Result<u64, OverBudget> {
    let ranked = [Ranked { args, action: true, rule }];
    plan(&ranked, false, arch32, true, budget)?.count(budget)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::points;

    fn cond(index: u8, width: u8, op: ArgOp, values: Vec<u64>, mask: Option<u64>) -> ArgCondIr {
        ArgCondIr { index, width, op, values, mask }
    }

    fn member(cubes: &[Cube], x: u64) -> bool {
        cubes.iter().filter(|c| c.contains(x)).count() == 1
    }

    fn big() -> Budget {
        Budget::new(u64::MAX / 2, u64::MAX / 2)
    }

    const PROBES: [u64; 10] = [0, 1, 36, 37, 38, 39, 0xffff_ffff, 1 << 32, (1 << 32) | 38, u64::MAX];

    #[test]
    fn ops_match_the_reference_semantics() {
        let ops = [ArgOp::Eq, ArgOp::Ne, ArgOp::Lt, ArgOp::Le, ArgOp::Gt, ArgOp::Ge];
        for width in [32u8, 64] {
            for op in ops {
                for v in [0u64, 1, 37, 38, 0x7fff_ffff, 0xffff_ffff, 1 << 32, u64::MAX] {
                    let c = cond(0, width, op, vec![v], None);
                    if width == 32 && v > u64::from(u32::MAX) {
                        continue;
                    }
                    let cubes = cond_cubes(&c, false);
                    let ivs = cond_intervals(&c, width_mask(width)).unwrap();
                    let extra = [v, v.wrapping_add(1), v.wrapping_sub(1), v | (1 << 40)];
                    for x in PROBES.into_iter().chain(extra) {
                        let want = c.matches(x, false);
                        let got = cubes.iter().any(|k| k.contains(x));
                        assert_eq!(want, got, "{op:?} {v:#x} width {width} at {x:#x}");
                        if got {
                            assert!(member(&cubes, x), "cubes overlap at {x:#x}");
                        }
                        let y = x & width_mask(width);
                        let in_ivs = ivs.iter().filter(|(lo, hi)| *lo <= y && y <= *hi).count();
                        assert_eq!(in_ivs, usize::from(want), "{op:?} {v:#x} width {width} at {x:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn masked_and_sets() {
        let c = cond(0, 32, ArgOp::MaskedEq, vec![0], Some(0x7E02_0000));
        assert_eq!(cond_cubes(&c, false), vec![Cube { mask: 0x7E02_0000, value: 0 }]);
        assert_eq!(cond_intervals(&c, width_mask(32)), None, "not a prefix mask");
        let prefix = cond(0, 64, ArgOp::MaskedEq, vec![0x1000], Some(!0xfff));
        assert_eq!(cond_intervals(&prefix, u64::MAX), Some(vec![(0x1000, 0x1fff)]));
        let not_in = cond(0, 32, ArgOp::NotIn, vec![38, 40], None);
        let cubes = cond_cubes(&not_in, false);
        let ivs = cond_intervals(&not_in, width_mask(32)).unwrap();
        assert_eq!(ivs, vec![(0, 37), (39, 39), (41, 0xffff_ffff)]);
        for x in [0u64, 37, 38, 39, 40, 41, (1 << 32) | 38, 0xffff_ffff] {
            assert_eq!(cubes.iter().any(|k| k.contains(x)), not_in.matches(x, false), "{x:#x}");
        }
    }

    #[test]
    fn intervals_are_maximal_aligned_blocks() {
        assert_eq!(interval(0, 255, 64), vec![Cube { mask: !255, value: 0 }]);
        assert_eq!(interval(6, 9, 64).len(), 2);
        assert_eq!(interval(1, u64::MAX - 1, 64).len(), 126);
        // Blocks of several intervals that differ in one bit merge (like old Docker exports).
        let gaps: Vec<Cube> = (0..64u64).flat_map(|i| interval(16 * i + 1, 16 * i + 15, 64)).collect();
        assert_eq!(gaps.len(), 256);
        let merged = merge_cubes(gaps.clone());
        assert_eq!(merged.len(), 4, "{merged:x?}");
        for x in 0..2048u64 {
            let n = merged.iter().filter(|c| c.contains(x)).count();
            assert_eq!(n, usize::from(gaps.iter().any(|c| c.contains(x))), "{x}");
        }
    }

    /// The entries as libseccomp reads them at `args`: the verdicts of the entries that hold.
    fn verdicts(entries: &[Entry<char>], args: &[u64; 6], arch32: bool) -> BTreeSet<char> {
        entries
            .iter()
            .filter(|(atoms, _, _)| atoms.iter().all(|a| a.holds(args[usize::from(a.index)], arch32)))
            .map(|(_, a, _)| *a)
            .collect()
    }

    fn reference(rules: &[(Vec<ArgCondIr>, char)], args: &[u64; 6], arch32: bool) -> char {
        rules
            .iter()
            .rev()
            .find(|(conds, _)| conds.iter().all(|c| c.matches(args[usize::from(c.index)], arch32)))
            .map_or('D', |(_, a)| *a)
    }

    /// Check the entries of `rules` against the reference at their boundary arguments and at
    /// `extra`; `None` when they exceed a test-sized budget (refusing is correct too).
    fn check(rules: &[(Vec<ArgCondIr>, char)], arch32: bool, extra: &[[u64; 6]]) -> Option<usize> {
        let ranked: Vec<Ranked<char>> =
            rules.iter().enumerate().map(|(i, (args, a))| Ranked { args, action: *a, rule: i }).collect();
        let conds: Vec<&ArgCondIr> = rules.iter().flat_map(|(c, _)| c).collect();
        let mut vectors = points::vectors(&conds, 1500);
        vectors.extend_from_slice(extra);
        let mut total = 0;
        for by_rule in [true, false] {
            let made = entries(&ranked, 'D', arch32, by_rule, &mut Budget::new(1_000_000, 2_000)).ok()?;
            total = made.len();
            for (atoms, a, _) in &made {
                assert_ne!(*a, 'D', "an entry with the default verdict");
                let idx: BTreeSet<u8> = atoms.iter().map(|a| a.index).collect();
                assert_eq!(idx.len(), atoms.len(), "one condition per argument: {atoms:?}");
            }
            for args in &vectors {
                let want = reference(rules, args, arch32);
                let got = verdicts(&made, args, arch32);
                let expect: BTreeSet<char> = if want == 'D' { BTreeSet::new() } else { [want].into() };
                assert_eq!(
                    got, expect,
                    "args {args:x?} (arch32 {arch32}, by_rule {by_rule}) rules {rules:#?}\n{made:#?}"
                );
            }
        }
        Some(total)
    }

    #[test]
    fn last_match_wins_partition() {
        let deny_sti = vec![cond(1, 32, ArgOp::Eq, vec![0x5412], None)];
        let rules = vec![(vec![], 'A'), (deny_sti, 'B')];
        check(&rules, false, &[[0, 0x1_0000_5412, 0, 0, 0, 0]]).unwrap();
        let ranked: Vec<Ranked<char>> =
            rules.iter().enumerate().map(|(i, (args, a))| Ranked { args, action: *a, rule: i }).collect();
        let made = entries(&ranked, 'D', false, true, &mut big()).unwrap();
        let at = |x: u64| verdicts(&made, &[0, x, 0, 0, 0, 0], false).into_iter().collect::<Vec<_>>();
        assert_eq!(at(0x5412), vec!['B']);
        assert_eq!(at((1 << 32) | 0x5412), vec!['B'], "high garbage bits change nothing");
        assert_eq!(at((0xdead << 32) | 0x5412), vec!['B']);
        assert_eq!(at(0x5413), vec!['A']);
        assert_eq!(at((1 << 32) | 0x5413), vec!['A']);
    }

    #[test]
    fn ranges_on_64_bit_arguments_are_one_condition_each() {
        let args = vec![
            cond(0, 64, ArgOp::Gt, vec![5], None),
            cond(1, 64, ArgOp::Gt, vec![7], None),
            cond(2, 64, ArgOp::Gt, vec![9], None),
            cond(3, 64, ArgOp::Lt, vec![11], None),
        ];
        let rules = vec![(args.clone(), 'A')];
        assert_eq!(check(&rules, false, &[]), Some(1));
        let ranked = [Ranked { args: &args, action: 'A', rule: 0 }];
        let made = entries(&ranked, 'D', false, true, &mut big()).unwrap();
        let ops: Vec<(u8, Cmp, u64)> = made[0].0.iter().map(|a| (a.index, a.op, a.value)).collect();
        assert_eq!(ops, vec![(0, Cmp::Ge, 6), (1, Cmp::Ge, 8), (2, Cmp::Ge, 10), (3, Cmp::Le, 10)]);
        assert_eq!(entries_alone(&args, 0, false, &mut big()), Ok(1));
        // `ne` is one condition too.
        let ne = vec![cond(0, 64, ArgOp::Ne, vec![1 << 40], None)];
        let made =
            entries(&[Ranked { args: &ne, action: 'A', rule: 0 }], 'D', false, true, &mut big()).unwrap();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].0[0].op, Cmp::Ne);
    }

    #[test]
    fn many_point_rules_stay_linear() {
        let mut rules = vec![(vec![], 'A')];
        for i in 0..2000u64 {
            let a = if i % 2 == 0 { 'B' } else { 'C' };
            rules.push((vec![cond(0, 64, ArgOp::Eq, vec![i * 3], None)], a));
        }
        let ranked: Vec<Ranked<char>> =
            rules.iter().enumerate().map(|(i, (args, a))| Ranked { args, action: *a, rule: i }).collect();
        let mut budget = Budget::new(2_000_000, 100_000);
        let made = entries(&ranked, 'D', false, true, &mut budget).unwrap();
        // Each point once, and the gaps between them as a few ranges each.
        assert!(made.len() < 2000 * 6, "{} entries", made.len());
    }

    #[test]
    fn a_32_bit_range_costs_masked_prefixes_and_the_budget_says_so() {
        let args: Vec<ArgCondIr> =
            (0..4).map(|i| cond(i, 32, ArgOp::Gt, vec![0x1234_5677 + u64::from(i)], None)).collect();
        let n = entries_alone(&args, 7, false, &mut big()).unwrap();
        assert!(n > 10_000, "{n}");
        let ranked = [Ranked { args: &args, action: 'A', rule: 7 }];
        let e = entries(&ranked, 'D', false, true, &mut Budget::new(1_000_000, 1000)).unwrap_err();
        assert_eq!((e.rule, e.limit), (7, Limit::Entries));
        assert_eq!(e.asked, n);
        // The same conditions on 64-bit arguments are one entry.
        let wide: Vec<ArgCondIr> = args.iter().cloned().map(|c| ArgCondIr { width: 64, ..c }).collect();
        assert_eq!(entries_alone(&wide, 7, false, &mut big()), Ok(1));
        // And on 32-bit arches, where libseccomp compares the 32 bits exactly, too.
        assert_eq!(entries_alone(&args, 7, true, &mut big()), Ok(1));
    }

    #[test]
    fn work_is_charged_before_it_is_done() {
        // A staircase: every rule overlaps every later one on two arguments.
        let mut rules = Vec::new();
        for i in 0..400u64 {
            let a = if i % 2 == 0 { 'A' } else { 'B' };
            rules.push((
                vec![
                    cond(0, 64, ArgOp::Gt, vec![i * 10], None),
                    cond(1, 64, ArgOp::Lt, vec![10_000 - i * 10], None),
                ],
                a,
            ));
        }
        let ranked: Vec<Ranked<char>> =
            rules.iter().enumerate().map(|(i, (args, a))| Ranked { args, action: *a, rule: i }).collect();
        let e = entries(&ranked, 'D', false, true, &mut Budget::new(10_000, 1_000_000)).unwrap_err();
        assert_eq!(e.limit, Limit::Work);
        assert!(e.asked > 10_000);
    }

    /// A small random generator (xorshift), so the differential test is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    #[test]
    fn entries_mean_what_the_rules_mean() {
        const VALUES: [u64; 14] = [
            0,
            1,
            2,
            5,
            7,
            0xff,
            0x100,
            0x5412,
            0xffff_ffff,
            1 << 32,
            (1 << 32) + 5,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ];
        const MASKS: [u64; 7] = [0xff, 0xffff_ff00, 0x7E02_0000, !0xff, 1, 1 << 63, 0x8000_0001];
        const OPS: [ArgOp; 9] = [
            ArgOp::Eq,
            ArgOp::Ne,
            ArgOp::Lt,
            ArgOp::Le,
            ArgOp::Gt,
            ArgOp::Ge,
            ArgOp::MaskedEq,
            ArgOp::In,
            ArgOp::NotIn,
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut checked = 0;
        for _case in 0..300 {
            let widths: Vec<u8> = (0..3).map(|_| if rng.next() % 3 == 0 { 32 } else { 64 }).collect();
            let n = 1 + rng.next() % 5;
            let mut rules = Vec::new();
            for _ in 0..n {
                let mut conds = Vec::new();
                for _ in 0..rng.next() % 4 {
                    let index = (rng.next() % 3) as u8;
                    // Now and then a width that differs from the others on the argument.
                    let flip = rng.next() % 8 == 0;
                    let width = if (widths[usize::from(index)] == 32) != flip { 32 } else { 64 };
                    let fit = |v: u64| if width == 32 { v & 0xffff_ffff } else { v };
                    let op = rng.pick(&OPS);
                    let (values, mask) = match op {
                        ArgOp::In | ArgOp::NotIn => {
                            let k = 1 + rng.next() % 3;
                            let mut vs: Vec<u64> = (0..k).map(|_| fit(rng.pick(&VALUES))).collect();
                            vs.sort_unstable();
                            vs.dedup();
                            (vs, None)
                        }
                        ArgOp::MaskedEq => {
                            let m = fit(rng.pick(&MASKS));
                            let v = if rng.next() % 4 == 0 {
                                fit(rng.pick(&VALUES))
                            } else {
                                fit(rng.pick(&VALUES)) & m
                            };
                            (vec![v], Some(m))
                        }
                        _ => (vec![fit(rng.pick(&VALUES))], None),
                    };
                    conds.push(cond(index, width, op, values, mask));
                }
                rules.push((conds, rng.pick(&['A', 'B', 'C', 'D'])));
            }
            let extra: Vec<[u64; 6]> = (0..200)
                .map(|_| {
                    let mut a = [0u64; 6];
                    for x in a.iter_mut().take(3) {
                        *x = rng.pick(&VALUES) ^ (rng.next() & rng.next());
                    }
                    a
                })
                .collect();
            for arch32 in [false, true] {
                if check(&rules, arch32, &extra).is_some() {
                    checked += 1;
                }
            }
        }
        assert!(checked > 500, "only {checked} of 600 cases within the budget");
    }
}
