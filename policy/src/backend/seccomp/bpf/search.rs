//! The syscall-number dispatch: merge numbers into ranges and build the binary search tree
//! over them that costs the fewest executed instructions where BPF actually runs.
//!
//! Every `jge #k` in the tree is one instruction executed. The kernel caches syscalls that
//! are allowed whatever their arguments, so their depth does not matter; the tree is an
//! optimal alphabetic tree (Knuth's O(n²) dynamic programme) weighted by how many numbers
//! of each range still run the filter.

/// A range of syscall numbers with one leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<L> {
    /// First number.
    pub lo: u32,
    /// Last number (inclusive).
    pub hi: u32,
    /// What happens there.
    pub leaf: L,
    /// How much the depth of this range costs.
    pub weight: u64,
}

/// Merge adjacent numbers with equal leaves: `points` sorted by number, covering `lo..=hi`
/// with gaps filled by `gap`.
pub fn segments<L: Clone + PartialEq>(
    points: impl IntoIterator<Item = (u32, L, u64)>,
    lo: u32,
    hi: u32,
    gap: &L,
    gap_weight: u64,
) -> Vec<Segment<L>> {
    let mut out: Vec<Segment<L>> = Vec::new();
    let push = |out: &mut Vec<Segment<L>>, lo: u32, hi: u32, leaf: &L, w: u64| {
        if let Some(last) = out.last_mut() {
            if last.leaf == *leaf && last.hi.checked_add(1) == Some(lo) {
                last.hi = hi;
                last.weight += w;
                return;
            }
        }
        out.push(Segment { lo, hi, leaf: leaf.clone(), weight: w });
    };
    let mut next = lo;
    let mut done = false;
    for (nr, leaf, w) in points {
        if nr < next || nr > hi || done {
            continue;
        }
        if nr > next {
            push(&mut out, next, nr - 1, gap, gap_weight);
        }
        push(&mut out, nr, nr, &leaf, w);
        match nr.checked_add(1) {
            Some(n) => next = n,
            None => done = true,
        }
    }
    if !done && next <= hi {
        push(&mut out, next, hi, gap, gap_weight);
    }
    out
}

/// One node of a search tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// Segment index.
    Leaf(usize),
    /// `jge` on the first number of segment `split`: `right` when taken.
    Split {
        /// Index of the first segment on the right.
        split: usize,
        /// Node of the segments below.
        left: usize,
        /// Node of the segments from `split` on.
        right: usize,
    },
}

/// A search tree over segments `0..n`, its nodes in one vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// Index of the root.
    pub root: usize,
}

/// The alphabetic tree minimising Σ weight × depth (Garsia–Wachs, O(n²) here with plain
/// vectors; n is the number of ranges, a few hundred at most).
pub fn optimal_tree(weights: &[u64]) -> Tree {
    let n = weights.len();
    if n <= 1 {
        return Tree { nodes: vec![Node::Leaf(0)], root: 0 };
    }
    // Phase 1: combine. Nodes 0..n are the leaves; later ones are pairs.
    let mut kids: Vec<(usize, usize)> = Vec::with_capacity(n);
    let mut work: Vec<(u64, usize)> = Vec::with_capacity(n + 2);
    work.push((u64::MAX, usize::MAX));
    work.extend(weights.iter().enumerate().map(|(i, w)| (*w, i)));
    work.push((u64::MAX, usize::MAX));
    while work.len() > 3 {
        // The leftmost k with w[k-1] <= w[k+1]: combine items k-1 and k.
        let mut k = 2;
        while work[k - 1].0 > work[k + 1].0 {
            k += 1;
        }
        let (x, y) = (work[k - 1], work[k]);
        let s = x.0.saturating_add(y.0);
        kids.push((x.1, y.1));
        let node = n + kids.len() - 1;
        work.drain(k - 1..=k);
        // Move left past every lighter item: insert after the last earlier item weighing >= s.
        let mut j = k - 1;
        while work[j - 1].0 < s {
            j -= 1;
        }
        work.insert(j, (s, node));
    }
    // Phase 2: leaf depths.
    let mut depth = vec![0usize; n];
    let mut stack = vec![(work[1].1, 0usize)];
    while let Some((node, d)) = stack.pop() {
        if node < n {
            depth[node] = d;
        } else {
            let (l, r) = kids[node - n];
            stack.push((l, d + 1));
            stack.push((r, d + 1));
        }
    }
    // Phase 3: the alphabetic tree with those depths.
    let mut nodes: Vec<Node> = Vec::with_capacity(2 * n);
    let mut st: Vec<(usize, usize, usize)> = Vec::new(); // (node, depth, first leaf)
    for (i, d) in depth.into_iter().enumerate() {
        nodes.push(Node::Leaf(i));
        st.push((nodes.len() - 1, d, i));
        while st.len() >= 2 && st[st.len() - 1].1 == st[st.len() - 2].1 {
            let (right, d, first_r) = st.pop().expect("two items");
            let (left, _, first_l) = st.pop().expect("two items");
            nodes.push(Node::Split { split: first_r, left, right });
            st.push((nodes.len() - 1, d.saturating_sub(1), first_l));
        }
    }
    let root = st.pop().map(|t| t.0).unwrap_or(0);
    Tree { nodes, root }
}

