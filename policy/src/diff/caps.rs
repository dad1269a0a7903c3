//! Capabilities: per capability, the sets it joined or left.

use super::{Change, Class, Tier};
use crate::ir::CapsIr;
use crate::vocab::CapSet;

fn sets(c: &CapsIr) -> [(&'static str, CapSet); 6] {
    let [b, p, e, i, a] = c.sets();
    [("granted", c.granted), b, p, e, i, a]
}

pub(super) fn caps(old: &CapsIr, new: &CapsIr, out: &mut Vec<Change>) {
    let all = sets(old).into_iter().chain(sets(new)).fold(CapSet::EMPTY, |a, (_, s)| a | s);
    // By name, as the report lists them.
    let mut caps: Vec<_> = all.iter().collect();
    caps.sort_by_key(|c| c.name());
    for cap in caps {
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for ((name, o), (_, n)) in sets(old).into_iter().zip(sets(new)) {
            match (o.contains(cap), n.contains(cap)) {
                (false, true) => added.push(name),
                (true, false) => removed.push(name),
                _ => {}
            }
        }
        if !added.is_empty() {
            let m = format!("added to {}", added.join(", "));
            out.push(Change::new(Tier::Capabilities, Class::Widen, cap.name(), m));
        }
        if !removed.is_empty() {
            let m = format!("removed from {}", removed.join(", "));
            out.push(Change::new(Tier::Capabilities, Class::Narrow, cap.name(), m));
        }
    }
}
