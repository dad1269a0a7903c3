//! Every rule against `tests/lint/PALnnn-*.yaml` (which trigger it; each `# expect: ID...`
//! comment names the findings on its line) and `tests/lint/ok/PALnnn-*` (which must not).

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::*;

fn fixtures(sub: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/lint").join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn rule_of(path: &std::path::Path) -> String {
    path.file_name().unwrap().to_string_lossy().split('-').next().unwrap().to_string()
}

/// `(line, rule)` for every `# expect:` comment.
fn expected(text: &str) -> BTreeSet<(u64, String)> {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if let Some((_, ids)) = line.split_once("# expect:") {
            for id in ids.split_whitespace() {
                out.insert((i as u64 + 1, id.to_string()));
            }
        }
    }
    out
}

#[test]
fn every_rule_has_a_fixture_that_triggers_it_and_one_that_does_not() {
    let yaml = |p: &PathBuf| p.extension().is_some_and(|e| e == "yaml");
    let bad: BTreeSet<String> = fixtures("").iter().filter(|p| yaml(p)).map(|p| rule_of(p)).collect();
    let good: BTreeSet<String> = fixtures("ok").iter().filter(|p| yaml(p)).map(|p| rule_of(p)).collect();
    let ids: BTreeSet<String> = rules::RULES.iter().map(|r| r.id.to_string()).collect();
    // Every rule has YAML fixtures (so `policyc lint tests/lint/*.yaml` shows every ID).
    assert_eq!(bad, ids);
    assert_eq!(good, ids);
    let unique: BTreeSet<&str> = rules::RULES.iter().map(|r| r.name).collect();
    assert_eq!(unique.len(), rules::RULES.len(), "rule names are unique");
}

#[test]
fn findings_are_where_the_fixtures_say() {
    for path in fixtures("").into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let spec = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let found = lint(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let got: BTreeSet<(u64, String)> = found.iter().map(|f| (f.line, f.rule.to_string())).collect();
        assert_eq!(got, expected(&text), "{spec}:\n{}", render(&found));
        assert!(got.iter().any(|(_, r)| *r == rule_of(&path)), "{spec}");
        assert!(found.iter().all(|f| f.file == spec && f.column > 1), "{}", render(&found));
    }
}

#[test]
fn clean_fixtures_do_not_trigger_their_rule() {
    for path in fixtures("ok") {
        let spec = path.display().to_string();
        let found = lint(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert!(found.iter().all(|f| f.rule != rule_of(&path)), "{spec}:\n{}", render(&found));
        // The YAML ones are clean altogether (a denylist JSON has other findings).
        if path.extension().is_some_and(|e| e == "yaml") {
            assert!(found.is_empty(), "{spec}:\n{}", render(&found));
        }
    }
}

#[test]
fn docker_json_findings_point_into_the_json() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/lint/PAL009-denylist-compat.json");
    let spec = path.display().to_string();
    let found = lint(&spec).unwrap();
    let f = found.iter().find(|f| f.rule == "PAL009").expect("PAL009");
    assert!(f.line > 1 && f.column > 1, "{}", render(&found));
    assert!(found.iter().any(|f| f.rule == "PAL013" && f.line == 2));
    assert!(found.iter().all(|f| f.file == spec));
    // Without architectures libseccomp accepts only the native arch: no PAL009 (it was a false
    // positive), and nothing about the capabilities the import assumes (PAL006, PAL007).
    let native =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/lint/ok/PAL009-denylist-no-arches.json");
    let found = lint(&native.display().to_string()).unwrap();
    assert!(found.iter().all(|f| !matches!(f.rule, "PAL009" | "PAL006" | "PAL007")), "{}", render(&found));
    assert!(found.iter().any(|f| f.rule == "PAL013"), "{}", render(&found));
}

#[test]
fn built_in_profiles_have_no_errors() {
    for name in crate::builtin::names() {
        let found = lint(&format!("builtin:{name}")).unwrap();
        assert!(found.iter().all(|f| f.level != Level::Error), "{name}:\n{}", render(&found));
    }
}

#[test]
fn sarif_has_the_required_fields() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/lint/PAL003-personality.yaml");
    let found = lint(&path.display().to_string()).unwrap();
    let log = sarif::sarif(&found);
    // SARIF 2.1.0: version, runs[].tool.driver.name, results[].message.text; rule and
    // location fields as code-scanning uploads need them.
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "policyc");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), rules::RULES.len());
    for r in rules {
        assert!(
            r["id"].is_string() && r["shortDescription"]["text"].is_string() && r["help"]["text"].is_string()
        );
        assert!(["note", "warning", "error"].contains(&r["defaultConfiguration"]["level"].as_str().unwrap()));
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), found.len());
    for (res, f) in results.iter().zip(&found) {
        assert_eq!(res["ruleId"], f.rule);
        assert_eq!(rules[res["ruleIndex"].as_u64().unwrap() as usize]["id"], f.rule);
        assert!(res["message"]["text"].as_str().unwrap().contains(&f.message));
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].as_str().unwrap().ends_with("PAL003-personality.yaml"));
        assert_eq!(loc["region"]["startLine"], f.line);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
    }
}

fn render(found: &[Finding]) -> String {
    found.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n")
}
