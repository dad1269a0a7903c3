//! Typed errors and source-located diagnostics.

use std::fmt;
use std::path::PathBuf;

/// Where a value came from: a profile file (or `builtin:NAME`) and a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// File path as given, or `builtin:NAME` for embedded profiles.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
}

impl Origin {
    /// An origin in `file` at `line:column`.
    pub fn new(file: impl Into<String>, line: u64, column: u64) -> Self {
        Origin { file: file.into(), line, column }
    }

    /// Read `file:line:column` back (as [`Origin`]'s `Display` writes it); `file:line`, as
    /// the IR wrote origins before it kept columns, reads with column 0.
    pub fn parse(text: &str) -> Option<Origin> {
        let (rest, last) = text.rsplit_once(':')?;
        let last: u64 = last.parse().ok()?;
        match rest.rsplit_once(':').and_then(|(file, line)| Some((file, line.parse::<u64>().ok()?))) {
            Some((file, line)) => Some(Origin::new(file, line, last)),
            None => Some(Origin::new(rest, last, 0)),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The profile is still compiled.
    Warning,
    /// The profile is rejected.
    Error,
}

/// One message about a profile, pointing at the place it is about.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is.
    pub origin: Origin,
    /// What is wrong, lowercase, naming the object.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at `origin`.
    pub fn error(origin: Origin, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, origin, message: message.into(), hint: None }
    }

    /// A warning at `origin`.
    pub fn warning(origin: Origin, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, origin, message: message.into(), hint: None }
    }

    /// The same diagnostic with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {}: {}", self.origin, level, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Errors of the policy library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The profile (or one it extends) is invalid; every problem found is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// A profile or input file could not be read.
    #[error("cannot read {}: {}{}", path.display(), io_reason(source), hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
        /// What the user may have meant.
        hint: Option<String>,
    },
    /// The policy cannot be expressed in an output format.
    #[error("cannot export to {format}: {message}")]
    Export {
        /// The output format.
        format: &'static str,
        /// Why not.
        message: String,
    },
}

impl Error {
    /// The diagnostics of an invalid profile (empty for other errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Invalid(d) => d,
            _ => &[],
        }
    }
}

/// An I/O error's reason without the `(os error N)` its `Display` adds.
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_string(),
        _ => text,
    }
}

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

/// Collects diagnostics while a profile is checked, so that every problem is reported at once.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Record a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Record an error.
    pub fn error(&mut self, origin: Origin, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::error(origin, message);
        d.hint = hint;
        self.items.push(d);
    }

    /// Record a warning.
    pub fn warning(&mut self, origin: Origin, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::warning(origin, message);
        d.hint = hint;
        self.items.push(d);
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Split into `Ok(warnings)` or `Err(Error::Invalid(all))`.
    pub fn finish(self) -> Result<Vec<Diagnostic>, Error> {
        if self.has_errors() {
            Err(Error::Invalid(self.items))
        } else {
            Ok(self.items)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn origins_read_back_from_their_text() {
        for o in [Origin::new("builtin:web", 12, 5), Origin::new("/a:b/p.yaml", 1, 1), Origin::new("x", 0, 0)]
        {
            assert_eq!(Origin::parse(&o.to_string()), Some(o));
        }
        assert_eq!(Origin::parse("builtin:web:12"), Some(Origin::new("builtin:web", 12, 0)));
        assert_eq!(Origin::parse("default"), None);
    }
}
