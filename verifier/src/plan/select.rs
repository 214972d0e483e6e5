//! `--model NAME|GLOB` and `--select 'expr'`: which models of the runs in scope are checked.
//!
//! A selector is a space-separated union of terms in dbt's spelling: `name` or a glob (`fct_*`,
//! `?` and `*` as in the policy file), `+name` for the model and everything upstream of it,
//! `name+` for the model and everything downstream, `+name+` for both. `--model` terms are
//! plain names or globs; `--model` and `--select` together select the union.
//!
//! A term matches a model execution's `model_name` (Rocky: the table it wrote) or the project
//! model name its artifact and provenance rows carry. Upstreams and downstreams follow the
//! ledger's own lineage: a provenance row's content upstreams, each joined to the
//! `output_artifacts` rows that produced that hash (the graph the ledger records, not the
//! project's `ref()`s, which would need the project at each commit).

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::policy::Glob;

/// One term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    pattern: Glob,
    upstream: bool,
    downstream: bool,
}

/// A parsed model selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFilter {
    terms: Vec<Term>,
    text: String,
}

/// Why a selector could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--select {text:?}: {reason}")]
pub struct SelectError {
    /// The selector as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Model lineage: each model to the models it read from (edges from consumer to producer).
#[derive(Debug, Default, Clone)]
pub struct Lineage {
    upstreams: BTreeMap<String, BTreeSet<String>>,
}

impl Lineage {
    /// Records that `model` read an output of `upstream`.
    pub fn add(&mut self, model: &str, upstream: &str) {
        if model != upstream {
            self.upstreams
                .entry(model.to_owned())
                .or_default()
                .insert(upstream.to_owned());
        }
    }

    /// Every model reachable from `start` following edges one way (upstream when `up`).
    fn reach(&self, start: &BTreeSet<String>, up: bool) -> BTreeSet<String> {
        let mut downstreams: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        if !up {
            for (m, ups) in &self.upstreams {
                for u in ups {
                    downstreams.entry(u).or_default().insert(m);
                }
            }
        }
        let mut seen: BTreeSet<String> = start.clone();
        let mut todo: Vec<String> = start.iter().cloned().collect();
        while let Some(m) = todo.pop() {
            let next: Vec<&str> = if up {
                self.upstreams
                    .get(&m)
                    .map(|s| s.iter().map(String::as_str).collect())
                    .unwrap_or_default()
            } else {
                downstreams
                    .get(m.as_str())
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default()
            };
            for n in next {
                if seen.insert(n.to_owned()) {
                    todo.push(n.to_owned());
                }
            }
        }
        seen
    }
}

impl Lineage {
    /// The lineage the ledger records: for every `input_provenance` row, the producers
    /// (`output_artifacts` rows, all runs) of each upstream hash it names. Read only when a
    /// selector asks for upstreams or downstreams.
    ///
    /// # Errors
    ///
    /// A ledger read failure.
    pub fn from_ledger(
        ledger: &crate::evidence::ledger::Ledger,
    ) -> Result<Lineage, crate::error::VerifyError> {
        use crate::evidence::ledger;
        use serde_json::Value;
        let hash_of = |v: &Value| v.get("blake3_hash")?.as_str().map(str::to_owned);
        let mut producers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (key, bytes) in ledger.rows(ledger::OUTPUT_ARTIFACTS, "")? {
            let (Some((_, model, _)), Ok(v)) = (
                ledger::split_artifact_key(&key),
                serde_json::from_slice::<Value>(&bytes),
            ) else {
                continue;
            };
            if let Some(h) = hash_of(&v) {
                producers.entry(h).or_default().insert(model.to_owned());
            }
        }
        let mut lineage = Lineage::default();
        for (key, bytes) in ledger.rows(ledger::INPUT_PROVENANCE, "")? {
            let (Some((_, model)), Ok(v)) = (
                ledger::split_provenance_key(&key),
                serde_json::from_slice::<Value>(&bytes),
            ) else {
                continue;
            };
            let ups = v.get("upstreams").and_then(Value::as_array);
            for up in ups.into_iter().flatten() {
                for p in hash_of(up)
                    .and_then(|h| producers.get(&h))
                    .into_iter()
                    .flatten()
                {
                    lineage.add(model, p);
                }
            }
        }
        Ok(lineage)
    }
}

impl ModelFilter {
    /// The filter of `--model` values and a `--select` expression; `None` when neither was
    /// given (every model is in scope).
    ///
    /// # Errors
    ///
    /// An empty term or a `+` alone.
    pub fn parse(
        models: &[String],
        select: Option<&str>,
    ) -> Result<Option<ModelFilter>, SelectError> {
        let mut terms = Vec::new();
        let mut shown = Vec::new();
        for m in models {
            if m.trim().is_empty() {
                return Err(SelectError {
                    text: m.clone(),
                    reason: "--model needs a model name or glob".to_owned(),
                });
            }
            shown.push(m.clone());
            terms.push(Term {
                pattern: Glob::new(m.trim()),
                upstream: false,
                downstream: false,
            });
        }
        if let Some(expr) = select {
            let words: Vec<&str> = expr.split_whitespace().collect();
            if words.is_empty() {
                return Err(SelectError {
                    text: expr.to_owned(),
                    reason: "the expression selects nothing: give a model name, a glob, \
                             +name (with its upstreams) or name+ (with its downstreams)"
                        .to_owned(),
                });
            }
            for w in words {
                let (upstream, rest) = match w.strip_prefix('+') {
                    Some(r) => (true, r),
                    None => (false, w),
                };
                let (downstream, name) = match rest.strip_suffix('+') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                if name.is_empty() || name.contains('+') {
                    return Err(SelectError {
                        text: expr.to_owned(),
                        reason: format!(
                            "{w:?} is not a term: a name or glob with an optional leading and \
                             trailing +"
                        ),
                    });
                }
                shown.push(w.to_owned());
                terms.push(Term {
                    pattern: Glob::new(name),
                    upstream,
                    downstream,
                });
            }
        }
        if terms.is_empty() {
            return Ok(None);
        }
        Ok(Some(ModelFilter {
            terms,
            text: shown.join(" "),
        }))
    }

