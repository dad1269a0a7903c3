//! `enforce run`: compile (through the compile cache), then let `runtime_lite::start` run it.

use std::path::PathBuf;
use std::process::ExitCode;

use enforcer::{CompiledPolicy, ReportTo};
use runtime_lite::{Request, Started};

use crate::args::RunArgs;
use crate::fail;

/// Compile `profile` for this machine (tables only for its arch family: enforce runs nowhere
/// else), through the compile cache unless `use_cache` is false; the cache keeps this
/// machine's seccomp program with the policy.
pub fn compile(profile: &str, use_cache: bool) -> Result<CompiledPolicy, String> {
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    match enforcer::cache::compile(profile, &opts, use_cache) {
        Ok((c, note)) => {
            if let Some(n) = note {
                eprintln!("enforce: {n}");
            }
            Ok(c)
        }
        Err(e) => Err(format!("cannot compile {profile}:\n{e}")),
    }
}

pub fn run(a: RunArgs) -> ExitCode {
    let compiled = match compile(&a.profile, !a.no_cache) {
        Ok(c) => c,
        Err(e) => return fail(125, e),
    };
    for w in compiled.warnings() {
        eprintln!("{w}");
    }
    let report = match a.report.as_deref() {
        None => ReportTo::None,
        Some("-") => ReportTo::Stderr,
        Some(f) => ReportTo::File(PathBuf::from(f)),
    };
    let request = Request {
        profile: a.profile,
        compiled,
        argv: a.cmd,
        rootfs: a.rootfs,
        report,
        best_effort: a.best_effort,
        name: a.name,
        detach: a.detach,
        dry_run: a.dry_run,
    };
    match runtime_lite::start(request) {
        Ok(Started::Exited(code)) => ExitCode::from(code.clamp(0, 255) as u8),
        Ok(Started::Detached(name)) => {
            println!("{name}");
            ExitCode::SUCCESS
        }
        Ok(Started::Planned(report)) => {
            print!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.exit_code(), e),
    }
}