/// Most leaves [`limited_tree`] takes (its work grows with the cube of their number).
pub const LIMITED_MAX_LEAVES: usize = 160;

/// The alphabetic tree minimising Σ weight × depth with every leaf `i` at a depth of at most
/// `limits[i]`, or `None` when no tree meets them (or there are more than
/// [`LIMITED_MAX_LEAVES`] leaves). Dynamic programming over (range of leaves, depth of its
/// root): O(n³ · depth).
pub fn limited_tree(weights: &[u64], limits: &[usize]) -> Option<Tree> {
    let n = weights.len();
    if n > LIMITED_MAX_LEAVES || limits.len() != n {
        return None;
    }
    if n <= 1 {
        return (limits.first().is_none_or(|l| *l > 0)).then(|| Tree { nodes: vec![Node::Leaf(0)], root: 0 });
    }
    // A tree of n leaves needs no depth beyond n - 1; cap the table at 16 levels (a tree of
    // 160 leaves needs 8).
    let depths = (n - 1).min(16) + 1;
    const INF: u64 = u64::MAX;
    let at = |i: usize, j: usize, d: usize| (i * n + j) * depths + d;
    let mut cost = vec![INF; n * n * depths];
    let mut choice = vec![0u16; n * n * depths];
    let mut prefix = vec![0u64; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i].saturating_add(weights[i]);
    }
    for i in 0..n {
        for d in 0..depths {
            if d <= limits[i] {
                cost[at(i, i, d)] = 0;
            }
        }
    }
    for len in 2..=n {
        for i in 0..=n - len {
            let j = i + len - 1;
            let w = prefix[j + 1] - prefix[i];
            for d in 0..depths - 1 {
                let mut best = INF;
                let mut pick = 0;
                // Knuth's bound on the root (the roots of the two ranges one leaf shorter), as
                // for unlimited trees: not exact under limits, but any root gives a valid tree,
                // and it keeps the work at O(n² · depth). The full range when it finds none.
                // Removing a leaf never deepens the others: a range is infeasible when either
                // range one leaf shorter is.
                if len > 2 && (cost[at(i, j - 1, d)] == INF || cost[at(i + 1, j, d)] == INF) {
                    continue;
                }
                let (lo, hi) = if len > 2 {
                    let a = choice[at(i, j - 1, d)] as usize;
                    let b = choice[at(i + 1, j, d)] as usize;
                    if a <= b {
                        (a.max(i + 1), b.min(j))
                    } else {
                        (i + 1, j)
                    }
                } else {
                    (i + 1, j)
                };
                let ranges = [(lo, hi), (i + 1, j)];
                for (pass, (lo, hi)) in ranges.into_iter().enumerate() {
                    if pass == 1 && (best != INF || (lo, hi) == ranges[0]) {
                        break;
                    }
                    for k in lo..=hi {
                        let (l, r) = (cost[at(i, k - 1, d + 1)], cost[at(k, j, d + 1)]);
                        if l == INF || r == INF {
                            continue;
                        }
                        let c = l.saturating_add(r);
                        if c < best {
                            best = c;
                            pick = k;
                        }
                    }
                }
                if best != INF {
                    cost[at(i, j, d)] = best.saturating_add(w);
                    choice[at(i, j, d)] = pick as u16;
                }
            }
        }
    }
    if cost[at(0, n - 1, 0)] == INF {
        return None;
    }
    let mut nodes = Vec::with_capacity(2 * n);
    fn build(
        nodes: &mut Vec<Node>,
        choice: &[u16],
        at: &dyn Fn(usize, usize, usize) -> usize,
        i: usize,
        j: usize,
        d: usize,
    ) -> usize {
        if i == j {
            nodes.push(Node::Leaf(i));
            return nodes.len() - 1;
        }
        let k = choice[at(i, j, d)] as usize;
        let left = build(nodes, choice, at, i, k - 1, d + 1);
        let right = build(nodes, choice, at, k, j, d + 1);
        nodes.push(Node::Split { split: k, left, right });
        nodes.len() - 1
    }
    let root = build(&mut nodes, &choice, &at, 0, n - 1, 0);
    Some(Tree { nodes, root })
}

