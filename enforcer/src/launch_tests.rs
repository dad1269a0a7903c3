//! The launcher against the recording kernel: the order of the steps, what each failure
//! stops, and that the result is read back, without root.

use policy::vocab::{Cap, CapSet, SecurebitsMode};
use policy::{Arch, CompileOptions};

use crate::error::Failure;
use crate::sys::fake::{Call, Process, Recorder};
use crate::{Command, CompiledPolicy, Features, Launcher, Options, Plan, ReportTo, Step};

fn features() -> Features {
    Features {
        arch: Some(Arch::X86_64),
        landlock_abi: Ok(7),
        caller: crate::privilege::Caller::root(),
        vars: crate::PathValues::Process,
    }
}

fn plan_of(spec: &str, yaml: Option<&str>) -> Plan {
    let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
    let compiled = match yaml {
        Some(y) => policy::compile_text(spec, y, None, &opts).unwrap(),
        None => policy::compile(spec, &opts).unwrap(),
    };
    Plan::new(spec, CompiledPolicy::new(compiled, Some(Arch::X86_64)), &features(), Options::default())
        .unwrap()
}

fn command() -> Command {
    Command::resolve(&["/bin/true".to_string()]).unwrap()
}

/// The step each kernel call belongs to.
fn step_of(call: &Call) -> Step {
    match call {
        Call::OpenStatus | Call::LandlockRuleset(_) | Call::LandlockPath(..) | Call::LandlockPort(..) => {
            Step::Prepare
        }
        Call::Setrlimit(..) => Step::Rlimits,
        Call::CloexecFrom(_) => Step::CloseFds,
        Call::DropBounding(_) => Step::Bounding,
        Call::SetSecurebits(_) => Step::Securebits,
        Call::ClearGroups | Call::SetGroups(_) | Call::Setresgid(_) | Call::Setresuid(_) => Step::SwitchUser,
        Call::SetKeepcaps(true) => Step::SwitchUser,
        Call::Capset(..) | Call::SetKeepcaps(false) | Call::ClearAmbient | Call::RaiseAmbient(_) => {
            Step::Capabilities
        }
        Call::SetNoNewPrivs => Step::NoNewPrivs,
        Call::LandlockRestrict => Step::Landlock,
        Call::InstallSeccomp(_) => Step::Seccomp,
        Call::ReadStatus => Step::Verify,
        Call::Exec(_) => Step::Exec,
    }
}

fn run(plan: &Plan, rec: Recorder) -> (Recorder, Result<(), crate::LaunchError>) {
    Launcher::with_kernel(plan, ReportTo::None, rec).command(command()).exec()
}

