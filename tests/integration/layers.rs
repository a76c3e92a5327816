//! The stages import only the stages below them (ARCHITECTURE.md, "One
//! direction"): a module that names `crate::X` for an X above it fails here.

use std::path::Path;

/// veil's top-level modules, lowest first.
const LAYERS: [&str; 31] = [
    "span",
    "hash",
    "suggest",
    "object",
    "parallel",
    "diagnostic",
    "ast",
    "syntax",
    "fmt",
    "identities",
    "settings",
    "types",
    "dialect",
    "sql_expr",
    "model",
    "check",
    "project",
    "eval",
    "ir",
    "explain",
    "verify",
    "impact",
    "catalog",
    "state",
    "emit",
    "live",
    "db",
    "plan",
    "apply",
    "commands",
    "cli",
];

/// Every `.rs` file below `dir`, its code before any `#[cfg(test)]`.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("reads src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("reads a source file");
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            out.push((path.display().to_string(), code));
        }
    }
}

#[test]
fn no_module_imports_one_above_it() {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    let mut upward = Vec::new();
    for (path, code) in &files {
        let relative = path.trim_start_matches("src/");
        let module = relative.split(['/', '.']).next().expect("a module name");
        if module == "lib" || module == "main" {
            continue;
        }
        let level = LAYERS
            .iter()
            .position(|l| *l == module)
            .unwrap_or_else(|| panic!("module `{module}` is not in LAYERS"));
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if let Some(other) = LAYERS.iter().position(|l| *l == name)
                && other > level
            {
                upward.push(format!("{path}: {module} imports {name}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports of a higher stage: {upward:#?}");
}
