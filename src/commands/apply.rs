//! `veil apply`: plans against the databases, asks, and carries out the
//! plan one integration after another, each in one transaction.

use super::Outcome;
use super::plan::plan_online;
use crate::apply::{self, Work};
use crate::diagnostic::Diagnostic;
use crate::plan::render;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

/// Options of `veil apply`.
pub struct ApplyOptions<'a> {
    pub integrations: &'a [String],
    pub auto_approve: bool,
    /// Whether standard input is a terminal a person can answer on.
    pub interactive: bool,
    pub lock_timeout: Duration,
    pub color: bool,
}

/// Parses `30s` or `2m`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as `30s` or `2m`"))?;
    match unit {
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("`{text}` is not a duration such as `30s` or `2m`")),
    }
}

pub fn apply(dir: &Path, options: &ApplyOptions<'_>, progress: &mut dyn FnMut(&str)) -> Outcome {
    let online = match plan_online(dir, options.integrations) {
        Ok(online) => online,
        Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
    };
    let mut outcome = Outcome {
        output: render::text(&online.plan, options.color),
        success: false,
        ..Outcome::default()
    };
    if !online.plan.has_changes() {
        outcome.success = true;
        outcome.files = online.built.files;
        return outcome;
    }
    if !options.auto_approve {
        if !options.interactive {
            outcome.files = online.built.files;
            outcome.diagnostics.push(
                Diagnostic::error(
                    "apply::no_approval",
                    "apply needs approval and there is no terminal to ask on",
                )
                .help("review the plan, then run `veil apply --auto-approve` (as CI does)"),
            );
            return outcome;
        }
        progress(&format!(
            "{}\nApply these changes? Only `yes` is accepted: ",
            outcome.output
        ));
        outcome.output.clear();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            outcome.files = online.built.files;
            outcome.diagnostics.push(
                Diagnostic::error(
                    "apply::declined",
                    "apply was not approved; nothing was changed",
                )
                .help("answer `yes` to apply"),
            );
            return outcome;
        }
    }
    let built = &online.built;
    let mut applied = Vec::new();
    let mut targets = online.targets;
    for (plan, (conn, state)) in online.plan.integrations.iter().zip(targets.iter_mut()) {
        let index = built
            .compiled
            .iter()
            .position(|c| c.integration == plan.name)
            .unwrap_or_default();
        let work = Work {
            integration: &built.ir.integrations[index],
            objects: &built.compiled[index].objects,
            changes: &plan.changes,
            profile: &plan.profile,
            serial: state.serial,
            initialized: state.initialized,
            lock_timeout: options.lock_timeout,
        };
        progress(&format!("applying integration {}", plan.name));
        match apply::apply(conn, &work, progress) {
            Ok(done) => {
                progress(&format!(
                    "integration {}: applied ({} statements, deployment {})",
                    plan.name, done.statements, done.serial
                ));
                applied.push(plan.name.clone());
            }
            Err(d) => {
                let note = if applied.is_empty() {
                    "no integration was changed".to_string()
                } else {
                    format!("already applied: {}", applied.join(", "))
                };
                let help = format!("{}; {note}", d.help.clone().unwrap_or_default());
                outcome.diagnostics.push(d.help(help));
                outcome.files = online.built.files;
                return outcome;
            }
        }
    }
    outcome
        .output
        .push_str(&format!("Applied: {}.\n", applied.join(", ")));
    outcome.success = true;
    outcome.files = online.built.files;
    outcome
}
