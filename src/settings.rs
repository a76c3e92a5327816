//! `veil.yaml`: the settings a team sets once for a project rather than
//! with flags on every run. Optional; every setting has a default.
//!
//! ```yaml
//! # Columns with these tags (or a tag below one) are sensitive: the
//! # markdown plan lists new access to them first.
//! sensitive_tags: [pii, finance]
//!
//! # Deployments of the one project whose databases differ: per
//! # environment, what differs of each integration. `--environment NAME`
//! # chooses one.
//! environments:
//!   staging:
//!     warehouse: { host: staging.example.com, database: analytics_staging,
//!                  connection: VEIL_WAREHOUSE_STAGING_URL }
//!   production: {}
//! ```

use crate::diagnostic::{Code, Diagnostic};
use crate::span::FileId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The settings file at a project's root.
pub const FILE: &str = "veil.yaml";

/// A project's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Columns tagged with one of these (or a tag below one) are sensitive
    /// in the access impact; `--sensitive-tag` overrides them.
    #[serde(default = "default_sensitive_tags")]
    pub sensitive_tags: Vec<String>,
    /// Environment name → integration name → what differs there.
    #[serde(default)]
    pub environments: BTreeMap<String, BTreeMap<String, Overrides>>,
}

/// What one environment changes of one integration; the rest stays as the
/// integration declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    /// The environment variable that holds the connection URL.
    pub connection: Option<String>,
}

fn default_sensitive_tags() -> Vec<String> {
    vec!["pii".to_string()]
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            sensitive_tags: default_sensitive_tags(),
            environments: BTreeMap::new(),
        }
    }
}

/// Reads `veil.yaml`; an empty file (or one of comments) is the defaults.
pub fn load(file: FileId, text: &str) -> Result<Settings, Diagnostic> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Ok(Settings::default());
    }
    let settings: Settings = serde_saphyr::from_str(text).map_err(|error| {
        let mut diagnostic = crate::identities::yaml_error(file, text, &error);
        // The reader of YAML speaks of identities.yaml; this is veil.yaml.
        if diagnostic.help.as_deref().is_some_and(|h| h.contains("identities.yaml"))
            || diagnostic.message.starts_with("invalid ")
        {
            diagnostic.help = Some(
                "check this entry against the veil.yaml reference in docs/language.md (`sensitive_tags`, `environments`: per environment, per integration, `host`, `port` (1 to 65535), `database`, `connection`)".into(),
            );
        }
        Diagnostic {
            code: Code::ProjectSettings,
            ..diagnostic
        }
    })?;
    if let Some(bad) = settings.sensitive_tags.iter().find(|t| !is_tag(t)) {
        return Err(Diagnostic::error(
            Code::ProjectSettings,
            format!("`sensitive_tags` holds `{}`, which is not a tag", bad.escape_debug()),
        )
        .at(file, crate::span::Span::new(0, 0), "in this file")
        .help("a tag is written as in the policies: lower-case words joined by dots, such as `pii` or `pii.email`"));
    }
    let at = |message: String, help: &str| {
        Diagnostic::error(Code::ProjectSettings, message)
            .at(file, crate::span::Span::new(0, 0), "in this file")
            .help(help.to_string())
    };
    for (name, integrations) in &settings.environments {
        if !is_environment(name) {
            return Err(at(
                format!("`{}` is not an environment name", name.escape_debug()),
                "an environment name is lower-case letters, digits, `-` and `_`, such as `staging`",
            ));
        }
        for (integration, overrides) in integrations {
            let bad_var = overrides.connection.as_deref().filter(|v| {
                v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if let Some(var) = bad_var {
                return Err(at(
                    format!(
                        "environment `{name}`, integration `{integration}`: `connection` is `{}`, not an environment variable's name",
                        var.escape_debug()
                    ),
                    "write the name of the variable that holds the URL, such as `VEIL_WAREHOUSE_STAGING_URL`",
                ));
            }
        }
    }
    Ok(settings)
}

/// An environment's name: lower-case letters, digits, `-` and `_`.
pub fn is_environment(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A tag as the policies write one: lower-case words joined by dots.
fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}
