//! Built-in profiles, embedded from `profiles/`.

/// (name, YAML text) of every built-in profile.
pub const BUILTINS: [(&str, &str); 4] = [
    ("build", include_str!("../../profiles/build.yaml")),
    ("docker-default", include_str!("../../profiles/docker-default.yaml")),
    ("strict", include_str!("../../profiles/strict.yaml")),
    ("web", include_str!("../../profiles/web.yaml")),
];

/// The YAML text of a built-in profile.
pub fn text(name: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Names of the built-in profiles.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

/// The `description:` line of a built-in profile.
pub fn description(name: &str) -> Option<String> {
    let t = text(name)?;
    t.lines().find_map(|l| l.strip_prefix("description:")).map(|d| d.trim().trim_matches('"').to_string())
}
