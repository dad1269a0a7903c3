//! From the IR's per-arch tables to one classic-BPF program for a target kernel arch.
//!
//! Layout: `ld arch`, one `jeq` per accepted audit arch, `ret KILL_PROCESS` for every other
//! arch, then one block per arch: `ld nr`, a binary search over merged number ranges whose
//! leaves jump straight to a shared `ret` (or to argument tests), and the block's `ret`s.
//! On x86-64 the x32 bit is part of the number search, so x32 numbers cost nothing extra.
//! Only `ld nr/arch`, `jeq/jge #k` and `ret` lie on the path to an argument-free verdict, so
//! the kernel's action cache applies to every syscall that is allowed whatever its arguments.

use super::args::{emit_conditions, ArgAbi};
pub use super::dispatch::WORST_CASE_BUDGET;
use super::dispatch::{dispatch, Leaf, Peel, RUNS_BPF};
use super::emit::{Emitter, Label, Note, RetKey};
use super::insn::{op, OFF_ARCH, OFF_NR};
use super::search::{segments, Node, Segment, Tree};
use super::{BpfError, Program};
use crate::action::Action;
use crate::error::Origin;
use crate::ir::{CondIr, Policy};
use crate::syscalls::arch::X32_SYSCALL_BIT;
use crate::syscalls::{table, Arch};

#[derive(Clone, Copy, Debug)]
struct ArgsLeaf<'a> {
    name: &'static str,
    arch: Arch,
    fallback: u32,
    conds: &'a [CondIr],
    abi: ArgAbi,
}

/// What decided a verdict: a rule (where it is written) or a word (`default`, `unknown`, ...).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Decider<'p> {
    Rule(&'p Origin),
    Word(&'p str),
}

impl std::fmt::Display for Decider<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decider::Rule(o) => o.fmt(f),
            Decider::Word(w) => f.write_str(w),
        }
    }
}

/// The verdicts of one arch block, interned by action so that leaves compare and copy as
/// integers, and so that every call with one verdict shares one `ret` whatever decided it:
/// the program depends on the policy's meaning, not on how its rules group the names. Each
/// verdict keeps the deciders that reach it, for listings and simulation ([`RetKey`]).
#[derive(Default)]
struct Keys<'p> {
    actions: Vec<Action>,
    /// Per verdict, its deciders as met (repeats removed in [`Keys::key`]).
    deciders: Vec<Vec<Decider<'p>>>,
    last: usize,
}

impl<'p> Keys<'p> {
    fn id(&mut self, action: Action, decider: Decider<'p>) -> u32 {
        if self.actions.get(self.last) != Some(&action) {
            self.last = match self.actions.iter().position(|a| *a == action) {
                Some(i) => i,
                None => {
                    self.actions.push(action);
                    self.deciders.push(Vec::new());
                    self.actions.len() - 1
                }
            };
        }
        let seen = &mut self.deciders[self.last];
        if seen.last() != Some(&decider) {
            seen.push(decider);
        }
        self.last as u32
    }

    fn action(&self, id: u32) -> Action {
        self.actions[id as usize]
    }

    /// The verdict `id` with its deciders, rules first (by file and line), then words.
    fn key(&self, id: u32) -> RetKey {
        let mut d = self.deciders[id as usize].clone();
        d.sort_unstable();
        d.dedup();
        RetKey { action: self.actions[id as usize], origins: d.iter().map(|d| d.to_string()).collect() }
    }
}

