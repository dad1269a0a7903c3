//! `policyc explain PROFILE [--syscall NAME[:ARGS]]`: every tier summarised, or one call's
//! verdict and the rule that decides it.

use std::process::ExitCode;

use anyhow::Result;
use policy::{explain, Arch, CompileOptions};

use crate::args::{ExplainArgs, Format};
use crate::common::{self, json};

pub fn run(a: ExplainArgs) -> Result<ExitCode> {
    let Some(c) = common::compile(&a.profile, &CompileOptions::default())? else {
        return Ok(common::invalid());
    };
    let arches: Vec<Arch> = a.arch.as_deref().map(common::parse_arch).transpose()?.into_iter().collect();
    let text = match (&a.syscall, a.format) {
        (Some(q), format) => {
            let q = explain::parse_query(q).map_err(anyhow::Error::msg)?;
            let results = explain::query(&c.policy, &q, &arches);
            match format {
                Format::Text => explain::query_text(&results),
                Format::Json => json(&results)?,
            }
        }
        (None, Format::Text) => explain::explain_text(&c.policy),
        (None, Format::Json) => json(&c.policy)?,
    };
    enforcer::out!("{text}");
    Ok(ExitCode::SUCCESS)
}
