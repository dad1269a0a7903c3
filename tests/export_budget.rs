//! Issue 14, finding 18: the Docker/OCI seccomp JSON export was exponential in the range
//! conditions of one rule and cubic in the number of argument rules (three `gt` conditions:
//! 119 s and 59 MB). Ranges on 64-bit arguments are now one `SCMP_CMP_GE`/`LE` condition;
//! what still expands (32-bit arguments, negations) is bounded, and a profile over the budget
//! is refused before the work, at its rule.
//!
//! Each export runs under a watchdog (a hang detector far above the expected milliseconds,
//! not a benchmark); the checks are on sizes and meaning: the reference evaluator after a
//! round trip through the importer, and libseccomp's own reading of the JSON.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::scmp;
use policy::backend::seccomp::bpf::{interp, SeccompData, SockFilter};
use policy::backend::seccomp::docker::to_docker;
use policy::backend::seccomp::oci::to_oci;
use policy::formats::docker::DockerProfile;
use policy::import::{import, to_yaml};
use policy::ir::equiv::seccomp_differences;
use policy::ir::points;
use policy::syscalls::table;
use policy::{compile_text, Action, Arch, CompileOptions, Error, Policy};

/// Far above what any of these exports takes (milliseconds); the old code took minutes to
/// hours.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Run `f` on a thread; fail if it has not finished within [`WATCHDOG`].
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(WATCHDOG).unwrap_or_else(|_| panic!("{what}: still running after {WATCHDOG:?}"))
}

