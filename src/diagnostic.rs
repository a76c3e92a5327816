//! Diagnostics: errors and warnings with a location, a label and a hint,
//! rendered for people (miette) or for machines (JSON lines).

use crate::span::{FileId, Loc, Span, line_col};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, `stage::kind`, for documentation and CI annotations.
    pub code: &'static str,
    pub message: String,
    pub loc: Option<Loc>,
    pub label: Option<String>,
    pub help: Option<String>,
    /// Other places worth showing, each with its own label.
    pub related: Vec<(Loc, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            loc: None,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Points the diagnostic at `span` of `file`, underlined with `label`.
    pub fn at(mut self, file: FileId, span: Span, label: impl Into<String>) -> Diagnostic {
        self.loc = Some(Loc { file, span });
        self.label = Some(label.into());
        self
    }

    pub fn at_loc(self, loc: Loc, label: impl Into<String>) -> Diagnostic {
        self.at(loc.file, loc.span, label)
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    pub fn related(mut self, loc: Loc, label: impl Into<String>) -> Diagnostic {
        self.related.push((loc, label.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The files of a project, so diagnostics can be shown in context.
#[derive(Debug, Default, Clone)]
pub struct Files {
    files: Vec<SourceFile>,
}

/// One loaded file: its path as shown to the user, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
    /// Byte offsets where lines start, for citing `path:line` quickly.
    line_starts: Vec<usize>,
}

impl Files {
    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(self.files.len() as u32);
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            path: path.into(),
            text,
            line_starts,
        });
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// `path:line` of a location, as rules are cited in explain and plans.
    pub fn cite(&self, loc: Loc) -> String {
        let file = self.get(loc.file);
        let line = file
            .line_starts
            .partition_point(|&start| start <= loc.span.start);
        format!("{}:{}", file.path, line.max(1))
    }
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorFormat {
    Human,
    Json,
}

/// Renders diagnostics in the chosen format, one after another.
pub fn render_all(
    files: &Files,
    diagnostics: &[Diagnostic],
    format: ErrorFormat,
    color: bool,
) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        match format {
            ErrorFormat::Human => out.push_str(&render_human(files, diagnostic, color)),
            ErrorFormat::Json => {
                out.push_str(&render_json(files, diagnostic));
                out.push('\n');
            }
        }
    }
    out
}

/// A diagnostic for people: the message, the file with the span underlined,
/// and the help line.
pub fn render_human(files: &Files, diagnostic: &Diagnostic, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let report = Report {
        diagnostic,
        source: diagnostic.loc.map(|loc| {
            let f = files.get(loc.file);
            NamedSource::new(f.path.clone(), f.text.clone())
        }),
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // Rendering into a String cannot fail in practice; fall back to the
        // plain message rather than lose the diagnostic.
        out = format!(
            "{}: {}\n",
            severity_word(diagnostic.severity),
            diagnostic.message
        );
    }
    out
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The machine-readable form: one JSON object per diagnostic.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    label: Option<&'a str>,
    help: Option<&'a str>,
}

pub fn render_json(files: &Files, diagnostic: &Diagnostic) -> String {
    let (file, start, end) = match diagnostic.loc {
        Some(loc) => {
            let f = files.get(loc.file);
            (
                Some(f.path.as_str()),
                Some(line_col(&f.text, loc.span.start)),
                Some(line_col(&f.text, loc.span.end)),
            )
        }
        None => (None, None, None),
    };
    let json = JsonDiagnostic {
        severity: diagnostic.severity,
        code: diagnostic.code,
        message: &diagnostic.message,
        file,
        line: start.map(|s| s.0),
        column: start.map(|s| s.1),
        end_line: end.map(|e| e.0),
        end_column: end.map(|e| e.1),
        label: diagnostic.label.as_deref(),
        help: diagnostic.help.as_deref(),
    };
    serde_json::to_string(&json).unwrap_or_default()
}

/// Adapter that lets miette draw one diagnostic against its file.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: Option<NamedSource<String>>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.diagnostic.loc?;
        let primary = LabeledSpan::new_primary_with_span(self.diagnostic.label.clone(), loc.span);
        // miette draws labels against one source; related places in the same
        // file are drawn here, those in other files are named in the help.
        let related = self
            .diagnostic
            .related
            .iter()
            .filter(move |(r, _)| r.file == loc.file)
            .map(|(r, label)| LabeledSpan::new_with_span(Some(label.clone()), r.span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}
