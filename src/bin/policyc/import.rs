//! `policyc import FILE [-o OUT.yaml]`: a Docker/Podman seccomp profile, a Kubernetes
//! `SeccompProfile` or a runtime-spec `config.json`, as a Palisade profile.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::ImportArgs;
use crate::common::{self, write_out};

pub fn run(a: ImportArgs) -> Result<ExitCode> {
    let name = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file).with_context(|| format!("cannot read {name}"))?;
    let stem =
        a.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into());
    use policy::import::oci::{import_oci_config, import_seccomp_profile, kind_of, Kind};
    let result = match kind_of(&text) {
        Kind::Docker => policy::import::import_text(&name, &stem, &text),
        Kind::OciConfig => import_oci_config(&name, &stem, &text),
        Kind::SeccompProfile => import_seccomp_profile(&name, &stem, &text),
    };
    let imported = match result {
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
