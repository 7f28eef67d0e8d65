//! The house plan, checked: every `crate::` path in `src/` goes to a layer
//! at or below its own (ARCHITECTURE.md), and the top-level modules of
//! `src/` import each other in no cycle. It reads the source text, so a new
//! module must be placed in [`LAYERS`] before the build passes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer: core 0 (the store) and 1,
/// use cases 2, edges 3, the composition root 4. A module may import from
/// its own layer (if no cycle follows) and the layers below.
const LAYERS: &[(&str, u8)] = &[
    ("store", 0),
    ("permissions", 1),
    ("tokens", 1),
    ("identity", 1),
    ("audit", 1),
    ("signing", 1),
    ("sso", 1),
    ("use_cases", 2),
    ("http", 3),
    ("config", 3),
    ("admin_api", 3),
    ("scim", 3),
    ("console", 3),
    ("sso_login", 3),
    ("cli", 3),
    ("oauth", 3),
    ("audit_api", 3),
    ("app", 4),
];

/// An import from one top-level module to another, with where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    from: String,
    to: String,
    at: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for the
/// crate root files `lib.rs` and `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The code of a line, without its `//` comment (doc links are not imports).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every `crate::<name>` in `text`, by name.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (n, line) in text.lines().enumerate() {
        let code = code_of(line);
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + "crate::".len()..];
            // `$crate::` inside macros, or an identifier ending in `crate`.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((n + 1, name));
            }
        }
    }
    out
}

/// Macros exported at the crate root, by the module that defines them.
fn exported_macros(files: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (module, text) in files {
        let mut exported = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("#[macro_export]") {
                exported = true;
            } else if let Some(rest) = t.strip_prefix("macro_rules!") {
                if exported {
                    let name: String = rest
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    out.insert(name, module.clone());
                }
                exported = false;
            } else if !t.starts_with("#[") && !t.starts_with("///") && !t.is_empty() {
                exported = false;
            }
        }
    }
    out
}

fn imports(src: &Path) -> Vec<Import> {
    let mut paths = vec![];
    rust_files(src, &mut paths);
    paths.sort();
    let files: Vec<(String, String, PathBuf)> = paths
        .into_iter()
        .filter_map(|p| {
            let module = module_of(src, &p)?;
            let text = std::fs::read_to_string(&p).expect("read a source file");
            Some((module, text, p))
        })
        .collect();
    let pairs: Vec<(String, String)> = files
        .iter()
        .map(|(m, t, _)| (m.clone(), t.clone()))
        .collect();
    let macros = exported_macros(&pairs);
    let mut out = vec![];
    for (module, text, path) in &files {
        for (line, name) in crate_paths(text) {
            let to = macros.get(&name).cloned().unwrap_or(name);
            if &to != module {
                out.push(Import {
                    from: module.clone(),
                    to,
                    at: format!("{}:{line}", path.display()),
                });
            }
        }
    }
    out
}

/// What breaks the plan: imports of unplaced modules, imports that go to a
/// higher layer, and one cycle among the modules, if there is one.
fn violations(imports: &[Import], layers: &BTreeMap<&str, u8>) -> Vec<String> {
    let mut out = vec![];
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for i in imports {
        let (Some(from), Some(to)) = (layers.get(i.from.as_str()), layers.get(i.to.as_str()))
        else {
            out.push(format!(
                "{}: `{}` -> `{}`: place every top-level module in LAYERS (tests/layering.rs) and ARCHITECTURE.md",
                i.at, i.from, i.to
            ));
            continue;
        };
        if to > from {
            out.push(format!(
                "{}: `{}` (layer {from}) imports `{}` (layer {to}), a layer above it",
                i.at, i.from, i.to
            ));
        }
        graph.entry(&i.from).or_default().insert(&i.to);
    }
    if let Some(cycle) = find_cycle(&graph) {
        out.push(format!(
            "the top-level modules import in a cycle: {}",
            cycle.join(" -> ")
        ));
    }
    out
}

/// A cycle in `graph`, as the modules along it (the first repeated last).
fn find_cycle<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|n| *n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut vec![], &mut done) {
            return Some(c);
        }
    }
    None
}

fn layer_table() -> BTreeMap<&'static str, u8> {
    LAYERS.iter().copied().collect()
}

#[test]
fn imports_go_down_the_layers_and_close_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = imports(&src);
    assert!(
        found.len() > 100,
        "the scan found only {} imports: it is not reading the source",
        found.len()
    );
    let problems = violations(&found, &layer_table());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_top_level_module_is_placed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let placed: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    assert_eq!(declared, placed, "lib.rs's modules and LAYERS differ");
}

// The checker itself: it must see what it is for.

fn import(from: &str, to: &str) -> Import {
    Import {
        from: from.into(),
        to: to.into(),
        at: "src/x.rs:1".into(),
    }
}

#[test]
fn an_upward_import_is_reported() {
    let v = violations(&[import("store", "http")], &layer_table());
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("a layer above"), "{v:?}");
}

#[test]
fn a_cycle_within_a_layer_is_reported() {
    let v = violations(
        &[
            import("tokens", "identity"),
            import("identity", "audit"),
            import("audit", "tokens"),
        ],
        &layer_table(),
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("cycle"), "{v:?}");
}

#[test]
fn downward_and_sideways_imports_without_a_cycle_pass() {
    let v = violations(
        &[
            import("app", "http"),
            import("scim", "http"),
            import("tokens", "permissions"),
        ],
        &layer_table(),
    );
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn comments_and_macro_internals_are_not_imports() {
    let text = "use crate::store::Db; // see crate::app\n/// [`crate::http`]\nfoo!($crate::x)\nlet x = crate::identity::f();";
    let names: Vec<String> = crate_paths(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["store", "identity"]);
}
