//! Argument conditions of seccomp rules: index, operator, width, and values or constants that
//! must mean the same on every accepted arch.

use std::collections::BTreeSet;

use super::Ctx;
use crate::error::{Diagnostics, Origin};
use crate::frontend::profile::{ArgCond, ArgValue};
use crate::frontend::spanned::Sp;
use crate::ir::{ArgCondIr, ArgOp};
use crate::syscalls::{consts, widths, Arch};

/// A number, or a constant (`AF_INET`, `CLONE_NEWUSER|CLONE_NEWNS`) that has one value on
/// every arch of `arches`.
pub(super) fn arg_value(
    v: &Sp<ArgValue>,
    ctx: &Ctx,
    arches: &[Arch],
    diags: &mut Diagnostics,
) -> Option<u64> {
    match &v.value {
        ArgValue::Number(n) => Some(*n),
        ArgValue::Negative(n) => Some(*n as u64),
        ArgValue::Name(text) => match consts::parse_value(text) {
            Ok((value, used)) => {
                for c in used {
                    if let Some(bad) = arches.iter().find(|a| !c.valid_on(**a)) {
                        diags.error(
                            ctx.at(v),
                            format!("constant {} has another value on {bad}", c.name),
                            Some(format!("write the number for each arch in separate rules with `when.arches`, or drop {bad} from `seccomp.arches`")),
                        );
                    }
                }
                Some(value)
            }
            Err(consts::ValueError::Unknown(part)) => {
                let hint =
                    consts::suggest(&part).map(|s| format!("did you mean `{s}`?")).unwrap_or_else(|| {
                        "use a number or a known constant (AF_*, CLONE_*, TIOC*, PROT_*, O_*, SOCK_*)".into()
                    });
                diags.error(ctx.at(v), format!("unknown constant `{part}`"), Some(hint));
                None
            }
        },
    }
}

/// One condition of a rule naming `names`.
pub(super) fn arg_cond(
    c: &Sp<ArgCond>,
    names: &BTreeSet<String>,
    ctx: &Ctx,
    arches: &[Arch],
    diags: &mut Diagnostics,
) -> Option<ArgCondIr> {
    let cond = &c.value;
    let index = cond.index.value;
    if index > 5 {
        diags.error(
            ctx.at(&cond.index),
            format!("argument index {index} is out of range"),
            Some("syscalls have arguments 0..=5".into()),
        );
        return None;
    }
    let op = cond.op.value;
    let width = match &cond.width {
        Some(w) if w.value == 32 || w.value == 64 => w.value,
        Some(w) => {
            diags.error(ctx.at(w), format!("invalid width {}", w.value), Some("width is 32 or 64".into()));
            return None;
        }
        None => {
            let ws: BTreeSet<u8> = names.iter().map(|n| widths::arg_width(n, index)).collect();
            if ws.len() > 1 {
                diags.error(
                    ctx.at(c),
                    format!("the syscalls of this rule disagree on the width of argument {index}"),
                    Some("split the rule, or set `width: 32` or `width: 64`".into()),
                );
                return None;
            }
            ws.into_iter().next().unwrap_or(64)
        }
    };
    let needs_values = matches!(op, ArgOp::In | ArgOp::NotIn);
    let needs_mask = op == ArgOp::MaskedEq;
    if needs_values != cond.values.is_some()
        || needs_values == cond.value.is_some()
        || needs_mask != cond.mask.is_some()
    {
        let want = match op {
            ArgOp::In | ArgOp::NotIn => "`values` (a list) and no `value`",
            ArgOp::MaskedEq => "`mask` and `value`",
            _ => "`value` only",
        };
        diags.error(
            ctx.at(&cond.op),
            format!("operator `{}` needs {want}", op.name()),
            Some("see the argument conditions in docs/profile-language.md".into()),
        );
        return None;
    }
    let fit = |v: u64, at: Origin, diags: &mut Diagnostics| -> Option<u64> {
        if width == 32 && v > u64::from(u32::MAX) {
            if v >> 32 == u64::from(u32::MAX) {
                return Some(v & u64::from(u32::MAX));
            }
            diags.error(
                at,
                format!("value {v:#x} does not fit the 32-bit argument {index}"),
                Some("32-bit arguments compare the low word only; set `width: 64` if the argument is really 64-bit".into()),
            );
            return None;
        }
        Some(v)
    };
    let mut values = Vec::new();
    if let Some(v) = &cond.value {
        values.push(fit(arg_value(v, ctx, arches, diags)?, ctx.at(v), diags)?);
    }
    if let Some(list) = &cond.values {
        if list.is_empty() {
            diags.error(
                ctx.at(&cond.op),
                format!("`{}` needs at least one value", op.name()),
                Some("list the values, e.g. `values: [1, 2]`".into()),
            );
            return None;
        }
        for v in list {
            values.push(fit(arg_value(v, ctx, arches, diags)?, ctx.at(v), diags)?);
        }
        values.sort_unstable();
        values.dedup();
    }
    let mask = match &cond.mask {
        Some(m) => Some(fit(arg_value(m, ctx, arches, diags)?, ctx.at(m), diags)?),
        None => None,
    };
    if let (Some(m), Some(v)) = (mask, values.first()) {
        if v & !m != 0 {
            diags.warning(
                ctx.at(c),
                format!("masked_eq value {v:#x} has bits outside mask {m:#x}: it can never match"),
                Some("clear those bits from `value`".into()),
            );
        }
    }
    Some(ArgCondIr { index, width, op, values, mask })
}
