//! Disjoint argument regions: turning an ordered, last-match-wins rule list into regions that
//! do not overlap, so that order-free consumers (libseccomp via Docker JSON) mean the same.
//!
//! One argument's set of values is a union of *cubes*: `x & mask == value`. Cubes are closed
//! under intersection and difference, express `eq`, `masked_eq` and (as unions) intervals,
//! and map one-to-one onto `SCMP_CMP_MASKED_EQ`/`SCMP_CMP_EQ`. A 32-bit argument's cubes
//! only have mask bits in the low word, which is exactly "compare the low 32 bits".

use crate::ir::ArgCondIr;
use crate::ir::ArgOp;

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

/// The interval `lo..=hi` of `width`-bit values as disjoint cubes.
pub fn interval(lo: u64, hi: u64, width: u8) -> Vec<Cube> {
    let wm = width_mask(width);
    let (mut lo, hi) = (u128::from(lo & wm), u128::from(hi & wm));
    let mut out = Vec::new();
    while lo <= hi {
        let mut k = 0u32;
        while k < u32::from(width) && lo % (1u128 << (k + 1)) == 0 && lo + (1u128 << (k + 1)) - 1 <= hi {
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

/// A condition's set of values (for `width`-bit comparison) as disjoint cubes.
pub fn cond_cubes(c: &ArgCondIr, arch32: bool) -> Vec<Cube> {
    let width = if arch32 { 32 } else { c.width };
    let wm = width_mask(width);
    let max = wm;
    let v = c.values.first().copied().unwrap_or(0) & wm;
    let point = |v: u64| Cube { mask: wm, value: v & wm };
    let complement = |pts: &[u64]| -> Vec<Cube> {
        pts.iter().fold(vec![Cube::ANY], |acc, p| acc.into_iter().flat_map(|c| c.minus(point(*p))).collect())
    };
    match c.op {
        ArgOp::Eq => vec![point(v)],
        ArgOp::Ne => complement(&[v]),
        ArgOp::Lt if v == 0 => vec![],
        ArgOp::Lt => interval(0, v - 1, width),
        ArgOp::Le => interval(0, v, width),
        ArgOp::Gt if v == max => vec![],
        ArgOp::Gt => interval(v + 1, max, width),
        ArgOp::Ge => interval(v, max, width),
        ArgOp::MaskedEq => {
            let m = c.mask.unwrap_or(0) & wm;
            let raw = c.values.first().copied().unwrap_or(0) & wm;
            if raw & !m != 0 {
                vec![]
            } else {
                vec![Cube { mask: m, value: raw }]
            }
        }
        ArgOp::In => c
            .values
            .iter()
            .map(|x| point(*x))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        ArgOp::NotIn => complement(&c.values),
    }
}

/// A box: one cube per argument.
pub type ArgBox = [Cube; 6];

/// The box of every argument vector.
pub const FULL: ArgBox = [Cube::ANY; 6];

/// Boxes (disjoint) where all of `conds` hold.
pub fn conjunction(conds: &[ArgCondIr], arch32: bool) -> Vec<ArgBox> {
    let mut boxes = vec![FULL];
    for c in conds {
        let cubes = cond_cubes(c, arch32);
        let i = usize::from(c.index);
        let mut next = Vec::new();
        for b in &boxes {
            for cube in &cubes {
                if let Some(x) = b[i].intersect(*cube) {
                    let mut nb = *b;
                    nb[i] = x;
                    next.push(nb);
                }
            }
        }
        boxes = next;
    }
    boxes
}

fn box_intersects(a: &ArgBox, b: &ArgBox) -> bool {
    a.iter().zip(b).all(|(x, y)| x.intersect(*y).is_some())
}

/// `a \ b` as disjoint boxes.
pub fn box_minus(a: &ArgBox, b: &ArgBox) -> Vec<ArgBox> {
    if !box_intersects(a, b) {
        return vec![*a];
    }
    let mut out = Vec::new();
    let mut cur = *a;
    for i in 0..6 {
        for piece in cur[i].minus(b[i]) {
            let mut nb = cur;
            nb[i] = piece;
            out.push(nb);
        }
        cur[i] = cur[i].intersect(b[i]).unwrap_or(cur[i]);
    }
    out
}

/// `a` minus every box in `covered`.
pub fn subtract_all(a: &ArgBox, covered: &[ArgBox]) -> Vec<ArgBox> {
    let mut pieces = vec![*a];
    for c in covered {
        if pieces.is_empty() {
            break;
        }
        pieces = pieces.iter().flat_map(|p| box_minus(p, c)).collect();
    }
    pieces
}

/// Merge boxes that differ in one cube by one bit, until nothing merges (fewer, larger boxes;
/// the union is unchanged and boxes stay disjoint).
pub fn merge(boxes: Vec<ArgBox>) -> Vec<ArgBox> {
    merge_pairs(boxes, merge_pair)
}

/// Replace two items by `pair(a, b)` while some pair merges; returns the items sorted.
pub fn merge_pairs<T: Ord>(mut items: Vec<T>, pair: impl Fn(&T, &T) -> Option<T>) -> Vec<T> {
    'again: loop {
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                if let Some(m) = pair(&items[i], &items[j]) {
                    items[i] = m;
                    items.swap_remove(j);
                    continue 'again;
                }
            }
        }
        items.sort();
        return items;
    }
}

