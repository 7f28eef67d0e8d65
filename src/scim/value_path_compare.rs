//! Entra ID's matching filter `emails[type eq "work"].value eq "ada@example.com"`:
//! a value path, then a sub-attribute and a comparison. RFC 7644's grammar
//! has no such form (a value path ends at its `]`), and the filter parser
//! refuses it; its meaning is "some element matches the filter and has
//! this sub-attribute so", which the grammar does say as
//! `emails[(type eq "work") and value eq "ada@example.com"]`. Rewriting the
//! text to that form before parsing lets it be served from the index like
//! any other value path.

/// Folds each `attr[filter].sub op value` (and `.sub pr`) of `text` into
/// `attr[(filter) and sub op value]`. Values must already be quoted (see
/// `filter::quote_bare_values`); quoted strings are copied verbatim.
pub fn fold(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut opens: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let end = quoted_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            '[' => opens.push(out.len()),
            ']' => {
                if let (Some(open), Some((tail, next))) =
                    (opens.pop(), comparison_after(&chars, i + 1))
                {
                    let inner = out[open + 1..].to_string();
                    out.truncate(open + 1);
                    out.push_str(&format!("({inner}) and {tail}]"));
                    i = next;
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The index just past the quoted string that starts at `start`.
fn quoted_end(chars: &[char], start: usize) -> usize {
    let mut escaped = false;
    for (j, d) in chars.iter().enumerate().skip(start + 1) {
        if escaped {
            escaped = false;
        } else if *d == '\\' {
            escaped = true;
        } else if *d == '"' {
            return j + 1;
        }
    }
    chars.len()
}

/// `.sub op value` (or `.sub pr`) starting at `at`: the comparison as text
/// and the index after it.
fn comparison_after(chars: &[char], at: usize) -> Option<(String, usize)> {
    if chars.get(at) != Some(&'.') {
        return None;
    }
    let word = |from: usize| {
        let mut j = from;
        while j < chars.len() && (chars[j].is_alphanumeric() || "_-$".contains(chars[j])) {
            j += 1;
        }
        (j > from).then(|| (chars[from..j].iter().collect::<String>(), j))
    };
    let spaces = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    let (sub, j) = word(at + 1)?;
    let (op, j) = word(spaces(j))?;
    let op_lower = op.to_ascii_lowercase();
    if op_lower == "pr" {
        return Some((format!("{sub} pr"), j));
    }
    const OPS: [&str; 9] = ["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"];
    if !OPS.contains(&op_lower.as_str()) {
        return None;
    }
    let start = spaces(j);
    let end = match chars.get(start) {
        Some('"') => quoted_end(chars, start),
        Some(_) => word(start)?.1,
        None => return None,
    };
    let value: String = chars[start..end].iter().collect();
    Some((format!("{sub} {op} {value}"), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_matching_filters_fold_into_the_value_path() {
        assert_eq!(
            fold(r#"emails[type eq "work"].value eq "ada@example.com""#),
            r#"emails[(type eq "work") and value eq "ada@example.com"]"#
        );
        assert_eq!(
            fold(r#"emails[type eq "a]b"].value pr and userName eq "x""#),
            r#"emails[(type eq "a]b") and value pr] and userName eq "x""#
        );
        assert_eq!(
            fold(r#"emails[type eq "work"].value eq "x" or active eq true"#),
            r#"emails[(type eq "work") and value eq "x"] or active eq true"#
        );
    }

    #[test]
    fn other_filters_are_left_alone() {
        for f in [
            r#"emails[type eq "work" and value co "@example.com"]"#,
            r#"userName eq "a].b eq c""#,
            r#"name.givenName eq "x""#,
            r#"emails[type eq "work"].value"#,
        ] {
            assert_eq!(fold(f), f);
        }
    }
}
