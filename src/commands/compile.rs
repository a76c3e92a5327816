//! `veil compile`: the SQL of every integration, one file per object, in a
//! fresh directory, byte for byte the same on every run.

use super::Outcome;
use crate::diagnostic::Diagnostic;
use crate::emit::{self, ProfileRows, SqlObject};
use crate::ir;
use crate::model::Dialect;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// What `compile` writes or prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// SQL files and a manifest per integration, under `--out`.
    Sql,
    /// The intermediate representation, as JSON on standard output.
    Ir,
}

/// The compiled SQL of one integration.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub integration: String,
    pub dialect: Dialect,
    pub objects: Vec<SqlObject>,
}

/// Compiles a checked project's IR to SQL objects, per integration.
pub fn compile_ir(project: &ir::Project) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    compile_each(project, ProfileRows::Render, &|_, _, object| object)
}

/// Compiles the objects a plan compares: all but the profile rows, which a
/// plan compares row by row from the IR.
pub fn compile_for_plan(project: &ir::Project) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    compile_each(project, ProfileRows::Omit, &|_, _, object| object)
}

/// Compiles like [`compile_ir`], handing each object to
/// `each(integration, position, object)` as soon as it is rendered and
/// keeping what it gives back.
fn compile_each(
    project: &ir::Project,
    rows: ProfileRows,
    each: &(dyn Fn(usize, usize, SqlObject) -> SqlObject + Sync),
) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    let diagnostics = limits(project);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let rendered = ir::parallel_map(project.integrations.len(), |i| {
        emit::render_integration(&project.integrations[i], rows, &|position, object| {
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
                Diagnostic::error("compile::internal", error.to_string()).help(
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
        if integration.dialect != Dialect::Redshift {
            continue;
        }
        // A list's size as JSON and its longest name.
        let measure = |values: &[String]| {
            (
                serde_json::to_string(values).map_or(0, |s| s.len()),
                values.iter().map(String::len).max().unwrap_or(0),
            )
        };
        // Users alike share one list of valid tables: measured once.
        let mut shared: HashMap<*const [String], (usize, usize)> = HashMap::new();
        for p in &integration.profiles {
            let tables = *shared
                .entry(Arc::as_ptr(&p.valid_tables))
                .or_insert_with(|| measure(&p.valid_tables));
            let lists = [
                ("groups", measure(&p.groups)),
                ("projects", measure(&p.projects)),
                ("purposes", measure(&p.purposes)),
                ("valid_tables", tables),
            ];
            for (field, (bytes, longest)) in lists {
                if bytes > 65535 {
                    diagnostics.push(too_large(&p.user, field, bytes, 65535, &integration.name));
                }
                if longest > 1024 {
                    diagnostics.push(too_large(&p.user, field, longest, 1024, &integration.name));
                }
            }
            let pairs: Vec<(&String, &String)> = p
                .attributes
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k, v)))
                .collect();
            let bytes = serde_json::to_string(&pairs).map_or(0, |s| s.len());
            if bytes > 65535 {
                diagnostics.push(too_large(
                    &p.user,
                    "attributes",
                    bytes,
                    65535,
                    &integration.name,
                ));
            }
            if let Some((k, v)) = pairs.iter().find(|(k, v)| k.len() > 1024 || v.len() > 1024) {
                diagnostics.push(too_large(
                    &p.user,
                    "attributes",
                    k.len().max(v.len()),
                    1024,
                    &integration.name,
                ));
            }
        }
    }
    diagnostics
}

fn too_large(user: &str, field: &str, bytes: usize, limit: usize, integration: &str) -> Diagnostic {
    Diagnostic::error(
        "compile::profile_too_large",
        format!("the `{field}` of user `{user}` needs {bytes} bytes in integration `{integration}`, more than {limit}"),
    )
    .help("a profile value that does not fit is refused rather than cut; shorten the names or split the lists")
}

pub fn compile(dir: &Path, out: Option<&Path>, emit: Emit) -> Outcome {
    let (files, model, warnings) = match super::load_checked(dir) {
        Ok(checked) => checked,
        Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
    };
    let ir = ir::lower(&model);
    let mut outcome = Outcome {
        files,
        diagnostics: warnings,
        output: String::new(),
        success: false,
        exit_code: None,
    };
    if emit == Emit::Ir {
        outcome.output = serde_json::to_string_pretty(&ir).unwrap_or_default() + "\n";
        outcome.success = true;
        return outcome;
    }
    let Some(out) = out else {
        outcome.diagnostics.push(
            Diagnostic::error("compile::no_out", "`compile` needs `--out DIR`").help(
                "name an empty or absent directory to write the SQL into, or use `--emit ir`",
            ),
        );
        return outcome;
    };
    let written = Output::create(out, &ir).and_then(|output| {
        let compiled = compile_each(
            &ir,
            ProfileRows::Render,
            &|integration, position, object| output.write(integration, position, object),
        );
        output.finish(compiled)
    });
    // Freeing hundreds of thousands of small allocations takes a tenth of a
    // second at 5,000 sources: not waited for.
    super::drop_aside((model, ir));
    match written {
        Ok((count, integrations)) => {
            outcome.output = format!(
                "wrote {count} files for {integrations} integrations to {}\n",
                out.display()
            );
            outcome.success = true;
        }
        Err(mut found) => outcome.diagnostics.append(&mut found),
    }
    outcome
}

#[derive(Serialize)]
struct Manifest<'a> {
    format_version: u32,
    integration: &'a str,
    dialect: Dialect,
    files: Vec<ManifestFile<'a>>,
}

#[derive(Serialize)]
struct ManifestFile<'a> {
    file: String,
    kind: &'a str,
    object: &'a str,
}