fn compile(file: &str, yaml: &str) -> Policy {
    compile_text(file, yaml, None, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .policy
}

/// Export under the watchdog.
fn export(what: &str, p: &Policy) -> Result<DockerProfile, Error> {
    let p = p.clone();
    within(what, move || to_docker(&p))
}

/// The exported JSON, imported and compiled again.
fn reimport(json: &DockerProfile) -> Policy {
    let text = serde_json::to_string(json).unwrap();
    let d = policy::import::parse_docker("exported.json", &text).unwrap();
    let imported = import("exported.json", "exported", &d).expect("imports");
    let yaml = to_yaml(&imported.profile).expect("serializes");
    compile_text("exported.yaml", &yaml, None, &CompileOptions::default()).expect("compiles").policy
}

fn assert_same_meaning(p: &Policy, json: &DockerProfile, what: &str) {
    let back = reimport(json);
    let diffs = seccomp_differences(p, &back, 10);
    assert!(diffs.is_empty(), "{what}: {} differences after the round trip: {diffs:#?}", diffs.len());
}

fn granted(p: &Policy) -> Vec<String> {
    p.capabilities.granted.names().into_iter().map(String::from).collect()
}

fn run(prog: &[SockFilter], nr: u32, args: [u64; 6]) -> Action {
    let d = SeccompData { nr, arch: Arch::X86_64.audit_arch(), instruction_pointer: 0, args };
    Action::from_ret(interp::run(prog, &d, false).ret)
}

/// libseccomp's program for the JSON (x86-64 host).
fn libseccomp(p: &Policy, json: &DockerProfile) -> Vec<SockFilter> {
    let prog = scmp::export(&scmp::filter(json, &granted(p), false, scmp::Optimize::Tree));
    interp::check(&prog).expect("libseccomp's program passes our checker");
    prog
}

/// libseccomp's reading of the JSON agrees with the reference evaluator on `syscall` at every
/// boundary argument of its conditions, and at `extra`.
fn assert_libseccomp_agrees(p: &Policy, json: &DockerProfile, syscall: &str, extra: &[[u64; 6]]) -> usize {
    let prog = libseccomp(p, json);
    let nr = table::table(Arch::X86_64).unwrap().nr(syscall).unwrap();
    let conds: Vec<_> = p.seccomp.rules.iter().filter(|r| r.names(syscall)).flat_map(|r| &r.args).collect();
    let mut vectors = points::vectors(&conds, 20_000);
    vectors.extend_from_slice(extra);
    for args in &vectors {
        let want = p.evaluate(Arch::X86_64.audit_arch(), nr, *args).action;
        let got = run(&prog, nr, *args);
        assert_eq!(got, want, "{syscall}{args:x?}: libseccomp {got}, reference {want}");
    }
    vectors.len()
}

fn conditions(json: &DockerProfile) -> usize {
    json.syscalls.iter().map(|s| s.args.as_ref().map_or(0, Vec::len)).sum()
}

const THREE_GT: &str = "name: t
seccomp:
  default: errno(EPERM)
  rules:
    - allow: [mmap]
      args: [{index: 0, op: gt, value: 5}, {index: 1, op: gt, value: 7}, {index: 2, op: gt, value: 9}]
";

#[test]
fn three_gt_conditions_are_one_small_entry_that_means_the_same() {
    let p = compile("t.yaml", THREE_GT);
    let json = export("three gt", &p).expect("exports");
    let text = serde_json::to_string_pretty(&json).unwrap();
    assert!(text.len() < 2_000, "{} bytes:\n{text}", text.len());
    let mmap: Vec<_> = json.syscalls.iter().filter(|s| s.names.iter().any(|n| n == "mmap")).collect();
    assert_eq!(mmap.len(), 1, "{text}");
    let ops: Vec<(u32, &str, u64)> =
        mmap[0].args.iter().flatten().map(|a| (a.index, a.op.as_str(), a.value)).collect();
    assert_eq!(ops, [(0, "SCMP_CMP_GE", 6), (1, "SCMP_CMP_GE", 8), (2, "SCMP_CMP_GE", 10)]);
    assert_same_meaning(&p, &json, "three gt");
    let extra = [
        [6, 8, 10, 0, 0, 0],
        [5, 8, 10, 0, 0, 0],
        [u64::MAX, 1 << 32, 1 << 63, 0, 0, 0],
        [6, 7, 10, 0, 0, 0],
    ];
    assert!(assert_libseccomp_agrees(&p, &json, "mmap", &extra) > 100);
    // Four and five conditions (the old export took hours) are still one entry.
    let four = THREE_GT
        .replace("value: 9}]", "value: 9}, {index: 3, op: lt, value: 11}, {index: 4, op: ge, value: 1}]");
    let p4 = compile("t4.yaml", &four);
    let json4 = export("four ranges", &p4).expect("exports");
    assert_eq!(conditions(&json4), 5);
    assert_same_meaning(&p4, &json4, "four ranges");
    // The OCI export too.
    let oci = within("oci", move || to_oci(&p4, Arch::X86_64, None)).expect("exports");
    assert_eq!(oci.syscalls.iter().map(|s| s.args.len()).sum::<usize>(), 5);
}

/// `n` rules on `mmap`, each on argument 0 (64-bit), alternating allow and deny: points, and
/// nested ranges (every region bounded on both sides).
fn many_rules(n: u64, op: &str) -> String {
    let mut y =
        String::from("name: many\nseccomp:\n  default: errno(EPERM)\n  rules:\n    - allow: [mmap]\n");
    for i in 0..n {
        let head = if i % 2 == 0 { "- deny: [mmap]\n      action: errno(EACCES)" } else { "- allow: [mmap]" };
        y.push_str(&format!("    {head}\n      args: [{{index: 0, op: {op}, value: {}}}]\n", i * 16));
    }
    y
}

/// `n` rules on `ioctl` argument 1 (32-bit: the low word only), alternating allow and deny.
fn many_32bit_rules(n: u64) -> String {
    let mut y =
        String::from("name: many32\nseccomp:\n  default: errno(EPERM)\n  rules:\n    - allow: [ioctl]\n");
    for i in 0..n {
        let head = if i % 2 == 0 { "- deny: [ioctl]" } else { "- allow: [ioctl]" };
        y.push_str(&format!(
            "    {head}\n      args: [{{index: 1, op: in, values: [{}, {}]}}]\n",
            0x5400 + i * 4,
            0x5401 + i * 4
        ));
    }
    y
}

#[test]
fn thousands_of_argument_rules_export_in_linear_size() {
    for op in ["eq", "gt"] {
        let mut sizes = Vec::new();
        for n in [1_000u64, 5_000] {
            let yaml = many_rules(n, op);
            let p = compile("many.yaml", &yaml);
            let json = export(&format!("{n} {op} rules"), &p).expect("exports");
            let bytes = serde_json::to_string(&json).unwrap().len();
            // Points: one entry each and the gaps; nested ranges: the aligned blocks of
            // 16 values each (at most 5 per range).
            assert!(json.syscalls.len() as u64 <= 6 * n, "{n} {op}: {} entries", json.syscalls.len());
            sizes.push((yaml.len(), bytes));
            if n == 1_000 {
                assert_same_meaning(&p, &json, &format!("{n} {op} rules"));
            }
        }
        let (small, large) = (sizes[0], sizes[1]);
        let growth = large.1 as f64 / small.1 as f64;
        let input = large.0 as f64 / small.0 as f64;
        assert!(growth < input * 1.5, "{op}: output grew {growth:.1}x for {input:.1}x the input: {sizes:?}");
    }
    let mut sizes = Vec::new();
    for n in [1_000u64, 5_000] {
        let p = compile("many32.yaml", &many_32bit_rules(n));
        let json = export(&format!("{n} 32-bit rules"), &p).expect("exports");
        for a in json.syscalls.iter().flat_map(|s| s.args.iter().flatten()) {
            assert_eq!(a.op, "SCMP_CMP_MASKED_EQ", "a 32-bit argument is compared on its low word only");
            assert_eq!(a.value >> 32, 0, "mask {:#x} reaches into the high word", a.value);
        }
        sizes.push(json.syscalls.len());
        if n == 1_000 {
            assert_same_meaning(&p, &json, "1000 32-bit rules");
        }
    }
    assert!(sizes[1] < sizes[0] * 6, "{sizes:?}");
}

#[test]
fn libseccomp_reads_hundreds_of_rules_as_the_reference_does() {
    for op in ["eq", "gt", "le", "ne"] {
        let p = compile("many.yaml", &many_rules(60, op));
        let json = export(op, &p).expect("exports");
        assert_same_meaning(&p, &json, op);
        let extra: Vec<[u64; 6]> =
            (0..2_000u64).map(|x| [(x * 7 % 1_000) | ((x % 3) << 40), 0, 0, 0, 0, 0]).collect();
        assert_libseccomp_agrees(&p, &json, "mmap", &extra);
    }
    let p = compile("many32.yaml", &many_32bit_rules(40));
    let json = export("32-bit", &p).expect("exports");
    let extra: Vec<[u64; 6]> =
        (0..400u64).map(|x| [0, (0x5400 + x) | ((x % 4) << 32) | ((x % 5) << 60), 0, 0, 0, 0]).collect();
    assert_libseccomp_agrees(&p, &json, "ioctl", &extra);
}

#[test]
fn docker_default_denies_tiocsti_whatever_the_high_bits() {
    let p = policy::compile("builtin:docker-default", &CompileOptions::default()).unwrap().policy;
    let json = export("docker-default", &p).expect("exports");
    let ioctl: Vec<_> = json.syscalls.iter().filter(|s| s.names.iter().any(|n| n == "ioctl")).collect();
    for s in &ioctl {
        for a in s.args.iter().flatten() {
            assert_eq!((a.index, a.op.as_str()), (1, "SCMP_CMP_MASKED_EQ"), "{s:?}");
            assert_eq!(a.value >> 32, 0, "mask {:#x} reaches into the high word", a.value);
        }
    }
    assert!(ioctl.len() < 100, "{} ioctl entries", ioctl.len());
    let prog = libseccomp(&p, &json);
    let nr = table::table(Arch::X86_64).unwrap().nr("ioctl").unwrap();
    let at = |request: u64| run(&prog, nr, [1, request, 0, 0, 0, 0]);
    for request in [0x5412u64, 0x1_0000_5412, 0xffff_ffff_0000_5412, 0x541C, 0xDEAD_BEEF_0000_541C] {
        assert_eq!(at(request), Action::Errno(1), "ioctl({request:#x}) under libseccomp");
        assert_eq!(
            p.evaluate(Arch::X86_64.audit_arch(), nr, [1, request, 0, 0, 0, 0]).action,
            Action::Errno(1)
        );
    }
    for request in [0x5401u64, 0x5413, 0x1_0000_5413, 0x5411, 0x541B, 0x541D, 0x1_0000_0000] {
        assert_eq!(at(request), Action::Allow, "ioctl({request:#x}) under libseccomp");
    }
    let extra = [[1, 0x1_0000_5412, 0, 0, 0, 0], [1, 0x8000_0000_0000_541C, 0, 0, 0, 0]];
    assert_libseccomp_agrees(&p, &json, "ioctl", &extra);
}

/// The refusal: at the rule (`file:line:column`), with a hint, before the work.
fn refusal(e: &Error, line: u64) -> String {
    let text = e.to_string();
    let d = e.diagnostics();
    assert_eq!(d.len(), 1, "{text}");
    assert_eq!((d[0].origin.file.as_str(), d[0].origin.line), ("big.yaml", line), "{text}");
    assert!(d[0].origin.column > 0, "{text}");
    assert!(d[0].hint.is_some(), "{text}");
    assert!(text.contains(&format!("big.yaml:{line}:")) && text.contains("hint:"), "{text}");
    text
}

#[test]
fn an_export_over_the_budget_is_refused_at_the_rule() {
    // Four ranges on 32-bit arguments of one rule: masked prefixes, multiplied.
    let yaml = "name: big
seccomp:
  rules:
    - allow: [read]
    - allow: [fchownat]
      args:
        - {index: 0, op: gt, value: 0x12345677}
        - {index: 2, op: gt, value: 0x12345677}
        - {index: 3, op: lt, value: 0x7654321}
        - {index: 4, op: ne, value: 0x1234}
";
    let p = compile("big.yaml", yaml);
    let e = match export("four 32-bit ranges", &p) {
        Ok(json) => panic!("four 32-bit ranges: exported {} entries", json.syscalls.len()),
        Err(e) => e,
    };
    let text = refusal(&e, 5);
    assert!(
        text.contains("docker-seccomp") && text.contains("fchownat") && text.contains("entries"),
        "{text}"
    );
    let q = p.clone();
    let e = within("oci", move || to_oci(&q, Arch::X86_64, None)).unwrap_err();
    assert!(refusal(&e, 5).contains("oci-seccomp"));
    // Rules that cross each other on two arguments: where each `a0 == i` rule decides, every
    // later `a1 == h` rule cuts a hole in argument 1, and the holes are far apart: the
    // entries grow with the square of the rules.
    let mut y = String::from("name: big\nseccomp:\n  rules:\n");
    for i in 0..400u64 {
        if i % 2 == 0 {
            y.push_str(&format!("    - allow: [mmap]\n      args: [{{index: 0, op: eq, value: {i}}}]\n"));
        } else {
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            y.push_str(&format!("    - deny: [mmap]\n      args: [{{index: 1, op: eq, value: {h:#x}}}]\n"));
        }
    }
    assert!(y.len() < 40_000);
    let p = compile("big.yaml", &y);
    let e = match export("crossing rules", &p) {
        Ok(json) => panic!("crossing rules: exported {} entries", json.syscalls.len()),
        Err(e) => e,
    };
    let text = e.to_string();
    let d = e.diagnostics();
    assert_eq!(d.len(), 1, "{text}");
    assert_eq!(d[0].origin.file, "big.yaml", "{text}");
    assert!(d[0].origin.line >= 4 && d[0].hint.is_some(), "{text}");
    assert!(text.contains("mmap") && text.contains("later rules"), "{text}");
}

/// A small random generator (xorshift), so the test is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// Random profiles (ranges, sets and masks on 64- and 32-bit arguments, capability, arch and
/// kernel conditions, every verdict) mean the same after export and import.
#[test]
fn random_profiles_round_trip_with_the_same_meaning() {
    const OPS: [&str; 9] = [
        "op: eq, value: V",
        "op: ne, value: V",
        "op: lt, value: V",
        "op: le, value: V",
        "op: gt, value: V",
        "op: ge, value: V",
        "op: in, values: [V, W]",
        "op: not_in, values: [V, W]",
        "op: masked_eq, mask: 0xff00, value: 0x1200",
    ];
    const VALUES: [&str; 8] = ["0", "1", "5", "0x5412", "0xffff", "0x7fffffff", "0xfffffffe", "0xffffffff"];
    const WIDE: [&str; 4] = ["0x100000000", "0x8000000000000000", "0xfffffffffffffffe", "0x123456789"];
    const HEADS: [&str; 4] = [
        "allow: [@]",
        "deny: [@]",
        "deny: [@]\n      action: errno(EACCES)",
        "syscalls: [@]\n      action: log",
    ];
    const WHEN: [&str; 5] = [
        "",
        "\n      when: { caps_present: [SYS_ADMIN] }",
        "\n      when: { caps_absent: [NET_ADMIN] }",
        "\n      when: { arches: [arm64] }",
        "\n      when: { min_kernel: \"5.4\" }",
    ];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut checked, mut refused) = (0, 0);
    for case in 0..60 {
        let mut y = format!("name: r{case}\nseccomp:\n  default: errno(EPERM)\n  rules:\n");
        for _ in 0..1 + rng.next() % 6 {
            // mmap's arguments are 64-bit, ioctl's first two 32-bit.
            let sys = rng.pick(&["mmap", "ioctl", "mmap"]);
            y.push_str(&format!("    - {}\n", rng.pick(&HEADS).replace('@', sys)));
            let mut args = Vec::new();
            for _ in 0..rng.next() % 3 {
                let index = rng.next() % 3;
                let wide_ok = sys == "mmap" || index == 2;
                let mut v = || {
                    if wide_ok && rng.next() % 3 == 0 {
                        rng.pick(&WIDE)
                    } else {
                        rng.pick(&VALUES)
                    }
                };
                let (a, b) = (v(), v());
                let op = OPS[(rng.next() % OPS.len() as u64) as usize].replace('V', a).replace('W', b);
                args.push(format!("{{index: {index}, {op}}}"));
            }
            if !args.is_empty() {
                y.push_str(&format!("      args: [{}]\n", args.join(", ")));
            }
            y.push_str(rng.pick(&WHEN).trim_start_matches('\n'));
            if !y.ends_with('\n') {
                y.push('\n');
            }
        }
        let p = compile("r.yaml", &y);
        match export(&format!("case {case}"), &p) {
            Ok(json) => {
                assert_same_meaning(&p, &json, &format!("case {case}:\n{y}"));
                checked += 1;
            }
            // Docker JSON cannot say "only below a kernel version": refused, never wrong.
            Err(Error::Export { .. }) => refused += 1,
            Err(e) => panic!("case {case}: {e}\n{y}"),
        }
    }
    assert!(checked >= 40, "{checked} checked, {refused} refused");
}
