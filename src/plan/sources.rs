//! What the policies say that a plan shows beside the SQL: the escape
//! hatches in force, and the policies the database enforces now (for the
//! access impact).

use super::EscapeHatch;
use crate::ast::{Method, Operand, Predicate};
use crate::diagnostic::Files;
use crate::model::Model;
use crate::project;

/// The policies the database enforces, from the files recorded at the last
/// apply (an empty project before the first).
pub fn deployed_model(state: &crate::state::State) -> Result<Model, String> {
    if !state.initialized {
        return Ok(empty_model());
    }
    let unavailable = "access impact unavailable: the policies recorded at the last apply do not load with this veil";
    // Their texts are read (`db::Db::read_policy_texts`) before this is.
    let text =
        |f: &crate::state::RecordedFile| f.text.clone().ok_or_else(|| unavailable.to_string());
    let identities = state
        .policy_files
        .iter()
        .find(|f| f.path.ends_with(project::IDENTITIES))
        .map(text)
        .transpose()?;
    let policies: Vec<(String, String)> = state
        .policy_files
        .iter()
        .filter(|f| f.path.ends_with(".veil"))
        .map(|f| Ok((f.path.clone(), text(f)?)))
        .collect::<Result<_, String>>()?;
    let Some(identities) = identities else {
        return Err(unavailable.into());
    };
    let project =
        project::load_texts(&policies, &identities).map_err(|_| unavailable.to_string())?;
    project.check().model.ok_or_else(|| unavailable.to_string())
}

/// A project with nothing in it: what an empty deployment enforces.
pub fn empty_model() -> Model {
    Model {
        settings: Default::default(),
        integrations: Vec::new(),
        sources: Vec::new(),
        access: Vec::new(),
        masks: Vec::new(),
        filters: Vec::new(),
        directory: Default::default(),
        expectations: Vec::new(),
        environment: None,
    }
}

/// Every `sql "…"` and `using none` that reaches a source of the integration.
pub fn escape_hatches(model: &Model, files: &Files, integration: &str) -> Vec<EscapeHatch> {
    let Some(index) = model
        .integrations
        .iter()
        .position(|i| i.name == integration)
    else {
        return Vec::new();
    };
    // The mask rules that reach a column of this integration.
    let mut mask_here = vec![false; model.masks.len()];
    for source in model.sources.iter().filter(|s| s.integration == index) {
        for column in &source.columns {
            for m in &column.masks {
                mask_here[m.rule] = true;
            }
        }
    }
    let mut hatches = Vec::new();
    for (r, rule) in model.masks.iter().enumerate() {
        if !mask_here[r] {
            continue;
        }
        let rule_at = files.cite(rule.loc);
        if rule.method == Method::None {
            hatches.push(EscapeHatch {
                kind: "none".into(),
                rule: rule_at.clone(),
                text: "using none".into(),
            });
        }
        if let Some(when) = &rule.when {
            sql_texts(when, &mut |text| {
                hatches.push(EscapeHatch {
                    kind: "sql".into(),
                    rule: rule_at.clone(),
                    text: text.to_string(),
                })
            });
        }
    }
    for filter in &model.filters {
        if !filter
            .sources
            .iter()
            .any(|&s| model.sources[s].integration == index)
        {
            continue;
        }
        if let crate::ast::FilterKind::Where(p) = &filter.kind {
            let rule_at = files.cite(filter.loc);
            sql_texts(p, &mut |text| {
                hatches.push(EscapeHatch {
                    kind: "sql".into(),
                    rule: rule_at.clone(),
                    text: text.to_string(),
                })
            });
            p.lookups(&mut |source, key, value| {
                hatches.push(EscapeHatch {
                    kind: "lookup".into(),
                    rule: rule_at.clone(),
                    text: format!(
                        "lookup({source}, {key}, {value}): the rows each user sees follow the data in `{source}`; a change there changes them without a plan"
                    ),
                })
            });
        }
    }
    hatches
}

/// Calls `found` with the text of every `sql "…"` in a predicate.
fn sql_texts(p: &Predicate, found: &mut dyn FnMut(&str)) {
    let operand = |o: &Operand, found: &mut dyn FnMut(&str)| match o {
        Operand::Sql(text) => found(text),
        Operand::Paren(inner) => sql_texts(inner, found),
        _ => {}
    };
    match p {
        Predicate::Or(parts) | Predicate::And(parts) => {
            parts.iter().for_each(|p| sql_texts(p, found))
        }
        Predicate::Not(inner) => sql_texts(inner, found),
        Predicate::Compare { left, right, .. } => {
            operand(left, found);
            operand(right, found);
        }
        Predicate::IsNull { operand: o, .. }
        | Predicate::InList { operand: o, .. }
        | Predicate::InUserGroups { operand: o, .. }
        | Predicate::InUserAttribute { operand: o, .. }
        | Predicate::InLookup { operand: o, .. }
        | Predicate::Operand(o) => operand(o, found),
    }
}
