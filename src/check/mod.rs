//! Stage 2, `AST + identities → Model`: resolves every name, checks every
//! rule SPEC'd for the language, and orders the mask rules of each column.
//! All problems of a run are collected; warnings are kept apart from errors.

mod declarations;
mod directory;
mod expect;
mod resolve;
mod rules;
pub mod types;

pub use rules::{check_posix_pattern, find_column, fits, method_name, resolve_tagged};

use crate::ast;
use crate::diagnostic::{Code, Diagnostic, Files};
use crate::hash::{FastMap, FastSet};
use crate::identities::Identities;
use crate::model::{Dialect, Directory, Model};
use crate::span::{FileId, Loc, Span};
use crate::suggest::did_you_mean;
use std::collections::HashSet;

/// The outcome of checking: a model when there was no error, and every
/// diagnostic found (warnings included).
#[derive(Debug)]
pub struct Checked {
    pub model: Option<Model>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks a parsed project against its identities.
pub fn check(
    files: &Files,
    asts: &[(FileId, &ast::File)],
    identities: (FileId, &Identities),
) -> Checked {
    let mut checker = Checker {
        files,
        diagnostics: Vec::new(),
        model: Model {
            settings: Default::default(),
            integrations: Vec::new(),
            sources: Vec::new(),
            access: Vec::new(),
            masks: Vec::new(),
            filters: Vec::new(),
            directory: Directory::default(),
            expectations: Vec::new(),
            environment: None,
        },
        integration_index: FastMap::default(),
        source_index: FastMap::default(),
        view_index: FastMap::default(),
        user_names: FastSet::default(),
        group_names: FastSet::default(),
        source_tags: FastMap::default(),
        column_tags: FastMap::default(),
        mistyped: FastSet::default(),
    };
    let items: Vec<(FileId, &crate::span::Node<ast::Item>)> = asts
        .iter()
        .flat_map(|(file, ast)| ast.items.iter().map(move |item| (*file, item)))
        .collect();

    for (file, item) in &items {
        if let ast::Item::Integration(integration) = &item.node {
            checker.integration(*file, integration);
        }
    }
    checker.directory(identities.0, identities.1);
    for (file, item) in &items {
        if let ast::Item::Source(source) = &item.node {
            checker.source(*file, source);
        }
    }
    checker.check_approved(identities.0, identities.1);
    checker.index_tags();
    for (file, item) in &items {
        let loc = Loc {
            file: *file,
            span: item.span,
        };
        match &item.node {
            ast::Item::Access(access) => checker.access(loc, access),
            ast::Item::Mask(mask) => checker.mask(loc, mask),
            ast::Item::Filter(filter) => checker.filter(loc, filter),
            ast::Item::Integration(_) | ast::Item::Source(_) | ast::Item::Expectation(_) => {}
        }
    }
    checker.order_masks();
    for (file, item) in &items {
        if let ast::Item::Expectation(expectation) = &item.node {
            let at = Loc {
                file: *file,
                span: item.span,
            };
            checker.expectation(at, expectation);
        }
    }

    let mut diagnostics = checker.diagnostics;
    dedup(&mut diagnostics);
    let model = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        Some(checker.model)
    };
    Checked { model, diagnostics }
}

/// Drops repeats (a rule over several sources can find one problem once per
/// source) and sorts by severity, then by place.
fn dedup(diagnostics: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.loc, d.message.clone())));
    diagnostics.sort_by_key(|d| (d.severity, d.loc.map(|l| (l.file, l.span.start))));
}

/// The state of one check run.
pub(crate) struct Checker<'a> {
    files: &'a Files,
    diagnostics: Vec<Diagnostic>,
    model: Model,
    /// Integration name → index.
    integration_index: FastMap<String, usize>,
    /// Source id → index.
    source_index: FastMap<String, usize>,
    /// (integration, view name as the catalog stores it) → source.
    view_index: FastMap<(usize, String), usize>,
    /// Declared users and groups, for lookups.
    user_names: FastSet<String>,
    group_names: FastSet<String>,
    /// Tag (and every prefix of a dotted tag) → sources carrying it.
    source_tags: FastMap<String, Vec<usize>>,
    /// Tag (and every prefix) → (source, column) pairs carrying it.
    column_tags: FastMap<String, Vec<(usize, usize)>>,
    /// (source, column name as the catalog stores it) of columns declared
    /// with a type that is an error already: the rules that name them say
    /// nothing more.
    mistyped: FastSet<(usize, String)>,
}

impl Checker<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn error(
        &mut self,
        code: Code,
        message: impl Into<String>,
        loc: Loc,
        label: &str,
        help: impl Into<String>,
    ) {
        self.push(
            Diagnostic::error(code, message)
                .at_loc(loc, label)
                .help(help),
        );
    }

    /// An unknown name: an error with "did you mean" when one is close.
    fn unknown<'c>(
        &mut self,
        what: &str,
        name: &str,
        loc: Loc,
        candidates: impl IntoIterator<Item = &'c str>,
        otherwise: &str,
    ) {
        self.unknown_in(what, name, "", loc, candidates, otherwise);
    }

    /// An unknown name inside something (`in `s.orders``).
    /// An unknown column of source `s`, with a close declared name as hint.
    fn unknown_column(&mut self, s: usize, name: &str, at: Loc, otherwise: &str) {
        let source = &self.model.sources[s];
        if self
            .mistyped
            .contains(&(s, source.dialect.catalog_name(name)))
        {
            return;
        }
        let names: Vec<String> = source.columns.iter().map(|c| c.name.clone()).collect();
        let container = format!("in `{}`", source.id);
        self.unknown_in(
            "column",
            name,
            &container,
            at,
            names.iter().map(String::as_str),
            otherwise,
        );
    }

    fn unknown_in<'c>(
        &mut self,
        what: &str,
        name: &str,
        container: &str,
        loc: Loc,
        candidates: impl IntoIterator<Item = &'c str>,
        otherwise: &str,
    ) {
        let help = did_you_mean(name, candidates).unwrap_or_else(|| otherwise.to_string());
        let message = if container.is_empty() {
            format!("unknown {what} `{name}`")
        } else {
            format!("unknown {what} `{name}` {container}")
        };
        self.push(
            Diagnostic::error(Code::CheckUnknownName, message)
                .at_loc(loc, format!("no such {what}"))
                .help(help),
        );
    }

    fn cite(&self, loc: Loc) -> String {
        self.files.cite(loc)
    }

    /// Checks a SQL name against the dialect's rules.
    fn sql_name(&mut self, what: &str, name: &str, dialect: Dialect, loc: Loc) {
        if let Err(problem) = valid_name(name, dialect) {
            self.error(
                Code::CheckInvalidName,
                format!("invalid {what} `{}`: {problem}", name.escape_debug()),
                loc,
                "not a valid name here",
                format!(
                    "{} names are printable UTF-8 of 1 to {} bytes",
                    dialect.name(),
                    dialect.max_name_bytes()
                ),
            );
        }
    }
}

/// Whether `name` is a valid identifier for `dialect`.
pub fn valid_name(name: &str, dialect: Dialect) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > dialect.max_name_bytes() {
        return Err(format!(
            "it is {} bytes long, more than {}",
            name.len(),
            dialect.max_name_bytes()
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("it holds the control character U+{:04X}", c as u32));
    }
    Ok(())
}

/// A location in `file`.
fn loc(file: FileId, span: Span) -> Loc {
    Loc { file, span }
}
