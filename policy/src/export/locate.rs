//! Where a part of the profile is written: the YAML key, in the last file of the chain (the
//! child) that writes it.

use crate::error::Origin;

/// The texts of the files a policy was compiled from, parents first.
#[derive(Clone, Debug, Default)]
pub struct Texts(Vec<(String, String)>);

impl Texts {
    /// The texts of `c`'s sources (built-ins from the binary).
    pub fn of(c: &crate::Compiled) -> Texts {
        let mut out = Vec::new();
        for s in &c.policy.sources {
            let text = match s.strip_prefix("builtin:") {
                Some(name) => crate::builtin::text(name).map(str::to_string),
                None => c.inputs.iter().find(|i| &i.file == s).map(|i| i.text.clone()),
            };
            out.push((s.clone(), text.unwrap_or_default()));
        }
        Texts(out)
    }

    /// Where top-level `section` (and in it, `key`, at any depth) is written, child first; the
    /// section when the key is not found; the child's first line when neither is.
    pub fn at(&self, section: &str, key: Option<&str>) -> Origin {
        let mut section_at = None;
        for (file, text) in self.0.iter().rev() {
            let lines: Vec<&str> = text.lines().collect();
            let Some(start) =
                lines.iter().position(|l| l.strip_prefix(section).is_some_and(|r| r.starts_with(':')))
            else {
                continue;
            };
            section_at.get_or_insert_with(|| Origin::new(file.clone(), start as u64 + 1, 1));
            let Some(key) = key else { return Origin::new(file.clone(), start as u64 + 1, 1) };
            let body =
                lines[start + 1..].iter().take_while(|l| l.is_empty() || l.starts_with([' ', '#', '-']));
            for (i, l) in body.enumerate() {
                let trimmed = l.trim_start().trim_start_matches("- ");
                if trimmed.strip_prefix(key).is_some_and(|r| r.starts_with(':')) {
                    let column = l.len() - trimmed.len() + 1;
                    return Origin::new(file.clone(), (start + 2 + i) as u64, column as u64);
                }
            }
        }
        section_at.unwrap_or_else(|| {
            let file = self.0.last().map_or(String::new(), |(f, _)| f.clone());
            Origin::new(file, 1, 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_in_the_child_else_its_section_else_a_parent() {
        let t = Texts(vec![
            ("p.yaml".into(), "name: p\nprocess:\n  rlimits:\n    nofile: 10\n".into()),
            ("c.yaml".into(), "name: c\nextends: p.yaml\nprocess:\n  user: 1000:1000\n".into()),
        ]);
        assert_eq!(t.at("process", Some("user")), Origin::new("c.yaml", 4, 3));
        assert_eq!(t.at("process", Some("nofile")), Origin::new("p.yaml", 4, 5));
        assert_eq!(t.at("process", Some("workdir")), Origin::new("c.yaml", 3, 1));
        assert_eq!(t.at("landlock", None), Origin::new("c.yaml", 1, 1));
    }
}