/// A name made safe for a file name: letters, digits, `.`, `_` and `-`.
pub fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    safe.trim_start_matches('.').to_string()
}

/// The output directory while `compile` writes it: files are written as
/// soon as they are rendered, on the threads that render them, and on
/// failure nothing is left behind.
struct Output {
    out: std::path::PathBuf,
    existed: bool,
    /// Each integration's directory.
    dirs: Vec<std::path::PathBuf>,
    /// The first write that failed; nothing more is written after it.
    failed: std::sync::OnceLock<Diagnostic>,
}

fn io_error(e: std::io::Error, what: &Path) -> Diagnostic {
    Diagnostic::error(
        "compile::write",
        format!("cannot write `{}`: {e}", what.display()),
    )
    .help("check the output directory's path and permissions")
}

/// The file of the object at `position` (from 0) of an integration.
fn file_name(position: usize, object: &SqlObject) -> String {
    format!(
        "{:04}-{}-{}.sql",
        position + 1,
        object.kind,
        file_safe(&object.name)
    )
}

impl Output {
    /// Checks that `out` is empty or absent and makes a directory per
    /// integration.
    fn create(out: &Path, ir: &ir::Project) -> Result<Output, Vec<Diagnostic>> {
        let existed = out.exists();
        if existed {
            let empty = std::fs::read_dir(out)
                .map_err(|e| vec![io_error(e, out)])?
                .next()
                .is_none();
            if !empty {
                return Err(vec![Diagnostic::error(
                    "compile::out_not_empty",
                    format!("`{}` is not empty", out.display()),
                )
                .help("compile writes into an empty or absent directory, so no stale file is ever run; remove it or choose another")]);
            }
        }
        let mut output = Output {
            out: out.to_path_buf(),
            existed,
            dirs: Vec::new(),
            failed: std::sync::OnceLock::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for integration in &ir.integrations {
            let mut name = file_safe(&integration.name);
            // Two integration names may map to one file name.
            while !seen.insert(name.clone()) {
                name.push('_');
            }
            let dir = out.join(&name);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                output.remove();
                return Err(vec![io_error(e, &dir)]);
            }
            output.dirs.push(dir);
        }
        Ok(output)
    }

    /// Writes one object's file and gives the object back without its text,
    /// which the manifest does not need: at 10,000 sources the SQL is
    /// hundreds of megabytes.
    fn write(&self, integration: usize, position: usize, object: SqlObject) -> SqlObject {
        if self.failed.get().is_none() {
            let path = self.dirs[integration].join(file_name(position, &object));
            if let Err(e) = std::fs::write(&path, &object.sql) {
                let _ = self.failed.set(io_error(e, &path));
            }
        }
        SqlObject {
            sql: String::new(),
            ..object
        }
    }

    /// Writes the manifests once every object is written; returns how many
    /// files and integrations were written.
    fn finish(
        self,
        compiled: Result<Vec<Compiled>, Vec<Diagnostic>>,
    ) -> Result<(usize, usize), Vec<Diagnostic>> {
        let result = compiled.and_then(|compiled| {
            if let Some(failed) = self.failed.get() {
                return Err(vec![failed.clone()]);
            }
            let mut count = 0;
            for (c, dir) in compiled.iter().zip(&self.dirs) {
                let files = c
                    .objects
                    .iter()
                    .enumerate()
                    .map(|(position, object)| ManifestFile {
                        file: file_name(position, object),
                        kind: object.kind,
                        object: &object.name,
                    })
                    .collect::<Vec<_>>();
                count += files.len() + 1;
                let manifest = Manifest {
                    format_version: 1,
                    integration: &c.integration,
                    dialect: c.dialect,
                    files,
                };
                let path = dir.join("manifest.json");
                let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
                std::fs::write(&path, text).map_err(|e| vec![io_error(e, &path)])?;
            }
            let integrations = compiled.len();
            super::drop_aside(compiled);
            Ok((count, integrations))
        });
        if result.is_err() {
            self.remove();
        }
        result
    }

    /// Removes what was written: the directory, or what it holds if it
    /// existed before.
    fn remove(&self) {
        if self.existed {
            if let Ok(entries) = std::fs::read_dir(&self.out) {
                for entry in entries.flatten() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str) -> SqlObject {
        SqlObject {
            kind: "schema",
            name: name.into(),
            sql: format!("CREATE SCHEMA {name};\n"),
            columns: None,
        }
    }

    fn profile(user: &str, groups: Vec<String>, valid_tables: Vec<String>) -> ir::Profile {
        ir::Profile {
            user: user.into(),
            groups,
            attributes: Default::default(),
            projects: vec![],
            current_project: None,
            purposes: vec![],
            valid_tables: valid_tables.into(),
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
        assert!(
            found[0].contains("`valid_tables` of user `many`"),
            "{found:?}"
        );
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

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let out = std::env::temp_dir().join(format!("veil-output-{}", std::process::id()));
        let project = ir::Project {
            integrations: ["a", "b"]
                .map(|name| ir::Integration::for_test(name, Dialect::Postgres, vec![]))
                .to_vec(),
        };
        let output = Output::create(&out, &project).unwrap_or_else(|d| panic!("{d:?}"));
        output.write(0, 0, object("x"));
        assert!(out.join("a/0001-schema-x.sql").exists());
        // The second integration's directory goes away under the writer.
        std::fs::remove_dir_all(out.join("b")).unwrap_or_else(|e| panic!("{e}"));
        output.write(1, 0, object("y"));
        let compiled = ["a", "b"]
            .map(|name| Compiled {
                integration: name.into(),
                dialect: Dialect::Postgres,
                objects: vec![object(name)],
            })
            .to_vec();
        let errors = output.finish(Ok(compiled)).err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "compile::write");
        assert!(!out.exists(), "{} was left behind", out.display());
    }
}
