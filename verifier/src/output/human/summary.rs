//! The summary a `run` report opens with: one line for each audit question, each saying what
//! the ledger claims and how far it was verified.
//!
//! ```text
//! Who     demo (triggering_identity, self-reported) · commit bfdf877 by Demo <demo@example.com>
//! When    2026-11-20T10:00:02.500Z -> 10:00:04.250Z (1.75 s) · trigger Manual · rocky 1.71.0
//! Code    3 models at bfdf877 "subject": sql_hash 3/3 bytes-verified · config ok
//! Output  warehouse 3/3 tables match (7, 5, 4 rows) · artifacts 3/3 bytes ok · provenance 3/3 ok
//! Verdict OK: 69 pass, 1 unverifiable by design
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{Options, width};
use crate::checks::catalogue::CheckId;
use crate::output::severity;
use crate::report::{Check, Outcome, Proof, Report};

const LABEL: usize = 8;

/// Writes the five summary lines.
///
/// # Errors
///
/// The write error.
pub fn write(report: &Report, out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    for (label, text) in lines(report) {
        writeln!(
            out,
            "{label:<LABEL$}{}",
            width::wrapped(&text, opts.width, LABEL, LABEL)
        )?;
    }
    Ok(())
}

/// The summary as (label, text) pairs, unwrapped.
pub fn lines(report: &Report) -> Vec<(&'static str, String)> {
    vec![
        ("Who", who(report)),
        ("When", when(report)),
        ("Code", code(report)),
        ("Output", output(report)),
        ("Verdict", verdict(report)),
    ]
}

fn first(report: &Report, id: CheckId) -> Option<&Check> {
    report.checks.iter().find(|c| c.check == id)
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// How an outcome reads inside a sentence.
fn status_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "ok",
        Outcome::Fail => "FAILED",
        Outcome::Unknown => "could not be checked",
        Outcome::Unverifiable => "unverifiable",
        Outcome::Warn => "warned",
    }
}

fn who(report: &Report) -> String {
    let f = &report.facts;
    let identity = match (&f.identity, first(report, CheckId::RunIdentity)) {
        (Some(id), Some(c)) => {
            let level = match c.outcome {
                Outcome::Pass => proof_word(c.proof).to_owned(),
                Outcome::Unverifiable => "self-reported".to_owned(),
                o => status_word(o).to_owned(),
            };
            format!("{id} (triggering_identity, {level})")
        }
        (Some(id), None) => format!("{id} (triggering_identity, self-reported)"),
        (None, _) => "no triggering_identity recorded".to_owned(),
    };
    let commit = match (&f.git_commit, first(report, CheckId::GitCommit)) {
        (None, _) => "no git_commit recorded".to_owned(),
        (Some(id), None) => format!("commit {} (not checked)", short(id)),
        (Some(id), Some(c)) => match (&c.commit, c.outcome) {
            (Some(info), Outcome::Pass) => {
                let mut s = format!("commit {} by {} <{}>", short(id), info.author, info.email);
                if let Some(sig) = &info.signature {
                    s.push_str(&format!(", signed ({sig})"));
                }
                s
            }
            (None, Outcome::Pass) => format!("commit {} in the repository", short(id)),
            (_, Outcome::Fail) => format!("commit {} NOT in the repository", short(id)),
            (_, o) => format!("commit {} {}", short(id), status_word(o)),
        },
    };
    format!("{identity} · {commit}")
}

fn proof_word(p: Proof) -> &'static str {
    match p {
        Proof::BytesVerified => "bytes-verified",
        Proof::Recomputed => "recomputed",
        Proof::FingerprintOnly => "fingerprint-only",
        Proof::Heuristic => "heuristic",
        Proof::SignatureVerified => "signature-verified",
        Proof::Unverifiable => "unverifiable",
    }
}

/// `1.75 s`, `250 ms`, `3 min 20 s`.
pub fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let s = format!("{:.2}", ms as f64 / 1000.0);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s} s")
    } else {
        let s = ms / 1000;
        format!("{} min {} s", s / 60, s % 60)
    }
}

