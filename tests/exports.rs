//! Issue 17: each export of `policyc compile --emit` checked by its real consumer, for the
//! built-in profiles: `oci-config` run by runc and crun, `docker` flags by a private dockerd (both
//! compared with what `enforce run` gives the same profile: ids, capability sets, NoNewPrivs,
//! Seccomp, and a call the profile denies; the compose service through docker-compose), `k8s` objects by Kubernetes' own schemas
//! (`kubernetes-validate --strict`) and the SeccompProfile by the operator's CRD schema, the
//! `systemd` drop-in by `systemd-analyze verify`; the loss report (text, JSON,
//! `--fail-on-loss`). Needs root, runc, docker.io, systemd and kubernetes-validate
//! (scripts/install-deps installs them): on CI a missing prerequisite fails.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const POLICYC: &str = env!("CARGO_BIN_EXE_policyc");
const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");

/// What the tiers did, as the process sees it, and a call every built-in denies.
const PROBE: &str = "grep -E '^(Uid|Gid|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; \
    unshare -U true 2>/dev/null; echo unshare=$?";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// Whether the consumers are here; on CI they must be.
fn ready(what: &str, cmds: &[(&str, &str)]) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let missing: Vec<&str> = cmds.iter().filter(|(c, a)| !have(c, a)).map(|(c, _)| *c).collect();
    if root && missing.is_empty() {
        return true;
    }
    let why = format!("root: {root}, missing: {missing:?}");
    assert!(std::env::var_os("CI").is_none(), "the {what} export test cannot run on CI: {why}");
    eprintln!("SKIPPED: the {what} export test needs root and {cmds:?} ({why})");
    false
}

fn policyc(args: &[&str]) -> Output {
    Command::new(POLICYC).args(args).output().unwrap()
}

/// `policyc compile PROFILE --emit KIND ARGS` into `out`; its stderr (the losses).
fn export(profile: &str, kind: &str, out: &Path, args: &[&str]) -> String {
    let o = Command::new(POLICYC)
        .args(["compile", profile, "--emit", kind, "-o", out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{profile} {kind}: {}", text(&o.stderr));
    text(&o.stderr)
}

/// The probe under `enforce run --profile`.
fn enforced(profile: &str) -> String {
    let o =
        Command::new(ENFORCE).args(["run", "--profile", profile, "--", "sh", "-c", PROBE]).output().unwrap();
    assert!(o.status.success(), "{profile}: {}", text(&o.stderr));
    text(&o.stdout)
}

fn without(lines: &str, prefixes: &[&str]) -> String {
    lines.lines().filter(|l| !prefixes.iter().any(|p| l.starts_with(p))).map(|l| format!("{l}\n")).collect()
}

/// Every export of every built-in, with its loss report (reviewed with `cargo insta review`).
#[test]
fn every_builtin_every_export_snapshot() {
    for name in ["build", "docker-default", "strict", "web"] {
        for kind in ["k8s", "oci-config", "systemd", "docker", "compose"] {
            let profile = format!("builtin:{name}");
            let o = policyc(&["compile", &profile, "--emit", kind, "--arch", "x86_64", "--", "/bin/app"]);
            assert!(o.status.success(), "{profile} --emit {kind}: {}", text(&o.stderr));
            let shown = format!("{}--- losses\n{}", text(&o.stdout), text(&o.stderr));
            insta::assert_snapshot!(format!("{name}.{kind}"), shown);
        }
    }
}

#[test]
fn oci_config_runs_under_runc_as_enforce_runs_the_profile() {
    if !ready("oci-config", &[("runc", "--version"), ("crun", "--version")]) {
        return;
    }
    for profile in ["builtin:docker-default", "builtin:web", "builtin:strict"] {
        let d = common::tempdir(&format!("export-oci-{}", profile.replace(':', "-")));
        common::rootfs::build(&d);
        let losses = export(profile, "oci-config", &d.join("config.json"), &["--", "sh", "-c", PROBE]);
        let o = Command::new("runc")
            .arg("--root")
            .arg(d.join("state"))
            .args(["run", "c"])
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{profile}: runc: {}", text(&o.stderr));
        let want = enforced(profile);
        assert_eq!(text(&o.stdout), want, "{profile}: runc, then enforce");
        // crun, which needs the cgroup2 mount that holds only hugetlb out of its way here.
        let crun = format!(
            "umount /sys/fs/cgroup/unified 2>/dev/null; crun --root {} run c",
            d.join("state-crun").display()
        );
        let o = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &crun])
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{profile}: crun: {}", text(&o.stderr));
        assert_eq!(text(&o.stdout), want, "{profile}: crun, then enforce");
        // Landlock has no config.json field: said, and handed to palisade-runtime.
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
        if profile != "builtin:docker-default" {
            assert!(losses.contains("lost: landlock: no Landlock in runc and crun"), "{profile}: {losses}");
            assert_eq!(config["annotations"]["org.palisade.profile"], profile);
        }
    }
}

