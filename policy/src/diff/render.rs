//! The diff as text (for a terminal or a CI log) and as JSON (for tools).

use std::fmt::Write as _;

use super::{Class, Diff, Tier};

/// ANSI colour for a class (`None`: plain text).
fn paint(class: Class, text: &str, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match class {
        Class::Widen => "31",
        Class::Narrow => "32",
        Class::Neutral => "33",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn class_name(c: Class) -> &'static str {
    match c {
        Class::Widen => "widen",
        Class::Narrow => "narrow",
        Class::Neutral => "neutral",
    }
}

/// Text: a heading per tier, one line per change, a summary line. Stable: the same two
/// policies always print the same lines in the same order.
pub fn text(d: &Diff, colour: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} → {}", d.old, d.new);
    let mut tier: Option<Tier> = None;
    for c in &d.changes {
        if tier != Some(c.tier) {
            let _ = writeln!(out, "{}", c.tier.name());
            tier = Some(c.tier);
        }
        let label = paint(c.class, &format!("{:<7}", class_name(c.class)), colour);
        let arches = if c.arches.is_empty() { String::new() } else { format!("  [{}]", c.arches.join(", ")) };
        let _ = writeln!(out, "  {label} {}: {}{arches}", c.subject, c.message);
    }
    if d.changes.is_empty() {
        let _ = writeln!(out, "no change in meaning");
    }
    let s = d.summary;
    let _ = writeln!(out, "summary: {} widen, {} narrow, {} neutral", s.widen, s.narrow, s.neutral);
    out
}

/// JSON: `{old, new, summary: {widen, narrow, neutral}, changes: [{tier, class, subject,
/// message, arches?}]}`.
pub fn json(d: &Diff) -> String {
    serde_json::to_string_pretty(d).unwrap_or_default()
}
