//! `veil test`: checks every expectation against the policies, offline.
//! Exit 0 when all hold; 1 when one fails (each failure a diagnostic at
//! its statement, saying what was decided instead and by which rule).

use super::OutputFormat;
use super::{Outcome, Status};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::visible;
use crate::verify::{self, Checked};
use std::fmt::Write as _;
use std::path::Path;

pub fn test(dir: &Path, format: OutputFormat, live: bool, environment: Option<&str>) -> Outcome {
    let (files, model, warnings) =
        match crate::project::load_checked(crate::project::ProjectSource::Dir(dir, environment)) {
            Ok(checked) => checked,
            Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
        };
    if live && let Err(unnamed) = crate::project::require_environment(&model) {
        return Outcome::failed(files, vec![unnamed]);
    }
    let mut checked = verify::verify(&model, &files);
    // The unknown names are failures here: their warnings would say the same.
    let mut diagnostics: Vec<Diagnostic> = warnings
        .into_iter()
        .filter(|d| d.code != Code::CheckExpectUnknown)
        .collect();
    let mut database_failed = false;
    if live {
        database_failed = against_the_databases(&model, &files, &mut checked, &mut diagnostics);
    }
    let statements: usize = checked.iter().map(|c| c.statements.len()).sum();
    let failed: usize = checked.iter().map(|c| c.failures().count()).sum();
    for c in &checked {
        for v in c.failures() {
            let mut d = Diagnostic::error(
                Code::TestFailed,
                format!(
                    "`{}` on `{}`: `{}` does not hold; decided: {}",
                    c.user, c.source, v.statement, v.decided
                ),
            )
            .at_loc(v.loc, "does not hold");
            d = d.help(match &v.rule {
                Some(rule) => format!("decided by the rule at {rule}"),
                None => "no rule decides it".to_string(),
            });
            diagnostics.push(d);
        }
    }
    let output = match format {
        OutputFormat::Json => {
            let report = serde_json::json!({
                "format_version": 1,
                "expectations": checked.len(),
                "statements": statements,
                "failed": failed,
                "results": checked,
            });
            serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
        }
        _ => text(dir, &checked, statements, failed),
    };
    Outcome {
        files,
        diagnostics,
        output,
        status: Status::of(failed == 0 && !database_failed),
    }
}

/// `--live`: each expectation an integration's connection can check, as
/// the database answers it (`verify::judge`), appended to its statements.
/// Expectations it cannot check are warnings; true when a database failed
/// a read (an error among `diagnostics`).
fn against_the_databases(
    model: &crate::model::Model,
    files: &crate::diagnostic::Files,
    checked: &mut [Checked],
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let (probes, skipped) = verify::probes(model);
    let skip = |e: usize, why: &str| {
        let expectation = &model.expectations[e];
        Diagnostic::warning(
            Code::TestSkipped,
            format!(
                "`{}` on `{}` is not checked against the database: {why}",
                expectation.user, expectation.source
            ),
        )
        .at_loc(head(expectation.loc), "checked offline only")
    };
    // Expectations skipped for one reason (their integration's) are one
    // warning, at the first of them.
    let skip_all = |all: &[usize], why: &str| match all {
        [] => None,
        [one] => Some(skip(*one, why)),
        [first, ..] => Some(
            Diagnostic::warning(
                Code::TestSkipped,
                format!(
                    "{} expectations are not checked against the database: {why}",
                    all.len()
                ),
            )
            .at_loc(
                head(model.expectations[*first].loc),
                format!("checked offline only, as are {} more", all.len() - 1),
            ),
        ),
    };
    let mut reasons: Vec<(&str, Vec<usize>)> = Vec::new();
    for (e, why) in &skipped {
        match reasons.iter_mut().find(|(w, _)| w == why) {
            Some((_, all)) => all.push(*e),
            None => reasons.push((why, vec![*e])),
        }
    }
    diagnostics.extend(reasons.iter().filter_map(|(why, all)| skip_all(all, why)));
    let mut failed = false;
    for (i, integration) in model.integrations.iter().enumerate() {
        let mine: Vec<&verify::Probe> = probes.iter().filter(|p| p.integration == i).collect();
        if mine.is_empty() {
            continue;
        }
        let mut db = match crate::db::connect(&crate::db::Target::of(integration)) {
            Ok(db) => db,
            Err(unreachable) => {
                let why = format!(
                    "integration `{}` is not reachable: {}",
                    integration.name, unreachable.message
                );
                let all: Vec<usize> = mine.iter().map(|p| p.expectation).collect();
                diagnostics.extend(skip_all(&all, &why));
                continue;
            }
        };
        for probe in mine {
            match db.observe(probe) {
                Ok(Ok(seen)) => checked[probe.expectation]
                    .statements
                    .extend(verify::judge(model, files, probe, &seen)),
                Ok(Err(why)) => diagnostics.push(skip(
                    probe.expectation,
                    &format!("the connection may not act as `{}`: {why}", probe.user),
                )),
                Err(error) => {
                    diagnostics.push(error);
                    failed = true;
                }
            }
        }
    }
    failed
}

/// The `expect` word an expectation begins with, to point at without
/// showing its whole block.
fn head(loc: crate::span::Loc) -> crate::span::Loc {
    let end = (loc.span.start + "expect".len()).min(loc.span.end);
    crate::span::Loc {
        file: loc.file,
        span: crate::span::Span::new(loc.span.start, end),
    }
}

/// One line per failed statement, then the count.
fn text(dir: &Path, checked: &[Checked], statements: usize, failed: usize) -> String {
    let mut out = String::new();
    for c in checked {
        for v in c.failures() {
            let _ = writeln!(
                out,
                "FAIL {}: {} on {}: {} (decided: {})",
                visible(&v.at),
                visible(&c.user),
                visible(&c.source),
                visible(&v.statement),
                visible(&v.decided)
            );
        }
    }
    let expectations = match checked.len() {
        0 => {
            return format!(
                "{}: no expectations (write `expect user \"NAME\" on SOURCE {{ … }}`)\n",
                dir.display()
            );
        }
        1 => "1 expectation".to_string(),
        n => format!("{n} expectations"),
    };
    let verdict = match failed {
        0 => "all hold".to_string(),
        1 => "1 fails".to_string(),
        n => format!("{n} fail"),
    };
    let _ = writeln!(
        out,
        "{}: {expectations}, {statements} statements: {verdict}",
        dir.display()
    );
    out
}
