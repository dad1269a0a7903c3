//! What `policyc diff` compares: a profile (path or `builtin:NAME`), a compiled IR JSON file,
//! or `git:REV:PATH`, a profile as it is in a revision of the current git repository (its
//! `extends` are read from the same revision).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Diagnostic, Error, Origin};
use crate::frontend::loader::MAX_PROFILE_BYTES;
use crate::ir::Policy;
use crate::CompileOptions;

/// The text of `path` (relative to the working directory) in revision `rev` (which
/// [`load`] has checked does not start with `-`): the blob as stored (no textconv), with
/// `--end-of-options` so that git never reads it as an option, and no more than the loader
/// takes read (the loader then refuses it as too large).
fn git_show(rev: &str, path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let spec = match path.is_absolute() {
        true => format!("{rev}:{}", path.display()),
        false => format!("{rev}:./{}", path.display()),
    };
    let mut child = Command::new("git")
        .args(["cat-file", "blob", "--end-of-options", &spec])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut text = Vec::new();
    if let Some(out) = child.stdout.take() {
        out.take(MAX_PROFILE_BYTES as u64 + 1).read_to_end(&mut text)?;
    }
    let mut why = Vec::new();
    if let Some(err) = child.stderr.take() {
        err.take(4096).read_to_end(&mut why)?;
    }
    let status = child.wait()?;
    // Past the limit git may have stopped on a closed pipe: the text says enough.
    if !status.success() && text.len() <= MAX_PROFILE_BYTES {
        let why = String::from_utf8_lossy(&why).trim().to_string();
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("git cat-file blob {spec}: {why}"),
        ));
    }
    String::from_utf8(text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// An IR JSON file, read back (any parse error is reported at its line and column).
fn ir_json(path: &str) -> Result<Policy, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
        hint: None,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        let at = Origin::new(path, e.line() as u64, e.column() as u64);
        Error::Invalid(vec![Diagnostic::error(at, format!("not a compiled policy (IR JSON): {e}"))
            .with_hint("give a profile, or the output of `policyc compile --emit ir`")])
    })
}

/// Load one side of a diff; compiled with `opts` unless it is IR JSON already.
pub fn load(spec: &str, opts: &CompileOptions) -> Result<Policy, Error> {
    if let Some(rest) = spec.strip_prefix("git:") {
        let Some((rev, path)) = rest.split_once(':') else {
            return Err(Error::Invalid(vec![Diagnostic::error(
                Origin::new(spec, 0, 0),
                "expected git:REV:PATH".to_string(),
            )
            .with_hint("for example git:origin/main:profiles/web.yaml")]));
        };
        // `git:--output=FILE:x` must not reach git as an option (it wrote FILE).
        if rev.is_empty() || rev.starts_with('-') {
            return Err(Error::Invalid(vec![Diagnostic::error(
                Origin::new(spec, 1, 5),
                format!("`{}` is not a git revision", rev.escape_debug()),
            )
            .with_hint(
                "name a revision that does not start with `-`, e.g. git:HEAD:PATH or git:origin/main:PATH",
            )]));
        }
        let read = |p: &Path| git_show(rev, p);
        return Ok(crate::compile_with(path, opts, &read)?.policy);
    }
    if spec.ends_with(".json") {
        return ir_json(spec);
    }
    Ok(crate::compile(spec, opts)?.policy)
}
