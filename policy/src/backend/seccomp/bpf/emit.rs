//! An assembler for forward-only BPF: symbolic labels, tracking of what the accumulator holds
//! (so an argument word is loaded once per path), and a layout pass that resolves labels and
//! inserts relays where a conditional jump would exceed 255 instructions.

use super::insn::{op, SockFilter};
use super::BpfError;
use crate::action::Action;

/// A jump target.
pub type Label = usize;

/// What the accumulator holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AState {
    /// The 32-bit word at this `seccomp_data` offset.
    Word(u32),
    /// Something computed.
    Unknown,
}

fn meet(a: Option<AState>, b: Option<AState>) -> Option<AState> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        _ => Some(AState::Unknown),
    }
}

/// A verdict a `ret` stands for, and what may have decided it: the program depends on the
/// policy's meaning only, so every call that gets one verdict in one arch block shares one
/// `ret`, whichever rule decided it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RetKey {
    /// The action.
    pub action: Action,
    /// `file:line` of each rule whose calls reach this `ret`, or `default`, `unknown`,
    /// `bad-arch`, `x32`; in the order the generator met them.
    pub origins: Vec<String>,
}

impl RetKey {
    /// A verdict with one decider.
    pub fn one(action: Action, origin: impl Into<String>) -> RetKey {
        RetKey { action, origins: vec![origin.into()] }
    }
}

/// A comment on one instruction, rendered only when a disassembly is asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Note {
    /// None.
    #[default]
    Empty,
    /// Free text.
    Text(String),
    /// A search-tree bound: `nr >= N (name)`.
    Bound(u32, Option<&'static str>),
    /// One number tested in the search: `nr == N (name)`.
    Equal(u32, Option<&'static str>),
}

impl From<String> for Note {
    fn from(s: String) -> Note {
        if s.is_empty() {
            Note::Empty
        } else {
            Note::Text(s)
        }
    }
}

impl From<&str> for Note {
    fn from(s: &str) -> Note {
        Note::from(s.to_string())
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Empty => Ok(()),
            Note::Text(t) => f.write_str(t),
            Note::Bound(lo, Some(n)) => write!(f, "nr >= {lo} ({n})"),
            Note::Bound(lo, None) => write!(f, "nr >= {lo:#x}"),
            Note::Equal(nr, Some(n)) => write!(f, "nr == {nr} ({n})"),
            Note::Equal(nr, None) => write!(f, "nr == {nr:#x}"),
        }
    }
}

impl Note {
    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        *self == Note::Empty
    }
}

#[derive(Clone, Debug)]
struct AInsn {
    code: u16,
    k: u32,
    jt: Label,
    jf: Label,
    note: Note,
    ret: Option<u32>,
}

/// The assembled program, before layout.
#[derive(Debug, Default)]
pub struct Emitter {
    code: Vec<AInsn>,
    /// Label → index in `code` of the instruction it is bound to.
    bound: Vec<Option<usize>>,
    /// Label → accumulator state on the jumps to it.
    incoming: Vec<Option<AState>>,
    /// Accumulator state when falling through (`None`: unreachable).
    a: Option<AState>,
    error: Option<String>,
    pending_note: Option<String>,
    /// Verdicts of the `ret`s emitted, by index.
    keys: Vec<RetKey>,
}

impl Emitter {
    /// A new, empty program; execution starts at the first instruction.
    pub fn new() -> Emitter {
        Emitter { a: Some(AState::Unknown), ..Emitter::default() }
    }

    /// A fresh label.
    pub fn label(&mut self) -> Label {
        self.bound.push(None);
        self.incoming.push(None);
        self.bound.len() - 1
    }

    /// Bind `l` to the next instruction emitted.
    pub fn bind(&mut self, l: Label) {
        if self.bound[l].is_some() {
            self.error.get_or_insert_with(|| format!("label {l} bound twice"));
        }
        self.bound[l] = Some(self.code.len());
        self.a = meet(self.a, self.incoming[l]);
    }

    /// Whether `l` is bound already.
    pub fn is_bound(&self, l: Label) -> bool {
        self.bound[l].is_some()
    }

    /// Whether the next instruction can be reached.
    pub fn reachable(&self) -> bool {
        self.a.is_some()
    }

