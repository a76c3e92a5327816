//! `veil compile`: the SQL of every integration, one file per object, in a
//! fresh directory, byte for byte the same on every run.

use super::{Outcome, Status};
use crate::diagnostic::{Code, Diagnostic};
use crate::emit::{Compiled, ProfileRows, compile_each};
use crate::ir;
use crate::model::Dialect;
use crate::object::Object;
use serde::Serialize;
use std::path::Path;

/// What `compile` writes or prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// SQL files and a manifest per integration, under `--out`.
    Sql,
    /// The intermediate representation, as JSON on standard output.
    Ir,
}

pub fn compile(dir: &Path, out: Option<&Path>, emit: Emit, environment: Option<&str>) -> Outcome {
    let (files, model, warnings) =
        match crate::project::load_checked(crate::project::ProjectSource::Dir(dir, environment)) {
            Ok(checked) => checked,
            Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
        };
    // `--emit ir` shows the views; SQL lowers each as it writes it.
    let ir = if emit == Emit::Ir {
        ir::lower(&model)
    } else {
        ir::lower_but_views(&model)
    };
    let mut outcome = Outcome {
        files,
        diagnostics: warnings,
        output: String::new(),
        status: Status::Failed,
    };
    if emit == Emit::Ir {
        outcome.output = serde_json::to_string_pretty(&ir).unwrap_or_default() + "\n";
        outcome.status = Status::Succeeded;
        return outcome;
    }
    let Some(out) = out else {
        outcome.diagnostics.push(
            Diagnostic::error(Code::CompileNoOut, "`compile` needs `--out DIR`").help(
                "name an empty or absent directory to write the SQL into, or use `--emit ir`",
            ),
        );
        return outcome;
    };
    let written = Output::create(out, &ir).and_then(|output| {
        let compiled = compile_each(
            (&ir, ir::Views::FromModel(&model)),
            ProfileRows::Render,
            &|integration, position, object| output.write(integration, position, object),
        );
        output.finish(compiled)
    });
    // Freeing hundreds of thousands of small allocations takes a tenth of a
    // second at 5,000 sources: not waited for.
    crate::project::drop_aside((model, ir));
    match written {
        Ok((count, integrations)) => {
            outcome.output = format!(
                "wrote {count} files for {integrations} integrations to {}\n",
                out.display()
            );
            outcome.status = Status::Succeeded;
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
    #[serde(flatten)]
    id: &'a crate::object::ObjectId,
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
        Code::CompileWrite,
        format!("cannot write `{}`: {e}", what.display()),
    )
    .help("check the output directory's path and permissions")
}

/// The file of the object at `position` (from 0) of an integration.
fn file_name(position: usize, object: &Object) -> String {
    format!(
        "{:04}-{}-{}.sql",
        position + 1,
        object.kind(),
        file_safe(&object.name().to_string())
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
                    Code::CompileOutNotEmpty,
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
    fn write(&self, integration: usize, position: usize, object: Object) -> Object {
        if self.failed.get().is_none() {
            let path = self.dirs[integration].join(file_name(position, &object));
            if let Err(e) = std::fs::write(&path, &object.sql) {
                let _ = self.failed.set(io_error(e, &path));
            }
        }
        Object {
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
                        id: &object.id,
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
            crate::project::drop_aside(compiled);
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

    fn object(name: &str) -> Object {
        Object {
            id: crate::object::ObjectId::new(
                crate::object::ObjectKind::Schema,
                crate::object::QualifiedName::schema(name),
            ),
            sql: format!("CREATE SCHEMA {name};\n"),
            columns: None,
        }
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
        assert_eq!(errors[0].code, Code::CompileWrite);
        assert!(!out.exists(), "{} was left behind", out.display());
    }
}
