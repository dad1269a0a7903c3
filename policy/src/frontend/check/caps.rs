//! `capabilities:` Docker's add/drop arithmetic, then the five sets for the profile's user.

use super::Ctx;
use crate::error::{Diagnostics, Origin};
use crate::frontend::loader::Layer;
use crate::frontend::profile::Ambient;
use crate::frontend::spanned::Sp;
use crate::ir::{CapsIr, UserIr};
use crate::vocab::caps::{tweak, Tweak};
use crate::vocab::{Cap, CapSet};

/// A list of capability names: whether it says `ALL`, and the named ones.
fn parse_caps(list: &[Sp<String>], ctx: &Ctx, diags: &mut Diagnostics) -> (bool, CapSet) {
    let mut all = false;
    let mut set = CapSet::EMPTY;
    for c in list {
        if c.value.eq_ignore_ascii_case("ALL") {
            all = true;
        } else if let Some(cap) = Cap::parse(&c.value) {
            set.insert(cap);
        } else {
            diags.error(ctx.at(c), format!("unknown capability `{}`", c.value), Some(hint(&c.value)));
        }
    }
    (all, set)
}

/// "did you mean", or where the names are.
pub(super) fn hint(name: &str) -> String {
    match Cap::suggest(name) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "see `man 7 capabilities` for the names".into(),
    }
}

/// The five sets. uid 0 without `SECBIT_NOROOT` gets the bounding set back at every exec, so
/// the bounding set is what limits it; with `SECBIT_NOROOT` (and for every other uid) only the
/// ambient set survives exec, so the granted capabilities are made inheritable and ambient.
pub(super) fn check(layers: &[Layer], user: UserIr, noroot: bool, diags: &mut Diagnostics) -> CapsIr {
    let mut granted = CapSet::EMPTY;
    let mut ambient: Option<(Ambient, Origin)> = None;
    for layer in layers {
        let Some(c) = &layer.profile.capabilities else { continue };
        let ctx = Ctx { file: &layer.file };
        let (add_all, add) = parse_caps(&c.add, &ctx, diags);
        let (drop_all, drop) = parse_caps(&c.drop, &ctx, diags);
        granted = tweak(granted, &Tweak { add_all, drop_all, add, drop });
        if let Some(a) = &c.ambient {
            ambient = Some((a.value.clone(), ctx.at(a)));
        }
    }
    let amb = match &ambient {
        None => granted,
        Some((Ambient::Mode(m), _)) if m == "auto" => granted,
        Some((Ambient::Mode(m), _)) if m == "none" => CapSet::EMPTY,
        Some((Ambient::Mode(m), at)) => {
            diags.error(
                at.clone(),
                format!("invalid ambient mode `{m}`"),
                Some("use `auto`, `none` or a list of capabilities".into()),
            );
            CapSet::EMPTY
        }
        Some((Ambient::List(list), at)) => {
            let mut set = CapSet::EMPTY;
            for name in list {
                match Cap::parse(name) {
                    Some(c) if granted.contains(c) => set.insert(c),
                    Some(c) => diags.error(
                        at.clone(),
                        format!("ambient capability {c} is not granted"),
                        Some("add it to `capabilities.add` first".into()),
                    ),
                    None => diags.error(at.clone(), format!("unknown capability `{name}`"), Some(hint(name))),
                }
            }
            set
        }
    };
    let all = |set| CapsIr {
        granted,
        bounding: granted,
        permitted: set,
        effective: set,
        inheritable: set,
        ambient: set,
    };
    if user == UserIr::Caller && !granted.is_empty() {
        // Which sets hold them would depend on whether the caller is root.
        let at = layers
            .iter()
            .rev()
            .find_map(|l| l.profile.process.as_ref()?.user.as_ref().map(|u| Ctx { file: &l.file }.at(u)));
        if let Some(at) = at {
            diags.error(
                at,
                format!("`user: caller` with capabilities granted ({})", granted.names().join(", ")),
                Some(
                    "name the user (`uid:gid`), or grant no capability (`capabilities: { drop: [ALL] }`)"
                        .into(),
                ),
            );
        }
    }
    match (user.is_root(), noroot) {
        (true, true) => all(granted),
        (true, false) => CapsIr { inheritable: CapSet::EMPTY, ambient: CapSet::EMPTY, ..all(granted) },
        _ => all(amb),
    }
}
