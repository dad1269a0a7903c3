//! Where in the profile a finding belongs.

use crate::error::Origin;
use crate::frontend::loader::Layer;
use crate::frontend::profile::Profile;
use crate::frontend::spanned::Sp;
use crate::vocab::Cap;

fn at<T>(file: &str, sp: &Sp<T>) -> Origin {
    Origin::new(file, sp.line, sp.column)
}

/// The start of the file that was linted (for findings about the profile as a whole).
pub(super) fn file_start(layers: &[Layer]) -> Origin {
    Origin::new(layers.last().map_or("", |l| l.file.as_str()), 1, 1)
}

/// The last place (child first) where `f` finds something, else the start of the file.
pub(super) fn last<'a>(layers: &'a [Layer], f: impl Fn(&'a Profile) -> Option<(u64, u64)>) -> Origin {
    layers
        .iter()
        .rev()
        .find_map(|l| f(&l.profile).map(|(line, column)| Origin::new(l.file.as_str(), line, column)))
        .unwrap_or_else(|| file_start(layers))
}

/// A span as `(line, column)`.
pub(super) fn pos<T>(sp: &Sp<T>) -> (u64, u64) {
    (sp.line, sp.column)
}

/// Where capability `cap` is added, child first; else where capabilities are set.
pub(super) fn cap(layers: &[Layer], cap: Cap) -> Origin {
    for l in layers.iter().rev() {
        let Some(c) = &l.profile.capabilities else { continue };
        for a in &c.add {
            if Cap::parse(&a.value) == Some(cap) || a.value.eq_ignore_ascii_case("ALL") {
                return at(&l.file, a);
            }
        }
    }
    last(layers, |p| p.process.as_ref().and_then(|p| p.user.as_ref()).map(pos))
}

/// `(line, column)` in Docker JSON `text` of what `message` is about: its first `name` in
/// backquotes as a JSON string, else `defaultAction`.
pub(super) fn in_json(text: &str, message: &str) -> (u64, u64) {
    find_in_json(text, message).or_else(|| find_key(text, "defaultAction")).unwrap_or((1, 1))
}

/// `(line, column)` in Docker JSON `text` of the first name in backquotes of `message`, written
/// there as a JSON string; `None` when the message names none, or the text does not hold it.
pub(crate) fn find_in_json(text: &str, message: &str) -> Option<(u64, u64)> {
    let subject = message.split('`').nth(1).filter(|s| !s.is_empty() && !s.contains(' '))?;
    find_key(text, subject)
}

fn find_key(text: &str, s: &str) -> Option<(u64, u64)> {
    let key = format!("\"{s}\"");
    text.lines().enumerate().find_map(|(i, line)| line.find(&key).map(|c| (i as u64 + 1, c as u64 + 1)))
}
