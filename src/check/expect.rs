//! Expectations: their names resolved against the project. A name the
//! project does not have is a warning here (the policies are still valid)
//! and a failure in `veil test`.

use super::Checker;
use crate::ast::{self, Expect};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{ExpectLine, Expectation};
use crate::span::Loc;
use crate::suggest::did_you_mean;

impl Checker<'_> {
    pub(super) fn expectation(&mut self, at: Loc, e: &ast::Expectation) {
        let file = at.file;
        let here = |span| Loc { file, span };
        let user = &e.user.node;
        let user_index = self
            .model
            .directory
            .users
            .iter()
            .position(|u| &u.name == user);
        if user_index.is_none() {
            let names: Vec<&str> = self
                .model
                .directory
                .users
                .iter()
                .map(|u| u.name.as_str())
                .collect();
            let help = did_you_mean(user, names)
                .unwrap_or_else(|| "the users are the entries of `identities.yaml`".into());
            self.expect_unknown(format!("unknown user `{user}`"), here(e.user.span), help);
        }
        let source = e.source.node.dotted();
        let source_index = self.source_index.get(&source).copied();
        if source_index.is_none() {
            let ids: Vec<&str> = self.source_index.keys().map(String::as_str).collect();
            let help = did_you_mean(&source, ids)
                .unwrap_or_else(|| "name a source declared with `source ID { … }`".into());
            self.expect_unknown(
                format!("unknown source `{source}`"),
                here(e.source.span),
                help,
            );
        }
        let lines = e
            .lines
            .iter()
            .map(|line| {
                let target =
                    source_index.and_then(|s| self.expect_target(s, &line.node, here(line.span)));
                ExpectLine {
                    loc: here(line.span),
                    expect: line.node.clone(),
                    target,
                }
            })
            .collect();
        self.model.expectations.push(Expectation {
            loc: at,
            user: user.clone(),
            user_index,
            source,
            source_index,
            lines,
        });
    }

    /// The column or filter a statement names on source `s`; a warning
    /// when the source has none such.
    fn expect_target(&mut self, s: usize, line: &Expect, at: Loc) -> Option<usize> {
        let source = &self.model.sources[s];
        match line {
            Expect::Column { column, .. } => {
                let found = super::find_column(source, &column.node);
                if found.is_none() {
                    let names: Vec<&str> = source.columns.iter().map(|c| c.name.as_str()).collect();
                    let help = did_you_mean(&column.node, names).unwrap_or_else(|| {
                        format!(
                            "the columns of `{}` are declared in its `columns` block",
                            source.id
                        )
                    });
                    let message = format!("unknown column `{}` in `{}`", column.node, source.id);
                    self.expect_unknown(
                        message,
                        Loc {
                            file: at.file,
                            span: column.span,
                        },
                        help,
                    );
                }
                found
            }
            Expect::Filter { kind, .. } => {
                let text = crate::fmt::filter_kind(&kind.node);
                let on_source = || {
                    self.model
                        .filters
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| f.sources.contains(&s))
                };
                let found = on_source()
                    .find(|(_, f)| crate::fmt::filter_kind(&f.kind) == text)
                    .map(|(i, _)| i);
                if found.is_none() {
                    let written: Vec<String> = on_source()
                        .map(|(_, f)| format!("`{}`", crate::fmt::filter_kind(&f.kind)))
                        .collect();
                    let help = if written.is_empty() {
                        format!("no filter covers `{}`", source.id)
                    } else {
                        format!(
                            "write the filter as its rule does (as `veil fmt` prints it): {}",
                            written.join(", ")
                        )
                    };
                    let message = format!("`{}` has no filter `{text}`", source.id);
                    self.expect_unknown(
                        message,
                        Loc {
                            file: at.file,
                            span: kind.span,
                        },
                        help,
                    );
                }
                found
            }
            Expect::Access(_) | Expect::Rows(_) => None,
        }
    }

    fn expect_unknown(&mut self, message: String, at: Loc, help: String) {
        self.push(
            Diagnostic::warning(Code::CheckExpectUnknown, message)
                .at_loc(at, "not in the project")
                .help(format!("{help} (`veil test` fails on this expectation)")),
        );
    }
}
