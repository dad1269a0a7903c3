//! From the IR's per-arch tables to one classic-BPF program for a target kernel arch.
//!
//! Layout: `ld arch`, one `jeq` per accepted audit arch, `ret KILL_PROCESS` for every other
//! arch, then one block per arch: `ld nr`, a binary search over merged number ranges whose
//! leaves jump straight to a shared `ret` (or to argument tests), and the block's `ret`s.
//! On x86-64 the x32 bit is part of the number search, so x32 numbers cost nothing extra.
//! Only `ld nr/arch`, `jeq/jge #k` and `ret` lie on the path to an argument-free verdict, so
//! the kernel's action cache applies to every syscall that is allowed whatever its arguments.

use std::collections::BTreeMap;

use super::args::{emit_conditions, ArgAbi};
use super::emit::{Emitter, Label, RetKey};
use super::insn::{op, OFF_ARCH, OFF_NR};
use super::search::{optimal_tree, segments, Segment, Tree};
use super::{BpfError, Program};
use crate::action::Action;
use crate::ir::{CondIr, Policy};
use crate::syscalls::arch::X32_SYSCALL_BIT;
use crate::syscalls::{table, Arch};

/// Weight of one number that runs the filter, against 1 for each number the kernel caches.
const RUNS_BPF: u64 = 1000;

