//! The layering the design promises, read from the sources: data flows nn -> ops -> kernels, and
//! the modules below the kernels (the element types, the generator, the shape rules) name
//! nothing above them, so the import graph has no cycle (`CONTRIBUTING.md`).

use std::path::Path;

/// Every `crate::<module>` a source file under `dir` names, outside comments, with the file.
fn named_modules(dir: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut files = vec![dir.to_path_buf()];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                files.push(e.unwrap().path());
            }
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push((p.display().to_string(), name));
            }
        }
    }
    out
}

fn assert_names_only(dir: &str, allowed: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let path = root.join(dir);
    let found = named_modules(&path);
    assert!(
        !found.is_empty() || path.is_file(),
        "{dir}: no sources read"
    );
    for (file, name) in found {
        assert!(
            allowed.contains(&name.as_str()),
            "{file} names crate::{name}: {dir} may only name {allowed:?}"
        );
    }
}

#[test]
fn kernels_name_nothing_above_them() {
    assert_names_only("kernels", &["kernels", "element", "rng", "shape"]);
}

#[test]
fn the_modules_below_the_kernels_name_nothing_above_them() {
    assert_names_only("element.rs", &["element"]);
    assert_names_only("rng.rs", &["rng"]);
    assert_names_only("shape", &["shape"]);
}
