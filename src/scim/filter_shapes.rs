//! Filters parsed once per shape. Identity providers send the same few
//! filters over and over with different values (`userName eq "…"` for
//! every user they look up), and `scim_v2`'s lexer builds its regex
//! automaton's states again on every call: 12% of a filtered request's
//! CPU. So a filter's string literals are numbered (`userName eq "0"`),
//! `scim_v2` parses that shape once, and each request puts its own
//! literals, decoded as `scim_v2` decodes them (`serde_json`), back into a
//! copy of the tree. The literals are found by the lexer's own rule for
//! them (`"([^"\\]|\\.)*"`), and nothing else in the grammar holds a
//! double quote. Anything unusual (an unterminated or undecodable literal,
//! a shape that does not parse) goes to `scim_v2` as it came, so errors
//! are its own.

use std::collections::HashMap;
use std::fmt::Write;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use scim_v2::filter::{AttrExp, CompValue, Filter, ValFilter};

type ParseError = <Filter as FromStr>::Err;

/// Shapes kept; past it the cache starts over, so a client sending endless
/// shapes costs only itself the parse.
const MAX_SHAPES: usize = 256;

fn shapes() -> &'static Mutex<HashMap<String, Filter>> {
    static SHAPES: OnceLock<Mutex<HashMap<String, Filter>>> = OnceLock::new();
    SHAPES.get_or_init(Default::default)
}

/// `text` parsed, as `text.parse::<Filter>()` parses it.
pub fn parse(text: &str) -> Result<Filter, ParseError> {
    let Some((shape, literals)) = shape_of(text) else {
        return text.parse();
    };
    let Ok(values) = literals
        .iter()
        .map(|l| serde_json::from_str::<String>(l))
        .collect::<Result<Vec<_>, _>>()
    else {
        return text.parse();
    };
    let cached = shapes()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&shape)
        .cloned();
    let mut tree = match cached {
        Some(tree) => tree,
        None => {
            let Ok(tree) = shape.parse::<Filter>() else {
                return text.parse();
            };
            let mut shapes = shapes().lock().unwrap_or_else(|e| e.into_inner());
            if shapes.len() >= MAX_SHAPES {
                shapes.clear();
            }
            shapes.insert(shape, tree.clone());
            tree
        }
    };
    let mut filled = vec![false; values.len()];
    if fill(&mut tree, &values, &mut filled) && filled.iter().all(|f| *f) {
        Ok(tree)
    } else {
        text.parse()
    }
}

/// `text` with its string literals numbered in order, and the literals
/// (quotes included). `None` for a literal the lexer would not take.
fn shape_of(text: &str) -> Option<(String, Vec<&str>)> {
    let mut shape = String::with_capacity(text.len());
    let mut literals = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        shape.push_str(&rest[..open]);
        let body = &rest[open + 1..];
        let mut chars = body.char_indices();
        let close = loop {
            match chars.next()? {
                // The lexer's `\\.`: `.` takes any character but a newline.
                (_, '\\') => {
                    let (_, escaped) = chars.next()?;
                    if escaped == '\n' {
                        return None;
                    }
                }
                (i, '"') => break i,
                _ => {}
            }
        };
        literals.push(&rest[open..open + close + 2]);
        let _ = write!(shape, "\"{}\"", literals.len() - 1);
        rest = &body[close + 1..];
    }
    shape.push_str(rest);
    Some((shape, literals))
}

/// Puts `values` in place of the numbered literals of a shape's tree;
/// `false` for a string that is not one of them, or one seen twice.
fn fill(filter: &mut Filter, values: &[String], filled: &mut [bool]) -> bool {
    match filter {
        Filter::Attr(a) => fill_attr(a, values, filled),
        Filter::ValuePath(vp) => fill_val(&mut vp.filter, values, filled),
        Filter::Not(inner) => fill(inner, values, filled),
        Filter::And(items) | Filter::Or(items) => items.iter_mut().all(|f| fill(f, values, filled)),
    }
}

fn fill_val(filter: &mut ValFilter, values: &[String], filled: &mut [bool]) -> bool {
    match filter {
        ValFilter::Attr(a) => fill_attr(a, values, filled),
        ValFilter::Not(inner) => fill_val(inner, values, filled),
        ValFilter::And(items) | ValFilter::Or(items) => {
            items.iter_mut().all(|f| fill_val(f, values, filled))
        }
    }
}

fn fill_attr(attr: &mut AttrExp, values: &[String], filled: &mut [bool]) -> bool {
    let AttrExp::Comparison(_, _, CompValue::Str(s)) = attr else {
        return true;
    };
    let Some(i) = s.parse::<usize>().ok().filter(|i| *i < values.len()) else {
        return false;
    };
    if std::mem::replace(&mut filled[i], true) {
        return false;
    }
    s.clone_from(&values[i]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every filter parses to the tree `scim_v2` gives for the whole text,
    /// the first time its shape is seen and again from the cache.
    #[test]
    fn a_filter_parses_as_scim_v2_parses_it_whole() {
        let filters = [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"title pr"#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"userName eq "a\"b\\c\u00e9" and displayName eq """#,
            r#"userName eq "1" and externalId eq "0""#,
            r#"active eq true and meta.version eq 3"#,
        ];
        for text in filters {
            let whole: Filter = text.parse().unwrap();
            assert_eq!(parse(text).unwrap(), whole, "{text}");
            assert_eq!(parse(text).unwrap(), whole, "{text}, from the cache");
        }
    }

    /// Two filters of one shape each get their own values.
    #[test]
    fn filters_of_one_shape_keep_their_own_values() {
        let a = parse(r#"externalId eq "first" and displayName eq "x""#).unwrap();
        let b = parse(r#"externalId eq "second" and displayName eq "y""#).unwrap();
        assert_eq!(
            a.to_string(),
            r#"externalId eq "first" and displayName eq "x""#
        );
        assert_eq!(
            b.to_string(),
            r#"externalId eq "second" and displayName eq "y""#
        );
    }

    /// A filter `scim_v2` refuses is refused, with `scim_v2`'s own error.
    #[test]
    fn a_refused_filter_gets_scim_v2s_error() {
        for text in [
            r#"userName eq "unterminated"#,
            r#"userName eq "bad \x escape""#,
            "userName eq \"line \\\n break\"",
            r#"userName eq "a" "b""#,
            r#"userName eq"#,
            r#"userName zz "a""#,
        ] {
            let whole = text.parse::<Filter>().unwrap_err().to_string();
            let ours = parse(text).unwrap_err().to_string();
            assert_eq!(ours, whole, "{text}");
        }
    }

    #[test]
    fn literals_are_numbered_as_the_lexer_reads_them() {
        let (shape, literals) = shape_of(r#"a eq "x\"y" or b eq "\\" or c pr"#).unwrap();
        assert_eq!(shape, r#"a eq "0" or b eq "1" or c pr"#);
        assert_eq!(literals, [r#""x\"y""#, r#""\\""#]);
        assert!(shape_of(r#"a eq "open"#).is_none());
    }
}
