//! Issue 18: `enforce record` on real programs learns all three tiers (system calls with their
//! argument values, Landlock paths with `${CWD}`/`${TMPDIR}`/`${HOME}`, capabilities), and the
//! learned profile replays the program from another directory with the same output, while a
//! variant that writes one file elsewhere is refused by the kernel. A normal user records and
//! replays the builds; root's recording infers the capabilities it used.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");
const POLICYC: &str = env!("CARGO_BIN_EXE_policyc");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "the record workload tests need root on CI (to run as nobody)");
    eprintln!("SKIPPED: the record workload tests need root (they run the workloads as nobody)");
    false
}

/// `enforce ARGS` as `nobody` in `cwd`, with `HOME` and `TMPDIR` of the scratch directory.
fn as_nobody(scratch: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin"])
        .arg(format!("HOME={}", scratch.join("home").display()))
        .arg(format!("TMPDIR={}", scratch.join("tmp").display()))
        .arg(ENFORCE)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// A scratch directory nobody owns, with `home`, `tmp` and the given work directories.
fn scratch(name: &str, work: &[&str]) -> common::TempDir {
    let d = common::tempdir(name);
    std::fs::set_permissions(&d, PermissionsExt::from_mode(0o777)).unwrap();
    for sub in ["home", "tmp"].iter().chain(work) {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    let ok = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(d.path()).status().unwrap();
    assert!(ok.success());
    d
}

fn lint_clean(profile: &Path) {
    let lint = Command::new(POLICYC).args(["lint", "--deny", "warnings"]).arg(profile).output().unwrap();
    assert!(lint.status.success(), "{}{}", text(&lint.stdout), text(&lint.stderr));
}

const MAKEFILE: &str = "hello: hello.o\n\tgcc -o hello hello.o\nhello.o: hello.c\n\tgcc -O1 -c hello.c\n";
const HELLO: &str = "#include <stdio.h>\nint main(void) { puts(\"built and ran\"); return 0; }\n";

/// `make` + `gcc` in a scratch directory, recorded by nobody: the replay builds the same program
/// in a fresh directory; writing one file beside it is refused by Landlock.
#[test]
fn a_make_and_gcc_build_replays_elsewhere_and_writes_nowhere_else() {
    if !root() {
        return;
    }
    let d = scratch("record-make", &["first", "second"]);
    for w in ["first", "second"] {
        std::fs::write(d.join(w).join("Makefile"), MAKEFILE).unwrap();
        std::fs::write(d.join(w).join("hello.c"), HELLO).unwrap();
    }
    let ok = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(d.path()).status().unwrap();
    assert!(ok.success());
    let learned = d.join("make.yaml");
    let build = "make -s && ./hello";
    let o = as_nobody(
        &d,
        &d.join("first"),
        &["record", "-o", learned.to_str().unwrap(), "--", "sh", "-c", build],
    );
    assert_eq!(text(&o.stdout), "built and ran\n", "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    // Paths beneath the working and temporary directories are written as their variables;
    // gcc's helpers run from /usr.
    for want in ["path: \"${CWD}\"", "path: \"${TMPDIR}\"", "path: /usr, access: [execute, read_file"] {
        assert!(yaml.contains(want), "{want} in:\n{yaml}");
    }
    assert!(!yaml.contains(d.to_str().unwrap()), "no absolute scratch path:\n{yaml}");
    assert!(yaml.contains("- allow: [clone]\n      args: [{ index: 0, op: masked_eq"), "{yaml}");
    // The build runs what it wrote: the one thing the linter finds, and it should.
    let lint = Command::new(POLICYC).args(["lint", "--deny", "warnings"]).arg(&learned).output().unwrap();
    let said = text(&lint.stdout) + &text(&lint.stderr);
    assert!(
        !lint.status.success() && said.contains("warning[PAL010]: `${CWD}` is writable and executable"),
        "{said}"
    );
    assert!(said.contains("0 errors, 1 warnings"), "{said}");
    // Replay in the second directory (nothing built there yet).
    let r = as_nobody(
        &d,
        &d.join("second"),
        &["run", "--profile", learned.to_str().unwrap(), "--", "sh", "-c", build],
    );
    assert_eq!(text(&r.stdout), "built and ran\n", "{}", text(&r.stderr));
    assert!(d.join("second/hello.o").exists());
    // The same build writing one more file, in the scratch directory: Landlock says no.
    std::fs::remove_file(d.join("second/hello")).unwrap();
    let more = format!("{build} && echo x > {}", d.join("outside").display());
    let r = as_nobody(
        &d,
        &d.join("second"),
        &["run", "--profile", learned.to_str().unwrap(), "--", "sh", "-c", &more],
    );
    assert!(
        !r.status.success() && text(&r.stderr).contains("Permission denied"),
        "{}{}",
        text(&r.stdout),
        text(&r.stderr)
    );
    assert!(!d.join("outside").exists());
}

/// `git init/add/commit/log` recorded by nobody: the replay makes the same history in a fresh
/// directory; writing the user's git configuration (never done while recording) is refused.
#[test]
fn git_init_add_commit_log_replays_and_cannot_touch_home() {
    if !root() {
        return;
    }
    let d = scratch("record-git", &["first", "second"]);
    let learned = d.join("git.yaml");
    let git = "git init -q . && echo text > f && git add f && git -c user.name=t -c user.email=t@example.org commit -qm one && git log --format=%s";
    let o =
        as_nobody(&d, &d.join("first"), &["record", "-o", learned.to_str().unwrap(), "--", "sh", "-c", git]);
    assert_eq!(text(&o.stdout), "one\n", "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    assert!(yaml.contains("path: \"${CWD}\""), "{yaml}");
    lint_clean(&learned);
    let r = as_nobody(
        &d,
        &d.join("second"),
        &["run", "--profile", learned.to_str().unwrap(), "--", "sh", "-c", git],
    );
    assert_eq!(text(&r.stdout), "one\n", "{}", text(&r.stderr));
    assert!(d.join("second/.git/HEAD").exists());
    let more = format!("{git} && git config --global core.editor true");
    let r = as_nobody(
        &d,
        &d.join("second"),
        &["run", "--profile", learned.to_str().unwrap(), "--", "sh", "-c", &more],
    );
    assert!(!r.status.success(), "{}", text(&r.stderr));
    assert!(!d.join("home/.gitconfig").exists(), "{}", text(&r.stderr));
}

/// Root binding a port below 1024 and chowning a file to itself: the profile grants
/// NET_BIND_SERVICE only (inferred, and says so); the replay binds, and chowning to another
/// user is refused (EPERM: no CAP_CHOWN), while `/proc/self/status` shows the one capability.
#[test]
fn capabilities_are_inferred_from_privileged_operations() {
    if !root() {
        return;
    }
    let d = common::tempdir("record-caps");
    let script = d.join("s.py");
    std::fs::write(
        &script,
        "import os, socket, sys\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', int(sys.argv[1])))\nf = sys.argv[2] + '/owned'; open(f, 'w').close()\n\
         os.chown(f, int(sys.argv[3]), -1)\n\
         print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])\n",
    )
    .unwrap();
    let port = (600 + std::process::id() % 400).to_string();
    let learned = d.join("caps.yaml");
    let (py, dir) = (script.to_str().unwrap(), d.to_str().unwrap());
    let o = Command::new(ENFORCE)
        .args(["record", "-o", learned.to_str().unwrap(), "--", "/usr/bin/python3", py, &port, dir, "0"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    assert!(yaml.contains("  drop: [ALL]\n  add: [NET_BIND_SERVICE]\n"), "{yaml}");
    assert!(yaml.contains(&format!("#   CAP_NET_BIND_SERVICE: bind to port {port}")), "{yaml}");
    assert!(yaml.contains("Inferred"), "{yaml}");
    let replay = |uid: &str| {
        Command::new(ENFORCE)
            .args([
                "run",
                "--profile",
                learned.to_str().unwrap(),
                "--",
                "/usr/bin/python3",
                py,
                &port,
                dir,
                uid,
            ])
            .output()
            .unwrap()
    };
    let r = replay("0");
    // CAP_NET_BIND_SERVICE is bit 10.
    assert_eq!(text(&r.stdout), "0000000000000400\n", "{}", text(&r.stderr));
    let r = replay("65534");
    assert!(
        !r.status.success() && text(&r.stderr).contains("PermissionError: [Errno 1]"),
        "{}",
        text(&r.stderr)
    );
}

/// A set-user-ID program run by the workload is reported (stderr and the profile), not silently
/// allowed: under the recording's no_new_privs it had no privilege, and the replay neither.
#[test]
fn a_setuid_program_is_reported() {
    if !root() {
        return;
    }
    let d = scratch("record-setuid", &[]);
    let learned = d.join("s.yaml");
    let o = as_nobody(
        &d,
        d.path(),
        &["record", "-o", learned.to_str().unwrap(), "--", "/usr/bin/mount", "--version"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("warning: it executed /usr/bin/mount, which is set-user-ID"), "{err}");
    let yaml = std::fs::read_to_string(&learned).unwrap();
    assert!(yaml.contains("# Warning: it executed /usr/bin/mount, which is set-user-ID"), "{yaml}");
    lint_clean(&learned);
}

/// Recorded under a base profile (builtin:web: user 101, its paths, no namespaces): what the
/// base refuses (a file outside its paths, `unshare`) is reported and not learned; the learned
/// profile is never wider than the base (`policyc diff --fail-on widen` passes) and replays
/// with the same output.
#[test]
fn a_recording_under_a_base_profile_never_widens_it() {
    if !root() {
        return;
    }
    let d = common::tempdir("record-base");
    std::fs::write(d.join("secret"), "s\n").unwrap();
    let learned = d.join("under-web.yaml");
    let script = format!(
        "cat /etc/hostname >/dev/null && echo read; cat {}/secret; unshare -U true; echo done",
        d.display()
    );
    let run = |args: &[&str]| Command::new(ENFORCE).args(args).output().unwrap();
    let o = run(&[
        "record",
        "--profile",
        "builtin:web",
        "-o",
        learned.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(text(&o.stdout), "read\ndone\n", "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("Permission denied") && err.contains("Operation not permitted"), "{err}");
    let yaml = std::fs::read_to_string(&learned).unwrap();
    for want in [
        "# Recorded under builtin:web: never wider than it",
        &format!(
            "# Refused by builtin:web, not learned: path {}/secret: read_file refused by its Landlock rules",
            d.display()
        ),
        "# Refused by builtin:web, not learned: syscall unshare: errno(EPERM) by the rule at builtin:web:",
        "  user: \"101:101\"",
    ] {
        assert!(yaml.contains(want), "{want} in:\n{yaml}");
    }
    assert!(!yaml.contains(&format!("path: {}", d.display())), "{yaml}");
    let diff = Command::new(POLICYC)
        .args(["diff", "--fail-on", "widen", "builtin:web", learned.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(diff.status.success(), "{}{}", text(&diff.stdout), text(&diff.stderr));
    assert!(text(&diff.stdout).contains(" 0 widen"), "{}", text(&diff.stdout));
    let r = run(&["run", "--profile", learned.to_str().unwrap(), "--", "sh", "-c", &script]);
    assert_eq!(text(&r.stdout), "read\ndone\n", "{}", text(&r.stderr));
}

/// Two runs of one program doing different things: `--append` makes one profile under which
/// both replay, `policyc merge` of the two recordings means the same (`policyc diff`: no
/// change), and what neither run did stays refused. A profile that is not an allow-list is
/// refused with its place.
#[test]
fn runs_merge_into_one_profile_with_append_or_policyc_merge() {
    if !root() {
        return;
    }
    let d = scratch("record-merge", &["w"]);
    let w = d.join("w");
    std::fs::write(w.join("in.txt"), "input\n").unwrap();
    let ok = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(d.path()).status().unwrap();
    assert!(ok.success());
    let (read, write) = ("cat in.txt", "echo output > out.txt && cat out.txt");
    let (appended, one, two, merged) =
        (d.join("all.yaml"), d.join("one.yaml"), d.join("two.yaml"), d.join("m.yaml"));
    let rec = |out: &Path, script: &str, append: bool| {
        let mut args = vec!["record", "-o", out.to_str().unwrap()];
        if append {
            args.push("--append");
        }
        args.extend(["--", "sh", "-c", script]);
        let o = as_nobody(&d, &w, &args);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    rec(&appended, read, false);
    rec(&one, read, false);
    std::fs::remove_file(w.join("out.txt")).ok();
    rec(&appended, write, true);
    std::fs::remove_file(w.join("out.txt")).ok();
    rec(&two, write, false);
    let yaml = std::fs::read_to_string(&appended).unwrap();
    assert!(yaml.starts_with("# Merged from 2 recordings"), "{yaml}");
    assert_eq!(yaml.matches("# Learned by `enforce record`").count(), 2, "{yaml}");
    for script in [read, write] {
        std::fs::remove_file(w.join("out.txt")).ok();
        let r =
            as_nobody(&d, &w, &["run", "--profile", appended.to_str().unwrap(), "--", "sh", "-c", script]);
        assert!(r.status.success(), "{script}: {}", text(&r.stderr));
    }
    let r =
        as_nobody(&d, &w, &["run", "--profile", appended.to_str().unwrap(), "--", "sh", "-c", "mkdir sub"]);
    assert!(!r.status.success() && !w.join("sub").exists(), "{}", text(&r.stderr));
    let m = Command::new(POLICYC)
        .args(["merge", one.to_str().unwrap(), two.to_str().unwrap(), "-o"])
        .arg(&merged)
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", text(&m.stderr));
    let diff = Command::new(POLICYC)
        .args(["diff", "--fail-on", "any", merged.to_str().unwrap(), appended.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(diff.status.success(), "{}{}", text(&diff.stdout), text(&diff.stderr));
    // Not an allow-list: refused, with the place.
    let web = d.join("web.yaml");
    std::fs::write(&web, "name: w\nseccomp:\n  rules:\n    - deny: [ptrace]\n").unwrap();
    let m =
        Command::new(POLICYC).args(["merge", one.to_str().unwrap(), web.to_str().unwrap()]).output().unwrap();
    let err = text(&m.stderr);
    assert!(
        !m.status.success()
            && err.contains(&format!("{}:4:7: error: only `allow` rules can be merged", web.display())),
        "{err}"
    );
}

/// Recording inside a busybox container (`--rootfs`): the paths learned are the container's
/// (resolved beneath its root, its absolute links included), the replay in the same root gives
/// the same output, and reading a file the recording never read is refused (Landlock).
#[test]
fn a_busybox_container_is_recorded_from_inside() {
    if !root() {
        return;
    }
    let d = common::tempdir("record-container");
    let rootfs = common::rootfs::build(d.path());
    std::fs::write(rootfs.join("data/in.txt"), "inside\n").unwrap();
    std::fs::create_dir(rootfs.join("data/sub")).unwrap();
    std::os::unix::fs::symlink("/data/sub", rootfs.join("data/link")).unwrap();
    std::fs::write(rootfs.join("data/sub/listed"), "").unwrap();
    let learned = d.join("c.yaml");
    let script = "cat /data/in.txt; ls /data/link/; echo done";
    let run = |args: &[&str]| Command::new(ENFORCE).args(args).output().unwrap();
    let r = rootfs.to_str().unwrap();
    let o = run(&["record", "--rootfs", r, "-o", learned.to_str().unwrap(), "--", "sh", "-c", script]);
    assert_eq!(text(&o.stdout), "inside\nlisted\ndone\n", "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    for want in [
        "first seen in /bin/busybox",
        "- { path: /data, access: [read_file] }",
        "- { path: /data/sub, access: [read_dir] }",
        "# What the container's PID-1 shim calls under the profile",
    ] {
        assert!(yaml.contains(want), "{want} in:\n{yaml}");
    }
    assert!(!yaml.contains(d.to_str().unwrap()), "no host path:\n{yaml}");
    lint_clean(&learned);
    let replay = |script: &str| {
        run(&["run", "--profile", learned.to_str().unwrap(), "--rootfs", r, "--", "sh", "-c", script])
    };
    let o = replay(script);
    assert_eq!(text(&o.stdout), "inside\nlisted\ndone\n", "{}", text(&o.stderr));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = replay(&format!("{script}; cat /etc/passwd"));
    assert!(!o.status.success() && text(&o.stderr).contains("Permission denied"), "{}", text(&o.stderr));
}

/// A 64-bit program that makes a 32-bit system call (`int $0x80`): the recording has it under
/// the x86 arch (the profile accepts that ABI, and says where the call was seen), the replay
/// makes it, and another 32-bit call it never made is refused.
#[test]
fn a_32_bit_call_is_learned_under_its_own_arch() {
    if !root() {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        assert!(std::env::var_os("CI").is_none(), "the 32-bit ABI test needs x86_64");
        eprintln!("SKIPPED: the 32-bit ABI test needs x86_64");
        return;
    }
    let d = common::tempdir("record-x86");
    // i386 getpid is 20, getppid 64; the argument says which to make.
    let c = "#include <stdio.h>\n#include <stdlib.h>\nint main(int argc, char **argv) {\n  long nr = argc > 1 ? atol(argv[1]) : 20, r;\n  __asm__ volatile (\"int $0x80\" : \"=a\"(r) : \"a\"(nr) : \"memory\");\n  printf(\"%s\\n\", r > 0 ? \"ok\" : \"refused\");\n  return 0;\n}\n";
    std::fs::write(d.join("x.c"), c).unwrap();
    let exe = d.join("x");
    let ok = Command::new("gcc").args(["-O1", "-o"]).arg(&exe).arg(d.join("x.c")).status().unwrap();
    assert!(ok.success(), "gcc");
    let learned = d.join("x.yaml");
    let (e, l) = (exe.to_str().unwrap(), learned.to_str().unwrap());
    let o = Command::new(ENFORCE).args(["record", "-o", l, "--", e, "20"]).output().unwrap();
    assert_eq!(text(&o.stdout), "ok\n", "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    assert!(yaml.contains("arches: [x86_64, x86]"), "{yaml}");
    assert!(yaml.contains("1 calls of 1 system calls on x86, first seen in"), "{yaml}");
    assert!(yaml.contains("- allow: [getpid]\n"), "{yaml}");
    let replay =
        |nr: &str| Command::new(ENFORCE).args(["run", "--profile", l, "--", e, nr]).output().unwrap();
    assert_eq!(text(&replay("20").stdout), "ok\n");
    assert_eq!(text(&replay("64").stdout), "refused\n");
}