    /// The selector as the report shows it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether any term follows lineage (so the caller must read it).
    pub fn needs_lineage(&self) -> bool {
        self.terms.iter().any(|t| t.upstream || t.downstream)
    }

    /// The names selected among `names` (with their upstreams / downstreams in `lineage`, which
    /// may add names not in `names`).
    pub fn select(&self, names: &BTreeSet<String>, lineage: &Lineage) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let universe: BTreeSet<&String> = names
            .iter()
            .chain(lineage.upstreams.keys())
            .chain(lineage.upstreams.values().flatten())
            .collect();
        for t in &self.terms {
            let hits: BTreeSet<String> = universe
                .iter()
                .filter(|n| t.pattern.matches(n))
                .map(|n| (*n).clone())
                .collect();
            if t.upstream {
                out.extend(lineage.reach(&hits, true));
            }
            if t.downstream {
                out.extend(lineage.reach(&hits, false));
            }
            out.extend(hits);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn lineage() -> Lineage {
        // raw -> stg -> fct -> report, and other -> fct
        let mut l = Lineage::default();
        l.add("stg_orders", "raw_orders");
        l.add("fct_revenue", "stg_orders");
        l.add("fct_revenue", "other");
        l.add("rpt_daily", "fct_revenue");
        l
    }

    fn sel(models: &[&str], select: Option<&str>) -> BTreeSet<String> {
        let models: Vec<String> = models.iter().map(|s| (*s).to_owned()).collect();
        let all = names(&[
            "raw_orders",
            "stg_orders",
            "fct_revenue",
            "rpt_daily",
            "other",
        ]);
        ModelFilter::parse(&models, select)
            .unwrap()
            .unwrap()
            .select(&all, &lineage())
    }

    #[test]
    fn names_globs_and_lineage_select_what_dbt_would() {
        assert_eq!(sel(&["stg_orders"], None), names(&["stg_orders"]));
        assert_eq!(sel(&["fct_*"], None), names(&["fct_revenue"]));
        assert_eq!(
            sel(&[], Some("+fct_revenue")),
            names(&["raw_orders", "stg_orders", "fct_revenue", "other"])
        );
        assert_eq!(
            sel(&[], Some("stg_orders+")),
            names(&["stg_orders", "fct_revenue", "rpt_daily"])
        );
        assert_eq!(
            sel(&[], Some("+stg_orders+")),
            names(&["raw_orders", "stg_orders", "fct_revenue", "rpt_daily"])
        );
        // Union of terms, and --model with --select.
        assert_eq!(
            sel(&["other"], Some("rpt_daily raw_*")),
            names(&["other", "rpt_daily", "raw_orders"])
        );
        // Control: a name that matches nothing selects nothing.
        assert!(sel(&["nope"], None).is_empty());
    }

    #[test]
    fn bad_selectors_are_errors_and_none_is_everything() {
        assert_eq!(ModelFilter::parse(&[], None), Ok(None));
        assert!(ModelFilter::parse(&[], Some("  ")).is_err());
        assert!(ModelFilter::parse(&[], Some("+")).is_err());
        assert!(ModelFilter::parse(&[], Some("a++b")).is_err());
        assert!(ModelFilter::parse(&[" ".to_owned()], None).is_err());
        let f = ModelFilter::parse(&[], Some("+a b+")).unwrap().unwrap();
        assert!(f.needs_lineage());
        assert_eq!(f.text(), "+a b+");
    }
}
