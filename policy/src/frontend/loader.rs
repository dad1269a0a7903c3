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

/// `open` flags that cannot block or change the caller's terminal: `O_NONBLOCK` (a FIFO with
/// no writer would hang `open`) and `O_NOCTTY` (a terminal must not become the caller's
/// controlling terminal).
const OPEN_FLAGS: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

/// What a file that is not a regular file is, for the error.
fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn regular(meta: &std::fs::Metadata) -> std::io::Result<()> {
    match meta.is_file() {
        true => Ok(()),
        false => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a regular file ({})", kind_of(meta.file_type())),
        )),
    }
}

/// Read a regular file of at most [`MAX_PROFILE_BYTES`] from disk. Its type is checked before
/// `open` (opening a device can act: a tape rewinds) and again on the opened file (it may have
/// been replaced in between); `open` cannot block ([`OPEN_FLAGS`]); and no more than the limit
/// is read whatever the file says its size is (`/dev/zero` says 0, `/proc` files too).
pub fn from_disk(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    regular(&std::fs::metadata(path)?)?;
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, OPEN_FLAGS);
    let file = open.open(path)?;
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_PROFILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_PROFILE_BYTES} bytes"),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
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
            Err(Error::Invalid(vec![Diagnostic::error(at.clone(), format!("{} is {e}", path.display()))
                .with_hint(format!(
                    "a profile is a regular YAML file of at most {MAX_PROFILE_BYTES} bytes"
                ))]))
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
        let (message, withheld) = message_of(&e);
        let mut hint = hint_for(&message);
        if withheld {
            hint = hint.map(|h| format!("{h} (the file's text is not shown: is it a profile?)"));
        }
        let mut d = Diagnostic::error(Origin::new(file, line, column), message);
        d.hint = hint;
        Error::Invalid(vec![d])
    })
}

/// Longest text of a file a parse error quotes.
const MAX_QUOTED: usize = 32;

/// Whether text of a file may be quoted in an error: only when it could be a word of the
/// profile language, 1 to [`MAX_QUOTED`] of `a-z`, `0-9`, `_` and `-`, starting with a letter
/// or `_`. Every key and keyword of the language is such a word, so a misspelt key or value is
/// still named, which is what the message is for. But `extends` can name any file, and the
/// compiler may run with more privilege than whoever wrote the profile: the first line of
/// `/etc/shadow` (`root:$6$...`), a token, a path or a sentence is never such a word.
fn word(text: &str) -> bool {
    let mut chars = text.chars();
    text.len() <= MAX_QUOTED
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Text of the file, quoted as the parser would, or described.
fn quoted(text: &str, withheld: &mut bool) -> String {
    if word(text) {
        return format!("`{text}`");
    }
    *withheld = true;
    format!("({} characters, not shown)", text.chars().count())
}

/// serde's description of a value it did not expect (`string "..."`, `integer `5``), without
/// the value.
fn kind(unexpected: &str) -> &'static str {
    const KINDS: [&str; 16] = [
        "boolean",
        "integer",
        "floating point",
        "char",
        "string",
        "byte array",
        "unit value",
        "Option value",
        "newtype struct",
        "sequence",
        "map",
        "enum",
        "unit variant",
        "newtype variant",
        "tuple variant",
        "struct variant",
    ];
    KINDS.into_iter().find(|k| unexpected.starts_with(k)).unwrap_or("a value")
}

