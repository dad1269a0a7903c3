//! `policyc schema`, `policyc list`, `policyc groups [NAME]`: what the language offers.

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::args::{Format, GroupsArgs, ListArgs};
use crate::common::json;

pub fn schema() -> Result<ExitCode> {
    enforcer::out!("{}", json(&policy::schema())?);
    Ok(ExitCode::SUCCESS)
}

/// One built-in profile.
#[derive(Serialize)]
struct Builtin {
    name: String,
    description: Option<String>,
}

pub fn builtins(a: ListArgs) -> Result<ExitCode> {
    let items: Vec<Builtin> = policy::builtin::names()
        .into_iter()
        .map(|n| Builtin { name: format!("builtin:{n}"), description: policy::builtin::description(n) })
        .collect();
    match a.format {
        Format::Json => enforcer::out!("{}", json(&items)?),
        Format::Text => {
            for b in &items {
                enforcer::out!("{:<24} {}\n", b.name, b.description.as_deref().unwrap_or_default());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn groups(a: GroupsArgs) -> Result<ExitCode> {
    let groups = policy::explain::groups(a.name.as_deref()).map_err(anyhow::Error::msg)?;
    match a.format {
        Format::Json => enforcer::out!("{}", json(&groups)?),
        Format::Text if a.name.is_some() => {
            for g in &groups {
                enforcer::out!("{} - {}\n", g.name, g.description);
                for s in &g.syscalls {
                    enforcer::out!("  {s}\n");
                }
            }
        }
        Format::Text => {
            for g in &groups {
                enforcer::out!("{:<16} {:>4}  {}\n", g.name, g.syscalls.len(), g.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
