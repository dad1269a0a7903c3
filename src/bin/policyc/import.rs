//! `policyc import FILE.json [-o OUT.yaml]`: a Docker/Podman seccomp profile as a Palisade one.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::ImportArgs;
use crate::common::{self, write_out};

pub fn run(a: ImportArgs) -> Result<ExitCode> {
    let name = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file).with_context(|| format!("cannot read {name}"))?;
    let stem =
        a.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into());
    let imported = match policy::import::import_text(&name, &stem, &text) {
        Ok(i) => i,
        Err(e) => {
            enforcer::say!("{e}");
            return Ok(common::invalid());
        }
    };
    for w in &imported.warnings {
        enforcer::say!("{w}");
    }
    write_out(a.output.as_deref(), &policy::import::to_yaml(&imported.profile)?)?;
    Ok(ExitCode::SUCCESS)
}
