//! `policyc diff OLD NEW [--fail-on ...]`: what changed in meaning, as a CI gate (exit 1 when
//! the gate fails, 2 when an input cannot be read or compiled).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use policy::CompileOptions;

use crate::args::{Colour, DiffArgs, FailOn, Format};

pub fn run(a: DiffArgs) -> Result<ExitCode> {
    let opts = CompileOptions::default();
    let (old, new) =
        match (policy::diff::input::load(&a.old, &opts), policy::diff::input::load(&a.new, &opts)) {
            (Ok(old), Ok(new)) => (old, new),
            (Err(e), _) | (_, Err(e)) => {
                enforcer::say!("{e}");
                return Ok(ExitCode::from(2));
            }
        };
    let mut d = policy::diff::diff(&old, &new);
    // Name the sides as given (two files may hold profiles of the same name).
    (d.old, d.new) = (a.old, a.new);
    let colour = match a.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match a.format {
        Format::Text => enforcer::out!("{}", policy::diff::render::text(&d, colour)),
        Format::Json => enforcer::out!("{}\n", policy::diff::render::json(&d)),
    }
    let failed = match a.fail_on {
        FailOn::Widen => d.widens(),
        FailOn::Any => !d.is_empty(),
        FailOn::Never => false,
    };
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
