//! Capabilities: per capability, the sets it joined or left.

use std::collections::BTreeSet;

use super::{Change, Class, Tier};
use crate::ir::CapsIr;

fn sets(c: &CapsIr) -> [(&'static str, &Vec<String>); 6] {
    [
        ("granted", &c.granted),
        ("bounding", &c.bounding),
        ("permitted", &c.permitted),
        ("effective", &c.effective),
        ("inheritable", &c.inheritable),
        ("ambient", &c.ambient),
    ]
}

pub(super) fn caps(old: &CapsIr, new: &CapsIr, out: &mut Vec<Change>) {
    let all: BTreeSet<&String> = sets(old).into_iter().chain(sets(new)).flat_map(|(_, v)| v.iter()).collect();
    for cap in all {
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
            out.push(Change::new(Tier::Capabilities, Class::Widen, cap.as_str(), m));
        }
        if !removed.is_empty() {
            let m = format!("removed from {}", removed.join(", "));
            out.push(Change::new(Tier::Capabilities, Class::Narrow, cap.as_str(), m));
        }
    }
}