fn key(action: Action, origin: &str) -> RetKey {
    RetKey::one(action, origin)
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
                    (3 * b, u32::MAX - 1, x32, not_x32),
                    // -1: a call skipped by a ptrace tracer, not an x32 call.
                    (u32::MAX, u32::MAX, native, bad.clone()),
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

/// A syscall number, its leaf, and its weight in the search.
type Point = (u32, Leaf, u64);

/// Every number of `a`'s table with its leaf and weight.
fn arch_points<'a>(
    policy: &'a Policy,
    a: Arch,
    t: &table::SyscallTable,
    target: Arch,
    keys: &mut Keys<'a>,
    args: &mut Vec<ArgsLeaf<'a>>,
) -> Vec<Point> {
    let s = &policy.seccomp;
    // The IR's verdicts by number, walked alongside the table (both sorted).
    let mut listed: Vec<(u32, &'a crate::ir::SyscallIr)> = s
        .tables
        .get(a.name())
        .map(|at| at.syscalls.values().map(|sc| (sc.nr, sc)).collect())
        .unwrap_or_default();
    listed.sort_unstable_by_key(|(nr, _)| *nr);
    let mut listed = listed.into_iter().peekable();
    let abi = ArgAbi { arch32: a.is_32bit(), big_endian: a.audit_arch() & 0x4000_0000 == 0 };
    let default = Leaf::Ret(keys.id(s.default_action, Decider::Word("default")));
    // `unknown: enosys-after`: what no rule decides above the arch's cut-off gets ENOSYS.
    let stubs = |nr: u32| s.enosys_after.as_ref().is_some_and(|e| e.stubs(a, nr));
    let cache = cacheable_arch(a, target);
    let mut points = Vec::with_capacity(t.len());
    for (nr, name) in t.iter() {
        while listed.peek().is_some_and(|(n, _)| *n < nr) {
            listed.next();
        }
        let leaf = match listed.peek() {
            Some((n, sc)) if *n == nr => {
                let fallback = match &sc.origin {
                    Some(o) => keys.id(sc.action, Decider::Rule(o)),
                    None if stubs(nr) => keys.id(sc.action, Decider::Word("enosys-after")),
                    None => keys.id(sc.action, Decider::Word("default")),
                };
                if sc.conditional.is_empty() {
                    Leaf::Ret(fallback)
                } else {
                    args.push(ArgsLeaf { name, arch: a, fallback, conds: &sc.conditional, abi });
                    Leaf::Args(args.len() as u32 - 1)
                }
            }
            _ if stubs(nr) => Leaf::Ret(keys.id(Action::Errno(38), Decider::Word("enosys-after"))),
            _ => default,
        };
        let allows = match leaf {
            Leaf::Ret(id) => keys.action(id) == Action::Allow,
            Leaf::Args(_) | Leaf::Peel(_) => false,
        };
        // x32 is rare: its calls weigh like cached ones.
        let light = (cache && allows) || a == Arch::X32;
        points.push((nr, leaf, if light { 1 } else { RUNS_BPF }));
    }
    points
}

fn block_segments<'a>(
    policy: &'a Policy,
    block: &'a Block,
    target: Arch,
    keys: &mut Keys<'a>,
    args: &mut Vec<ArgsLeaf<'a>>,
) -> Vec<Segment<Leaf>> {
    let s = &policy.seccomp;
    // Numbers outside the table get the unknown verdict; with `unknown: enosys-after`, the
    // default at or below the arch's cut-off and ENOSYS above it (and at 0 on s390x, as runc's
    // stub): `gaps` splits a range where that changes, into (first, last, leaf of the numbers
    // outside the table).
    let unknown = match &s.enosys_after {
        None => Leaf::Ret(keys.id(s.unknown_action, Decider::Word("unknown"))),
        Some(_) => Leaf::Ret(keys.id(s.default_action, Decider::Word("default"))),
    };
    let gaps = |a: Arch, lo: u32, hi: u32, keys: &mut Keys<'a>| -> Vec<(u32, u32, Leaf)> {
        let Some((e, cut)) = s.enosys_after.as_ref().and_then(|e| Some((e, e.cutoff(a)?))) else {
            return vec![(lo, hi, unknown)];
        };
        [(0, 0), (1, cut), (cut.saturating_add(1), u32::MAX)]
            .into_iter()
            .filter(|(first, last)| first <= last && *first <= hi && *last >= lo)
            .map(|(first, last)| {
                let (first, last) = (first.max(lo), last.min(hi));
                let leaf = match e.stubs(a, first) {
                    true => Leaf::Ret(keys.id(Action::Errno(38), Decider::Word("enosys-after"))),
                    false => unknown,
                };
                (first, last, leaf)
            })
            .collect()
    };
    let mut all: Vec<Segment<Leaf>> = Vec::new();
    let mut cache_points: Vec<(Arch, Vec<Point>)> = Vec::new();
    for (lo, hi, arch, absent) in &block.regions {
        let segs = match arch.and_then(|a| table::table(a).map(|t| (a, t))) {
            None => {
                let leaf = match arch {
                    Some(_) => unknown,
                    None => Leaf::Ret(keys.id(absent.action, Decider::Word(&absent.origins[0]))),
                };
                segments(std::iter::empty(), *lo, *hi, &leaf, RUNS_BPF)
            }
            Some((a, t)) => {
                if !cache_points.iter().any(|(x, _)| *x == a) {
                    let p = arch_points(policy, a, t, target, keys, args);
                    cache_points.push((a, p));
                }
                let all_points = &cache_points.iter().find(|(x, _)| *x == a).expect("just added").1;
                let mut segs = Vec::new();
                for (lo, hi, gap) in gaps(a, *lo, *hi, keys) {
                    let from = all_points.partition_point(|(nr, _, _)| *nr < lo);
                    let to = all_points.partition_point(|(nr, _, _)| *nr <= hi);
                    let points = all_points[from..to].iter().copied();
                    // Numbers outside the table are not syscalls of any kernel this table knows:
                    // they weigh like cached ones, so real syscalls get the short paths.
                    segs.extend(segments(points, lo, hi, &gap, 1));
                }
                segs
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
    let names: Vec<String> = blocks
        .iter()
        .map(|b| {
            arches
                .iter()
                .filter(|a| a.audit_arch() == b.audit_arch)
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    for ((b, l), name) in blocks.iter().zip(&entries).zip(&names) {
        let next = e.label();
        e.jump(op::JEQ_K, b.audit_arch, *l, next, name.clone());
        e.bind(next);
    }
    e.ret(key(Action::KillProcess, "bad-arch"));
    for (index, ((b, entry), arch_name)) in blocks.iter().zip(entries).zip(&names).enumerate() {
        let start = e.len();
        let mut keys = Keys::default();
        let mut args = Vec::new();
        let segs = block_segments(policy, b, target, &mut keys, &mut args);
        // Before the search: `ld arch`, `jeq` × (index + 1), `ld nr`.
        let budget = WORST_CASE_BUDGET.saturating_sub(index + 3);
        // The cost of a syscall's argument tests is asked once per candidate search: emit them
        // once.
        let mut args_cost: Vec<Option<usize>> = vec![None; args.len()];
        let mut cost = |leaf: Leaf, peels: &[Peel]| match leaf {
            Leaf::Args(i) => match args_cost[i as usize] {
                Some(c) => Ok(c),
                None => {
                    let c = leaf_cost(leaf, &args, peels, &mut keys)?;
                    args_cost[i as usize] = Some(c);
                    Ok(c)
                }
            },
            _ => leaf_cost(leaf, &args, peels, &mut keys),
        };
        let d = dispatch(segs, &mut cost, budget)?;
        let name_of = |nr: u32| -> Option<&'static str> {
            let (_, _, arch, _) = b.regions.iter().find(|(lo, hi, _, _)| (*lo..=*hi).contains(&nr))?;
            table::table((*arch)?)?.name(nr)
        };
        e.bind(entry);
        e.load(OFF_NR, format!("nr ({arch_name})"));
        let mut ctx = Ctx {
            segs: &d.segs,
            peels: &d.peels,
            args: &args,
            keys: &mut keys,
            sizes: &mut sizes,
            arch_name,
            name_of: &name_of,
        };
        emit_block(&mut e, &d.tree, &mut ctx);
        sizes.push((format!("dispatch on {arch_name}"), e.len() - start));
    }
    // Relays only add instructions: a program already too long is refused before them.
    if e.len() > super::insn::MAX_INSNS {
        return Err(too_large(e.len(), sizes));
    }
    let asm = e.finish()?;
    if asm.insns.len() > super::insn::MAX_INSNS {
        return Err(too_large(asm.insns.len(), sizes));
    }
    Ok(Program { target, arches, big_endian, insns: asm.insns, notes: asm.notes, rets: asm.rets })
}

/// The refusal of a program of `len` instructions, naming its largest parts.
fn too_large(len: usize, mut sizes: Vec<(String, usize)>) -> BpfError {
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<String> = sizes.iter().take(5).map(|(n, s)| format!("{n}: {s}")).collect();
    BpfError::TooLarge { len, contributors: top.join(", ") }
}

/// Emit one syscall's argument tests, jumping to the block's shared `ret`s.
fn emit_args<'p>(e: &mut Emitter, a: &ArgsLeaf<'p>, keys: &mut Keys<'p>, rets: &mut Rets) {
    let fallback = rets.label(e, a.fallback);
    emit_conditions(
        e,
        a.conds,
        a.abi,
        |e, c| rets.label(e, keys.id(c.action, Decider::Rule(&c.origin))),
        fallback,
    );
}

/// Most instructions a leaf can execute (its `ret` included).
fn leaf_cost<'p>(
    leaf: Leaf,
    args: &[ArgsLeaf<'p>],
    peels: &[Peel],
    keys: &mut Keys<'p>,
) -> Result<usize, BpfError> {
    let i = match leaf {
        Leaf::Ret(_) => return Ok(1),
        Leaf::Peel(p) => return Ok(peels[p as usize].exceptions.len() + 1),
        Leaf::Args(i) => i,
    };
    let mut e = Emitter::new();
    let mut rets = Rets::default();
    let a = &args[i as usize];
    emit_args(&mut e, a, keys, &mut rets);
    if e.len() > super::insn::MAX_INSNS {
        return Err(too_large(e.len(), vec![(format!("{} on {}", a.name, a.arch.name()), e.len())]));
    }
    for id in std::mem::take(&mut rets.order) {
        e.bind(rets.labels[id as usize].expect("requested"));
        e.ret(keys.key(id));
    }
    Ok(super::stats::longest_path(&e.finish()?.insns))
}

struct Ctx<'a, 'p> {
    segs: &'a [Segment<Leaf>],
    peels: &'a [Peel],
    args: &'a [ArgsLeaf<'p>],
    keys: &'a mut Keys<'p>,
    sizes: &'a mut Vec<(String, usize)>,
    arch_name: &'a str,
    name_of: &'a dyn Fn(u32) -> Option<&'static str>,
}

/// `ret` labels of one block, created on first use and emitted at its end.
#[derive(Default)]
struct Rets {
    labels: Vec<Option<Label>>,
    order: Vec<u32>,
}

impl Rets {
    fn label(&mut self, e: &mut Emitter, id: u32) -> Label {
        let i = id as usize;
        if self.labels.len() <= i {
            self.labels.resize(i + 1, None);
        }
        if let Some(l) = self.labels[i] {
            return l;
        }
        let l = e.label();
        self.labels[i] = Some(l);
        self.order.push(id);
        l
    }
}

fn emit_block(e: &mut Emitter, tree: &Tree, ctx: &mut Ctx) {
    let mut rets = Rets::default();
    match entry_of(e, tree, tree.root, ctx.segs, &mut rets) {
        (l, true) => walk(e, tree, tree.root, l, ctx, &mut rets),
        (l, false) => e.goto(l),
    }
    for id in std::mem::take(&mut rets.order) {
        e.bind(rets.labels[id as usize].expect("requested"));
        e.ret(ctx.keys.key(id));
    }
}

/// The label a subtree starts at, and whether it has code of its own (a `ret` leaf is just
/// the block's shared `ret`).
fn entry_of(
    e: &mut Emitter,
    t: &Tree,
    node: usize,
    segs: &[Segment<Leaf>],
    rets: &mut Rets,
) -> (Label, bool) {
    match t.nodes[node] {
        Node::Leaf(i) => match segs[i].leaf {
            Leaf::Ret(id) => (rets.label(e, id), false),
            Leaf::Args(_) | Leaf::Peel(_) => (e.label(), true),
        },
        Node::Split { .. } => (e.label(), true),
    }
}

fn walk(e: &mut Emitter, t: &Tree, node: usize, entry: Label, ctx: &mut Ctx, rets: &mut Rets) {
    match t.nodes[node] {
        Node::Leaf(i) => {
            let a = match ctx.segs[i].leaf {
                Leaf::Ret(_) => return,
                Leaf::Peel(p) => {
                    let p = &ctx.peels[p as usize];
                    e.bind(entry);
                    for (nr, id, _) in &p.exceptions {
                        let next = e.label();
                        let to = rets.label(e, *id);
                        e.jump(op::JEQ_K, *nr, to, next, Note::Equal(*nr, (ctx.name_of)(*nr)));
                        e.bind(next);
                    }
                    let base = rets.label(e, p.base);
                    e.goto(base);
                    return;
                }
                Leaf::Args(a) => ctx.args[a as usize],
            };
            let start = e.len();
            e.bind(entry);
            e.comment(a.name);
            emit_args(e, &a, ctx.keys, rets);
            ctx.sizes.push((format!("{} on {}", a.name, ctx.arch_name), e.len() - start));
        }
        Node::Split { split, left, right } => {
            e.bind(entry);
            let (l, emit_l) = entry_of(e, t, left, ctx.segs, rets);
            let (r, emit_r) = entry_of(e, t, right, ctx.segs, rets);
            let lo = ctx.segs[split].lo;
            e.jump(op::JGE_K, lo, r, l, Note::Bound(lo, (ctx.name_of)(lo)));
            if emit_l {
                walk(e, t, left, l, ctx, rets);
            }
            if emit_r {
                walk(e, t, right, r, ctx, rets);
            }
        }
    }
}
