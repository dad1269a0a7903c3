//! The search over one arch block's number ranges: which leaves it has (a shared `ret`, the
//! argument tests of one syscall, or a cached run with a few `jeq`-tested numbers in it) and
//! which tree finds them: optimal for the mean over the numbers that run BPF, within
//! [`WORST_CASE_BUDGET`] instructions on every path when a tree can be.

use super::search::{limited_tree, optimal_tree, Segment, Tree};
use super::BpfError;

/// Weight of one number that runs the filter, against 1 for each number the kernel caches.
pub(super) const RUNS_BPF: u64 = 1000;

/// What happens to one range of numbers: a shared `ret` (an interned [`RetKey`]), the
/// argument tests of one syscall (an index into the block's [`ArgsLeaf`]s), or a range of
/// cached verdicts with a few numbers that run BPF tested by `jeq` inside it (an index into
/// the block's [`Peel`]s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Leaf {
    Ret(u32),
    Args(u32),
    Peel(u32),
}

/// A range whose numbers get the verdict `base` except `exceptions` (number, verdict), each
/// a single number that runs BPF between two runs of `base` that the kernel caches. Testing
/// them with `jeq` at the range's leaf keeps the range one leaf of the search: the cached
/// numbers pay the `jeq`s (the kernel skips their BPF anyway) and the search gets shallower
/// for every number that runs it.
#[derive(Clone, Debug)]
pub(super) struct Peel {
    pub(super) base: u32,
    /// (number, verdict, weight).
    pub(super) exceptions: Vec<(u32, u32, u64)>,
}

/// Most `jeq`s at one [`Peel`] leaf.
const PEEL_MAX: usize = 3;

/// `segs` with each number that runs BPF alone between two cached runs of one verdict moved
/// into a [`Peel`] leaf spanning the three (and more, up to [`PEEL_MAX`] numbers).
fn absorb(segs: &[Segment<Leaf>], peels: &mut Vec<Peel>, any: bool) -> Vec<Segment<Leaf>> {
    let light = |s: &Segment<Leaf>| s.weight < RUNS_BPF;
    let mut out: Vec<Segment<Leaf>> = Vec::with_capacity(segs.len());
    let mut i = 0;
    while i < segs.len() {
        let s = &segs[i];
        let base = match out.last().map(|l| (l.leaf, light(l))) {
            Some((Leaf::Ret(b), true)) => Some(b),
            Some((Leaf::Ret(b), false)) if any => Some(b),
            Some((Leaf::Peel(p), _)) if peels[p as usize].exceptions.len() < PEEL_MAX => {
                Some(peels[p as usize].base)
            }
            _ => None,
        };
        let next = segs.get(i + 1);
        let absorbed = match (base, s.leaf, next) {
            (Some(b), Leaf::Ret(x), Some(n))
                if s.lo == s.hi && x != b && n.leaf == Leaf::Ret(b) && (any || (!light(s) && light(n))) =>
            {
                Some((b, x, n))
            }
            _ => None,
        };
        let Some((b, x, n)) = absorbed else {
            out.push(s.clone());
            i += 1;
            continue;
        };
        let last = out.last_mut().expect("a base run precedes");
        let p = match last.leaf {
            Leaf::Peel(p) => p,
            _ => {
                peels.push(Peel { base: b, exceptions: Vec::new() });
                last.leaf = Leaf::Peel(peels.len() as u32 - 1);
                peels.len() as u32 - 1
            }
        };
        peels[p as usize].exceptions.push((s.lo, x, s.weight));
        last.hi = n.hi;
        last.weight += s.weight + n.weight;
        i += 2;
    }
    out
}

/// Most instructions a leaf executes (its `ret` included), given the block's peels.
pub(super) type LeafCost<'c> = dyn FnMut(Leaf, &[Peel]) -> Result<usize, BpfError> + 'c;

/// Most rounds of reweighting the search to bring its worst case within the budget.
const BOOSTS: usize = 24;

/// Most instructions any call that runs BPF should execute (`ld arch`, `jeq`, `ld nr`
/// included).
pub const WORST_CASE_BUDGET: usize = 12;

/// A block's search over `segs`, and how good it is.
pub(super) struct Dispatch {
    pub(super) segs: Vec<Segment<Leaf>>,
    pub(super) peels: Vec<Peel>,
    pub(super) tree: Tree,
    /// Most instructions of the search and a leaf, over leaves that run BPF.
    worst: usize,
    /// Weighted instructions of the search and the leaves.
    total: u64,
}

impl Dispatch {
    /// Within `budget` first, then the fewest weighted instructions.
    fn better_than(&self, other: &Dispatch, budget: usize) -> bool {
        let key = |d: &Dispatch| (d.worst.max(budget), d.total, d.worst);
        key(self) < key(other)
    }
}