/// The parser's message, quoting text of the file only as [`word`] allows; `true` with it
/// when some text was withheld.
fn message_of(e: &serde_saphyr::Error) -> (String, bool) {
    use serde_saphyr::Error as E;
    let mut withheld = false;
    let message = match e.without_snippet() {
        E::AliasError { error, .. } => return message_of(error),
        E::SerdeUnknownField { field, expected, .. } => {
            format!("unknown field {}, expected one of {}", quoted(field, &mut withheld), expected.join(", "))
        }
        E::SerdeUnknownVariant { variant, expected, .. } => {
            format!(
                "unknown variant {}, expected one of {}",
                quoted(variant, &mut withheld),
                expected.join(", ")
            )
        }
        E::SerdeInvalidType { unexpected, expected, .. } => {
            format!("invalid type: {}, expected {expected}", kind(unexpected))
        }
        E::SerdeInvalidValue { unexpected, expected, .. } => {
            format!("invalid value: {}, expected {expected}", kind(unexpected))
        }
        E::DuplicateMappingKey { key: Some(k), .. } if word(k) => format!("duplicate mapping key: {k}"),
        E::DuplicateMappingKey { key: Some(k), .. } => {
            format!("duplicate mapping key {}", quoted(k, &mut withheld))
        }
        E::NonFiniteFloat { .. } => "non-finite float".to_string(),
        E::TaggedEnumMismatch { target, .. } => format!("a tag does not match the enum `{target}`"),
        // The rest are the parser's own words (a scanner error names at most one character).
        other => clean_message(&other.to_string()),
    };
    (message, withheld)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("palisade-loader-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The one diagnostic of loading a profile that extends `parent`, found within 10 seconds
    /// (a loader that blocks fails here instead of hanging the suite).
    fn extending(parent: &Path) -> Diagnostic {
        let text = format!("name: x\nextends: {}\n", parent.display());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(load_text("p.yaml", &text, None).map(|_| ())));
        let result = rx.recv_timeout(std::time::Duration::from_secs(10));
        let result = result.unwrap_or_else(|_| panic!("loading {} did not finish", parent.display()));
        let err = result.expect_err("the parent is refused");
        let [d] = err.diagnostics() else { panic!("{err}") };
        assert_eq!((d.origin.file.as_str(), d.origin.line, d.origin.column), ("p.yaml", 2, 10), "{d}");
        assert!(d.hint.is_some(), "{d}");
        d.clone()
    }

    // Issue 14, finding 17: a FIFO hung `open`, `/dev/null` read as an empty profile,
    // `/dev/zero` was read until memory ran out (its size is 0).
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempdir("fifo");
        let fifo = d.join("parent.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let diag = extending(&fifo);
        assert!(diag.message.ends_with("parent.yaml is not a regular file (a FIFO)"), "{diag}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn devices_and_directories_are_refused_before_reading() {
        // (`/dev/zero` is tested through the binary, under a memory limit: tests/security_policy.rs.)
        let diag = extending(Path::new("/dev/null"));
        assert_eq!(diag.message, "/dev/null is not a regular file (a character device)");
        let d = tempdir("dir");
        assert!(extending(&d).message.ends_with("is not a regular file (a directory)"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn no_more_than_the_limit_is_read() {
        let d = tempdir("big");
        let big = d.join("big.yaml");
        std::fs::write(&big, format!("# {}\n", "x".repeat(MAX_PROFILE_BYTES))).unwrap();
        let diag = extending(&big);
        assert!(diag.message.ends_with(&format!("is larger than {MAX_PROFILE_BYTES} bytes")), "{diag}");
        std::fs::write(&big, [b'#', 0xff, b'\n']).unwrap();
        assert!(extending(&big).message.ends_with("big.yaml is not UTF-8 text"));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// The first line of `/etc/shadow` was the message of `extends: /etc/shadow`.
    #[test]
    fn a_parse_error_never_quotes_text_that_is_not_a_word_of_the_language() {
        let d = tempdir("shadow");
        let shadow = d.join("shadow");
        let secrets = [
            "root:$6$secretSALT$secretHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
            "Secret$Key: 1\n",
            "secret value, not a mapping\n",
            "name: x\nlandlock: { mode: \"secret value\" }\n",
            "process:\n  env: { \"Secret$x\": a, \"Secret$x\": b }\n",
            "process: &x { secret$key: 1 }\n",
        ];
        for text in secrets {
            std::fs::write(&shadow, text).unwrap();
            let err = load(shadow.to_str().unwrap()).unwrap_err().to_string();
            assert!(!err.to_lowercase().contains("secret"), "{text:?}: {err}");
            assert!(err.contains(&format!("{}:", shadow.display())), "{err}");
        }
        // A word of the language, as a misspelt key or value is, is still named.
        for (text, named) in [
            ("capabilties: {}\n", "unknown field `capabilties`"),
            ("landlock: { mode: enforcing }\n", "unknown variant `enforcing`"),
            ("name: a\nname: b\n", "duplicate mapping key: name"),
        ] {
            std::fs::write(&shadow, text).unwrap();
            let err = load(shadow.to_str().unwrap()).unwrap_err();
            let [diag] = err.diagnostics() else { panic!("{err}") };
            assert!(diag.message.starts_with(named), "{text:?}: {diag}");
            assert!(!diag.hint.as_deref().unwrap_or_default().contains("not shown"), "{diag}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
