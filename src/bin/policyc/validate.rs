//! `policyc validate PROFILE...`: every error and warning of each profile.

use std::process::ExitCode;

use anyhow::Result;
use policy::{CompileOptions, Diagnostic};
use serde::Serialize;

use crate::args::{Format, ValidateArgs};
use crate::common::{self, json};

/// One profile's verdict (`--format json`).
#[derive(Serialize)]
struct Verdict<'a> {
    profile: &'a str,
    valid: bool,
    diagnostics: Vec<Diagnostic>,
    /// Invalid profiles only: why it could not be read at all (`null` when the diagnostics
    /// say why).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Option<String>>,
}

pub fn run(a: ValidateArgs) -> Result<ExitCode> {
    let mut verdicts = Vec::new();
    for p in &a.profiles {
        let v = match policy::compile(p, &CompileOptions::default()) {
            Ok(c) => {
                if a.format == Format::Text {
                    for w in &c.warnings {
                        enforcer::say!("{w}");
                    }
                    enforcer::out!("{p}: ok\n");
                }
                Verdict { profile: p, valid: true, diagnostics: c.warnings, error: None }
            }
            Err(e) => {
                if a.format == Format::Text {
                    enforcer::say!("{e}");
                }
                let diagnostics = e.diagnostics().to_vec();
                let error = Some(diagnostics.is_empty().then(|| e.to_string()));
                Verdict { profile: p, valid: false, diagnostics, error }
            }
        };
        verdicts.push(v);
    }
    if a.format == Format::Json {
        enforcer::out!("{}", json(&verdicts)?);
    }
    Ok(if verdicts.iter().all(|v| v.valid) { ExitCode::SUCCESS } else { common::invalid() })
}
