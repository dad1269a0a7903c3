//! The detached containers' verbs: `ps`, `exec`, `logs`, `stop`, `rm`.

use std::process::ExitCode;

use runtime_lite::{lifecycle, state};

use crate::args::{ExecArgs, Format, LogsArgs, PsArgs, RmArgs, StopArgs};
use crate::fail;

pub fn ps(a: PsArgs) -> ExitCode {
    let list = match state::list() {
        Ok(l) => l,
        Err(e) => return fail(1, e),
    };
    match a.format {
        Format::Text => enforcer::out!("{}", lifecycle::ps_text(&list)),
        Format::Json => {
            enforcer::out!(
                "{}\n",
                serde_json::to_string_pretty(&lifecycle::ps_json(&list)).unwrap_or_default()
            )
        }
    }
    ExitCode::SUCCESS
}

pub fn exec(a: ExecArgs) -> ExitCode {
    let st = match state::State::load(&a.name) {
        Ok(s) => s,
        Err(e) => return fail(125, e),
    };
    // Through the compile cache: the program the container was started with, not compiled again.
    let compiled = match crate::run::compile(&st.profile, true) {
        Ok(c) => c,
        Err(e) => return fail(125, e),
    };
    let request = runtime_lite::exec::ExecRequest {
        name: a.name,
        compiled,
        argv: a.cmd,
        best_effort: a.best_effort,
        interactive: a.interactive,
        tty: a.tty,
    };
    match runtime_lite::exec::exec(request) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => fail(e.exit_code(), e),
    }
}

pub fn logs(a: LogsArgs) -> ExitCode {
    done(lifecycle::logs(&a.name, a.tail, a.follow))
}

pub fn stop(a: StopArgs) -> ExitCode {
    done(lifecycle::stop(&a.name, a.time))
}

pub fn rm(a: RmArgs) -> ExitCode {
    done(lifecycle::rm(&a.name, a.force))
}

fn done(r: Result<(), runtime_lite::RunError>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, e),
    }
}
