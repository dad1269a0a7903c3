//! Reading profiles: YAML parsing with locations, built-in profiles, and `extends` chains.

use std::path::{Path, PathBuf};

use super::profile::Profile;
use crate::builtin;
use crate::error::{Diagnostic, Error, Origin};

/// Largest profile file accepted (bytes).
pub const MAX_PROFILE_BYTES: usize = 1 << 20;
/// Deepest `extends` chain accepted.
pub const MAX_EXTENDS_DEPTH: usize = 16;

/// One parsed profile file in an `extends` chain.
#[derive(Debug, Clone)]
pub struct Layer {
    /// How diagnostics name the file: the path as given or `builtin:NAME`.
    pub file: String,
    /// The parsed profile.
    pub profile: Profile,
    /// The text it was parsed from.
    pub text: String,
}

/// Where a profile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Builtin(String),
    Path(PathBuf),
}

impl Source {
    fn display(&self) -> String {
        match self {
            Source::Builtin(n) => format!("builtin:{n}"),
            Source::Path(p) => p.display().to_string(),
        }
    }

    fn identity(&self) -> String {
        match self {
            Source::Builtin(n) => format!("builtin:{n}"),
            Source::Path(p) => std::fs::canonicalize(p)
                .map(|c| c.display().to_string())
                .unwrap_or_else(|_| p.display().to_string()),
        }
    }
}

/// Parse `PROFILE` as given on a command line: `builtin:NAME` or a path.
fn source_of(spec: &str) -> Source {
    match spec.strip_prefix("builtin:") {
        Some(name) => Source::Builtin(name.to_string()),
        None => Source::Path(PathBuf::from(spec)),
    }
}

/// Reads a profile file: from disk, or (for `policyc diff git:REV:PATH`) from a git revision.
pub type Reader<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// Read from disk, refusing files over the size limit before reading them.
fn from_disk(path: &Path) -> std::io::Result<String> {
    if std::fs::metadata(path)?.len() as usize > MAX_PROFILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_PROFILE_BYTES} bytes"),
        ));
    }
    std::fs::read_to_string(path)
}

/// Load a profile and everything it extends, parents first, the profile itself last.
pub fn load(spec: &str) -> Result<Vec<Layer>, Error> {
    load_with(spec, &from_disk)
}

/// [`load`], reading files (the profile and its parents) with `read`.
pub fn load_with(spec: &str, read: Reader) -> Result<Vec<Layer>, Error> {
    let mut layers = Vec::new();
    let mut stack = Vec::new();
    load_into(source_of(spec), None, &mut stack, &mut layers, read)?;
    Ok(layers)
}

/// Load a profile given as text (named `file` in diagnostics); relative `extends` paths are
/// resolved against `dir`.
pub fn load_text(file: &str, text: &str, dir: Option<&Path>) -> Result<Vec<Layer>, Error> {
    let profile = parse(file, text)?;
    let text = text.to_string();
    let mut layers = Vec::new();
    let mut stack = vec![(file.to_string(), file.to_string())];
    load_parents(&profile, file, dir, &mut stack, &mut layers, &from_disk)?;
    layers.push(Layer { file: file.to_string(), profile, text });
    Ok(layers)
}

fn load_into(
    source: Source,
    referenced_at: Option<Origin>,
    stack: &mut Vec<(String, String)>,
    layers: &mut Vec<Layer>,
    read: Reader,
) -> Result<(), Error> {
    let file = source.display();
    let identity = source.identity();
    let at = referenced_at.clone().unwrap_or_else(|| Origin::new(file.clone(), 0, 0));
    if let Some(pos) = stack.iter().position(|(id, _)| *id == identity) {
        let chain: Vec<_> = stack[pos..].iter().map(|(_, f)| f.clone()).chain([file]).collect();
        return Err(Error::Invalid(vec![Diagnostic::error(
            at,
            format!("extends cycle: {}", chain.join(" -> ")),
        )
        .with_hint("remove one of the `extends` entries so the chain ends")]));
    }
    if stack.len() >= MAX_EXTENDS_DEPTH {
        return Err(Error::Invalid(vec![Diagnostic::error(
            at,
            format!("extends chain deeper than {MAX_EXTENDS_DEPTH} profiles"),
        )]));
    }
    let (text, dir) = match &source {
        Source::Builtin(name) => match builtin::text(name) {
            Some(t) => (t.to_string(), None),
            None => {
                let chain = chain_text(stack, &file);
                return Err(Error::Invalid(vec![Diagnostic::error(
                    at,
                    format!("no built-in profile named `{name}` ({chain})"),
                )
                .with_hint(format!("built-in profiles: {}", builtin::names().join(", ")))]));
            }
        },
        Source::Path(p) => (read_file(p, &at, stack, read)?, p.parent().map(Path::to_path_buf)),
    };
    let profile = parse(&file, &text)?;
    stack.push((identity, file.clone()));
    load_parents(&profile, &file, dir.as_deref(), stack, layers, read)?;
    stack.pop();
    layers.push(Layer { file, profile, text });
    Ok(())
}