    fn push(&mut self, code: u16, k: u32, jt: Label, jf: Label, note: Note) {
        let note = match (self.pending_note.take(), note.is_empty()) {
            (Some(p), true) => Note::Text(p),
            (Some(p), false) => Note::Text(format!("{p}: {note}")),
            (None, _) => note,
        };
        self.code.push(AInsn { code, k, jt, jf, note, ret: None });
    }

    /// A comment for the next instruction emitted.
    pub fn comment(&mut self, note: impl Into<String>) {
        self.pending_note = Some(note.into());
    }

    /// Instructions emitted so far (before relays).
    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// Whether nothing was emitted yet.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    fn target(&mut self, l: Label) {
        if self.bound[l].is_some() {
            self.error.get_or_insert_with(|| format!("backward jump to label {l}"));
        }
        self.incoming[l] = meet(self.incoming[l], self.a);
    }

    /// `ld [offset]`, skipped when the accumulator already holds that word.
    pub fn load(&mut self, offset: u32, note: impl Into<Note>) {
        if self.a == Some(AState::Word(offset)) {
            return;
        }
        self.push(op::LD_ABS, offset, 0, 0, note.into());
        self.a = Some(AState::Word(offset));
    }

    /// `and #k`.
    pub fn and(&mut self, k: u32) {
        self.push(op::AND_K, k, 0, 0, Note::Empty);
        self.a = Some(AState::Unknown);
    }

    /// A conditional jump (`code` is one of `JEQ_K`, `JGT_K`, `JGE_K`, `JSET_K`).
    pub fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label, note: impl Into<Note>) {
        self.target(jt);
        self.target(jf);
        self.push(code, k, jt, jf, note.into());
        self.a = None;
    }

    /// `ja`.
    pub fn goto(&mut self, l: Label) {
        self.target(l);
        self.push(op::JA_K, 0, l, l, Note::Empty);
        self.a = None;
    }

    /// `ret` of a verdict; the disassembly shows its origin.
    pub fn ret(&mut self, key: RetKey) {
        let id = match self.keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                self.keys.push(key);
                self.keys.len() - 1
            }
        };
        self.push(op::RET_K, self.keys[id].action.ret_value(), 0, 0, Note::Empty);
        self.code.last_mut().expect("just pushed").ret = Some(id as u32);
        self.a = None;
    }

    /// Resolve labels into a program. Conditional jumps longer than 255 go through a relay
    /// placed right after them: a copy of the target when it is a `ret`, else a `ja`.
    pub fn finish(mut self) -> Result<Assembled, BpfError> {
        if let Some(e) = self.error.take() {
            return Err(BpfError::Internal(e));
        }
        if self.reachable() {
            return Err(BpfError::Internal("program can fall off its end".into()));
        }
        let mut target_of = Vec::with_capacity(self.bound.len());
        for (l, b) in self.bound.iter().enumerate() {
            target_of.push(b.ok_or_else(|| BpfError::Internal(format!("label {l} never bound")))?);
        }
        // Instruction ids are indexes into `code`; `order` is the layout.
        let mut code = self.code;
        // Peephole: `ja` to a `ret` becomes that `ret`.
        for i in 0..code.len() {
            if code[i].code == op::JA_K {
                let t = &code[target_of[code[i].jt]];
                if t.code == op::RET_K {
                    let mut copy = t.clone();
                    copy.note = Note::Text("relay".into());
                    code[i] = copy;
                }
            }
        }
        let mut order: Vec<usize> = (0..code.len()).collect();
        // Each pass finds every conditional jump that is too long and gives it a relay; relays
        // push other jumps further, so passes repeat until none is too long (a few passes,
        // each linear: the program is refused above 4096 instructions anyway).
        loop {
            let mut pos = vec![0usize; code.len()];
            for (p, &id) in order.iter().enumerate() {
                pos[id] = p;
            }
            // (position, instruction, which target, label) of every jump too long.
            let mut fixes = Vec::new();
            for (p, &id) in order.iter().enumerate() {
                let i = &code[id];
                let is_cond = i.code & 0x07 == op::JMP && i.code != op::JA_K;
                if !is_cond && i.code != op::JA_K {
                    continue;
                }
                for (which, l) in [(0, i.jt), (1, i.jf)] {
                    let t = pos[target_of[l]];
                    if t <= p {
                        return Err(BpfError::Internal(format!("jump at {p} does not go forward")));
                    }
                    if is_cond && t - p - 1 > 255 {
                        fixes.push((p, id, which, l));
                    }
                }
            }
            if fixes.is_empty() {
                return Ok(assemble(code, &order, &pos, &target_of, &self.keys));
            }
            // Relays go right after their jump (jt's before jf's), in one rebuild of `order`.
            let mut after: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
            for (p, id, which, l) in fixes {
                let target = &code[target_of[l]];
                let relay = if target.code == op::RET_K {
                    AInsn { note: Note::Text("relay".into()), ..target.clone() }
                } else {
                    AInsn { code: op::JA_K, k: 0, jt: l, jf: l, note: Note::Text("relay".into()), ret: None }
                };
                code.push(relay);
                let rid = code.len() - 1;
                target_of.push(rid);
                let new_label = target_of.len() - 1;
                if which == 0 {
                    code[id].jt = new_label;
                } else {
                    code[id].jf = new_label;
                }
                after[p].push(rid);
            }
            let mut next = Vec::with_capacity(code.len());
            for (p, id) in order.iter().enumerate() {
                next.push(*id);
                next.extend_from_slice(&after[p]);
            }
            order = next;
        }
    }
}

