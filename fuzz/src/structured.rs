//! A small seccomp profile decoded from arbitrary bytes, written as YAML so a crash report
//! shows the profile (and it can be compiled with `policyc`).
//!
//! Every byte sequence decodes (missing bytes read as 0): a default verdict, an unknown
//! verdict, arches among x86_64, x86, x32, aarch64 and arm, the profile's switches
//! (`restrict_namespaces`, `deny_io_uring`, `restrict_address_families`, a granted
//! capability), then up to [`MAX_RULES`] rules of one to three syscalls, each with an action,
//! up to three argument conditions (every operator, widths 32/64/default, values among the
//! boundaries that matter or any 64-bit number) and maybe a `when`. Decoding is
//! deterministic, so a saved input always means the same profile.

/// Syscalls the rules name: present on every arch, on some (`open`, `socketcall`, `mmap2`),
/// with 32-bit argument types (`ioctl`, `socket`, `personality`) and the ones the compiler
/// treats specially (`clone`/`clone3`, `socket`, `io_uring_setup`).
pub const NAMES: [&str; 16] = [
    "read",
    "write",
    "clone",
    "personality",
    "socket",
    "ioctl",
    "mmap",
    "prctl",
    "futex",
    "kill",
    "fcntl",
    "clone3",
    "open",
    "socketcall",
    "mmap2",
    "io_uring_setup",
];

const ACTIONS: [&str; 9] =
    ["allow", "errno(1)", "errno(38)", "kill", "kill-thread", "log", "trap", "trace(7)", "errno(0)"];
const ARCHES: [&str; 5] = ["x86_64", "x86", "x32", "aarch64", "arm"];
const OPS: [&str; 9] = ["eq", "ne", "lt", "le", "gt", "ge", "masked_eq", "in", "not_in"];
const VALUES: [u64; 16] = [
    0,
    1,
    2,
    0xff,
    0x5412,
    0x7e02_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    0x1_0000_0001,
    0xffff_ffff_8000_0000,
    u64::MAX,
    u64::MAX - 1,
    0x1000,
    0x10_0000,
];

/// Most rules a profile gets.
pub const MAX_RULES: usize = 12;

/// The input, read from the front.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn pick<'t>(&mut self, from: &[&'t str]) -> &'t str {
        from[usize::from(self.byte()) % from.len()]
    }

    /// A boundary value (most bytes), a small number, or any 64-bit number.
    fn value(&mut self) -> u64 {
        let b = self.byte();
        match b {
            0..=0xbf => VALUES[usize::from(b) % VALUES.len()],
            0xc0..=0xdf => u64::from(b & 0x1f),
            _ => (0..8).fold(0u64, |v, _| (v << 8) | u64::from(self.byte())),
        }
    }
}

/// The profile `data` decodes to (see the module documentation).
pub fn profile(data: &[u8]) -> String {
    let mut b = Bytes(data);
    let mut y = String::from("name: fuzz\n");
    let default = b.pick(&ACTIONS);
    let unknown = b.byte();
    let arch_bits = b.byte();
    let switches = b.byte();
    if switches & 8 != 0 {
        y.push_str("capabilities:\n  add: [SYS_ADMIN]\n");
    }
    y.push_str(&format!("seccomp:\n  default: {default}\n"));
    match unknown % 4 {
        0 => {}
        1 => y.push_str("  unknown: default\n"),
        2 => y.push_str("  unknown: enosys\n"),
        _ => y.push_str(&format!("  unknown: {}\n", ACTIONS[usize::from(unknown / 4) % ACTIONS.len()])),
    }
    let arches: Vec<&str> =
        ARCHES.iter().enumerate().filter(|(i, _)| arch_bits & (1 << i) != 0).map(|(_, a)| *a).collect();
    if !arches.is_empty() {
        y.push_str(&format!("  arches: [{}]\n", arches.join(", ")));
    }
    if switches & 1 != 0 {
        y.push_str("  restrict_namespaces: true\n");
    }
    if switches & 2 != 0 {
        y.push_str("  deny_io_uring: true\n");
    }
    if switches & 4 != 0 {
        y.push_str("  restrict_address_families: [AF_UNIX, AF_INET]\n");
    }
    y.push_str("  rules:\n");
    let mut rules = 0;
    while !b.0.is_empty() && rules < MAX_RULES {
        rule(&mut b, &mut y);
        rules += 1;
    }
    if rules == 0 {
        y.push_str("    - allow: [read]\n");
    }
    y
}

