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

/// Declares [`Code`]: each variant with the stable text users and CI see.
macro_rules! codes {
    ($($variant:ident = $text:literal,)*) => {
        /// Every diagnostic code veil raises, `stage::kind`: stable, for
        /// documentation and CI annotations. One list: the fixture test
        /// walks it, and a code cannot be raised without being here.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the order of their texts.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as users see it: `check::unknown_column`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    ApplyDeclined = "apply::declined",
    ApplyFailed = "apply::failed",
    ApplyLocked = "apply::locked",
    ApplyLog = "apply::log",
    ApplyNoApproval = "apply::no_approval",
    ApplyOfflinePlan = "apply::offline_plan",
    ApplyPlanFile = "apply::plan_file",
    ApplyPlanMismatch = "apply::plan_mismatch",
    ApplyPlanVersion = "apply::plan_version",
    ApplyRandom = "apply::random",
    ApplyRead = "apply::read",
    ApplyStale = "apply::stale",
    ApplyStatementSize = "apply::statement_size",
    ApplyUnknownOutcome = "apply::unknown_outcome",
    CheckAccessNever = "check::access_never",
    CheckApprovedOutsideAccess = "check::approved_outside_access",
    CheckBadPattern = "check::bad_pattern",
    CheckColumnTagged = "check::column_tagged",
    CheckColumnType = "check::column_type",
    CheckCompareNull = "check::compare_null",
    CheckCompareTypes = "check::compare_types",
    CheckCrossDatabase = "check::cross_database",
    CheckCurrentProject = "check::current_project",
    CheckDuplicate = "check::duplicate",
    CheckDuplicateProperty = "check::duplicate_property",
    CheckDuplicateView = "check::duplicate_view",
    CheckEventTime = "check::event_time",
    CheckExpectUnknown = "check::expect_unknown",
    CheckHostMismatch = "check::host_mismatch",
    CheckInvalidName = "check::invalid_name",
    CheckLookup = "check::lookup",
    CheckMaskNever = "check::mask_never",
    CheckMaskTie = "check::mask_tie",
    CheckMethodFallback = "check::method_fallback",
    CheckMethodType = "check::method_type",
    CheckMissingColumns = "check::missing_columns",
    CheckMissingProperty = "check::missing_property",
    CheckNoEventTime = "check::no_event_time",
    CheckNotBoolean = "check::not_boolean",
    CheckNullInList = "check::null_in_list",
    CheckPropertyValue = "check::property_value",
    CheckRegexReplacement = "check::regex_replacement",
    CheckSamplePercent = "check::sample_percent",
    CheckSqlEscape = "check::sql_escape",
    CheckSuspiciousName = "check::suspicious_name",
    CheckUnknownName = "check::unknown_name",
    CheckUnknownProperty = "check::unknown_property",
    CheckUnknownTag = "check::unknown_tag",
    CheckUppercaseUser = "check::uppercase_user",
    CheckViewSchema = "check::view_schema",
    CheckWhenReadsMasked = "check::when_reads_masked",
    CompileInternal = "compile::internal",
    CompileNoOut = "compile::no_out",
    CompileOutNotEmpty = "compile::out_not_empty",
    CompileProfileTooLarge = "compile::profile_too_large",
    CompileWrite = "compile::write",
    DbBadUrl = "db::bad_url",
    DbConnect = "db::connect",
    DbNoUrl = "db::no_url",
    DbQuery = "db::query",
    DbTls = "db::tls",
    DbWrongDatabase = "db::wrong_database",
    ExplainUnknown = "explain::unknown",
    FmtWrite = "fmt::write",
    IdentitiesYaml = "identities::yaml",
    ImportInvalid = "import::invalid",
    ImportWrite = "import::write",
    InitRefused = "init::refused",
    PlanAgainst = "plan::against",
    PlanColumnMissing = "plan::column_missing",
    PlanColumnType = "plan::column_type",
    PlanDependentViews = "plan::dependent_views",
    PlanLostState = "plan::lost_state",
    PlanNotOurs = "plan::not_ours",
    PlanNothingToRecover = "plan::nothing_to_recover",
    PlanOccupied = "plan::occupied",
    PlanSavedFormat = "plan::saved_format",
    PlanTableMissing = "plan::table_missing",
    PlanUnknownIntegration = "plan::unknown_integration",
    PlanWrite = "plan::write",
    ProjectEmpty = "project::empty",
    ProjectEncoding = "project::encoding",
    ProjectEnvironment = "project::environment",
    ProjectNoIdentities = "project::no_identities",
    ProjectRead = "project::read",
    ProjectSettings = "project::settings",
    SyntaxBadEscape = "syntax::bad_escape",
    SyntaxBadNumber = "syntax::bad_number",
    SyntaxEmptyName = "syntax::empty_name",
    SyntaxExpectation = "syntax::expectation",
    SyntaxMethodArguments = "syntax::method_arguments",
    SyntaxNul = "syntax::nul",
    SyntaxTooDeep = "syntax::too_deep",
    SyntaxUnclosed = "syntax::unclosed",
    SyntaxUnexpected = "syntax::unexpected",
    SyntaxUnknownMethod = "syntax::unknown_method",
    SyntaxUnknownUnit = "syntax::unknown_unit",
    SyntaxUnterminatedComment = "syntax::unterminated_comment",
    TestFailed = "test::failed",
    TestSkipped = "test::skipped",
}

impl Code {
    /// The stage that raises it: `syntax`, `check`, `plan`, …
    pub fn stage(self) -> &'static str {
        self.as_str().split("::").next().unwrap_or_default()
    }

    /// Where `docs/diagnostics.md` explains it.
    pub fn docs(self) -> String {
        format!("docs/diagnostics.md#{}", self.as_str().replace("::", "-"))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One finding about the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, `stage::kind`, for documentation and CI annotations.
    pub code: Code,
    pub message: String,
    pub loc: Option<Loc>,
    pub label: Option<String>,
    pub help: Option<String>,
    /// Other places worth showing, each with its own label.
    pub related: Vec<(Loc, String)>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
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

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
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
    /// GitHub Actions workflow commands: each diagnostic an annotation on
    /// its file, line and column.
    Github,
    /// One SARIF 2.1.0 log of every diagnostic, for code scanning.
    Sarif,
}

/// Renders diagnostics in the chosen format, one after another.
pub fn render_all(
    files: &Files,
    diagnostics: &[Diagnostic],
    format: ErrorFormat,
    color: bool,
) -> String {
    if format == ErrorFormat::Sarif {
        return render_sarif(files, diagnostics) + "\n";
    }
    let mut out = String::new();
    for diagnostic in diagnostics {
        match format {
            ErrorFormat::Human => out.push_str(&render_human(files, diagnostic, color)),
            ErrorFormat::Json => {
                out.push_str(&render_json(files, diagnostic));
                out.push('\n');
            }
            ErrorFormat::Github => {
                out.push_str(&render_github(files, diagnostic));
                out.push('\n');
            }
            ErrorFormat::Sarif => {}
        }
    }
    out
}

/// A diagnostic as a GitHub Actions workflow command (`::error file=…,
/// line=…,col=…,endLine=…,endColumn=…,title=CODE::message`), which the
/// runner shows on the pull request's line. Values are escaped as the
/// runner reads them: `%`, CR and LF everywhere, `:` and `,` in properties
/// too.
pub fn render_github(files: &Files, diagnostic: &Diagnostic) -> String {
    let diagnostic = &shown(diagnostic);
    let data = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |text: &str| data(text).replace(':', "%3A").replace(',', "%2C");
    let mut properties = Vec::new();
    if let Some(loc) = diagnostic.loc {
        let p = Place::of(files, loc);
        properties.push(format!("file={}", property(p.file)));
        properties.push(format!("line={}", p.line));
        properties.push(format!("col={}", p.column));
        properties.push(format!("endLine={}", p.end_line));
        properties.push(format!("endColumn={}", p.end_column));
    }
    properties.push(format!("title={}", property(diagnostic.code.as_str())));
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!("::{command} {}::{}", properties.join(","), data(&message))
}

/// Every diagnostic as one SARIF 2.1.0 log: a run of the tool `veil`
/// whose rules are the codes raised, each result at its file's region.
pub fn render_sarif(files: &Files, diagnostics: &[Diagnostic]) -> String {
    use serde_json::{Value, json};
    let location = |loc: Loc, label: Option<&str>| {
        let p = Place::of(files, loc);
        let mut location = json!({
            "physicalLocation": {
                "artifactLocation": { "uri": uri(p.file) },
                "region": {
                    "startLine": p.line,
                    "startColumn": p.column,
                    "endLine": p.end_line,
                    "endColumn": p.end_column,
                },
            },
        });
        if let Some(label) = label {
            location["message"] = json!({ "text": label });
        }
        location
    };
    let mut rules: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    rules.sort();
    rules.dedup();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": rules.binary_search(&d.code).unwrap_or_default(),
                "level": match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "message": { "text": text },
                "locations": d.loc.map(|loc| location(loc, d.label.as_deref())).into_iter().collect::<Vec<_>>(),
                "relatedLocations": d.related.iter().map(|(loc, label)| location(*loc, Some(label))).collect::<Vec<_>>(),
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "veil",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(|c| json!({
                        "id": c.as_str(),
                        "help": { "text": format!("see {}", c.docs()) },
                    })).collect::<Vec<_>>(),
                },
            },
            "results": results,
        }],
    });
    serde_json::to_string(&log).unwrap_or_default()
}

