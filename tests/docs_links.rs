//! The documentation's links stay inside the repository: every relative
//! link in README.md, ARCHITECTURE.md and docs/ names a file that exists
//! (and a heading of it, for `#anchor`), and no link leaves the repository
//! except to public specifications (RFCs, NIST) or the local server of the
//! quick start.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Hosts a link may point at: public specifications, and the server the
/// quick start runs on this machine.
const ALLOWED_HOSTS: &[&str] = &[
    "www.rfc-editor.org",
    "datatracker.ietf.org",
    "pages.nist.gov",
    "127.0.0.1:8080",
];

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The text outside fenced code blocks and inline code spans.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            let mut in_code = false;
            for c in line.chars() {
                if c == '`' {
                    in_code = !in_code;
                } else if !in_code {
                    out.push(c);
                }
            }
            out.push('\n');
        }
    }
    out
}

/// `[text](target)` and `<scheme://…>` targets.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b']'
            && bytes[i + 1] == b'('
            && let Some(end) = text[i + 2..].find(')')
        {
            found.push(text[i + 2..i + 2 + end].to_string());
        } else if bytes[i] == b'<'
            && text[i + 1..].starts_with("http")
            && let Some(end) = text[i + 1..].find('>')
        {
            found.push(text[i + 1..i + 1 + end].to_string());
        }
        i += 1;
    }
    found
}

/// GitHub's anchors of a file's headings.
fn anchors(text: &str) -> HashSet<String> {
    let mut fenced = false;
    let mut set = HashSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim().to_lowercase();
        let slug: String = title
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        set.insert(slug);
    }
    set
}

#[test]
fn documentation_links_resolve_and_stay_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for file in documents(root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        for link in links(&prose(&text)) {
            if let Some(rest) = link
                .strip_prefix("http://")
                .or(link.strip_prefix("https://"))
            {
                let host = rest.split('/').next().unwrap_or_default();
                if !ALLOWED_HOSTS.contains(&host) {
                    problems.push(format!("{name}: {link} leaves the repository"));
                }
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let Ok(target) = target.canonicalize() else {
                problems.push(format!("{name}: {link}: no such file"));
                continue;
            };
            if !target.starts_with(root.canonicalize().unwrap()) {
                problems.push(format!("{name}: {link} leaves the repository"));
                continue;
            }
            if let Some(anchor) = anchor {
                let text = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&text).contains(anchor) {
                    problems.push(format!("{name}: {link}: no such heading"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