/// The block's search, with and without [`Peel`] leaves, whichever is better.
pub(super) fn dispatch(
    segs: Vec<Segment<Leaf>>,
    cost: &mut LeafCost,
    budget: usize,
) -> Result<Dispatch, BpfError> {
    // The optimal searches without, with some and with every lone number peeled, unfitted;
    // then the best one fitted to the budget if need be.
    let mut best = dispatch_tree(segs.clone(), Vec::new(), cost, budget, false)?;
    for any in [false, true] {
        let mut peels = Vec::new();
        let absorbed = absorb(&segs, &mut peels, any);
        if peels.is_empty() {
            continue;
        }
        let peeled = dispatch_tree(absorbed, peels, cost, budget, false)?;
        if peeled.better_than(&best, budget) {
            best = peeled;
        }
    }
    let (segs, peels, first) = (best.segs.clone(), best.peels.clone(), best);
    if first.worst <= budget {
        return Ok(first);
    }
    // Over the budget: fit it (the limited tree, else reweighting).
    dispatch_tree(segs, peels, cost, budget, true)
}

/// Weighted instructions a leaf executes: its cost for its weight, but a [`Peel`] leaf's
/// exceptions pay their place in its `jeq` chain, and its cached numbers all of it.
fn leaf_total(s: &Segment<Leaf>, cost: usize, peels: &[Peel]) -> u64 {
    match s.leaf {
        Leaf::Peel(p) => {
            let ex = &peels[p as usize].exceptions;
            let n = ex.len() as u64;
            let chained: u64 = ex.iter().zip(1..).map(|((_, _, w), k)| w * (k + 1)).sum();
            let own: u64 = ex.iter().map(|(_, _, w)| w).sum();
            chained + s.weight.saturating_sub(own) * (n + 1)
        }
        _ => s.weight * cost as u64,
    }
}

/// The search tree: optimal for the mean over numbers that run BPF; then, while some leaf's
/// depth plus its own cost exceeds `budget`, the worst leaves are made heavier and the tree
/// rebuilt, keeping the best (worst case first, then mean).
fn dispatch_tree(
    segs: Vec<Segment<Leaf>>,
    peels: Vec<Peel>,
    cost: &mut LeafCost,
    budget: usize,
    fit: bool,
) -> Result<Dispatch, BpfError> {
    let costs: Vec<usize> = segs.iter().map(|s| cost(s.leaf, &peels)).collect::<Result<_, _>>()?;
    let mut weights: Vec<u64> = segs.iter().map(|s| s.weight).collect();
    let score = |t: &Tree| {
        let mut d = Vec::new();
        t.depths(&mut d);
        let runs = |i: usize| segs[i].weight >= RUNS_BPF;
        let worst = (0..segs.len()).filter(|i| runs(*i)).map(|i| d[i] + costs[i]).max().unwrap_or(0);
        let total: u64 = (0..segs.len())
            .map(|i| segs[i].weight * d[i] as u64 + leaf_total(&segs[i], costs[i], &peels))
            .sum();
        (worst, total, d)
    };
    let mut best = optimal_tree(&weights);
    let (mut best_worst, mut best_total, mut depths) = score(&best);
    if !fit {
        return Ok(Dispatch { segs, peels, tree: best, worst: best_worst, total: best_total });
    }
    if best_worst > budget {
        // The best tree within the budget, when one exists and the block is small enough.
        let limits: Vec<usize> = (0..segs.len())
            .map(|i| if segs[i].weight >= RUNS_BPF { budget.saturating_sub(costs[i]) } else { usize::MAX })
            .collect();
        if let Some(t) = limited_tree(&weights, &limits) {
            let (worst, total, _) = score(&t);
            return Ok(Dispatch { segs, peels, tree: t, worst, total });
        }
    }
    // Doubling the weight of the leaves over the budget, a little at a time, finds a tree
    // within it that costs the others little.
    for _ in 0..BOOSTS {
        let mut boosted = false;
        for i in 0..segs.len() {
            if segs[i].weight >= RUNS_BPF && depths[i] + costs[i] > budget {
                weights[i] = weights[i].saturating_mul(2);
                boosted = true;
            }
        }
        if !boosted {
            break;
        }
        let t = optimal_tree(&weights);
        let (worst, total, d) = score(&t);
        if (worst.max(budget), total) < (best_worst.max(budget), best_total) {
            (best, best_worst, best_total) = (t, worst, total);
        }
        depths = d;
    }
    Ok(Dispatch { segs, peels, tree: best, worst: best_worst, total: best_total })
}