/// What happens to one range of numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(RetKey),
    Args(Box<ArgsLeaf>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ArgsLeaf {
    name: String,
    fallback: RetKey,
    conds: Vec<CondIr>,
    abi: (bool, bool),
}

fn key(action: Action, origin: &str) -> RetKey {
    RetKey { action, origin: origin.to_string() }
}

/// The arches of `policy` that a kernel of arch `target` can present: `target` itself and
/// its compat arches (x86 and x32 under x86-64, arm under aarch64, ...).
pub fn program_arches(policy: &Policy, target: Arch) -> Vec<Arch> {
    policy.seccomp.arches.iter().copied().filter(|a| *a == target || a.family_head() == target).collect()
}

/// One `seccomp_data.arch` value and the number ranges it dispatches.
struct Block {
    audit_arch: u32,
    /// (first, last, arch whose table applies, verdict when that arch is not accepted).
    regions: Vec<(u32, u32, Option<Arch>, RetKey)>,
}

fn blocks(arches: &[Arch], target: Arch) -> Vec<Block> {
    let mut audits: Vec<u32> = Vec::new();
    // The target's own arch first: native calls take the shortest dispatch.
    let mut ordered: Vec<Arch> = arches.to_vec();
    ordered.sort_by_key(|a| (*a != target, a.family_head() != *a, *a));
    for a in &ordered {
        if !audits.contains(&a.audit_arch()) {
            audits.push(a.audit_arch());
        }
    }
    let bad = key(Action::KillProcess, "bad-arch");
    audits
        .into_iter()
        .map(|aa| {
            let native = arches.iter().copied().find(|a| *a != Arch::X32 && a.audit_arch() == aa);
            let regions = if aa == Arch::X32.audit_arch() {
                let x32 = arches.contains(&Arch::X32).then_some(Arch::X32);
                let not_x32 = key(Action::KillProcess, "x32");
                let b = X32_SYSCALL_BIT;
                vec![
                    (0, b - 1, native, bad.clone()),
                    (b, 2 * b - 1, x32, not_x32.clone()),
                    (2 * b, 3 * b - 1, native, bad.clone()),
                    (3 * b, u32::MAX, x32, not_x32),
                ]
            } else {
                vec![(0, u32::MAX, native, bad.clone())]
            };
            Block { audit_arch: aa, regions }
        })
        .collect()
}

/// Whether the kernel can cache an allow for numbers of `arch` in a program for `target`.
fn cacheable_arch(arch: Arch, target: Arch) -> bool {
    arch != Arch::X32 && (arch == target || arch.family_head() == target)
}

fn block_segments(policy: &Policy, block: &Block, target: Arch) -> Vec<Segment<Leaf>> {
    let s = &policy.seccomp;
    let mut all: Vec<Segment<Leaf>> = Vec::new();
    for (lo, hi, arch, absent) in &block.regions {
        let segs = match arch.and_then(|a| table::table(a).map(|t| (a, t))) {
            None => {
                let leaf = match arch {
                    Some(_) => Leaf::Ret(key(s.unknown_action, "unknown")),
                    None => Leaf::Ret(absent.clone()),
                };
                segments(std::iter::empty(), *lo, *hi, &leaf, RUNS_BPF)
            }
            Some((a, t)) => {
                let at = s.tables.get(a.name());
                let abi = (a.is_32bit(), a.audit_arch() & 0x4000_0000 == 0);
                let default = key(s.default_action, "default");
                let cache = cacheable_arch(a, target);
                let points = t.iter().map(|(nr, name)| {
                    let leaf = match at.and_then(|at| at.syscalls.get(name)) {
                        None => Leaf::Ret(default.clone()),
                        Some(sc) => {
                            let fallback = key(sc.action, sc.origin.as_deref().unwrap_or("default"));
                            if sc.conditional.is_empty() {
                                Leaf::Ret(fallback)
                            } else {
                                Leaf::Args(Box::new(ArgsLeaf {
                                    name: name.to_string(),
                                    fallback,
                                    conds: sc.conditional.clone(),
                                    abi,
                                }))
                            }
                        }
                    };
                    // x32 is rare: its calls weigh like cached ones.
                    let cached = cache && matches!(&leaf, Leaf::Ret(k) if k.action == Action::Allow);
                    (nr, leaf, if cached || a == Arch::X32 { 1 } else { RUNS_BPF })
                });
                let gap = if a == Arch::X32 { 1 } else { RUNS_BPF };
                segments(points, *lo, *hi, &Leaf::Ret(key(s.unknown_action, "unknown")), gap)
            }
        };
        for seg in segs {
            match all.last_mut() {
                Some(last) if last.leaf == seg.leaf && last.hi.checked_add(1) == Some(seg.lo) => {
                    last.hi = seg.hi;
                    last.weight += seg.weight;
                }
                _ => all.push(seg),
            }
        }
    }
    all
}

/// Compile the seccomp tier of `policy` for a kernel of arch `target`.
pub fn compile(policy: &Policy, target: Arch) -> Result<Program, BpfError> {
    let arches = program_arches(policy, target);
    if arches.is_empty() {
        return Err(BpfError::NoArch {
            target: target.name().into(),
            arches: policy.seccomp.arches.iter().map(|a| a.name()).collect::<Vec<_>>().join(", "),
        });
    }
    let big_endian = target.audit_arch() & 0x4000_0000 == 0;
    let blocks = blocks(&arches, target);
    let mut e = Emitter::new();
    let mut sizes: Vec<(String, usize)> = Vec::new();
    e.load(OFF_ARCH, "arch");
    let entries: Vec<Label> = blocks.iter().map(|_| e.label()).collect();
    for (b, l) in blocks.iter().zip(&entries) {
        let next = e.label();
        let name: Vec<&str> =
            arches.iter().filter(|a| a.audit_arch() == b.audit_arch).map(|a| a.name()).collect();
        e.jump(op::JEQ_K, b.audit_arch, *l, next, name.join("/"));
        e.bind(next);
    }
    e.ret(key(Action::KillProcess, "bad-arch"), "");
    for (index, (b, entry)) in blocks.iter().zip(entries).enumerate() {
        let start = e.len();
        let segs = block_segments(policy, b, target);
        // Before the search: `ld arch`, `jeq` × (index + 1), `ld nr`.
        let tree = dispatch_tree(&segs, WORST_CASE_BUDGET.saturating_sub(index + 3))?;
        let arch_name = arches
            .iter()
            .filter(|a| a.audit_arch() == b.audit_arch)
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join("/");
        let name_of = |nr: u32| -> Option<&'static str> {
            let (_, _, arch, _) = b.regions.iter().find(|(lo, hi, _, _)| (*lo..=*hi).contains(&nr))?;
            table::table((*arch)?)?.name(nr)
        };
        e.bind(entry);
        e.load(OFF_NR, format!("nr ({arch_name})"));
        let mut ctx = Ctx { segs: &segs, sizes: &mut sizes, arch_name: &arch_name, name_of: &name_of };
        emit_block(&mut e, &tree, &mut ctx);
        sizes.push((format!("dispatch on {arch_name}"), e.len() - start));
    }
    let asm = e.finish()?;
    if asm.insns.len() > super::insn::MAX_INSNS {
        sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let top: Vec<String> = sizes.iter().take(5).map(|(n, s)| format!("{n}: {s}")).collect();
        return Err(BpfError::TooLarge { len: asm.insns.len(), contributors: top.join(", ") });
    }
    Ok(Program { target, arches, big_endian, insns: asm.insns, notes: asm.notes, rets: asm.rets })
}

/// Most instructions a leaf can execute (its `ret` included).
fn leaf_cost(leaf: &Leaf) -> Result<usize, BpfError> {
    let Leaf::Args(a) = leaf else { return Ok(1) };
    let mut e = Emitter::new();
    let mut rets = Rets::default();
    let abi = ArgAbi { arch32: a.abi.0, big_endian: a.abi.1 };
    let fallback = rets.label(&mut e, &a.fallback);
    emit_conditions(&mut e, &a.conds, abi, |e, c| rets.label(e, &key(c.action, &c.origin)), fallback);
    for k in std::mem::take(&mut rets.order) {
        e.bind(rets.labels[&k]);
        e.ret(k, "");
    }
    Ok(super::stats::longest_path(&e.finish()?.insns))
}

/// Most instructions any call that runs BPF should execute (`ld arch`, `jeq`, `ld nr`
/// included).
pub const WORST_CASE_BUDGET: usize = 16;