#[test]
fn docker_flags_give_the_container_what_enforce_gives() {
    if !ready("docker", &[("dockerd", "--version"), ("docker", "--version"), ("docker-compose", "version")]) {
        return;
    }
    let Some(daemon) = common::dockerd::start("export", serde_json::json!({})) else { return };
    for profile in ["builtin:strict", "builtin:docker-default", "builtin:web"] {
        let d = common::tempdir(&format!("export-docker-{}", profile.replace(':', "-")));
        let seccomp = d.join("seccomp.json");
        export(profile, "docker-seccomp", &seccomp, &[]);
        let flags = d.join("flags");
        let losses = export(
            profile,
            "docker",
            &flags,
            &["--seccomp-path", seccomp.to_str().unwrap(), "--format", "json"],
        );
        let losses: serde_json::Value = serde_json::from_str(losses.trim()).unwrap();
        let words: Vec<String> =
            std::fs::read_to_string(&flags).unwrap().split_whitespace().map(str::to_string).collect();
        let mut args: Vec<&str> = vec!["run", "--rm", "--pull", "never", "--network", "none"];
        args.extend(words.iter().map(String::as_str));
        args.extend([common::dockerd::IMAGE, "sh", "-c", PROBE]);
        let o = daemon.docker(&args);
        assert!(o.status.success(), "{profile}: docker {args:?}: {}", text(&o.stderr));
        let (got, want) = (text(&o.stdout), enforced(profile));
        let parts: Vec<&str> =
            losses["losses"].as_array().unwrap().iter().map(|l| l["part"].as_str().unwrap()).collect();
        if parts.contains(&"capabilities.ambient") {
            // The loss said so: Docker has no ambient capabilities (and keeps no inheritable
            // ones); a non-root process starts with none.
            let caps = ["CapInh", "CapAmb", "CapPrm", "CapEff"];
            assert_eq!(without(&got, &caps), without(&want, &caps), "{profile}: docker, then enforce");
            assert!(got.contains("CapAmb:\t0000000000000000"), "{got}");
        } else {
            assert_eq!(got, want, "{profile}: docker, then enforce");
        }
        // The compose service: the same container through docker-compose.
        let compose = d.join("compose.yaml");
        export(profile, "compose", &compose, &["--seccomp-path", seccomp.to_str().unwrap()]);
        let mut text_of = std::fs::read_to_string(&compose).unwrap();
        text_of.push_str(&format!(
            "    image: {}\n    network_mode: none\n    command: [\"sh\", \"-c\", {}]\n",
            common::dockerd::IMAGE,
            serde_json::to_string(&PROBE.replace('$', "$$")).unwrap()
        ));
        std::fs::write(&compose, text_of).unwrap();
        let o = Command::new("docker-compose")
            .env("DOCKER_HOST", daemon.socket())
            .arg("-f")
            .arg(&compose)
            .args(["-p", "pexport", "run", "--rm", "-T", "app"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{profile}: docker-compose: {}", text(&o.stderr));
        let from_compose = text(&o.stdout);
        assert_eq!(from_compose, got, "{profile}: compose, then docker run");
    }
}

#[test]
fn k8s_objects_pass_kubernetes_schemas_and_the_operators_crd() {
    if !ready("k8s", &[("kubernetes-validate", "--version"), ("python3", "--version")]) {
        return;
    }
    let d = common::tempdir("export-k8s");
    for name in ["docker-default", "web", "strict", "build"] {
        let file = d.join(format!("{name}.yaml"));
        let losses = export(&format!("builtin:{name}"), "k8s", &file, &["--runtime-class", "palisade"]);
        let o = Command::new("kubernetes-validate").arg("--strict").arg(&file).output().unwrap();
        let said = text(&o.stdout) + &text(&o.stderr);
        assert!(o.status.success(), "{name}: {said}");
        assert!(said.contains(&format!("passed for resource pod/{name}")), "{name}: {said}");
        assert!(said.contains("passed for resource runtimeclass/palisade"), "{name}: {said}");
        // The SeccompProfile against the operator's CRD (openAPIV3Schema of v1beta1).
        let o =
            Command::new("python3").arg("tests/fixtures/k8s/validate_crd.py").arg(&file).output().unwrap();
        assert!(o.status.success(), "{name}: {}{}", text(&o.stdout), text(&o.stderr));
        assert_eq!(text(&o.stdout), "SeccompProfile ok\n", "{name}");
        // With a RuntimeClass, Landlock reaches the pod: no Landlock loss.
        assert!(!losses.contains("lost: landlock"), "{name}: {losses}");
    }
    // A field Kubernetes does not know is refused by the same check.
    let bad = d.join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: i, securityContext: {landlock: true}}]\n").unwrap();
    assert!(!Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&bad)
        .output()
        .unwrap()
        .status
        .success());
    // Without one, the loss says how to get it.
    let losses = export("builtin:web", "k8s", &d.join("plain.yaml"), &[]);
    assert!(losses.contains("lost: landlock: no Landlock in Kubernetes: give --runtime-class"), "{losses}");
}

