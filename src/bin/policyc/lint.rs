//! `policyc lint PROFILE... [--deny warnings] [--format text|json|sarif]`: findings of every
//! profile in one report (exit 1 when one fails, 2 when a profile cannot be read).

use std::process::ExitCode;

use anyhow::Result;
use policy::lint::Level;

use crate::args::{Deny, LintArgs, LintFormat};
use crate::common::json;

pub fn run(a: LintArgs) -> Result<ExitCode> {
    let mut findings = Vec::new();
    let mut unreadable = 0;
    for p in &a.profiles {
        match policy::lint::lint(p) {
            Ok(f) => findings.extend(f),
            Err(e) => {
                enforcer::say!("{e}");
                unreadable += 1;
            }
        }
    }
    match a.format {
        LintFormat::Text => {
            for f in &findings {
                enforcer::out!("{f}\n");
            }
            let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
            let (errors, warnings, notes) = (count(Level::Error), count(Level::Warning), count(Level::Note));
            let skipped = match unreadable {
                0 => String::new(),
                n => format!(" ({n} could not be read or compiled: nothing of them was checked)"),
            };
            enforcer::out!(
                "lint: {errors} errors, {warnings} warnings, {notes} notes in {} profiles{skipped}\n",
                a.profiles.len()
            );
        }
        LintFormat::Json => enforcer::out!("{}", json(&findings)?),
        LintFormat::Sarif => enforcer::out!("{}", json(&policy::lint::sarif::sarif(&findings))?),
    }
    if unreadable > 0 {
        return Ok(ExitCode::from(2));
    }
    let fails = |l: Level| l == Level::Error || (l == Level::Warning && a.deny == Some(Deny::Warnings));
    Ok(if findings.iter().any(|f| fails(f.level)) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
