//! Parses one policy file several times and prints the fastest run.
fn main() {
    let path = std::env::args().nth(1).expect("a .veil file");
    let text = std::fs::read_to_string(&path).expect("reads");
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let parsed = veil::syntax::parse(veil::span::FileId(0), &text);
        best = best.min(t.elapsed());
        assert!(parsed.is_ok());
    }
    println!(
        "{path}: {} lines, best of 5: {best:?}",
        text.lines().count()
    );
}