fn rule(b: &mut Bytes, y: &mut String) {
    let count = 1 + b.byte() % 3;
    let mut names: Vec<&str> = Vec::new();
    for _ in 0..count {
        let name = b.pick(&NAMES);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let action = b.pick(&ACTIONS);
    let shape = b.byte();
    if action == "allow" {
        y.push_str(&format!("    - allow: [{}]\n", names.join(", ")));
    } else {
        y.push_str(&format!("    - syscalls: [{}]\n      action: {action}\n", names.join(", ")));
    }
    let conds: Vec<String> = (0..shape % 4).map(|_| condition(b)).collect();
    if !conds.is_empty() {
        y.push_str(&format!("      args: [{}]\n", conds.join(", ")));
    }
    match (shape >> 2) % 8 {
        1 => y.push_str("      when: { arches: [amd64] }\n"),
        2 => y.push_str("      when: { not_arches: [arm64, x86] }\n"),
        3 => y.push_str("      when: { caps_present: [SYS_ADMIN] }\n"),
        4 => y.push_str("      when: { caps_absent: [SYS_ADMIN] }\n"),
        5 => y.push_str("      when: { min_kernel: \"99.0\" }\n"),
        _ => {}
    }
}

fn condition(b: &mut Bytes) -> String {
    let head = b.byte();
    let index = head % 6;
    let op = OPS[usize::from(head / 6) % OPS.len()];
    let width = match b.byte() % 3 {
        0 => "",
        1 => ", width: 32",
        _ => ", width: 64",
    };
    match op {
        "masked_eq" => {
            let (m, v) = (b.value(), b.value());
            // Mostly a value within the mask (what a profile means); sometimes any value, which
            // the checker must refuse or handle.
            let v = if m & 1 == 0 { v & m } else { v };
            format!("{{ index: {index}, op: masked_eq, mask: {m}, value: {v}{width} }}")
        }
        "in" | "not_in" => {
            let n = 1 + b.byte() % 4;
            let list: Vec<String> = (0..n).map(|_| b.value().to_string()).collect();
            format!("{{ index: {index}, op: {op}, values: [{}]{width} }}", list.join(", "))
        }
        _ => format!("{{ index: {index}, op: {op}, value: {}{width} }}", b.value()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_decodes_to_yaml_and_most_compile() {
        let mut compiled = 0;
        for seed in 0u32..200 {
            let data: Vec<u8> =
                (0..64u32).map(|i| (seed.wrapping_mul(2_654_435_761).rotate_left(i) >> 3) as u8).collect();
            let yaml = profile(&data);
            if policy::compile_text("fuzz.yaml", &yaml, None, &Default::default()).is_ok() {
                compiled += 1;
            }
        }
        assert!(compiled > 50, "only {compiled} of 200 decoded profiles compile");
    }

    #[test]
    fn the_committed_seeds_compile() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/bpf_differential");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let yaml = profile(&std::fs::read(&path).unwrap());
            if let Err(e) = policy::compile_text("fuzz.yaml", &yaml, None, &Default::default()) {
                panic!("{}:\n{yaml}\n{e}", path.display());
            }
        }
    }

    #[test]
    fn the_empty_input_is_a_valid_profile() {
        policy::compile_text("fuzz.yaml", &profile(&[]), None, &Default::default()).unwrap();
    }
}