impl Tree {
    /// Depth of every leaf, by segment index.
    pub fn depths(&self, out: &mut Vec<usize>) {
        let mut stack = vec![(self.root, 0usize)];
        while let Some((i, d)) = stack.pop() {
            match self.nodes[i] {
                Node::Leaf(seg) => {
                    if out.len() <= seg {
                        out.resize(seg + 1, 0);
                    }
                    out[seg] = d;
                }
                Node::Split { left, right, .. } => {
                    stack.push((left, d + 1));
                    stack.push((right, d + 1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_merge_and_fill_gaps() {
        let s = segments([(1, 'a', 1), (2, 'a', 1), (4, 'b', 1)], 0, 10, &'u', 0);
        let got: Vec<(u32, u32, char)> = s.iter().map(|s| (s.lo, s.hi, s.leaf)).collect();
        assert_eq!(got, vec![(0, 0, 'u'), (1, 2, 'a'), (3, 3, 'u'), (4, 4, 'b'), (5, 10, 'u')]);
        let full = segments([(u32::MAX, 'x', 1)], 0, u32::MAX, &'u', 0);
        assert_eq!(full.last().map(|s| (s.lo, s.hi)), Some((u32::MAX, u32::MAX)));
    }

    fn brute(w: &[u64]) -> u64 {
        if w.len() <= 1 {
            return 0;
        }
        let total: u64 = w.iter().sum();
        (1..w.len()).map(|r| brute(&w[..r]) + brute(&w[r..])).min().unwrap_or(0) + total
    }

    fn leaves(t: &Tree, node: usize, out: &mut Vec<usize>) {
        match t.nodes[node] {
            Node::Leaf(i) => out.push(i),
            Node::Split { split, left, right } => {
                leaves(t, left, out);
                assert_eq!(out.len(), split, "split is the first leaf on the right");
                leaves(t, right, out);
            }
        }
    }

    #[test]
    fn tree_is_optimal_and_in_order() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut cases = vec![
            vec![1, 1, 1, 1],
            vec![100, 1, 1, 1, 1, 1, 50],
            vec![3, 9, 1, 0, 0, 7, 2, 2],
            vec![5],
            vec![0, 0, 0],
        ];
        for len in 2..=9 {
            for _ in 0..30 {
                let w = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        [0, 1, 1, 2, 3, 1000, 1001][(seed % 7) as usize]
                    })
                    .collect();
                cases.push(w);
            }
        }
        for w in cases {
            let t = optimal_tree(&w);
            let mut order = Vec::new();
            leaves(&t, t.root, &mut order);
            assert_eq!(order, (0..w.len()).collect::<Vec<_>>(), "{w:?}");
            let mut d = Vec::new();
            t.depths(&mut d);
            let cost: u64 = w.iter().zip(&d).map(|(w, d)| w * *d as u64).sum();
            assert_eq!(cost, brute(&w), "{w:?}");
        }
    }
}
