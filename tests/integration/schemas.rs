//! The JSON Schemas in `schemas/` describe veil's JSON outputs: each is
//! checked against real output of the example project and of broken and
//! changed projects. Objects are closed (`additionalProperties: false`),
//! so a field added to an output without its schema fails here.
//!
//! The validator below knows the part of JSON Schema the files use:
//! `type` (one or several), `enum`, `properties`, `required`,
//! `additionalProperties: false`, `items` and local `$ref`s.

use crate::common::{Scratch, Veil};
use serde_json::Value;

fn schema(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("schemas/{name}.schema.json")).expect("reads");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every way `value` (at `at`) breaks `schema`; `root` resolves `$ref`s.
fn violations(root: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let path = reference.trim_start_matches("#/");
        let target = path.split('/').fold(root, |node, key| &node[key]);
        assert!(!target.is_null(), "dangling $ref {reference}");
        return violations(root, target, value, at, out);
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.contains(&kind) {
        out.push(format!("{at}: a {kind}, not {types:?}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Value::Object(fields) = value {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                out.push(format!("{at}: `{name}` is missing"));
            }
        }
        for (name, field) in fields {
            match schema["properties"].get(name) {
                Some(sub) => violations(root, sub, field, &format!("{at}.{name}"), out),
                None if schema["additionalProperties"] == false => {
                    out.push(format!("{at}: `{name}` is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let Value::Array(items) = value
        && let Some(item) = schema.get("items")
    {
        for (i, v) in items.iter().enumerate() {
            violations(root, item, v, &format!("{at}[{i}]"), out);
        }
    }
}

fn assert_fits(name: &str, value: &Value) {
    let schema = schema(name);
    let mut out = Vec::new();
    violations(&schema, &schema, value, "$", &mut out);
    assert!(out.is_empty(), "{name}: {out:#?}");
}

fn json(run: &crate::common::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn plans_fit_their_schema() {
    // Against nothing, and against another checkout (drops, replaces,
    // profile changes, access impact).
    for args in [
        vec!["plan", "--offline", "policies", "--format", "json"],
        vec![
            "plan",
            "--offline",
            "tests/fixtures/ok/constructs",
            "--format",
            "json",
        ],
        vec![
            "plan",
            "--offline",
            "policies",
            "--against",
            "tests/fixtures/ok/constructs",
            "--format",
            "json",
        ],
        vec![
            "plan",
            "--offline",
            "tests/fixtures/ok/spec",
            "--against",
            "tests/fixtures/ok/constructs",
            "--format",
            "json",
        ],
    ] {
        let plan = json(&Veil::new().args(&args).status(0));
        assert!(
            plan["integrations"][0]["changes"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        );
        assert_fits("plan", &plan);
    }
}

#[test]
fn explain_and_validate_fit_their_schemas() {
    let explained = json(
        &Veil::new()
            .args(["explain", "policies", "--format", "json"])
            .status(0),
    );
    assert_fits("explain", &explained);
    let valid = json(
        &Veil::new()
            .args(["validate", "policies", "--format", "json"])
            .status(0),
    );
    assert_fits("validate", &valid);
    let dir = Scratch::new("schema-invalid");
    std::fs::write(dir.path().join("p.veil"), "mask nope on s.a using hash\n").expect("writes");
    std::fs::write(dir.path().join("identities.yaml"), "").expect("writes");
    let dir_arg = dir.path().to_str().expect("utf-8");
    let invalid = Veil::new()
        .args([
            "validate",
            dir_arg,
            "--format",
            "json",
            "--error-format",
            "json",
        ])
        .status(1);
    assert_fits("validate", &json(&invalid));
    // Each diagnostic line, with related places among them.
    std::fs::write(
        dir.path().join("p.veil"),
        "integration w { dialect = postgres database = \"d\" view_schema = \"v\" }\nsource s.a { integration = w table = s.a columns { id int } }\nsource s.a { integration = w table = s.b columns { id int } }\nmask nope on s.a using hash\n",
    )
    .expect("writes");
    let run = Veil::new()
        .args(["validate", dir_arg, "--error-format", "json"])
        .status(1);
    let lines: Vec<Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|d| d["related"].as_array().is_some_and(|r| !r.is_empty()))
    );
    for line in &lines {
        assert_fits("diagnostic", line);
    }
}

#[test]
fn test_reports_fit_their_schema() {
    let passed = json(
        &Veil::new()
            .args(["test", "policies", "--format", "json"])
            .status(0),
    );
    assert!(passed["statements"].as_u64().is_some_and(|n| n > 0));
    assert_fits("test", &passed);
    let dir = Scratch::new("schema-test");
    for name in [
        "identities.yaml",
        "integrations.veil",
        "privacy.veil",
        "product.veil",
        "sales.veil",
    ] {
        std::fs::copy(format!("policies/{name}"), dir.path().join(name)).expect("copies");
    }
    std::fs::write(
        dir.path().join("t.veil"),
        "expect user \"priya\" on product.accounts { column owner_name clear }\nexpect user \"nobody\" on product.accounts { access granted }\n",
    )
    .expect("writes");
    let dir_arg = dir.path().to_str().expect("utf-8");
    let failed = json(
        &Veil::new()
            .args(["test", dir_arg, "--format", "json"])
            .status(1),
    );
    assert_eq!(failed["failed"], 2, "{failed}");
    assert_fits("test", &failed);
}

#[test]
fn the_validator_finds_what_does_not_fit() {
    let schema = schema("validate");
    let mut out = Vec::new();
    let wrong = serde_json::json!({"format_version": 1, "valid": "yes", "errors": 0, "extra": 1});
    violations(&schema, &schema, &wrong, "$", &mut out);
    assert_eq!(out.len(), 3, "{out:?}");
}
