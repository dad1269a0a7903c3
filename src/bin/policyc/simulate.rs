//! `policyc simulate PROFILE CALL... [--all]`: the reference evaluator and the BPF program
//! side by side; exit 1 when they disagree.

use std::process::ExitCode;

use anyhow::{bail, Result};
use policy::CompileOptions;

use crate::args::{Format, SimulateArgs};
use crate::common::{self, json};

pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    let Some(c) = common::compile(&a.profile, &CompileOptions::default())? else {
        return Ok(common::invalid());
    };
    let requested = a.arch.as_deref().map(common::parse_arch).transpose()?;
    let prog = crate::compile::program(&c.policy, requested)?;
    let call_arch = requested.unwrap_or(prog.target);
    let mut list = if a.all { policy::simulate::all_calls(call_arch) } else { Vec::new() };
    for text in &a.calls {
        list.push(policy::simulate::parse_call(text, call_arch).map_err(anyhow::Error::msg)?);
    }
    if list.is_empty() {
        bail!("name at least one call (NAME[:a0,a1,...]) or give --all");
    }
    let out = policy::simulate::simulate(&c.policy, &prog, call_arch, &list);
    match a.format {
        Format::Text => enforcer::out!("{}", policy::simulate::text(&out)),
        Format::Json => enforcer::out!("{}", json(&out)?),
    }
    Ok(if out.iter().all(|o| o.agree) { ExitCode::SUCCESS } else { common::invalid() })
}
