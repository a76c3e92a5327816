//! The multi-integration driver of stage 4: every integration of a
//! project rendered (in parallel), after the size limits the databases
//! would refuse are checked.

use super::{ProfileRows, render_integration};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir;
use crate::model::Dialect;
use crate::object::Object;

/// The compiled SQL of one integration.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub integration: String,
    pub dialect: Dialect,
    pub objects: Vec<Object>,
}

/// Compiles a checked project's IR (`ir::lower`) to SQL objects, per
/// integration.
pub fn compile_ir(project: &ir::Project) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    compile_each(
        (project, ir::Views::Lowered),
        ProfileRows::Render,
        &|_, _, object| object,
    )
}

/// Compiles the objects a plan compares of `model` lowered but for its
/// views (`ir::lower_but_views`): all but the profile rows, which a plan
/// compares row by row from the IR.
pub fn compile_for_plan(
    project: &ir::Project,
    model: &crate::model::Model,
) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    compile_each(
        (project, ir::Views::FromModel(model)),
        ProfileRows::Omit,
        &|_, _, object| object,
    )
}

/// Compiles like [`compile_ir`], the views taken from `views`, handing
/// each object to `each(integration, position, object)` as soon as it is
/// rendered and keeping what it gives back.
pub fn compile_each(
    (project, views): (&ir::Project, ir::Views<'_>),
    rows: ProfileRows,
    each: &(dyn Fn(usize, usize, Object) -> Object + Sync),
) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    let diagnostics = limits(project);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let rendered = crate::parallel::map(project.integrations.len(), |i| {
        let integration = (&project.integrations[i], views);
        render_integration(integration, i, rows, &|position, object| {
            each(i, position, object)
        })
    });
    let mut out = Vec::new();
    let mut diagnostics = Vec::new();
    for (integration, rendered) in project.integrations.iter().zip(rendered) {
        match rendered {
            Ok(objects) => out.push(Compiled {
                integration: integration.name.clone(),
                dialect: integration.dialect,
                objects,
            }),
            Err(error) => diagnostics.push(
                Diagnostic::error(Code::CompileInternal, error.to_string()).help(
                    "this is a bug in veil; please report it with the policy that triggers it",
                ),
            ),
        }
    }
    if diagnostics.is_empty() {
        Ok(out)
    } else {
        Err(diagnostics)
    }
}

/// Sizes the database would refuse: Redshift profile columns hold at most
/// 65,535 bytes, and a name in a profile side table at most 1,024.
fn limits(project: &ir::Project) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for integration in &project.integrations {
        let Some((long, short)) = integration.dialect.sql().text_limits() else {
            continue;
        };
        // A list's size as JSON and its longest name.
        let measure = |values: &[String]| {
            (
                serde_json::to_string(values).map_or(0, |s| s.len()),
                values.iter().map(String::len).max().unwrap_or(0),
            )
        };
        for p in &integration.profiles {
            let lists = [
                ("groups", measure(&p.groups)),
                ("projects", measure(&p.projects)),
                ("purposes", measure(&p.purposes)),
                ("approved", measure(&p.approved)),
            ];
            for (field, (bytes, longest)) in lists {
                if bytes > long {
                    diagnostics.push(too_large(&p.user, field, bytes, long, &integration.name));
                }
                if longest > short {
                    diagnostics.push(too_large(&p.user, field, longest, short, &integration.name));
                }
            }
            let pairs: Vec<(&String, &String)> = p
                .attributes
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k, v)))
                .collect();
            let bytes = serde_json::to_string(&pairs).map_or(0, |s| s.len());
            if bytes > long {
                diagnostics.push(too_large(
                    &p.user,
                    "attributes",
                    bytes,
                    long,
                    &integration.name,
                ));
            }
            if let Some((k, v)) = pairs
                .iter()
                .find(|(k, v)| k.len() > short || v.len() > short)
            {
                diagnostics.push(too_large(
                    &p.user,
                    "attributes",
                    k.len().max(v.len()),
                    short,
                    &integration.name,
                ));
            }
        }
    }
    diagnostics
}

fn too_large(user: &str, field: &str, bytes: usize, limit: usize, integration: &str) -> Diagnostic {
    Diagnostic::error(
        Code::CompileProfileTooLarge,
        format!("the `{field}` of user `{user}` needs {bytes} bytes in integration `{integration}`, more than {limit}"),
    )
    .help("a profile value that does not fit is refused rather than cut; shorten the names or split the lists")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(user: &str, groups: Vec<String>, approved: Vec<String>) -> ir::Profile {
        ir::Profile {
            user: user.into(),
            groups,
            attributes: Default::default(),
            projects: vec![],
            current_project: None,
            purposes: vec![],
            approved,
        }
    }

    #[test]
    fn redshift_profiles_that_would_not_fit_are_refused() {
        let tables: Vec<String> = (0..5_000)
            .map(|i| format!("schema_{i}.table_{i}"))
            .collect();
        let profiles = vec![
            profile("fits", vec!["g".into()], vec!["s.t".into()]),
            profile("many", vec![], tables.clone()),
            profile("long", vec!["g".repeat(1025)], vec![]),
        ];
        let project = ir::Project {
            integrations: vec![ir::Integration::for_test(
                "w",
                Dialect::Redshift,
                profiles.clone(),
            )],
        };
        let found: Vec<String> = limits(&project).iter().map(|d| d.message.clone()).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`approved` of user `many`"), "{found:?}");
        assert!(
            found[1].contains("`groups` of user `long` needs 1025 bytes"),
            "{found:?}"
        );
        // PostgreSQL columns are text: no limit.
        let project = ir::Project {
            integrations: vec![ir::Integration::for_test("p", Dialect::Postgres, profiles)],
        };
        assert!(limits(&project).is_empty());
    }
}
