//! Boundary argument vectors: the values where argument conditions change their answer.
//!
//! Used to compare two policies (or a policy and a compiled program) without enumerating
//! 2^384 argument vectors: for interval and mask conditions, a verdict can only change at
//! these points.

use std::collections::BTreeSet;

use super::ArgCondIr;

/// Values worth trying for one argument, given the conditions on it.
pub fn candidates<'a>(conds: impl Iterator<Item = &'a ArgCondIr>) -> BTreeSet<u64> {
    let mut out: BTreeSet<u64> = [0, 1, u64::from(u32::MAX), 1 << 32, u64::MAX].into();
    for c in conds {
        for &v in &c.values {
            for x in [v.wrapping_sub(1), v, v.wrapping_add(1)] {
                out.insert(x);
                out.insert(x | (1 << 32));
                out.insert(x | 0xffff_ffff_0000_0000);
            }
        }
        if let Some(m) = c.mask {
            let v = c.values.first().copied().unwrap_or(0);
            out.insert(m);
            out.insert(v | !m);
            for bit in 0..64 {
                if m & (1 << bit) != 0 {
                    out.insert(v ^ (1 << bit));
                }
            }
        }
    }
    out
}

/// Argument vectors covering every boundary of `conds`, at most `limit` of them.
pub fn vectors(conds: &[&ArgCondIr], limit: usize) -> Vec<[u64; 6]> {
    let mut per_index: Vec<Vec<u64>> = vec![vec![0]; 6];
    for i in 0..6u8 {
        let on_i: Vec<&ArgCondIr> = conds.iter().copied().filter(|c| c.index == i).collect();
        if !on_i.is_empty() {
            per_index[usize::from(i)] = candidates(on_i.into_iter()).into_iter().collect();
        }
    }
    let mut out = vec![[0u64; 6]];
    for (i, vals) in per_index.iter().enumerate() {
        if vals.len() == 1 && vals[0] == 0 {
            continue;
        }
        let mut next = Vec::with_capacity(out.len() * vals.len());
        for base in &out {
            for v in vals {
                let mut a = *base;
                a[i] = *v;
                next.push(a);
                if next.len() >= limit {
                    break;
                }
            }
        }
        out = next;
    }
    out
}