/// A laid-out program with a note and, for returns, the verdict of each instruction.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The instructions.
    pub insns: Vec<SockFilter>,
    /// A comment per instruction (may be empty).
    pub notes: Vec<Note>,
    /// For each `ret`, what it returns and why.
    pub rets: Vec<Option<RetKey>>,
}

fn assemble(
    mut code: Vec<AInsn>,
    order: &[usize],
    pos: &[usize],
    target_of: &[usize],
    keys: &[RetKey],
) -> Assembled {
    let n = order.len();
    let mut out =
        Assembled { insns: Vec::with_capacity(n), notes: Vec::with_capacity(n), rets: Vec::with_capacity(n) };
    for (p, &id) in order.iter().enumerate() {
        let note = std::mem::take(&mut code[id].note);
        let i = &code[id];
        let off = |l: Label| pos[target_of[l]] - p - 1;
        let insn = if i.code == op::JA_K {
            SockFilter::stmt(op::JA_K, off(i.jt) as u32)
        } else if i.code & 0x07 == op::JMP {
            SockFilter::jump(i.code, i.k, off(i.jt) as u8, off(i.jf) as u8)
        } else {
            SockFilter::stmt(i.code, i.k)
        };
        out.insns.push(insn);
        out.notes.push(note);
        out.rets.push(i.ret.map(|k| keys[k as usize].clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(a: Action) -> RetKey {
        RetKey::one(a, "t")
    }

    #[test]
    fn long_jumps_get_relays() {
        let mut e = Emitter::new();
        let far = e.label();
        let near = e.label();
        e.load(0, "");
        e.jump(op::JEQ_K, 1, far, near, "");
        e.bind(near);
        for _ in 0..300 {
            e.load(16, "");
            e.load(0, ""); // alternate so no load is skipped
        }
        e.ret(key(Action::Errno(1)));
        e.bind(far);
        e.ret(key(Action::Allow));
        let a = e.finish().unwrap();
        // ld, jeq, relay(ret copy), 600 loads, ret, ret
        assert_eq!(a.insns.len(), 605);
        assert_eq!((a.insns[1].jt, a.insns[1].jf), (0, 1));
        assert_eq!(a.insns[2], SockFilter::stmt(op::RET_K, 0x7fff_0000));
        super::super::interp::check(&a.insns).unwrap();
    }

    #[test]
    fn redundant_loads_are_skipped() {
        let mut e = Emitter::new();
        let (t, f) = (e.label(), e.label());
        e.load(16, "");
        e.load(16, "");
        e.jump(op::JEQ_K, 1, t, f, "");
        e.bind(f);
        e.load(16, "");
        e.ret(key(Action::Allow));
        e.bind(t);
        e.ret(key(Action::Allow));
        assert_eq!(e.finish().unwrap().insns.len(), 4);
    }
}
