//! A pipeline's `models` glob: the base directory walked and the pattern model files must match
//! (`models_loader`; spec/hashes.md section 12.4, "The glob and its base").

/// The base directory and the pattern, as project-relative components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelsGlob {
    pub(crate) base: Vec<String>,
    pattern: Vec<String>,
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn is_model_file(s: &str) -> bool {
    s.ends_with(".sql") || s.ends_with(".rocky")
}

/// Components without empty and `.` ones (`./models/` is `models`).
fn components(s: &str) -> Vec<String> {
    s.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .collect()
}

fn parent(s: &str) -> &str {
    s.rfind('/').map_or("", |i| &s[..i])
}

impl ModelsGlob {
    /// Parses a `models` value. `is_dir` says whether a project-relative path is a directory.
    /// Refuses `[` sets, absolute paths and `..` components (the message says which).
    pub(crate) fn parse(g: &str, is_dir: impl Fn(&str) -> bool) -> Result<ModelsGlob, String> {
        if g.contains('[') {
            return Err(format!("models glob {g:?} uses a [ set"));
        }
        if g.starts_with('/') {
            return Err(format!("models glob {g:?} is absolute"));
        }
        if g.split('/').any(|c| c == "..") {
            return Err(format!("models glob {g:?} leaves the project"));
        }
        let plain_file = |p: &str| is_model_file(p) && !is_dir(p.trim_end_matches('/'));
        let base = if g.is_empty() {
            "models".to_owned()
        } else if !has_wildcard(g) {
            if plain_file(g) {
                parent(g).to_owned()
            } else {
                g.to_owned()
            }
        } else {
            let first = g.find(['*', '?', '[']).unwrap_or(g.len());
            let prefix = &g[..first];
            let base = if prefix.ends_with('/') {
                prefix
            } else {
                parent(prefix)
            };
            if components(base).is_empty() {
                "models".to_owned()
            } else {
                base.to_owned()
            }
        };
        let effective = if g.is_empty() {
            "models/**".to_owned()
        } else if has_wildcard(g.split('/').next().unwrap_or("")) {
            format!("models/{g}")
        } else {
            g.to_owned()
        };
        let effective = if has_wildcard(&effective) || plain_file(&effective) {
            effective
        } else {
            format!("{}/**", effective.trim_end_matches('/'))
        };
        Ok(ModelsGlob {
            base: components(&base),
            pattern: components(&effective),
        })
    }

    /// The base as a project-relative path.
    pub(crate) fn base_path(&self) -> String {
        self.base.join("/")
    }

    /// Whether a project-relative file path matches: case-sensitive, `*` and `?` never cross
    /// `/`, a `**` component matches zero or more whole components.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let pattern: Vec<&str> = self.pattern.iter().map(String::as_str).collect();
        match_components(&pattern, &parts)
    }
}

fn match_components(pattern: &[&str], path: &[&str]) -> bool {
    // reach[j]: the first i pattern components can match the first j path components.
    let mut reach = vec![false; path.len() + 1];
    reach[0] = true;
    for p in pattern {
        let mut next = vec![false; path.len() + 1];
        if *p == "**" {
            let mut any = false;
            for j in 0..=path.len() {
                any |= reach[j];
                next[j] = any;
            }
        } else {
            for j in 0..path.len() {
                if reach[j] && match_component(p.as_bytes(), path[j].as_bytes()) {
                    next[j + 1] = true;
                }
            }
        }
        reach = next;
    }
    reach[path.len()]
}

/// `*` and `?` within one component (no `/` inside either side), by chars.
fn match_component(pattern: &[u8], name: &[u8]) -> bool {
    let p: Vec<char> = String::from_utf8_lossy(pattern).chars().collect();
    let n: Vec<char> = String::from_utf8_lossy(name).chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == n[ni])) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> ModelsGlob {
        ModelsGlob::parse(s, |p| p == "models/dir.sql").unwrap()
    }

    #[test]
    fn bases_and_patterns() {
        let cases = [
            ("", "models", "models/**"),
            ("models/**", "models", "models/**"),
            ("models", "models", "models/**"),
            ("models/", "models", "models/**"),
            ("./models", "models", "models/**"),
            ("models/marts/**", "models/marts", "models/marts/**"),
            ("models/**/fct_*.sql", "models", "models/**/fct_*.sql"),
            ("models/fct_*.sql", "models", "models/fct_*.sql"),
            ("*.sql", "models", "models/*.sql"),
            ("**/x.sql", "models", "models/**/x.sql"),
            ("models/a.sql", "models", "models/a.sql"),
            ("models/dir.sql", "models/dir.sql", "models/dir.sql/**"),
            ("src/m?/**", "src", "src/m?/**"),
        ];
        for (input, base, pattern) in cases {
            let parsed = g(input);
            assert_eq!(parsed.base_path(), base, "{input}");
            assert_eq!(parsed.pattern.join("/"), pattern, "{input}");
        }
    }

    #[test]
    fn refused_globs() {
        for s in ["models/[ab]/**", "/abs/**", "../up/**", "models/../x"] {
            assert!(ModelsGlob::parse(s, |_| false).is_err(), "{s}");
        }
    }

    #[test]
    fn matching() {
        let m = g("models/**/fct_*.sql");
        assert!(m.matches("models/fct_a.sql"));
        assert!(m.matches("models/x/y/fct_a.sql"));
        assert!(!m.matches("models/x/dim_a.sql"));
        assert!(!m.matches("models/x/fct_a.SQL"));
        assert!(!m.matches("other/fct_a.sql"));
        let star = g("models/*.sql");
        assert!(star.matches("models/a.sql"));
        assert!(!star.matches("models/x/a.sql"));
        let all = g("models/**");
        assert!(all.matches("models/a.sql") && all.matches("models/a/b/c.rocky"));
        assert!(match_component(b"a?c*", "abcdef".as_bytes()));
        assert!(!match_component(b"a?c", b"ac"));
        assert!(match_component(b"*a*b", b"xaxab"));
    }
}