fn when(report: &Report) -> String {
    let f = &report.facts;
    let mut parts = Vec::new();
    match (&f.started_at, &f.finished_at) {
        (Some(s), Some(e)) => {
            // The finish's date is left out when it is the start's.
            let end = match (s.split_once('T'), e.split_once('T')) {
                (Some((d1, _)), Some((d2, t))) if d1 == d2 => t,
                _ => e.as_str(),
            };
            let dur = f
                .duration_ms
                .map(|ms| format!(" ({})", duration(ms)))
                .unwrap_or_default();
            parts.push(format!("{s} -> {end}{dur}"));
        }
        (Some(s), None) => parts.push(format!("{s} -> (no finished_at)")),
        _ => parts.push("no started_at recorded".to_owned()),
    }
    let window = [CheckId::RunId, CheckId::RunWindow, CheckId::ModelWindow]
        .iter()
        .filter_map(|id| worst(report.checks.iter().filter(|c| c.check == *id)))
        .max_by_key(|o| severity(*o));
    if let Some(o) = window.filter(|o| *o != Outcome::Pass) {
        parts.push(format!("times {}", status_word(o)));
    }
    if let Some(t) = &f.trigger {
        parts.push(format!("trigger {t}"));
    }
    if let Some(v) = &f.rocky_version {
        parts.push(format!("rocky {v}"));
    }
    if let Some(s) = f.status.as_deref().filter(|s| *s != "Success") {
        parts.push(format!("status {s}"));
    }
    parts.join(" · ")
}

fn worst<'a>(checks: impl Iterator<Item = &'a Check>) -> Option<Outcome> {
    checks.map(|c| c.outcome).max_by_key(|o| severity(*o))
}

/// Per subject key: the worst outcome of its checks, and whether a pass rests on a heuristic.
fn tally<'a>(
    checks: impl Iterator<Item = &'a Check>,
    key: impl Fn(&Check) -> Option<String>,
) -> BTreeMap<String, (Outcome, bool)> {
    let mut m: BTreeMap<String, (Outcome, bool)> = BTreeMap::new();
    for c in checks {
        let Some(k) = key(c) else { continue };
        let e = m.entry(k).or_insert((Outcome::Pass, false));
        if severity(c.outcome) > severity(e.0) {
            e.0 = c.outcome;
        }
        e.1 |= c.outcome == Outcome::Pass && c.proof == Proof::Heuristic;
    }
    m
}

/// `2/3 <what>`, then what did not pass (`1 fail`), heuristic passes and `more` in parentheses.
fn ratio(t: &BTreeMap<String, (Outcome, bool)>, what: &str, more: Option<String>) -> String {
    let ok = t.values().filter(|(o, _)| *o == Outcome::Pass).count();
    let mut s = format!("{ok}/{} {what}", t.len()).trim_end().to_owned();
    let mut extra = Vec::new();
    let heuristic = t
        .values()
        .filter(|(o, h)| *o == Outcome::Pass && *h)
        .count();
    if heuristic > 0 {
        extra.push(format!("{heuristic} heuristic"));
    }
    for (o, word) in [
        (Outcome::Fail, "fail"),
        (Outcome::Warn, "warn"),
        (Outcome::Unknown, "unknown"),
        (Outcome::Unverifiable, "unverifiable"),
    ] {
        let n = t.values().filter(|(x, _)| *x == o).count();
        if n > 0 {
            extra.push(format!("{n} {word}"));
        }
    }
    extra.extend(more);
    if !extra.is_empty() {
        s.push_str(&format!(" ({})", extra.join("; ")));
    }
    s
}

fn model_key(c: &Check) -> Option<String> {
    c.subject.model.clone()
}

