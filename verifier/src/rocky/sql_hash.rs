//! Rocky's `sql_hash` recomputed from statements, and the verdict rules of `spec/hashes.md` 12.1.
//!
//! The fingerprint itself is [`crate::siphash::sql_fingerprint`]; this module decides which
//! Rocky versions the templates of [`super::statements`] are for and what a match or a mismatch
//! means. It judges one execution; wiring it into a check is the caller's job.

use super::statements::{Assumption, Dialect, NotRecomputable, Rejection, Statements};
use crate::{identity, siphash};

/// The Rocky release line whose templates [`super::statements`] implements (read at
/// `rocky-data/rocky@98e7d385`, 1.71.0).
pub const TEMPLATE_RELEASE_PREFIX: &str = "1.71.";

/// `fingerprint(statements)`: SipHash-1-3 of the statements joined with `;\n`, then `FF`.
pub fn fingerprint(statements: &[String]) -> String {
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    siphash::sql_fingerprint(&refs)
}

/// Whether `rocky_version` uses the templates implemented here (a mismatch can then fail).
pub fn templates_apply_to(rocky_version: &str) -> bool {
    rocky_version.starts_with(TEMPLATE_RELEASE_PREFIX)
}

/// The dialect whose `env_hash` pre-image gives `env_hash`, if exactly one of the five does.
pub fn dialect_from_env_hash(env_hash: &str, engine_version: &str) -> Option<Dialect> {
    let mut found = Dialect::ALL
        .into_iter()
        .filter(|d| identity::env_hash(engine_version, d.name()) == env_hash);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// What recomputing one execution's statements gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recomputed {
    /// The statements (with the assumptions they rest on).
    Statements(Statements),
    /// Rocky's own generation fails for this model.
    RockyRejects(Rejection),
    /// An unrecorded input is needed.
    NotRecomputable(NotRecomputable),
}

/// The verdict on one recorded `sql_hash` (`spec/hashes.md` 12.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlHashVerdict {
    /// The recorded value equals the fingerprint of the recomputed statements.
    Recomputed {
        /// The fingerprint.
        sql_hash: String,
    },
    /// Evidence wrong: the project at the commit gives another value under Rocky 1.71.x.
    Mismatch {
        /// What the project gives (`""` when Rocky rejects the model).
        expected: String,
    },
    /// Cannot be checked by design, with the reason.
    Unverifiable(UnverifiableReason),
}

/// Why a recorded `sql_hash` is unverifiable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnverifiableReason {
    /// `""`: Rocky records no fingerprint for replication, snapshot and failed entries.
    EmptyByConstruction,
    /// A different value, but the run is another Rocky release.
    CrossRelease {
        /// The run's `rocky_version`.
        rocky_version: String,
    },
    /// A different value, but the recomputation assumed unrecorded inputs.
    UnderAssumptions(Vec<Assumption>),
    /// The statements cannot be recomputed.
    NotRecomputable(NotRecomputable),
}

/// Judges one recorded `sql_hash` against a recomputation.
///
/// `env_assumptions` are the `${VAR:-default}` defaults the project resolution used for this
/// model (they are not part of [`Statements`]).
pub fn judge(
    recorded: &str,
    recomputed: &Recomputed,
    env_assumptions: &[Assumption],
    rocky_version: &str,
) -> SqlHashVerdict {
    if recorded.is_empty() {
        return SqlHashVerdict::Unverifiable(UnverifiableReason::EmptyByConstruction);
    }
    let (expected, mut assumptions) = match recomputed {
        Recomputed::NotRecomputable(r) => {
            return SqlHashVerdict::Unverifiable(UnverifiableReason::NotRecomputable(r.clone()));
        }
        Recomputed::Statements(s) => (fingerprint(&s.statements), s.assumptions.clone()),
        Recomputed::RockyRejects(_) => (String::new(), Vec::new()),
    };
    if expected == recorded {
        return SqlHashVerdict::Recomputed { sql_hash: expected };
    }
    assumptions.extend(env_assumptions.iter().cloned());
    assumptions.sort();
    assumptions.dedup();
    if !assumptions.is_empty() {
        return SqlHashVerdict::Unverifiable(UnverifiableReason::UnderAssumptions(assumptions));
    }
    if !templates_apply_to(rocky_version) {
        return SqlHashVerdict::Unverifiable(UnverifiableReason::CrossRelease {
            rocky_version: rocky_version.to_owned(),
        });
    }
    SqlHashVerdict::Mismatch { expected }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmts(s: &[&str], assumptions: Vec<Assumption>) -> Recomputed {
        Recomputed::Statements(Statements {
            statements: s.iter().map(|s| (*s).to_owned()).collect(),
            assumptions,
        })
    }

    #[test]
    fn a_match_passes_on_any_release_and_a_mismatch_fails_only_on_1_71() {
        let r = stmts(&["SELECT 1"], Vec::new());
        assert!(matches!(
            judge("224d630126d8ca3f", &r, &[], "1.60.0"),
            SqlHashVerdict::Recomputed { .. }
        ));
        assert!(matches!(
            judge("0000000000000000", &r, &[], "1.71.2"),
            SqlHashVerdict::Mismatch { .. }
        ));
        assert!(matches!(
            judge("0000000000000000", &r, &[], "1.72.0"),
            SqlHashVerdict::Unverifiable(UnverifiableReason::CrossRelease { .. })
        ));
    }

    #[test]
    fn assumptions_turn_a_mismatch_into_unverifiable_but_keep_a_match() {
        let r = stmts(&["SELECT 1"], vec![Assumption::RunVarDefault("x".into())]);
        assert!(matches!(
            judge("0000000000000000", &r, &[], "1.71.0"),
            SqlHashVerdict::Unverifiable(UnverifiableReason::UnderAssumptions(_))
        ));
        assert!(matches!(
            judge("224d630126d8ca3f", &r, &[], "1.71.0"),
            SqlHashVerdict::Recomputed { .. }
        ));
        let plain = stmts(&["SELECT 1"], Vec::new());
        assert!(matches!(
            judge(
                "0000000000000000",
                &plain,
                &[Assumption::EnvDefault("WH".into())],
                "1.71.0"
            ),
            SqlHashVerdict::Unverifiable(UnverifiableReason::UnderAssumptions(_))
        ));
    }

    #[test]
    fn empty_is_never_a_mismatch_and_a_rejected_model_with_a_hash_is() {
        let r = Recomputed::RockyRejects(Rejection::MergeUnsupported);
        assert_eq!(
            judge("", &r, &[], "1.71.0"),
            SqlHashVerdict::Unverifiable(UnverifiableReason::EmptyByConstruction)
        );
        assert_eq!(
            judge("224d630126d8ca3f", &r, &[], "1.71.0"),
            SqlHashVerdict::Mismatch {
                expected: String::new()
            }
        );
    }

    #[test]
    fn env_hash_names_the_adapter() {
        let h = identity::env_hash("1.71.0", "snowflake");
        assert_eq!(
            dialect_from_env_hash(&h, "1.71.0"),
            Some(Dialect::Snowflake)
        );
        assert_eq!(dialect_from_env_hash(&h, "1.70.0"), None);
    }
}
