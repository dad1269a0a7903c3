//! `policyc merge A B... [-o OUT.yaml]`: learned profiles as one (`policy::merge`).

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::MergeArgs;
use crate::common::{self, write_out};

pub fn run(a: MergeArgs) -> Result<ExitCode> {
    let mut texts = Vec::new();
    for p in &a.profiles {
        let name = p.display().to_string();
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {name}"))?;
        texts.push((name, text));
    }
    let inputs: Vec<policy::merge::Input> =
        texts.iter().map(|(file, text)| policy::merge::Input { file, text }).collect();
    match policy::merge::merge(&inputs) {
        Ok(yaml) => {
            write_out(a.output.as_deref(), &yaml)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            enforcer::say!("{e}");
            Ok(common::invalid())
        }
    }
}
