//! End-to-end tests of `policyc compile --emit bpf|bpf-asm` and `policyc simulate`: the
//! written program loads in the kernel, disassemblies are snapshot-tested, and simulate
//! reports both verdicts with the deciding rule.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use enforcer::seccomp::{Filter, Flags};
use policy::backend::seccomp::bpf::insn;

fn policyc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policyc")).args(args).output().expect("policyc runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const BUILTINS: [&str; 4] = ["build", "docker-default", "strict", "web"];

#[test]
fn emitted_bpf_file_loads_in_the_kernel() {
    let dir = common::TempDir::new(&format!("policyc-bpf-{}", std::process::id()));
    let file = dir.join("f.bpf");
    let o = policyc(&[
        "compile",
        "builtin:docker-default",
        "--emit",
        "bpf",
        "--arch",
        "x86_64",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("instructions for x86_64 kernels"), "{}", text(&o.stderr));
    let bytes = std::fs::read(&file).unwrap();
    let insns = insn::decode(&bytes, false).expect("whole sock_filter records");
    let filter = Filter::new(&insns).expect("passes the kernel's checks");
    // Load it for a real process and look at what the kernel says about it.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; exec 2>/dev/null; mount -t tmpfs none /mnt && echo MOUNTED"]);
    // SAFETY: install makes system calls only, which is what pre_exec allows.
    unsafe {
        cmd.pre_exec(move || {
            filter
                .install(Flags::default(), true)
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string()))
        });
    }
    let out = cmd.output().unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Seccomp:\t2") && stdout.contains("NoNewPrivs:\t1"), "{stdout}");
    assert!(!stdout.contains("MOUNTED"), "mount ran under docker-default: {stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn emit_bpf_needs_an_output_file_and_a_listed_arch() {
    let o = policyc(&["compile", "builtin:docker-default", "--emit", "bpf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("give -o FILE"), "{}", text(&o.stderr));
    let o = policyc(&["compile", "builtin:strict", "--emit", "bpf-asm", "--arch", "s390x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("accepts no arch that a s390x kernel runs"), "{}", text(&o.stderr));
}

#[test]
fn bpf_asm_snapshots() {
    for name in BUILTINS {
        let profile = format!("builtin:{name}");
        for arch in ["x86_64", "aarch64"] {
            let o = policyc(&["compile", &profile, "--emit", "bpf-asm", "--arch", arch]);
            assert!(o.status.success(), "{profile} {arch}: {}", text(&o.stderr));
            insta::assert_snapshot!(format!("{name}.bpf-asm.{arch}"), text(&o.stdout));
        }
    }
}

#[test]
fn emit_all_includes_bpf_for_every_kernel_arch() {
    let dir = std::env::temp_dir().join(format!("policyc-bpf-all-{}", std::process::id()));
    let o = policyc(&["compile", "builtin:docker-default", "--emit", "all", "-o", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for t in ["x86_64", "aarch64", "s390x", "riscv64", "mips64", "mipsel64", "loongarch64"] {
        let bytes =
            std::fs::read(dir.join(format!("seccomp.{t}.bpf"))).unwrap_or_else(|e| panic!("{t}: {e}"));
        let big = policy::Arch::parse(t).unwrap().audit_arch() & 0x4000_0000 == 0;
        let insns = insn::decode(&bytes, big).unwrap();
        policy::backend::seccomp::bpf::interp::check(&insns).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert!(dir.join(format!("seccomp.{t}.bpf.asm")).exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulate_shows_each_verdict_and_rule() {
    let o = policyc(&[
        "simulate",
        "builtin:docker-default",
        "--arch",
        "x86_64",
        "getppid",
        "ptrace",
        "personality:0xffffffff",
        "ioctl:0,0x100005412",
        "acct",
        "clone3",
        "1000",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    insta::assert_snapshot!("simulate-docker-default", text(&o.stdout));
    let o = policyc(&[
        "simulate",
        "builtin:strict",
        "--arch",
        "x86_64",
        "--format",
        "json",
        "ioctl:0,0x100005412",
        "clone:0x10000000",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["reference"]["action"], "errno(EPERM)");
    assert_eq!(v[0]["bpf"]["action"], "errno(EPERM)");
    let origins = v[1]["bpf"]["origins"].as_array().expect("a list of deciders");
    assert!(origins.contains(&v[1]["reference"]["origin"]), "{v}");
    assert_eq!(v[1]["agree"], true);
}

#[test]
fn simulate_all_agrees_on_every_number() {
    for arch in ["x86_64", "x86", "x32", "aarch64", "arm"] {
        let o = policyc(&["simulate", "builtin:docker-default", "--arch", arch, "--all"]);
        assert!(o.status.success(), "{arch}: {}", text(&o.stderr));
        let last = text(&o.stdout).lines().last().unwrap_or_default().to_string();
        assert!(last.contains(" 0 differ"), "{arch}: {last}");
    }
    let o = policyc(&["simulate", "builtin:strict", "--arch", "x86_64", "nosuchcall"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown syscall"), "{}", text(&o.stderr));
}

/// Issue 15: with `unknown: enosys-after NAME`, `simulate` and `explain` follow the evaluator:
/// ENOSYS above NAME's number for what no rule decides (`enosys-after`), the default below.
#[test]
fn simulate_and_explain_follow_enosys_after() {
    let dir = common::TempDir::new(&format!("palisade-cli-enosys-after-{}", std::process::id()));
    let profile = dir.join("p.yaml");
    std::fs::write(
        &profile,
        "name: p\nseccomp:\n  arches: [x86_64, x86, x32]\n  unknown: enosys-after openat2\n  rules:\n    - allow: [read, write, faccessat2]\n",
    )
    .unwrap();
    let p = profile.to_str().unwrap();
    for arch in ["x86_64", "x86", "x32"] {
        let o = policyc(&["simulate", p, "--arch", arch, "--all"]);
        assert!(o.status.success(), "{arch}: {}", text(&o.stderr));
        let last = text(&o.stdout).lines().last().unwrap_or_default().to_string();
        assert!(last.contains(" 0 differ"), "{arch}: {last}");
    }
    let o = policyc(&["simulate", p, "--arch", "x86_64", "--format", "json", "pidfd_getfd", "400", "1000"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<(&str, &str)> = (0..3)
        .map(|i| {
            (v[i]["reference"]["action"].as_str().unwrap(), v[i]["reference"]["origin"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        got,
        [("errno(ENOSYS)", "enosys-after"), ("errno(EPERM)", "default"), ("errno(ENOSYS)", "enosys-after")]
    );
    assert!((0..3).all(|i| v[i]["agree"] == true), "{v}");
    let o = policyc(&["explain", p, "--arch", "x86_64", "--syscall", "pidfd_getfd"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("-> errno(ENOSYS)  (no rule, and above 437"), "{}", text(&o.stdout));
    let o = policyc(&["explain", p]);
    assert!(
        text(&o.stdout).contains("enosys-after openat2: errno(ENOSYS) above the cut-off"),
        "{}",
        text(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
