//! No input makes veil panic or hang: mutated and random policy files and
//! identities go through parse, check and fmt, and each ends in success or
//! diagnostics. The inputs are generated from a fixed seed, so a failure
//! reproduces.

use std::panic;
use std::time::{Duration, Instant};
use veil::diagnostic::Files;
use veil::span::FileId;
use veil::{check, fmt, identities, syntax};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const POLICY: &str = include_str!("../fixtures/ok/constructs/main.veil");
const IDENTITIES: &str = include_str!("../fixtures/ok/constructs/identities.yaml");

/// Pieces that make parsers stumble.
const NASTY: [&str; 24] = [
    "\0",
    "\u{FEFF}",
    "\u{1F600}",
    "\\",
    "\"",
    "`",
    "``",
    "/*",
    "*/",
    "//",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "\n",
    "\r\n",
    "\t",
    "é",
    "\u{7F}",
    "not ",
    " and ",
    "$$",
];

/// Runs every stage on one input; returns how long it took.
fn run_all(policy: &str, yaml: &str) -> Duration {
    let start = Instant::now();
    let result = panic::catch_unwind(|| {
        let mut files = Files::default();
        let id = files.add("fuzz.veil", policy);
        let yaml_id = files.add("identities.yaml", yaml);
        let ids = identities::load(yaml_id, yaml);
        if let Ok(parsed) = syntax::parse(id, policy) {
            let formatted = fmt::format(&parsed, policy);
            let again = syntax::parse(id, &formatted).expect("formatted text parses");
            assert_eq!(parsed.file, again.file, "fmt changed the tree");
            assert_eq!(
                fmt::format(&again, &formatted),
                formatted,
                "fmt is not idempotent"
            );
            if let Ok(ids) = &ids {
                let checked = check::check(&files, &[(id, &parsed.file)], (yaml_id, ids));
                assert_eq!(
                    checked.model.is_some(),
                    !checked.diagnostics.iter().any(|d| d.is_error())
                );
                // A checked model goes through every later offline stage.
                if let Some(model) = &checked.model {
                    let _ = veil::emit::compile_ir(&veil::ir::lower(model));
                    let _ = veil::verify::verify(model, &files);
                    for user in &model.directory.users {
                        let _ = veil::explain::explain_user(model, &files, user, None);
                    }
                }
            }
        }
    });
    if let Err(panic) = result {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let shown: String = policy.chars().take(400).collect();
        panic!("panicked ({message}) on input:\n{shown}");
    }
    start.elapsed()
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[test]
fn truncated_files_never_panic() {
    let step = (POLICY.len() / 300).max(1);
    let mut at = 0;
    while at < POLICY.len() {
        let cut = char_boundary(POLICY, at);
        run_all(&POLICY[..cut], IDENTITIES);
        at += step;
    }
    let step = (IDENTITIES.len() / 100).max(1);
    let mut at = 0;
    while at < IDENTITIES.len() {
        let cut = char_boundary(IDENTITIES, at);
        run_all(POLICY, &IDENTITIES[..cut]);
        at += step;
    }
}

/// The fuzzer's seed and rounds: fixed, so that a failure reproduces;
/// `VEIL_FUZZ_SEED` and `VEIL_FUZZ_ROUNDS` run it longer or elsewhere.
fn fuzz_setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mutated_files_never_panic() {
    let mut rng = Rng(fuzz_setting("VEIL_FUZZ_SEED", 0x5EED_1234_ABCD_0001) | 1);
    for _ in 0..fuzz_setting("VEIL_FUZZ_ROUNDS", 600) {
        let mut text = POLICY.to_string();
        for _ in 0..1 + rng.below(4) {
            let at = char_boundary(&text, rng.below(text.len()));
            match rng.below(3) {
                0 => text.insert_str(at, NASTY[rng.below(NASTY.len())]),
                1 => {
                    let end = char_boundary(&text, (at + 1 + rng.below(20)).min(text.len()));
                    text.replace_range(at..end, "");
                }
                _ => {
                    // Swap in a chunk from elsewhere in the file.
                    let from = char_boundary(POLICY, rng.below(POLICY.len()));
                    let to = char_boundary(POLICY, (from + rng.below(40)).min(POLICY.len()));
                    text.insert_str(at, &POLICY[from..to]);
                }
            }
        }
        run_all(&text, IDENTITIES);
    }
    for _ in 0..200 {
        let mut yaml = IDENTITIES.to_string();
        let at = char_boundary(&yaml, rng.below(yaml.len()));
        let piece = [
            "\n  ", ": ", "- ", "{", "[", "\"", "'", "123", "no", "~", "&a ", "*a", "!!int ",
        ][rng.below(13)];
        yaml.insert_str(at, piece);
        run_all(POLICY, &yaml);
    }
}

#[test]
fn random_token_soup_never_panics() {
    const WORDS: [&str; 40] = [
        "integration",
        "source",
        "access",
        "mask",
        "filter",
        "allow",
        "require",
        "using",
        "except",
        "for",
        "when",
        "where",
        "tagged",
        "columns",
        "matching",
        "on",
        "user",
        "group",
        "not",
        "and",
        "or",
        "in",
        "is",
        "null",
        "x",
        "s.orders",
        "\"v\"",
        "42",
        "-1.5",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "=",
        ",",
        "hash",
        "round(2)",
        "user.groups",
    ];
    let mut rng = Rng(42);
    for _ in 0..400 {
        let len = rng.below(60);
        let text: Vec<&str> = (0..len).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        run_all(&text.join(" "), IDENTITIES);
    }
}

#[test]
fn extreme_inputs_end_in_time() {
    let deep_parens = format!(
        "filter a where {}x{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let many_nots = format!("filter a where {}x", "not ".repeat(100_000));
    let long_chain = format!("filter a where x{}", " and x".repeat(50_000));
    let long_line = format!("// {}\n{}", "x".repeat(1 << 20), POLICY);
    let long_string = format!("filter a where x = \"{}\"", "y".repeat(1 << 20));
    let long_name = format!("mask {} on a using hash", "z".repeat(1 << 20));
    let deep_sql = format!(
        "filter a where sql \"{}x{}\"",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    let stray_bytes: String = (0u8..=127).map(char::from).cycle().take(100_000).collect();
    let deep_yaml = format!("groups: {}a{}", "[".repeat(100_000), "]".repeat(100_000));
    let open_yaml = format!("groups: {}", "[".repeat(100_000));
    let wide_yaml: String = std::iter::once("groups: [g]\nusers:\n".to_string())
        .chain((0..100_000).map(|i| format!("  u{i}:\n    groups: [g]\n")))
        .collect();
    for input in [
        &deep_parens,
        &many_nots,
        &long_chain,
        &long_line,
        &long_string,
        &long_name,
        &deep_sql,
        &stray_bytes,
    ] {
        let took = run_all(input, IDENTITIES);
        // A generous bound that only a hang or a quadratic blow-up exceeds.
        assert!(took < Duration::from_secs(20), "took {took:?}");
    }
    for yaml in [&deep_yaml, &open_yaml, &wide_yaml] {
        let took = run_all(POLICY, yaml);
        assert!(took < Duration::from_secs(20), "took {took:?}");
    }
    // Nesting past the loader's limit is refused, where it goes too deep.
    let refused = identities::load(FileId(0), &deep_yaml).expect_err("too deep");
    assert!(
        refused.message.contains("recursion limit"),
        "{}",
        refused.message
    );
}