#[test]
fn every_built_in_is_applied_step_by_step_in_order_and_verifies() {
    // builtin:build's private temporary directory is made for real: in a directory of this
    // test's, removed after (the recorded exec leaves nothing to remove it).
    let base = std::env::temp_dir().join(format!("palisade-launch-tests-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let argv = ["/bin/true".to_string()];
    let command = Command::resolve_with_env(&argv, &[("TMPDIR".into(), base.display().to_string())]).unwrap();
    for spec in ["builtin:docker-default", "builtin:web", "builtin:strict", "builtin:build"] {
        let plan = plan_of(spec, None);
        let rec = Recorder::new(Process::root());
        let (rec, result) = Launcher::with_kernel(&plan, ReportTo::None, rec).command(command.clone()).exec();
        result.unwrap_or_else(|e| panic!("{spec}: {e}\n{:#?}", rec.calls));
        let steps: Vec<Step> = rec.calls.iter().map(step_of).collect();
        assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{spec}: calls out of step order: {:#?}", rec.calls);
        assert_eq!(rec.calls.last(), Some(&Call::Exec("/bin/true".into())));
        // The model of the process is what the plan says.
        let p = &rec.process;
        assert_eq!(
            (p.uid, p.gid, p.no_new_privs, p.filters),
            (plan.uid, plan.gid, plan.no_new_privs, 1),
            "{spec}"
        );
        let c = plan.caps;
        assert_eq!(
            (p.bounding, p.permitted, p.effective, p.inheritable, p.ambient),
            (c.bounding, c.permitted, c.effective, c.inheritable, c.ambient),
            "{spec}"
        );
        assert_eq!(p.securebits, plan.raw_securebits());
        assert_eq!(p.landlocked, plan.landlock.is_some(), "{spec}");
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn a_non_root_user_keeps_its_capabilities_through_keepcaps_and_ambient() {
    let yaml = "name: t\nprocess: { user: \"1000:1000\" }\nseccomp: { default: allow }\ncapabilities: { add: [NET_BIND_SERVICE] }\n";
    let plan = plan_of("t.yaml", Some(yaml));
    assert_eq!(plan.securebits, SecurebitsMode::None.bits());
    let (rec, result) = run(&plan, Recorder::new(Process::root()));
    result.unwrap();
    let kinds = rec.kinds();
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or_else(|| panic!("no {k}: {kinds:?}"));
    assert!(at("set_keepcaps") < at("setresuid"), "{kinds:?}");
    let want: CapSet = [Cap::NET_BIND_SERVICE].into_iter().collect();
    assert_eq!((rec.process.uid, rec.process.ambient, rec.process.effective), (1000, want, want));
}

#[test]
fn any_failing_kernel_call_stops_before_exec() {
    let plan = plan_of("builtin:web", None);
    let (clean, _) = run(&plan, Recorder::new(Process::root()));
    let kinds: Vec<&'static str> = clean.kinds().into_iter().filter(|k| *k != "exec").collect();
    assert!(kinds.len() >= 14, "{kinds:?}");
    for kind in kinds {
        let mut rec = Recorder::new(Process::root());
        rec.fail_on = Some(kind);
        let (rec, result) = run(&plan, rec);
        let e = result.expect_err(kind);
        assert_eq!(e.exit_code(), 125, "{kind}: {e}");
        let failed = rec.calls.iter().find(|c| c.kind() == kind).unwrap();
        assert_eq!(e.step, step_of(failed), "{kind}: {e}");
        assert!(!rec.calls.iter().any(|c| matches!(c, Call::Exec(_))), "{kind}: exec after a failure");
    }
}

#[test]
fn every_injected_failure_stops_before_exec() {
    let plan = plan_of("builtin:docker-default", None);
    for step in Step::ALL {
        let launcher = Launcher::with_kernel(&plan, ReportTo::None, Recorder::new(Process::root()));
        let (rec, result) = launcher.command(command()).fail_at(step).exec();
        let e = result.expect_err(step.name());
        assert_eq!((e.step, &e.failure), (step, &Failure::Injected));
        assert_eq!(e.exit_code(), if step == Step::Exec { 126 } else { 125 });
        assert!(!rec.calls.iter().any(|c| matches!(c, Call::Exec(_))), "{}", step.name());
    }
}

#[test]
fn a_kernel_that_reads_back_otherwise_is_refused() {
    let plan = plan_of("builtin:docker-default", None);
    let mut rec = Recorder::new(Process::root());
    let mut wrong = Process::root();
    wrong.no_new_privs = true;
    wrong.filters = 1;
    rec.status_override = Some(wrong.status());
    let (rec, result) = run(&plan, rec);
    let e = result.unwrap_err();
    assert_eq!(e.step, Step::Verify);
    assert!(e.to_string().contains("CapInh") || e.to_string().contains("CapPrm"), "{e}");
    assert!(!rec.calls.iter().any(|c| matches!(c, Call::Exec(_))));
}

#[test]
fn without_privilege_the_bounding_set_cannot_be_dropped() {
    // The fake refuses what the kernel refuses: the same plan, started without CAP_SETPCAP.
    let plan = plan_of("builtin:docker-default", None);
    let mut unprivileged = Process::root();
    unprivileged.effective = CapSet::EMPTY;
    let (_, result) = run(&plan, Recorder::new(unprivileged));
    let e = result.unwrap_err();
    assert_eq!(e.step, Step::Bounding, "{e}");
    assert!(e.to_string().contains("Operation not permitted"), "{e}");
}

#[test]
fn securebits_this_build_has_no_name_for_are_not_inherited() {
    // SECBIT_EXEC_RESTRICT_FILE (bit 8, Linux 6.14) set by the parent: cleared, and verified.
    let yaml = "name: t\nprocess: { user: \"1000:1000\" }\nseccomp: { default: allow }\n";
    let plan = plan_of("t.yaml", Some(yaml));
    let mut parent = Process::root();
    parent.securebits = 1 << 8;
    let (rec, result) = run(&plan, Recorder::new(parent));
    result.unwrap();
    assert!(rec.calls.contains(&Call::SetSecurebits(0)), "{:#?}", rec.calls);
    assert_eq!(rec.process.securebits, 0);
}

#[test]
fn a_failure_while_preparing_landlock_is_written_to_the_report_file() {
    let plan = plan_of("builtin:web", None);
    let file = std::env::temp_dir().join(format!("palisade-report-{}.json", std::process::id()));
    let mut rec = Recorder::new(Process::root());
    rec.fail_on = Some("landlock_ruleset");
    let launcher = Launcher::with_kernel(&plan, ReportTo::File(file.clone()), rec);
    let (_, result) = launcher.command(command()).exec();
    assert_eq!(result.unwrap_err().step, Step::Prepare);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!((v["state"].as_str(), v["step"].as_str()), (Some("failed"), Some("prepare")), "{v}");
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn an_unprivileged_caller_applies_everything_but_the_bounding_set() {
    let caller = crate::privilege::Caller {
        uid: 65534,
        gid: 65534,
        permitted: CapSet::EMPTY,
        ..crate::privilege::Caller::root()
    };
    let f = Features { caller, ..features() };
    let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
    let compiled = CompiledPolicy::new(policy::compile("builtin:strict", &opts).unwrap(), Some(Arch::X86_64));
    let plan = Plan::new("builtin:strict", compiled, &f, Options::default()).unwrap();
    assert_eq!(plan.skipped.iter().map(|s| s.step).collect::<Vec<_>>(), [Step::Bounding]);
    let mut process = Process::root();
    (process.uid, process.gid) = (65534, 65534);
    (process.permitted, process.effective) = (CapSet::EMPTY, CapSet::EMPTY);
    let (rec, result) = run(&plan, Recorder::new(process));
    result.unwrap_or_else(|e| panic!("{e}\n{:#?}", rec.calls));
    assert!(!rec.calls.iter().any(|c| matches!(c, Call::DropBounding(_))), "{:#?}", rec.calls);
    let p = &rec.process;
    assert_eq!((p.bounding, p.no_new_privs, p.filters, p.landlocked), (CapSet::all(), true, 1, true));
}

#[test]
fn confine_applies_everything_but_exec() {
    let plan = plan_of("builtin:docker-default", None);
    let (rec, applied) =
        Launcher::with_kernel(&plan, ReportTo::None, Recorder::new(Process::root())).confine();
    let applied = applied.unwrap();
    assert_eq!(applied.steps.last(), Some(&Step::Verify));
    assert_eq!(applied.verified.get("Seccomp").map(String::as_str), Some("2"));
    assert!(!rec.calls.iter().any(|c| matches!(c, Call::Exec(_))));
}
