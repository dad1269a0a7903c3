//! Docker JSON import/export round trips keep the meaning (compared with the reference
//! evaluator at every syscall, capability combination and boundary argument).

use policy::backend::seccomp::docker::to_docker;
use policy::import::{import, parse_docker, to_yaml};
use policy::ir::equiv::seccomp_differences;
use policy::{compile, compile_text, CompileOptions, Policy};

const MOBY: &str = include_str!("../../tests/fixtures/seccomp/moby-default.json");
const PODMAN: &str = include_str!("../../tests/fixtures/seccomp/podman-containers-common.json");
const PODMAN_EXAMPLE: &str = include_str!("../../tests/fixtures/seccomp/podman-example.json");

/// Import Docker JSON, write the profile as YAML, compile that YAML.
fn import_compile(file: &str, json: &str) -> Policy {
    let d = parse_docker(file, json).expect("valid Docker JSON");
    let imported = import(file, "imported", &d).expect("imports");
    let yaml = to_yaml(&imported.profile).expect("serializes");
    compile_text("imported.yaml", &yaml, None, &CompileOptions::default())
        .expect("imported profile compiles")
        .policy
}

fn assert_same(a: &Policy, b: &Policy, what: &str) {
    let diffs = seccomp_differences(a, b, 20);
    assert!(diffs.is_empty(), "{what}: {} differences, first: {:#?}", diffs.len(), diffs);
}

fn round_trip(file: &str, json: &str) {
    let first = import_compile(file, json);
    let exported = serde_json::to_string_pretty(&to_docker(&first).expect("exports")).unwrap();
    let second = import_compile("exported.json", &exported);
    assert_same(&first, &second, file);
    // And once more: export of the re-import is stable.
    let again = serde_json::to_string_pretty(&to_docker(&second).unwrap()).unwrap();
    assert_eq!(exported, again, "{file}: export is not a fixed point");
}

#[test]
fn moby_default_round_trips() {
    round_trip("moby-default.json", MOBY);
}

#[test]
fn podman_default_round_trips() {
    round_trip("podman-containers-common.json", PODMAN);
}

#[test]
fn podman_example_round_trips() {
    round_trip("podman-example.json", PODMAN_EXAMPLE);
}

/// The built-in is moby's profile plus one addition (no TIOCSTI / TIOCLINUX): without it, it
/// means exactly what moby's means; with it, it differs in nothing else.
#[test]
fn builtin_docker_default_means_what_moby_default_means() {
    let moby = import_compile("moby-default.json", MOBY);
    let text = policy::builtin::text("docker-default").unwrap();
    let cut = text.find("    # Palisade's one addition").expect("the addition is marked");
    let opts = CompileOptions::default();
    let without = compile_text("docker-default.yaml", &text[..cut], None, &opts).unwrap().policy;
    assert_same(&moby, &without, "builtin:docker-default (without its addition) vs moby default.json");
    let builtin = compile("builtin:docker-default", &opts).unwrap().policy;
    let diffs = seccomp_differences(&moby, &builtin, 1000);
    assert!(!diffs.is_empty(), "the addition changed nothing");
    for d in &diffs {
        assert!(d.contains("ioctl"), "a difference besides ioctl: {d}");
    }
}

#[test]
fn every_builtin_exports_and_reimports_with_the_same_meaning() {
    for name in policy::builtin::names() {
        let p = compile(&format!("builtin:{name}"), &CompileOptions::default()).unwrap().policy;
        let exported = serde_json::to_string(&to_docker(&p).unwrap()).unwrap();
        let back = import_compile("exported.json", &exported);
        // Where libseccomp would collide on socketcall, the JSON leaves those arches out (and
        // says so at export): the rest means the same.
        let mut want = p.clone();
        if !policy::syscalls::runc::socketcall_conflicts(&p).is_empty() {
            let dropped = policy::syscalls::runc::SOCKETCALL_ARCHES;
            want.seccomp.arches.retain(|a| !dropped.contains(a));
            want.seccomp.tables.retain(|arch, _| !dropped.iter().any(|d| d.name() == arch));
        }
        assert_same(&want, &back, name);
    }
}

#[test]
fn equivalence_check_notices_a_change() {
    let moby = import_compile("moby-default.json", MOBY);
    let mut changed = moby.clone();
    let i = changed.seccomp.rules.iter().position(|r| r.syscalls.iter().any(|s| s == "personality")).unwrap();
    changed.seccomp.rules.remove(i);
    assert!(!seccomp_differences(&moby, &changed, 1).is_empty());
}

