//! `${VAR}` / `${VAR:-default}` substitution in Rocky's TOML files, before parsing
//! (`config::substitute_env_vars`, spec/hashes.md section 12.3). Model SQL never goes through it.

use std::collections::BTreeMap;

use crate::error::ProjectError;
use crate::rocky::ProjectErrorReason;

/// A TOML text after substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSubstituted {
    /// The substituted text.
    pub text: String,
    /// Variables whose `:-` default was used (no non-empty value was stated), in order of first
    /// use. Each is an assumption: the run's environment is not recorded.
    pub defaults_used: Vec<String>,
}

/// Substitutes placeholders with the stated values in `env`.
///
/// A placeholder on a line whose text before it starts with `#` (after leading whitespace) is
/// kept verbatim. `${VAR:-D}` is `VAR`'s value when stated and non-empty, else `D`; `${VAR}`
/// without a stated value is `env_var_unset` (the error's path is empty: the caller knows the
/// file).
pub fn substitute_env(
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<EnvSubstituted, ProjectError> {
    let mut out = String::with_capacity(text.len());
    let mut defaults_used: Vec<String> = Vec::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(off) = text[from..].find("${") {
        let start = from + off;
        let body_start = start + 2;
        // `${` + one or more characters other than `}` + `}`.
        let Some(close) = text[body_start..].find('}').map(|p| body_start + p) else {
            break;
        };
        if close == body_start {
            from = start + 1;
            continue;
        }
        let end = close + 1;
        from = end;
        let line_start = text[..start].rfind('\n').map_or(0, |p| p + 1);
        if text[line_start..start].trim_start().starts_with('#') {
            continue;
        }
        let body = &text[body_start..close];
        let value = match body.split_once(":-") {
            Some((var, default)) => match env.get(var).filter(|v| !v.is_empty()) {
                Some(v) => v.as_str(),
                None => {
                    if !defaults_used.iter().any(|d| d == var) {
                        defaults_used.push(var.to_owned());
                    }
                    default
                }
            },
            None => env
                .get(body)
                .map(String::as_str)
                .ok_or_else(|| ProjectError {
                    reason: ProjectErrorReason::EnvVarUnset,
                    path: String::new(),
                    detail: format!("${{{body}}} has no default and no stated value"),
                })?,
        };
        out.push_str(&text[copied..start]);
        out.push_str(value);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Ok(EnvSubstituted {
        text: out,
        defaults_used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(text: &str, env: &[(&str, &str)]) -> Result<EnvSubstituted, ProjectError> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        substitute_env(text, &env)
    }

    #[test]
    fn defaults_values_and_comments() {
        let s = sub(
            "a = \"${A:-x}\"\n  # b = \"${B}\"\nc = \"${C}\" # ${D:-d}\ne = \"${E:-}\"",
            &[("C", "c")],
        )
        .unwrap();
        // Only a line that starts with `#` is kept: a trailing comment is substituted.
        assert_eq!(
            s.text,
            "a = \"x\"\n  # b = \"${B}\"\nc = \"c\" # d\ne = \"\""
        );
        assert_eq!(s.defaults_used, vec!["A", "D", "E"]);
    }

    #[test]
    fn empty_stated_value_takes_the_default_but_not_for_required() {
        let s = sub("${A:-d} ${B}", &[("A", ""), ("B", "")]).unwrap();
        assert_eq!(s.text, "d ");
        assert_eq!(s.defaults_used, vec!["A"]);
    }

    #[test]
    fn split_at_the_first_marker_and_no_empty_bodies() {
        let s = sub("${A:-b:-c} ${} ${X", &[]).unwrap();
        assert_eq!(s.text, "b:-c ${} ${X");
    }

    #[test]
    fn unset_required_variable() {
        let e = sub("x = \"${NOPE}\"", &[]).unwrap_err();
        assert_eq!(e.reason, ProjectErrorReason::EnvVarUnset);
    }
}
