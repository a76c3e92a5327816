#[test]
fn scratch() {
    let text = std::fs::read_to_string("tests/fixtures/ok/spec/policy.veil").unwrap();
    match veil::syntax::parse(veil::span::FileId(0), &text) {
        Ok(p) => println!("{:#?}", p.file.items.len()),
        Err(d) => { let mut f = veil::diagnostic::Files::default(); f.add("policy.veil", text.clone()); println!("{}", veil::diagnostic::render_all(&f, &d, veil::diagnostic::ErrorFormat::Human, false)); panic!() }
    }
}
