//! Random small seccomp profiles for property tests: a few syscalls with argument conditions
//! of every operator, several actions and arches.

use proptest::prelude::*;

pub const NAMES: [&str; 8] = ["read", "write", "clone", "personality", "socket", "ioctl", "mmap", "prctl"];
const OPS: [&str; 9] = ["eq", "ne", "lt", "le", "gt", "ge", "masked_eq", "in", "not_in"];
const ACTIONS: [&str; 6] = ["allow", "errno(1)", "errno(38)", "kill", "log", "trap"];
const VALUES: [u64; 10] =
    [0, 1, 2, 0xff, 0x7fff_ffff, 0xffff_ffff, 1 << 32, 0x1_0000_0001, u64::MAX, u64::MAX - 1];

pub fn value() -> impl Strategy<Value = u64> {
    prop_oneof![prop::sample::select(VALUES.to_vec()), any::<u64>(), 0u64..16]
}

fn condition() -> impl Strategy<Value = String> {
    (
        0u8..3,
        prop::sample::select(OPS.to_vec()),
        value(),
        value(),
        prop::collection::vec(value(), 1..4),
        0u8..3,
    )
        .prop_map(|(index, op, v, m, vals, w)| {
            let width = match w {
                0 => "",
                1 => ", width: 32",
                _ => ", width: 64",
            };
            match op {
                "masked_eq" => {
                    format!("{{ index: {index}, op: masked_eq, mask: {m}, value: {}{width} }}", v & m)
                }
                "in" | "not_in" => {
                    let list: Vec<String> = vals.iter().map(u64::to_string).collect();
                    format!("{{ index: {index}, op: {op}, values: [{}]{width} }}", list.join(", "))
                }
                _ => format!("{{ index: {index}, op: {op}, value: {v}{width} }}"),
            }
        })
}

fn rule() -> impl Strategy<Value = String> {
    (
        prop::sample::subsequence(NAMES.to_vec(), 1..3),
        prop::sample::select(ACTIONS.to_vec()),
        prop::collection::vec(condition(), 0..3),
    )
        .prop_map(|(names, action, conds)| {
            let mut r = format!("    - syscalls: [{}]\n      action: {action}\n", names.join(", "));
            if !conds.is_empty() {
                r.push_str(&format!("      args: [{}]\n", conds.join(", ")));
            }
            r
        })
}

pub fn profile() -> impl Strategy<Value = String> {
    (
        prop::sample::select(ACTIONS.to_vec()),
        prop::sample::subsequence(vec!["x86_64", "x86", "x32", "aarch64", "arm"], 1..5),
        prop::collection::vec(rule(), 1..7),
    )
        .prop_map(|(default, arches, rules)| {
            format!(
                "name: random\nseccomp:\n  default: {default}\n  arches: [{}]\n  rules:\n{}",
                arches.join(", "),
                rules.concat()
            )
        })
}
