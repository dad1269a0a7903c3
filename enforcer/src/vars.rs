//! The values path variables (`${CWD}`, `${HOME}`, ...; [`policy::ir::pathvars`]) take for a
//! run: this process's, or those a container recorded when it started (so `enforce exec`
//! applies the paths the container's workload got, wherever it is run from).

use std::collections::BTreeMap;

use policy::ir::pathvars::PathVar;

/// Where the values come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PathValues {
    /// This process: its working directory and environment.
    #[default]
    Process,
    /// Exactly these, by variable name (`CWD`, `env:NAME`): recorded by a container.
    Recorded(BTreeMap<String, String>),
}

impl PathValues {
    /// The value of `var` for a process of real uid `uid`; `None` when it has none.
    pub fn value(&self, var: &PathVar, uid: u32) -> Option<String> {
        match self {
            PathValues::Recorded(m) => m.get(&var.to_string()).cloned(),
            PathValues::Process => process_value(var, uid),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn process_value(var: &PathVar, uid: u32) -> Option<String> {
    match var {
        PathVar::Cwd => std::env::current_dir().ok()?.to_str().map(str::to_string),
        PathVar::Home => env("HOME").or_else(|| {
            let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
            user.dir.to_str().map(str::to_string)
        }),
        PathVar::Tmpdir => Some(env("TMPDIR").unwrap_or_else(|| "/tmp".into())),
        PathVar::XdgRuntimeDir => env("XDG_RUNTIME_DIR").or_else(|| {
            let d = format!("/run/user/{uid}");
            std::path::Path::new(&d).is_dir().then_some(d)
        }),
        PathVar::Env(name) => std::env::var(name).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_has_its_own_values_and_a_container_the_recorded_ones() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(PathValues::Process.value(&PathVar::Cwd, 0).as_deref(), cwd.to_str());
        assert!(PathValues::Process.value(&PathVar::Tmpdir, 0).is_some_and(|t| t.starts_with('/')));
        let unset = PathVar::Env("PALISADE_SURELY_UNSET_VARIABLE".into());
        assert_eq!(PathValues::Process.value(&unset, 0), None);
        let rec = PathValues::Recorded([("CWD".to_string(), "/w".to_string())].into());
        assert_eq!(rec.value(&PathVar::Cwd, 0).as_deref(), Some("/w"));
        assert_eq!(rec.value(&PathVar::Home, 0), None, "recorded values only");
    }
}
