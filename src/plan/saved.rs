//! Plans saved with `veil plan --out`, and the check that a saved plan
//! says exactly what its recorded policy files plan to now.

use super::Plan;
use super::online::Online;
use super::script::Prepared;
use crate::diagnostic::{Code, Diagnostic};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A plan saved with `veil plan --out`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub veil_version: String,
    pub offline: bool,
    /// The plan as it was shown when it was made (`veil show`).
    pub plan: Plan,
    /// The `--sensitive-tag`s the plan was made with (none: the project's).
    pub sensitive_tags: Vec<String>,
    pub prepared: Vec<Prepared>,
}

impl SavedPlan {
    /// An online plan, to be applied as it is.
    pub fn of(online: &Online, sensitive_tags: &[String]) -> SavedPlan {
        SavedPlan {
            offline: false,
            prepared: online.prepare_all(),
            ..SavedPlan::offline(&online.plan, sensitive_tags)
        }
    }

    /// An offline plan: it can be shown, and records that it cannot be
    /// applied.
    pub fn offline(plan: &Plan, sensitive_tags: &[String]) -> SavedPlan {
        SavedPlan {
            format_version: super::FORMAT_VERSION,
            veil_version: env!("CARGO_PKG_VERSION").to_string(),
            offline: true,
            plan: plan.clone(),
            sensitive_tags: sensitive_tags.to_vec(),
            prepared: Vec::new(),
        }
    }
}

/// Writes a saved plan.
pub fn save(path: &Path, saved: &SavedPlan) -> Result<(), Diagnostic> {
    let text = serde_json::to_string(saved).unwrap_or_default();
    std::fs::write(path, text).map_err(|e| {
        Diagnostic::error(
            Code::PlanWrite,
            format!("cannot write `{}`: {e}", path.display()),
        )
        .help("check the path and its permissions")
    })
}

/// Reads a saved plan, refusing one made by another veil or plan format.
pub fn load(path: &Path) -> Result<SavedPlan, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::error(
            Code::ApplyRead,
            format!("cannot read `{}`: {e}", path.display()),
        )
        .help("pass a project directory or a file written by `veil plan --out`")
    })?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| {
        Diagnostic::error(
            Code::ApplyPlanFile,
            format!("`{}` is not a veil plan: {e}", path.display()),
        )
        .help("pass a file written by `veil plan --out`")
    })?;
    // A plan is carried out exactly as reviewed, by the veil that made it.
    if saved.format_version != super::FORMAT_VERSION
        || saved.veil_version != env!("CARGO_PKG_VERSION")
    {
        return Err(Diagnostic::error(
            Code::ApplyPlanVersion,
            format!(
                "`{}` was made by veil {} (plan format {}); this is veil {} (plan format {})",
                path.display(),
                saved.veil_version,
                saved.format_version,
                env!("CARGO_PKG_VERSION"),
                super::FORMAT_VERSION
            ),
        )
        .help("plan again with this veil and review the new plan"));
    }
    Ok(saved)
}

/// Checks that a saved plan says exactly what its policy files plan to now:
/// the deployment it was made against (else it is stale), then every step,
/// profile row and recorded object, and the plan it shows (else it was
/// edited).
pub fn same_plan(
    path: &Path,
    saved: &SavedPlan,
    derived: &[Prepared],
    derived_plan: &Plan,
) -> Result<(), Diagnostic> {
    same_scripts(path, &saved.prepared, derived)?;
    let (a, b) = (
        serde_json::to_value(&saved.plan).unwrap_or_default(),
        serde_json::to_value(derived_plan).unwrap_or_default(),
    );
    if a != b {
        return Err(Diagnostic::error(
            Code::ApplyPlanMismatch,
            format!(
                "`{}` does not match what its recorded policy files plan to now: the plan it shows differs at {}",
                path.display(),
                first_difference(&a, &b, "")
            ),
        )
        .help("the file was edited after `veil plan --out`; plan again and review the new plan; nothing was changed"));
    }
    Ok(())
}

/// The scripts of a saved plan against those its policy files plan now.
fn same_scripts(path: &Path, saved: &[Prepared], derived: &[Prepared]) -> Result<(), Diagnostic> {
    let mismatch = |what: String| {
        Diagnostic::error(
            Code::ApplyPlanMismatch,
            format!(
                "`{}` does not match what its recorded policy files plan to now: {what}",
                path.display()
            ),
        )
        .help("the file was edited after `veil plan --out`; plan again and review the new plan; nothing was changed")
    };
    if saved.len() != derived.len() {
        return Err(mismatch(format!(
            "it holds {} integrations, the policies plan {}",
            saved.len(),
            derived.len()
        )));
    }
    for (s, d) in saved.iter().zip(derived) {
        if s.integration != d.integration {
            return Err(mismatch(format!(
                "integration `{}` where the policies plan `{}`",
                s.integration, d.integration
            )));
        }
        if s.fingerprint != d.fingerprint || s.serial != d.serial {
            let moved: Vec<&str> = d
                .fingerprints
                .iter()
                .filter(|(part, f)| s.fingerprints.get(*part) != Some(f))
                .map(|(part, _)| part.as_str())
                .collect();
            return Err(Diagnostic::error(
                Code::ApplyStale,
                format!(
                    "integration `{}` changed since the plan was made: {} moved (planned against deployment {}, now {})",
                    s.integration,
                    if moved.is_empty() { "the deployment".to_string() } else { moved.join(", ") },
                    s.serial,
                    d.serial
                ),
            )
            .help("plan again and review the new plan; nothing was changed"));
        }
        let (a, b) = (
            serde_json::to_value(s).unwrap_or_default(),
            serde_json::to_value(d).unwrap_or_default(),
        );
        if a != b {
            return Err(mismatch(format!(
                "integration `{}`: {}",
                s.integration,
                first_difference(&a, &b, "")
            )));
        }
    }
    Ok(())
}

/// Where two JSON values first differ, as a path.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> String {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, value) in x {
                match y.get(key) {
                    Some(other) if other == value => {}
                    Some(other) => return first_difference(value, other, &format!("{at}.{key}")),
                    None => return format!("`{at}.{key}` is not planned"),
                }
            }
            format!("`{at}` has fields the policies do not plan")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (value, other)) in x.iter().zip(y).enumerate() {
                if value != other {
                    return first_difference(value, other, &format!("{at}[{i}]"));
                }
            }
            format!("`{at}` differs")
        }
        (Value::Array(x), Value::Array(y)) => format!(
            "`{at}` lists {} entries, the policies plan {}",
            x.len(),
            y.len()
        ),
        _ => format!("`{at}` differs from what the policies plan"),
    }
}
