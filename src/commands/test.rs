//! `veil test`: checks every expectation against the policies, offline.
//! Exit 0 when all hold; 1 when one fails (each failure a diagnostic at
//! its statement, saying what was decided instead and by which rule).

use super::OutputFormat;
use super::{Outcome, Status};
use crate::diagnostic::{Code, Diagnostic};
use crate::verify::{self, Checked};
use std::fmt::Write as _;
use std::path::Path;

pub fn test(dir: &Path, format: OutputFormat) -> Outcome {
    let (files, model, warnings) =
        match crate::project::load_checked(crate::project::ProjectSource::Dir(dir)) {
            Ok(checked) => checked,
            Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
        };
    let checked = verify::verify(&model, &files);
    let statements: usize = checked.iter().map(|c| c.statements.len()).sum();
    let failed: usize = checked.iter().map(|c| c.failures().count()).sum();
    // The unknown names are failures here: their warnings would say the same.
    let mut diagnostics: Vec<Diagnostic> = warnings
        .into_iter()
        .filter(|d| d.code != Code::CheckExpectUnknown)
        .collect();
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
        status: Status::of(failed == 0),
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
                v.at, c.user, c.source, v.statement, v.decided
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
