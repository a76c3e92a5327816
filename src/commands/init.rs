//! `veil init`: writes a small working example project.

use super::{Outcome, Status};
use crate::diagnostic::{Code, Diagnostic};
use std::path::Path;

/// The files of the example project, embedded in the binary.
const FILES: [(&str, &str); 3] = [
    ("policies.veil", include_str!("example/policies.veil")),
    (
        "expectations.veil",
        include_str!("example/expectations.veil"),
    ),
    ("identities.yaml", include_str!("example/identities.yaml")),
];

pub fn init(dir: &Path) -> Outcome {
    let refuse = |message: String, help: &str| Outcome {
        diagnostics: vec![Diagnostic::error(Code::InitRefused, message).help(help)],
        ..Outcome::default()
    };
    if dir.exists() {
        let occupied = std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true);
        if occupied {
            return refuse(
                format!("`{}` is not empty", dir.display()),
                "run `veil init` with a new or empty directory; it never overwrites files",
            );
        }
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        return refuse(
            format!("cannot create `{}`: {e}", dir.display()),
            "check the path and its permissions",
        );
    }
    for (name, text) in FILES {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            return refuse(
                format!("cannot write `{}`: {e}", dir.join(name).display()),
                "check the directory's permissions",
            );
        }
    }
    Outcome {
        output: format!(
            "wrote an example project to {}\nnext: veil validate {}, then veil test {}\n",
            dir.display(),
            dir.display(),
            dir.display()
        ),
        status: Status::Succeeded,
        ..Outcome::default()
    }
}