/// A path as a URI reference (a `file:` URI when it is absolute): every
/// byte but unreserved ones and `/` percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::from(if path.starts_with('/') { "file://" } else { "" });
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A diagnostic for people: the message, the file with the span underlined,
/// and the help line.
pub fn render_human(files: &Files, diagnostic: &Diagnostic, color: bool) -> String {
    let diagnostic = &shown(diagnostic);
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
            NamedSource::new(crate::span::visible(&f.path), printable_source(&f.text))
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

/// A file's text as a snippet shows it: each control character but line
/// breaks and tabs replaced by as many `?` as it has bytes, so that spans
/// still point where they did and the terminal shows only what is there.
fn printable_source(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // A carriage return ends a line only before a line feed; alone it
        // would move the cursor back over what was printed.
        let kept = match c {
            '\n' | '\t' => true,
            '\r' => chars.peek() == Some(&'\n'),
            c => !c.is_control(),
        };
        if kept {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        }
    }
    out
}

/// The diagnostic with every control and invisible character of its texts
/// (but the line breaks) written as an escape: a name from a policy file
/// cannot move a terminal's cursor or colour what follows.
fn shown(diagnostic: &Diagnostic) -> Diagnostic {
    let text = |t: &str| {
        t.split('\n')
            .map(|line| crate::span::visible(line).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    Diagnostic {
        message: text(&diagnostic.message),
        label: diagnostic.label.as_deref().map(text),
        help: diagnostic.help.as_deref().map(text),
        related: diagnostic
            .related
            .iter()
            .map(|(loc, label)| (*loc, text(label)))
            .collect(),
        ..diagnostic.clone()
    }
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The version of the JSON shape of a diagnostic.
pub const JSON_FORMAT_VERSION: u32 = 2;

/// Where a diagnostic points: a file and the lines and columns (from 1) of
/// the span's start and end.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Place<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl<'a> Place<'a> {
    pub fn of(files: &'a Files, loc: Loc) -> Place<'a> {
        let f = files.get(loc.file);
        let (line, column) = line_col(&f.text, loc.span.start);
        let (end_line, end_column) = line_col(&f.text, loc.span.end);
        Place {
            file: &f.path,
            line,
            column,
            end_line,
            end_column,
        }
    }
}

/// The machine-readable form: one JSON object per diagnostic.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    format_version: u32,
    severity: Severity,
    code: &'a str,
    /// Its entry in `docs/diagnostics.md`.
    docs: String,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    label: Option<&'a str>,
    help: Option<&'a str>,
    /// Other places worth showing (the first rule of a tie, a first
    /// declaration), each with its label.
    related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    #[serde(flatten)]
    place: Place<'a>,
    label: &'a str,
}

pub fn render_json(files: &Files, diagnostic: &Diagnostic) -> String {
    let place = diagnostic.loc.map(|loc| Place::of(files, loc));
    let json = JsonDiagnostic {
        format_version: JSON_FORMAT_VERSION,
        severity: diagnostic.severity,
        code: diagnostic.code.as_str(),
        docs: diagnostic.code.docs(),
        message: &diagnostic.message,
        file: place.map(|p| p.file),
        line: place.map(|p| p.line),
        column: place.map(|p| p.column),
        end_line: place.map(|p| p.end_line),
        end_column: place.map(|p| p.end_column),
        label: diagnostic.label.as_deref(),
        help: diagnostic.help.as_deref(),
        related: diagnostic
            .related
            .iter()
            .map(|(loc, label)| JsonRelated {
                place: Place::of(files, *loc),
                label,
            })
            .collect(),
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