/// The search tree: optimal for the mean over numbers that run BPF; then, while some leaf's
/// depth plus its own cost exceeds `budget`, the worst leaves are made heavier and the tree
/// rebuilt, keeping the best (worst case first, then mean).
fn dispatch_tree(segs: &[Segment<Leaf>], budget: usize) -> Result<Tree, BpfError> {
    let costs: Vec<usize> = segs.iter().map(|s| leaf_cost(&s.leaf)).collect::<Result<_, _>>()?;
    let mut weights: Vec<u64> = segs.iter().map(|s| s.weight).collect();
    let score = |t: &Tree| {
        let mut d = Vec::new();
        t.depths(&mut d);
        let runs = |i: usize| segs[i].weight >= RUNS_BPF;
        let worst = (0..segs.len()).filter(|i| runs(*i)).map(|i| d[i] + costs[i]).max().unwrap_or(0);
        let total: u64 = segs.iter().zip(&d).map(|(s, d)| s.weight * *d as u64).sum();
        (worst, total, d)
    };
    let mut best = optimal_tree(&weights);
    let (mut best_worst, mut best_total, mut depths) = score(&best);
    for _ in 0..8 {
        if best_worst <= budget {
            break;
        }
        let mut boosted = false;
        for i in 0..segs.len() {
            if segs[i].weight >= RUNS_BPF && depths[i] + costs[i] >= best_worst {
                weights[i] = weights[i].saturating_mul(4);
                boosted = true;
            }
        }
        if !boosted {
            break;
        }
        let t = optimal_tree(&weights);
        let (worst, total, d) = score(&t);
        if worst < best_worst || (worst == best_worst && total < best_total) {
            (best, best_worst, best_total, depths) = (t, worst, total, d);
        } else if worst > best_worst {
            break;
        } else {
            depths = d;
        }
    }
    Ok(best)
}

struct Ctx<'a> {
    segs: &'a [Segment<Leaf>],
    sizes: &'a mut Vec<(String, usize)>,
    arch_name: &'a str,
    name_of: &'a dyn Fn(u32) -> Option<&'static str>,
}

/// `ret` labels of one block, created on first use and emitted at its end.
#[derive(Default)]
struct Rets {
    labels: BTreeMap<RetKey, Label>,
    order: Vec<RetKey>,
}

impl Rets {
    fn label(&mut self, e: &mut Emitter, k: &RetKey) -> Label {
        if let Some(l) = self.labels.get(k) {
            return *l;
        }
        let l = e.label();
        self.labels.insert(k.clone(), l);
        self.order.push(k.clone());
        l
    }
}

fn emit_block(e: &mut Emitter, tree: &Tree, ctx: &mut Ctx) {
    let mut rets = Rets::default();
    let root = entry_of(e, tree, ctx.segs, &mut rets);
    match root {
        (l, true) => walk(e, tree, l, ctx, &mut rets),
        (l, false) => e.goto(l),
    }
    for k in std::mem::take(&mut rets.order) {
        e.bind(rets.labels[&k]);
        let note = k.origin.clone();
        e.ret(k, note);
    }
}

/// The label a subtree starts at, and whether it has code of its own (a `ret` leaf is just
/// the block's shared `ret`).
fn entry_of(e: &mut Emitter, t: &Tree, segs: &[Segment<Leaf>], rets: &mut Rets) -> (Label, bool) {
    match t {
        Tree::Leaf(i) => match &segs[*i].leaf {
            Leaf::Ret(k) => (rets.label(e, k), false),
            Leaf::Args(_) => (e.label(), true),
        },
        Tree::Node { .. } => (e.label(), true),
    }
}

fn walk(e: &mut Emitter, t: &Tree, entry: Label, ctx: &mut Ctx, rets: &mut Rets) {
    match t {
        Tree::Leaf(i) => {
            let Leaf::Args(a) = &ctx.segs[*i].leaf else { return };
            let start = e.len();
            e.bind(entry);
            e.comment(a.name.clone());
            let abi = ArgAbi { arch32: a.abi.0, big_endian: a.abi.1 };
            let fallback = rets.label(e, &a.fallback);
            emit_conditions(e, &a.conds, abi, |e, c| rets.label(e, &key(c.action, &c.origin)), fallback);
            ctx.sizes.push((format!("{} on {}", a.name, ctx.arch_name), e.len() - start));
        }
        Tree::Node { split, left, right } => {
            e.bind(entry);
            let (l, emit_l) = entry_of(e, left, ctx.segs, rets);
            let (r, emit_r) = entry_of(e, right, ctx.segs, rets);
            let lo = ctx.segs[*split].lo;
            let note = match (ctx.name_of)(lo) {
                Some(n) => format!("nr >= {lo} ({n})"),
                None => format!("nr >= {lo:#x}"),
            };
            e.jump(op::JGE_K, lo, r, l, note);
            if emit_l {
                walk(e, left, l, ctx, rets);
            }
            if emit_r {
                walk(e, right, r, ctx, rets);
            }
        }
    }
}
