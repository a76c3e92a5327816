//! The TextMate grammar of `.veil` files (`editors/veil.tmLanguage.json`),
//! run by a TextMate engine over the example project: representative
//! tokens get the scopes an editor colours, and its keywords are the
//! grammar's reserved words.

use syntaxmate::{GrammarRegistry, Tokenizer, TokenizerOptions};

const GRAMMAR: &str = include_str!("../../editors/veil.tmLanguage.json");

/// Every (text, innermost scope) of a file.
fn tokens(source: &str) -> Vec<(String, String)> {
    let mut registry = GrammarRegistry::new();
    let root = registry.add_json(GRAMMAR).expect("the grammar loads");
    let mut tokenizer =
        Tokenizer::new(&registry, root, TokenizerOptions::default()).expect("a tokenizer");
    let document = tokenizer.tokenize(source);
    let mut out = Vec::new();
    for (line, text) in document.lines().iter().zip(source.lines()) {
        for token in line.tokens() {
            let scope = token.scopes().last().unwrap_or_default().to_string();
            out.push((text[token.range()].to_string(), scope));
        }
    }
    out
}

/// The scope the first token spelling `text` gets.
fn scope_of<'t>(tokens: &'t [(String, String)], text: &str) -> &'t str {
    tokens
        .iter()
        .find(|(t, _)| t == text)
        .map(|(_, s)| s.as_str())
        .unwrap_or_else(|| panic!("no token `{text}`"))
}

#[test]
fn the_example_project_gets_its_scopes() {
    let sales = std::fs::read_to_string("policies/sales.veil").expect("reads");
    let found = tokens(&sales);
    assert_eq!(scope_of(&found, "mask"), "keyword.control.veil");
    assert_eq!(scope_of(&found, "using"), "keyword.control.veil");
    assert_eq!(
        scope_of(&found, "`Order Note`"),
        "variable.other.quoted.veil"
    );
    assert_eq!(scope_of(&found, "\"support\""), "string.quoted.double.veil");
    let comment = found
        .iter()
        .find(|(t, _)| t.starts_with("//"))
        .expect("a comment");
    assert_eq!(comment.1, "comment.line.double-slash.veil");
    // A name is not a keyword because it begins like one.
    assert!(
        found
            .iter()
            .all(|(t, s)| s != "keyword.control.veil" || !t.contains('_')),
        "{found:?}"
    );
    let made = tokens("filter s.t where amount >= -1.5 or flag = true // x\n/* a\nb */ source");
    assert_eq!(scope_of(&made, "-1.5"), "constant.numeric.veil");
    assert_eq!(scope_of(&made, "true"), "constant.language.veil");
    assert_eq!(scope_of(&made, ">="), "keyword.operator.veil");
    assert_eq!(scope_of(&made, "b */"), "comment.block.veil");
    assert_eq!(scope_of(&made, "source"), "keyword.control.veil");
    // The words of an expectation, where they stand only.
    let expected = tokens(&std::fs::read_to_string("policies/expectations.veil").expect("reads"));
    assert_eq!(scope_of(&expected, "expect"), "keyword.other.veil");
    assert_eq!(scope_of(&expected, "granted"), "keyword.other.veil");
    assert_eq!(scope_of(&expected, "rows"), "keyword.other.veil");
    assert_eq!(scope_of(&expected, "masked"), "keyword.other.veil");
    assert_eq!(scope_of(&expected, "applies"), "keyword.other.veil");
    let escaped = tokens("mask x on s.t using constant \"a\\\"b\\u{41}\"\n");
    assert_eq!(scope_of(&escaped, "\\\""), "constant.character.escape.veil");
    assert_eq!(
        scope_of(&escaped, "\\u{41}"),
        "constant.character.escape.veil"
    );
}

/// The grammar's keywords are exactly the language's reserved words (the
/// `keyword` rule of grammar/veil.pest), less the literals.
#[test]
fn its_keywords_are_the_reserved_words() {
    let pest = include_str!("../../grammar/veil.pest");
    let rule = pest
        .split("keyword = @{")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("a keyword rule");
    let mut reserved: Vec<String> = rule
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .filter(|w| !["true", "false", "null"].contains(&w.as_str()))
        .collect();
    reserved.sort();
    reserved.dedup();
    let grammar: serde_json::Value = serde_json::from_str(GRAMMAR).expect("JSON");
    let pattern = grammar["repository"]["keywords"]["match"]
        .as_str()
        .expect("a keyword pattern");
    let mut listed: Vec<String> = pattern
        .trim_start_matches("\\b(?:")
        .trim_end_matches(")\\b")
        .split('|')
        .map(str::to_string)
        .collect();
    listed.sort();
    assert_eq!(listed, reserved);
}