fn chain_text(stack: &[(String, String)], file: &str) -> String {
    let mut names: Vec<_> = stack.iter().map(|(_, f)| f.clone()).collect();
    names.push(file.to_string());
    format!("extends chain: {}", names.join(" -> "))
}

fn read_file(path: &Path, at: &Origin, stack: &[(String, String)], read: Reader) -> Result<String, Error> {
    match read(path) {
        Ok(text) if text.len() > MAX_PROFILE_BYTES => Err(Error::Invalid(vec![Diagnostic::error(
            at.clone(),
            format!("{} is larger than {MAX_PROFILE_BYTES} bytes", path.display()),
        )])),
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err(Error::Invalid(vec![Diagnostic::error(at.clone(), format!("{} is {e}", path.display()))]))
        }
        Err(e) if !stack.is_empty() => {
            let chain = chain_text(stack, &path.display().to_string());
            Err(Error::Invalid(vec![Diagnostic::error(
                at.clone(),
                format!("cannot read parent profile {}: {e} ({chain})", path.display()),
            )
            .with_hint("relative `extends` paths are resolved from the extending file's directory")]))
        }
        Err(source) => {
            // A bare name that is a built-in's: the user meant it.
            let name = path.to_str().filter(|n| !n.contains('/'));
            let builtin = name.and_then(|n| {
                builtin::text(n.trim_end_matches(".yaml")).map(|_| n.trim_end_matches(".yaml"))
            });
            let hint = builtin.map(|b| format!("did you mean `builtin:{b}`?"));
            Err(Error::Read { path: path.to_path_buf(), source, hint })
        }
    }
}

fn load_parents(
    profile: &Profile,
    file: &str,
    dir: Option<&Path>,
    stack: &mut Vec<(String, String)>,
    layers: &mut Vec<Layer>,
    read: Reader,
) -> Result<(), Error> {
    let Some(ext) = &profile.extends else { return Ok(()) };
    let at = Origin::new(file, ext.line, ext.column);
    for name in ext.value.to_vec() {
        let source = if let Some(b) = name.strip_prefix("builtin:") {
            Source::Builtin(b.to_string())
        } else if builtin::text(&name).is_some() {
            Source::Builtin(name.clone())
        } else if let Some(dir) = dir {
            Source::Path(dir.join(&name))
        } else if file.starts_with("builtin:") {
            Source::Builtin(name.clone())
        } else {
            Source::Path(PathBuf::from(&name))
        };
        load_into(source, Some(at.clone()), stack, layers, read)?;
    }
    Ok(())
}

/// Parse one profile's YAML text.
pub fn parse(file: &str, text: &str) -> Result<Profile, Error> {
    if text.len() > MAX_PROFILE_BYTES {
        return Err(Error::Invalid(vec![Diagnostic::error(
            Origin::new(file, 1, 1),
            format!("profile is larger than {MAX_PROFILE_BYTES} bytes"),
        )]));
    }
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(Profile::default());
    }
    serde_saphyr::from_str::<Profile>(text).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let raw = e.without_snippet().to_string();
        let message = clean_message(&raw);
        let hint = hint_for(&message);
        let mut d = Diagnostic::error(Origin::new(file, line, column), message);
        d.hint = hint;
        Error::Invalid(vec![d])
    })
}

/// Drop the parser's own location suffix; ours comes first in `file:line:col`.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let cut = first.find(" at line ").map(|i| &first[..i]).unwrap_or(first);
    let cut = cut.strip_prefix("error: ").unwrap_or(cut);
    let cut = cut.split(", set DuplicateKeyPolicy").next().unwrap_or(cut);
    cut.trim_end_matches('.').to_string()
}

fn hint_for(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling; docs/profile-language.md lists every key".into())
    } else if message.contains("duplicate") {
        Some("each key may appear once per mapping; merge the two entries".into())
    } else if message.contains("invalid type")
        || message.contains("did not match any variant")
        || message.starts_with("expected")
    {
        Some("see docs/profile-language.md for the expected type of this key".into())
    } else if message.contains("unknown variant") {
        Some("use one of the values listed in the message".into())
    } else {
        Some("fix the YAML syntax at this position".into())
    }
}
