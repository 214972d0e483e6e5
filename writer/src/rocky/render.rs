//! Identifiers and table references as Rocky's dialects render them
//! (`SqlDialect::format_table_ref`, spec/hashes.md section 12.7).

use crate::error::TemplateError;
use crate::identity::Adapter;
use crate::ir::TableRef;
use crate::rocky::RejectReason;

/// Rocky's identifier check: a non-empty string of ASCII letters, digits and `_`.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A BigQuery project id: 6 to 30 characters, a lowercase ASCII letter first, then lowercase
/// letters, digits or `-`, ending in a lowercase letter or digit.
pub fn is_bigquery_project_id(s: &str) -> bool {
    let b = s.as_bytes();
    (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b[b.len() - 1] != b'-'
}

pub(crate) fn reject(reason: RejectReason, detail: impl Into<String>) -> TemplateError {
    TemplateError::RockyRejects {
        reason,
        detail: detail.into(),
    }
}

pub(crate) fn check_identifier(what: &str, s: &str) -> Result<(), TemplateError> {
    if is_identifier(s) {
        Ok(())
    } else {
        Err(reject(
            RejectReason::InvalidIdentifier,
            format!("{what} {s:?} is not an identifier"),
        ))
    }
}

/// Renders a table reference for a dialect, with Rocky's checks.
pub fn format_table_ref(dialect: Adapter, t: &TableRef) -> Result<String, TemplateError> {
    let (c, s, n) = (t.catalog.as_str(), t.schema.as_str(), t.table.as_str());
    match dialect {
        Adapter::Duckdb | Adapter::Snowflake => {
            // Both drop an empty catalog rather than refusing it.
            if !c.is_empty() {
                check_identifier("catalog", c)?;
            }
            check_identifier("schema", s)?;
            check_identifier("table", n)?;
            let q = |x: &str| {
                if dialect == Adapter::Snowflake {
                    format!("\"{x}\"")
                } else {
                    x.to_owned()
                }
            };
            Ok(if c.is_empty() {
                format!("{}.{}", q(s), q(n))
            } else {
                format!("{}.{}.{}", q(c), q(s), q(n))
            })
        }
        Adapter::Databricks | Adapter::Trino => {
            check_identifier("catalog", c)?;
            check_identifier("schema", s)?;
            check_identifier("table", n)?;
            Ok(if dialect == Adapter::Trino {
                format!("\"{c}\".\"{s}\".\"{n}\"")
            } else {
                format!("{c}.{s}.{n}")
            })
        }
        Adapter::Bigquery => {
            if !is_bigquery_project_id(c) {
                return Err(reject(
                    RejectReason::InvalidProjectId,
                    format!("catalog {c:?} is not a BigQuery project id"),
                ));
            }
            check_identifier("schema", s)?;
            check_identifier("table", n)?;
            Ok(format!("`{c}`.`{s}`.`{n}`"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids() {
        for ok in [
            "abcdef",
            "a-b-c-d-9",
            "warehouse",
            &format!("a{}", "b".repeat(29)),
        ] {
            assert!(is_bigquery_project_id(ok), "{ok}");
        }
        for bad in [
            "abcde",
            "Warehouse",
            "1abcdef",
            "abcdef-",
            "abc_def",
            "",
            &format!("a{}", "b".repeat(30)),
        ] {
            assert!(!is_bigquery_project_id(bad), "{bad}");
        }
    }

    #[test]
    fn empty_catalog_per_dialect() {
        let t = TableRef::new("", "s", "t");
        assert_eq!(format_table_ref(Adapter::Duckdb, &t).unwrap(), "s.t");
        assert_eq!(
            format_table_ref(Adapter::Snowflake, &t).unwrap(),
            "\"s\".\"t\""
        );
        for d in [Adapter::Databricks, Adapter::Trino] {
            assert_eq!(
                format_table_ref(d, &t).unwrap_err().code(),
                "invalid_identifier"
            );
        }
        assert_eq!(
            format_table_ref(Adapter::Bigquery, &t).unwrap_err().code(),
            "invalid_project_id"
        );
    }
}
