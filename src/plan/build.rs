//! A project checked, lowered and emitted, ready to plan; and the offline
//! plan, which compares it with nothing or with another checkout.

use super::script::{Prepared, prepare};
use super::sources::{empty_model, escape_hatches};
use super::{IntegrationPlan, Plan};
use crate::db;
use crate::diagnostic::{Code, Diagnostic, Files};
use crate::emit::{Compiled, compile_for_plan};
use crate::ir;
use crate::model::Model;
use crate::project::{ProjectSource, load_checked};
use crate::state::{Deployed, State, checksum, deployed_from};
use std::path::Path;

/// A checked, compiled project.
pub struct Built {
    pub files: Files,
    pub model: Model,
    pub ir: ir::Project,
    pub compiled: Vec<Compiled>,
    /// Per integration, the checksum of each compiled object's SQL.
    pub checksums: Vec<Vec<String>>,
    pub warnings: Vec<Diagnostic>,
}

impl Built {
    /// The project's files as (path, text), as a deployment records them.
    pub fn policy_files(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .map(|(_, f)| (f.path.clone(), f.text.clone()))
            .collect()
    }

    /// Integration `i` prepared for apply, planned against `state`.
    pub fn prepare(&self, i: usize, plan: &IntegrationPlan, state: &State) -> Prepared {
        prepare(
            &self.ir.integrations[i],
            db::Target::of(&self.model.integrations[i]),
            &self.compiled[i].objects,
            plan,
            state,
            self.policy_files(),
        )
    }

    /// The plan of integration `i` against what is deployed, before what
    /// only a database can tell.
    pub fn integration_plan(&self, i: usize, deployed: &Deployed) -> IntegrationPlan {
        let (compiled, lowered) = (&self.compiled[i], &self.ir.integrations[i]);
        IntegrationPlan {
            name: compiled.integration.clone(),
            dialect: compiled.dialect,
            changes: super::diff_objects(compiled, &self.checksums[i], deployed),
            profile: super::diff_profiles(&lowered.profiles, &deployed.profiles),
            drift: Vec::new(),
            access_impact: Vec::new(),
            access_impact_known: true,
            warnings: Vec::new(),
            escape_hatches: escape_hatches(&self.model, &self.files, &compiled.integration),
            recovery: false,
        }
    }
}

/// Loads, checks, lowers and emits a project directory.
pub fn build(dir: &Path, environment: Option<&str>) -> Result<Built, (Files, Vec<Diagnostic>)> {
    let (files, model, warnings) = load_checked(ProjectSource::Dir(dir, environment))?;
    let lowered = lower_and_emit(&model);
    finish(files, model, warnings, lowered)
}

/// A project lowered and emitted: its IR, its SQL and the SQL's
/// checksums.
pub(super) type Lowered = (ir::Project, Vec<Compiled>, Vec<Vec<String>>);

/// The model lowered and emitted, or the emitter's errors.
pub(super) fn lower_and_emit(model: &Model) -> Result<Lowered, Vec<Diagnostic>> {
    // A plan needs of the IR only what is not in the SQL (schemas, profile
    // rows): each view is lowered as it is emitted.
    let ir = ir::lower_but_views(model);
    let compiled = compile_for_plan(&ir, model)?;
    let checksums = compiled
        .iter()
        .map(|c| c.objects.iter().map(|o| checksum(&o.sql)).collect())
        .collect();
    Ok((ir, compiled, checksums))
}

pub(super) fn finish(
    files: Files,
    model: Model,
    mut warnings: Vec<Diagnostic>,
    lowered: Result<Lowered, Vec<Diagnostic>>,
) -> Result<Built, (Files, Vec<Diagnostic>)> {
    match lowered {
        Ok((ir, compiled, checksums)) => Ok(Built {
            files,
            model,
            ir,
            compiled,
            checksums,
            warnings,
        }),
        Err(mut found) => {
            warnings.append(&mut found);
            Err((files, warnings))
        }
    }
}

/// An error for the first `--integration` the project does not have.
pub fn unknown_integration(model: &Model, only: &[String]) -> Option<Diagnostic> {
    let known: Vec<&str> = model.integrations.iter().map(|i| i.name.as_str()).collect();
    let unknown = only.iter().find(|n| !known.contains(&n.as_str()))?;
    let help = crate::suggest::did_you_mean(unknown, known.iter().copied())
        .unwrap_or_else(|| format!("the integrations are {}", known.join(", ")));
    Some(
        Diagnostic::error(
            Code::PlanUnknownIntegration,
            format!("unknown integration `{unknown}`"),
        )
        .help(help),
    )
}

/// The tags whose columns the access impact calls sensitive: `chosen`
/// (`--sensitive-tag`), else the project's `sensitive_tags`.
pub fn sensitive<'t>(model: &'t Model, chosen: &'t [String]) -> &'t [String] {
    if chosen.is_empty() {
        &model.settings.sensitive_tags
    } else {
        chosen
    }
}

/// The indices of the integrations `only` selects (all when it is empty).
pub fn selected(model: &Model, only: &[String]) -> Vec<usize> {
    (0..model.integrations.len())
        .filter(|&i| only.is_empty() || only.contains(&model.integrations[i].name))
        .collect()
}

/// An offline plan: `planned` against nothing, or against `base` (another
/// checkout) as its last apply would have left the databases; with each
/// integration's apply script when `scripts` asks for them.
pub fn offline(
    planned: &Built,
    base: Option<&Built>,
    only: &[String],
    sensitive_tags: &[String],
    scripts: bool,
) -> (Plan, Vec<Prepared>) {
    let mut integrations = Vec::new();
    let mut prepared = Vec::new();
    let empty = empty_model();
    for index in selected(&planned.model, only) {
        let name = &planned.compiled[index].integration;
        let deployed = base.and_then(|b| {
            let i = b.compiled.iter().position(|c| c.integration == *name)?;
            Some(deployed_from(
                &b.compiled[i].objects,
                &b.ir.integrations[i].profiles,
            ))
        });
        // What the deployment is taken to be: nothing, or the other
        // checkout as its last apply left it.
        let state = State {
            initialized: deployed.is_some(),
            records_catalog: deployed.is_some(),
            policy_files: match (&deployed, base) {
                (Some(_), Some(b)) => b
                    .policy_files()
                    .into_iter()
                    .map(|(path, text)| crate::state::RecordedFile {
                        path,
                        parts: crate::emit::script::part_checksums(&text),
                        text: Some(text),
                    })
                    .collect(),
                _ => Vec::new(),
            },
            deployed: deployed.unwrap_or_default(),
            ..State::default()
        };
        let mut plan = planned.integration_plan(index, &state.deployed);
        if scripts {
            prepared.push(planned.prepare(index, &plan, &state));
        }
        let before = base.map_or(&empty, |b| &b.model);
        let tags = sensitive(&planned.model, sensitive_tags);
        plan.access_impact = crate::impact::impact(before, &planned.model, name, tags);
        integrations.push(plan);
    }
    let plan = Plan {
        format_version: super::FORMAT_VERSION,
        offline: true,
        environment: planned.model.environment.clone(),
        integrations,
    };
    (plan, prepared)
}
