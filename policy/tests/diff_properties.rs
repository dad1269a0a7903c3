//! `policyc diff` over random profiles: agrees with the semantic equivalence check, is empty
//! on a policy and itself, and classifies the reverse change the other way round.

use policy::diff::{diff, render, Class, Tier};
use policy::ir::equiv::seccomp_differences;
use policy::ir::points;
use policy::Policy;
use proptest::prelude::*;

mod common;
use common::random::{profile, NAMES};

fn compile(yaml: &str) -> Option<Policy> {
    policy::compile_text("random.yaml", yaml, None, &Default::default()).ok().map(|c| c.policy)
}

/// Seccomp changes as (subject, class, arches), the message aside.
fn seccomp(d: &policy::diff::Diff) -> Vec<(String, Class, Vec<String>)> {
    d.changes
        .iter()
        .filter(|c| c.tier == Tier::Seccomp)
        .map(|c| (c.subject.clone(), c.class, c.arches.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn diff_agrees_with_equivalence(a in profile(), b in profile()) {
        let (Some(pa), Some(pb)) = (compile(&a), compile(&b)) else { return Ok(()) };
        prop_assert!(diff(&pa, &pa).is_empty(), "{}", render::text(&diff(&pa, &pa), false));
        let d = diff(&pa, &pb);
        let same = seccomp_differences(&pa, &pb, 1).is_empty();
        let no_seccomp_change = seccomp(&d).is_empty();
        prop_assert_eq!(same, no_seccomp_change, "{}\n---\n{}\n---\n{}", render::text(&d, false), a, b);
        // A call the new policy lets run and the old one did not is reported as a widening.
        for arch in pa.seccomp.arches.iter().filter(|a| pb.seccomp.arches.contains(a)) {
            for name in NAMES {
                let conds: Vec<_> = pa.seccomp.rules.iter().chain(&pb.seccomp.rules)
                    .filter(|r| r.syscalls.iter().any(|s| s == name))
                    .flat_map(|r| r.args.iter())
                    .collect();
                for args in points::vectors(&conds, 256) {
                    let (Some(old), Some(new)) = (pa.evaluate_name(*arch, name, args), pb.evaluate_name(*arch, name, args)) else { continue };
                    if new.action.permits() && !old.action.permits() {
                        prop_assert!(
                            // Named, or covered by the default's change when no rule names it.
                            d.changes.iter().any(|c| (c.subject == name || c.subject == "default") && c.class == Class::Widen),
                            "{arch} {name} {args:x?}: {} → {} not reported as widen\n{}", old.action, new.action, render::text(&d, false)
                        );
                    }
                }
            }
        }
        // Whatever widens one way narrows the other way, on the same syscall and arches.
        let back = diff(&pb, &pa);
        for (subject, class, arches) in seccomp(&d) {
            let opposite = match class {
                Class::Widen => Class::Narrow,
                Class::Narrow => Class::Widen,
                Class::Neutral => Class::Neutral,
            };
            prop_assert!(
                seccomp(&back).iter().any(|(s, c, ar)| *s == subject && *c == opposite && *ar == arches),
                "{subject} {class:?} {arches:?} has no reverse\n{}\n{}", render::text(&d, false), render::text(&back, false)
            );
        }
    }
}