fn code(report: &Report) -> String {
    let f = &report.facts;
    let models = if f.models > 0 {
        f.models
    } else {
        tally(report.checks.iter(), model_key).len()
    };
    let mut head = format!("{models} model(s)");
    if let Some(id) = &f.git_commit {
        head.push_str(&format!(" at {}", short(id)));
        if let Some(info) = first(report, CheckId::GitCommit).and_then(|c| c.commit.as_ref()) {
            head.push_str(&format!(" \"{}\"", info.subject));
        }
    }
    let sql: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.check == CheckId::ModelSqlHash)
        .collect();
    let mut parts = Vec::new();
    if sql.is_empty() {
        parts.push("sql_hash not checked".to_owned());
    } else {
        let t = tally(sql.iter().copied(), model_key);
        // The proof level of the passes: BLAKE3 of the committed bytes, or a recomputed 64-bit
        // Rocky fingerprint.
        let mut levels: Vec<&str> = Vec::new();
        for c in sql.iter().filter(|c| c.outcome == Outcome::Pass) {
            let l = match c.proof {
                Proof::FingerprintOnly => "recomputed (64-bit)",
                Proof::BytesVerified => "bytes-verified",
                p => proof_word(p),
            };
            if !levels.contains(&l) {
                levels.push(l);
            }
        }
        parts.push(format!("sql_hash {}", ratio(&t, &levels.join(", "), None)));
    }
    let config: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| matches!(c.check, CheckId::GitConfigBlake3 | CheckId::GitConfigHash))
        .collect();
    match worst(config.iter().copied()) {
        None => parts.push("config not checked".to_owned()),
        Some(Outcome::Pass) if config.iter().all(|c| c.check == CheckId::GitConfigHash) => {
            parts.push("config ok (64-bit)".to_owned());
        }
        Some(o) => parts.push(format!("config {}", status_word(o))),
    }
    format!("{head}: {}", parts.join(" · "))
}

fn output(report: &Report) -> String {
    let mut parts = Vec::new();
    let wh: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| {
            matches!(
                c.check,
                CheckId::WarehouseTable | CheckId::WarehouseRowCount | CheckId::WarehouseColumns
            )
        })
        .collect();
    if wh.is_empty() {
        match first(report, CheckId::WarehouseOpen) {
            Some(c) => parts.push(format!("warehouse {}", status_word(c.outcome))),
            None => parts.push("warehouse not checked".to_owned()),
        }
    } else {
        let t = tally(wh.iter().copied(), |c| {
            c.subject.table.clone().or_else(|| c.subject.model.clone())
        });
        let rows: Vec<String> = wh
            .iter()
            .filter(|c| c.check == CheckId::WarehouseRowCount && c.outcome == Outcome::Pass)
            .filter_map(|c| c.actual.as_u64())
            .map(|n| n.to_string())
            .collect();
        let rows = match rows.len() {
            0 => None,
            1..=4 => Some(format!("{} rows", rows.join(", "))),
            _ => Some(format!("{} row counts equal", rows.len())),
        };
        parts.push(format!("warehouse {}", ratio(&t, "tables match", rows)));
    }
    let bytes: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| {
            matches!(
                c.check,
                CheckId::ArtifactFile | CheckId::ArtifactBlake3 | CheckId::ArtifactSize
            )
        })
        .collect();
    if bytes.is_empty() {
        parts.push("artifacts not checked".to_owned());
    } else {
        let t = tally(bytes.iter().copied(), |c| c.subject.artifact.clone());
        parts.push(format!("artifacts {}", ratio(&t, "bytes ok", None)));
    }
    let prov: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.check.as_str().starts_with("provenance."))
        .collect();
    if prov.is_empty() {
        parts.push("no provenance".to_owned());
    } else {
        let t = tally(prov.iter().copied(), model_key);
        parts.push(format!("provenance {}", ratio(&t, "ok", None)));
    }
    parts.join(" · ")
}

fn verdict(report: &Report) -> String {
    let c = report.counts();
    let findings = c.fail + c.unknown + if report.fail_on_warning { c.warn } else { 0 };
    let mut s = match report.exit_code() {
        0 => format!("OK: {} pass", c.pass),
        1 => {
            let mut kinds = vec![format!("{} fail", c.fail)];
            if c.unknown > 0 {
                kinds.push(format!("{} could not be checked", c.unknown));
            }
            format!(
                "FAILED: {} finding(s) ({})",
                findings.max(1),
                kinds.join(", ")
            )
        }
        _ => format!("INCOMPLETE: {} could not be checked", c.unknown),
    };
    if c.unverifiable > 0 {
        s.push_str(&format!(
            ", {} unverifiable by design{}",
            c.unverifiable,
            if report.strict {
                " (failures under --strict)"
            } else {
                ""
            }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(1750), "1.75 s");
        assert_eq!(duration(2000), "2 s");
        assert_eq!(duration(200_000), "3 min 20 s");
    }
}
