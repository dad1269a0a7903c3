//! Exports of a policy for where workloads run: `docker run` flags and a compose service
//! ([`docker`]), a runtime-spec `config.json` ([`oci`]), Kubernetes objects ([`k8s`]) and a
//! systemd drop-in ([`systemd`]). Each target can express only part of a profile: every export
//! says what it lost ([`Loss`]), where in the profile that part is written, and what the
//! export did instead.

pub mod docker;
pub mod k8s;
mod locate;
pub mod oci;
pub mod systemd;

use serde::Serialize;

use crate::error::Origin;
pub use locate::Texts;

/// A part of the profile the target cannot express.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Loss {
    /// What (`landlock`, `capabilities.ambient`, `seccomp rule for clone`).
    pub part: String,
    /// Where the profile writes it.
    #[serde(flatten)]
    pub at: Origin,
    /// What the export does instead.
    pub instead: String,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: lost: {}: {}", self.at, self.part, self.instead)
    }
}

/// One export: its text and what it lost.
#[derive(Clone, Debug, Serialize)]
pub struct Exported {
    /// The export (flags, YAML, JSON or an INI drop-in).
    pub text: String,
    /// What the target cannot express.
    pub losses: Vec<Loss>,
}

/// What the exports need besides the policy.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the target finds the seccomp profile (`docker`, `compose`: a path to the Docker
    /// JSON; `k8s`: the `localhostProfile` path under the kubelet's seccomp directory).
    pub seccomp_path: Option<String>,
    /// The workload's command (`oci-config`'s `process.args`, the systemd `ExecStart=`).
    pub command: Vec<String>,
    /// `k8s`: also a `RuntimeClass` of this name selecting `palisade-runtime`, and the pod
    /// annotation that gives it the profile.
    pub runtime_class: Option<String>,
    /// The profile as the user named it (`builtin:web`, a path): for the annotation and the
    /// `enforce run --profile` alternatives.
    pub profile: String,
}

/// The arches a JSON seccomp profile leaves out, where libseccomp would refuse it
/// ([`crate::syscalls::runc::socketcall_warning`]).
fn socketcall_loss(p: &crate::ir::Policy, t: &Texts) -> Option<Loss> {
    crate::syscalls::runc::socketcall_warning(p).map(|why| Loss {
        part: "seccomp.arches".into(),
        at: t.at("seccomp", Some("arches")),
        instead: why,
    })
}

/// The losses every target shares: tiers none of them has.
fn landlock_loss(p: &crate::ir::Policy, t: &Texts, target: &str, instead: &str) -> Option<Loss> {
    let l = &p.landlock;
    let any = l.restrict_fs || l.network.is_some() || !l.scopes.is_empty();
    any.then(|| Loss {
        part: "landlock".into(),
        at: t.at("landlock", None),
        instead: format!("no Landlock in {target}: {instead}"),
    })
}
