//! `policyc lint`: rules that flag dangerous or ineffective policies, each with a stable ID,
//! a severity, the place in the profile it is about, and a one-line fix.
//!
//! Rules read the merged profile (for where things are written) and the compiled IR (for what
//! they mean); see [`rules::RULES`] for the list. Docker/Podman seccomp JSON files are linted
//! as `policyc import` would read them, with findings placed on the JSON's lines.

pub(crate) mod locate;
pub mod rules;
pub mod sarif;

use serde::Serialize;

use crate::error::{Error, Origin};
use crate::frontend::loader::{self, Layer};
use crate::CompileOptions;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing.
    Note,
    /// Probably a mistake; `--deny warnings` fails on it.
    Warning,
    /// A hole in the policy; always fails.
    Error,
}

impl Level {
    /// Lowercase name (also SARIF's `level`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule ID (`PAL001`).
    pub rule: &'static str,
    /// Rule name (`io-uring-bypass`).
    pub name: &'static str,
    /// Severity.
    pub level: Level,
    /// File (as given, or `builtin:NAME`).
    pub file: String,
    /// 1-based line (1 when the finding is about the whole file).
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: &'static str,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}]: {}\n  fix: {}",
            self.file,
            self.line,
            self.column,
            self.level.name(),
            self.rule,
            self.message,
            self.fix
        )
    }
}

/// Lint one profile (path or `builtin:NAME`) or Docker seccomp JSON file (`.json`).
pub fn lint(spec: &str) -> Result<Vec<Finding>, Error> {
    let opts = CompileOptions::default();
    if spec.ends_with(".json") {
        let text = std::fs::read_to_string(spec).map_err(|source| Error::Read {
            path: spec.into(),
            source,
            hint: None,
        })?;
        return lint_docker(spec, &text, &opts);
    }
    let layers = loader::load(spec)?;
    let (policy, _) = crate::frontend::check::check(&layers, &opts)?;
    let mut out = rules::check(&layers, &policy);
    out.retain(|f| !suppressed(&layers, f));
    sort(&mut out);
    Ok(out)
}

/// Whether the line of `f` (or the line above it) says `# lint: allow ID`.
fn suppressed(layers: &[Layer], f: &Finding) -> bool {
    let Some(layer) = layers.iter().find(|l| l.file == f.file) else { return false };
    let lines: Vec<&str> = layer.text.lines().collect();
    let at = f.line as usize;
    [at.checked_sub(2), at.checked_sub(1)].into_iter().flatten().filter_map(|i| lines.get(i)).any(|l| {
        l.split_once("# lint: allow").is_some_and(|(_, ids)| ids.split([' ', ',']).any(|id| id == f.rule))
    })
}

/// Lint Docker seccomp JSON `text` read from `file`.
pub fn lint_docker(file: &str, text: &str, opts: &CompileOptions) -> Result<Vec<Finding>, Error> {
    let imported = crate::import::import_text(file, "imported", text)?;
    let yaml = crate::import::to_yaml(&imported.profile)?;
    let layers: Vec<Layer> = loader::load_text(file, &yaml, None)?;
    let (policy, _) = crate::frontend::check::check(&layers, opts)?;
    // A JSON file without architectures is not a denylist open to other ABIs: libseccomp (and
    // the import) accept only the native arch there. PAL006 and PAL007 judge the capabilities
    // the import assumes (Docker's), which the file does not state: their fixes do not apply.
    let mut out: Vec<Finding> = rules::check(&layers, &policy)
        .into_iter()
        .filter(|f| !matches!(f.rule, "PAL006" | "PAL007"))
        .collect();
    // Places in the generated YAML mean nothing to the reader: point into the JSON instead.
    for f in &mut out {
        let at = locate::in_json(text, &f.message);
        (f.line, f.column) = (at.0, at.1);
    }
    sort(&mut out);
    Ok(out)
}

fn sort(out: &mut [Finding]) {
    out.sort_by(|a, b| (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule)));
}

fn finding(rule: &'static rules::Rule, at: Origin, message: String) -> Finding {
    Finding {
        rule: rule.id,
        name: rule.name,
        level: rule.level,
        file: at.file,
        line: at.line.max(1),
        column: at.column.max(1),
        message,
        fix: rule.fix,
    }
}

#[cfg(test)]
mod tests;
