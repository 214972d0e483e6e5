//! Incremental predicates from watermarks (spec/ledger.md section 7).

use chrono::{DateTime, Utc};

use crate::error::WatermarkError;

/// Quotes `name` as a SQL identifier: wrapped in `"`, with `"` doubled inside.
///
/// # Errors
///
/// [`WatermarkError::InvalidColumn`] for an empty name or one containing NUL.
pub fn quote_identifier(name: &str) -> Result<String, WatermarkError> {
    if name.is_empty() || name.contains('\0') {
        return Err(WatermarkError::InvalidColumn {
            column: name.to_owned(),
        });
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// `last_value` as a single-quoted SQL timestamp literal body, `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
///
/// Nanoseconds are truncated to microseconds, so the predicate `> literal` can only re-read rows,
/// never skip one.
pub fn timestamp_literal(last_value: &DateTime<Utc>) -> String {
    let text = last_value.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    format!("'{}'", text.replace('\'', "''"))
}

/// `WHERE <quoted column> > TIMESTAMP '<last_value>'`.
///
/// # Errors
///
/// [`WatermarkError::InvalidColumn`] when the column cannot be quoted.
pub fn incremental_predicate(
    column: &str,
    last_value: &DateTime<Utc>,
) -> Result<String, WatermarkError> {
    Ok(format!(
        "WHERE {} > TIMESTAMP {}",
        quote_identifier(column)?,
        timestamp_literal(last_value)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        let t = crate::records::ts::parse("2026-05-30T11:04:22.643494123Z").unwrap();
        assert_eq!(
            incremental_predicate("updated_at", &t).unwrap(),
            "WHERE \"updated_at\" > TIMESTAMP '2026-05-30 11:04:22.643494'"
        );
        assert_eq!(quote_identifier("a\"b").unwrap(), "\"a\"\"b\"");
        assert!(matches!(
            quote_identifier(""),
            Err(WatermarkError::InvalidColumn { .. })
        ));
        let t = crate::records::ts::parse("2026-05-30T11:04:22Z").unwrap();
        assert_eq!(timestamp_literal(&t), "'2026-05-30 11:04:22.000000'");
    }
}