fn merge_pair(a: &ArgBox, b: &ArgBox) -> Option<ArgBox> {
    let diff: Vec<usize> = (0..6).filter(|i| a[*i] != b[*i]).collect();
    let [i] = diff[..] else { return None };
    let (x, y) = (a[i], b[i]);
    let d = x.value ^ y.value;
    if x.mask != y.mask || d.count_ones() != 1 || x.mask & d == 0 {
        return None;
    }
    let mut out = *a;
    out[i] = Cube { mask: x.mask & !d, value: x.value & !d };
    Some(out)
}

/// One rule as the partition sees it.
pub struct Ranked<'a, T> {
    /// Its conditions.
    pub args: &'a [ArgCondIr],
    /// Its verdict.
    pub action: T,
    /// Identifies the rule.
    pub rule: usize,
}

/// The disjoint regions of an ordered rule list (last match wins); the rest of the space is
/// the default. Returns `(box, verdict, rule)`.
pub fn partition<T: Copy>(rules: &[Ranked<T>], arch32: bool) -> Vec<(ArgBox, T, usize)> {
    let mut covered: Vec<ArgBox> = Vec::new();
    let mut out = Vec::new();
    for r in rules.iter().rev() {
        for b in conjunction(r.args, arch32) {
            for piece in subtract_all(&b, &covered) {
                out.push((piece, r.action, r.rule));
                covered.push(piece);
            }
        }
        if r.args.is_empty() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(index: u8, width: u8, op: ArgOp, values: Vec<u64>, mask: Option<u64>) -> ArgCondIr {
        ArgCondIr { index, width, op, values, mask }
    }

    fn member(cubes: &[Cube], x: u64) -> bool {
        cubes.iter().filter(|c| c.contains(x)).count() == 1
    }

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
                    for x in [
                        0u64,
                        1,
                        36,
                        37,
                        38,
                        39,
                        0xffff_ffff,
                        1 << 32,
                        (1 << 32) | 38,
                        u64::MAX,
                        v,
                        v.wrapping_add(1),
                        v.wrapping_sub(1),
                    ] {
                        let want = c.matches(x, false);
                        let got = cubes.iter().any(|k| k.contains(x));
                        assert_eq!(want, got, "{op:?} {v:#x} width {width} at {x:#x}");
                        if got {
                            assert!(member(&cubes, x), "cubes overlap at {x:#x}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn masked_and_sets() {
        let c = cond(0, 32, ArgOp::MaskedEq, vec![0], Some(0x7E02_0000));
        let cubes = cond_cubes(&c, false);
        assert_eq!(cubes, vec![Cube { mask: 0x7E02_0000, value: 0 }]);
        let not_in = cond(0, 32, ArgOp::NotIn, vec![38, 40], None);
        let cubes = cond_cubes(&not_in, false);
        for x in [0u64, 37, 38, 39, 40, 41, (1 << 32) | 38, 0xffff_ffff] {
            assert_eq!(cubes.iter().any(|k| k.contains(x)), not_in.matches(x, false), "{x:#x}");
        }
    }

    #[test]
    fn last_match_wins_partition() {
        let allow_all: Vec<ArgCondIr> = vec![];
        let deny_sti = vec![cond(1, 32, ArgOp::Eq, vec![0x5412], None)];
        let rules = [
            Ranked { args: &allow_all, action: 'A', rule: 0 },
            Ranked { args: &deny_sti, action: 'D', rule: 1 },
        ];
        let parts = partition(&rules, false);
        let at = |x: u64| parts.iter().filter(|(b, _, _)| b[1].contains(x)).map(|p| p.1).collect::<Vec<_>>();
        assert_eq!(at(0x5412), vec!['D']);
        assert_eq!(at((1 << 32) | 0x5412), vec!['D']);
        assert_eq!(at(0x5413), vec!['A']);
    }

    #[test]
    fn merging_keeps_the_union() {
        let boxes = interval(0, 255, 64).into_iter().chain(interval(256, 511, 64)).map(|c| {
            let mut b = FULL;
            b[0] = c;
            b
        });
        let merged = merge(boxes.collect());
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0][0], Cube { mask: !511, value: 0 });
    }
}