#[test]
fn systemd_dropins_pass_systemd_analyze_verify() {
    if !ready("systemd", &[("systemd-analyze", "--version")]) {
        return;
    }
    let d = common::tempdir("export-systemd");
    for name in ["docker-default", "web", "strict", "build"] {
        let unit = d.join(format!("p-{name}.service"));
        std::fs::write(&unit, "[Unit]\nDescription=export test\n[Service]\nExecStart=/bin/true\n").unwrap();
        let dropin = d.join(format!("p-{name}.service.d"));
        std::fs::create_dir_all(&dropin).unwrap();
        export(&format!("builtin:{name}"), "systemd", &dropin.join("palisade.conf"), &["--", "/bin/true"]);
        let o = Command::new("systemd-analyze").arg("verify").arg(&unit).output().unwrap();
        let said = text(&o.stderr);
        assert!(o.status.success(), "{name}: {said}");
        // This systemd may not know the newest calls and arches (it then refuses them, the
        // narrower way); anything else it could not parse is a defect of the export.
        for l in said.lines() {
            assert!(
                l.contains("Failed to parse system call, ignoring")
                    || l.contains("Failed to parse system call architecture"),
                "{name}: {l}"
            );
        }
    }
    if !Path::new("/run/systemd/system").exists() {
        eprintln!("NOTE: systemd is not PID 1 on this machine: the drop-ins are verified by systemd-analyze, not run (systemd-run --scope needs a running systemd)");
    }
}

#[test]
fn losses_are_reported_by_place_as_text_or_json_and_fail_on_request() {
    let d = common::tempdir("export-losses");
    let out = d.join("flags");
    let o = policyc(&[
        "compile",
        "builtin:web",
        "--emit",
        "docker",
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(text(&o.stderr).trim()).unwrap();
    let landlock = v["losses"].as_array().unwrap().iter().find(|l| l["part"] == "landlock").unwrap();
    assert_eq!((landlock["file"].as_str(), landlock["line"].as_u64()), (Some("builtin:web"), Some(18)));
    let o = policyc(&[
        "compile",
        "builtin:web",
        "--emit",
        "docker",
        "-o",
        out.to_str().unwrap(),
        "--fail-on-loss",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("builtin:web:18:1: lost: landlock: no Landlock in Docker"));
    // A profile a target expresses whole passes the gate.
    let o = policyc(&[
        "compile",
        "builtin:strict",
        "--emit",
        "oci-config",
        "-o",
        d.join("c.json").to_str().unwrap(),
        "--fail-on-loss",
    ]);
    assert_ne!(o.status.code(), Some(0), "strict has Landlock, which config.json cannot hold");
    let plain = d.join("plain.yaml");
    std::fs::write(&plain, "name: plain\nextends: docker-default\nprocess: { user: \"1000:1000\" }\n")
        .unwrap();
    let o = policyc(&[
        "compile",
        plain.to_str().unwrap(),
        "--emit",
        "oci-config",
        "-o",
        d.join("p.json").to_str().unwrap(),
        "--fail-on-loss",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// `policyc import` tells a SeccompProfile and a config.json from Docker JSON by content, and
/// what it writes compiles; a SeccompProfile that leans on the cluster is refused, saying why.
#[test]
fn policyc_import_reads_a_seccomp_profile_and_a_config_json() {
    let d = common::tempdir("export-import");
    for (kind, file) in [("k8s", "k.yaml"), ("oci-config", "config.json")] {
        let path = d.join(file);
        export("builtin:web", kind, &path, &[]);
        let out = d.join(format!("{file}.profile.yaml"));
        let o = policyc(&["import", path.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{kind}: {}", text(&o.stderr));
        let o = policyc(&["validate", out.to_str().unwrap()]);
        assert!(o.status.success(), "{kind}: {}", text(&o.stderr));
    }
    let based = d.join("based.yaml");
    std::fs::write(
        &based,
        "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata: {name: x}\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  baseProfileName: runc-v1.1.5\n",
    )
    .unwrap();
    let o = policyc(&["import", based.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("baseProfileName") && text(&o.stderr).contains("hint:"),
        "{}",
        text(&o.stderr)
    );
}