/// The IR's JSON reads back into the same IR (`policyc diff` and the compile cache rely on it).
#[test]
fn ir_json_reads_back() {
    for spec in policy::builtin::names().iter().map(|n| format!("builtin:{n}")) {
        let p = compile(&spec, &CompileOptions::default()).unwrap().policy;
        let json = serde_json::to_string_pretty(&p).unwrap();
        let back: Policy = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json, "{spec}");
        assert_same(&p, &back, &spec);
    }
    let imported = import_compile("moby.json", MOBY);
    let json = serde_json::to_string(&imported).unwrap();
    let back: Policy = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
}

#[test]
fn ir_json_rejects_what_it_does_not_know() {
    let p = compile("builtin:strict", &CompileOptions::default()).unwrap().policy;
    let mut v = serde_json::to_value(&p).unwrap();
    v["seccomp"]["surprise"] = serde_json::json!(1);
    let e = serde_json::from_value::<Policy>(v).unwrap_err().to_string();
    assert!(e.contains("surprise"), "{e}");
    let mut v = serde_json::to_value(&p).unwrap();
    v["seccomp"]["default_action"] = serde_json::json!("errno(EWHAT)");
    assert!(serde_json::from_value::<Policy>(v).is_err());
}

/// The verdicts of `a` and `b` on `arch` agree for every syscall either names, at every
/// boundary argument vector of either's conditions.
fn same_on(a: &Policy, b: &Policy, arch: policy::Arch, what: &str) {
    let (ta, tb) = (&a.seccomp.tables[arch.name()], &b.seccomp.tables[arch.name()]);
    let names: std::collections::BTreeSet<&String> = ta.syscalls.keys().chain(tb.syscalls.keys()).collect();
    for name in names {
        let conds: Vec<&policy::ir::ArgCondIr> = [ta, tb]
            .iter()
            .filter_map(|t| t.syscalls.get(name))
            .flat_map(|s| s.conditional.iter().flat_map(|c| c.args.iter()))
            .collect();
        let mut vectors = policy::ir::points::vectors(&conds, 4096);
        vectors.push([0; 6]);
        for v in vectors {
            let (x, y) = (a.evaluate_name(arch, name, v), b.evaluate_name(arch, name, v));
            assert_eq!(x.map(|e| e.action), y.map(|e| e.action), "{what}: {name} {v:x?}");
        }
    }
}

/// Issue 17: the Kubernetes SeccompProfile and the runtime-spec config.json each import back
/// into a profile that means the same: the seccomp verdicts on the host they were made for,
/// and for config.json the ids, capabilities, no_new_privs and rlimits.
#[test]
fn every_builtin_round_trips_through_a_seccomp_profile_and_a_config_json() {
    use policy::export::{k8s, oci, Options, Texts};
    use policy::import::oci::{import_oci_config, import_seccomp_profile};
    let opts = CompileOptions::default();
    for name in policy::builtin::names() {
        let spec = format!("builtin:{name}");
        let c = compile(&spec, &opts).unwrap();
        let (p, t) = (&c.policy, Texts::of(&c));
        let o = Options { seccomp_path: None, command: vec![], runtime_class: None, profile: spec.clone() };
        let back = |imported: policy::import::Imported| {
            compile_text("back.yaml", &to_yaml(&imported.profile).unwrap(), None, &opts)
                .expect("compiles")
                .policy
        };
        let yaml = k8s::objects(p, &t, &o, Some(policy::Arch::X86_64)).unwrap().text;
        let from_k8s = back(import_seccomp_profile("k.yaml", name, &yaml).unwrap());
        same_on(p, &from_k8s, policy::Arch::X86_64, &format!("{name} via SeccompProfile"));
        let json = oci::config(p, &t, &o, Some(policy::Arch::X86_64)).unwrap().text;
        let from_oci = back(import_oci_config("config.json", name, &json).unwrap());
        same_on(p, &from_oci, policy::Arch::X86_64, &format!("{name} via config.json"));
        assert_eq!(from_oci.capabilities.sets(), p.capabilities.sets(), "{name}");
        assert_eq!(from_oci.process.no_new_privs, p.process.no_new_privs, "{name}");
        if let policy::ir::UserIr::Id { .. } = p.process.user {
            assert_eq!(from_oci.process.user, p.process.user, "{name}");
        }
        let limits =
            |q: &Policy| q.process.rlimits.iter().map(|(r, l)| (*r, l.soft, l.hard)).collect::<Vec<_>>();
        assert_eq!(limits(&from_oci), limits(p), "{name}");
    }
}
