//! Value filters (`emails[type eq "work"]`) evaluated in memory against the
//! elements of a document: a PATCH works on a loaded document, so the SQL
//! that [`filter`](crate::scim::filter) compiles for lists does not apply.
//! The semantics must still be the same as the SQL's, which the tests pin.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::parse::get_ci;
use crate::scim::filter::{Expr, Literal, Op};
use crate::scim::schema::{AttrDef, Resolved};
use crate::store::Timestamp;

/// Evaluates a resolved value filter against one element (a JSON object)
/// of a multi-valued complex attribute, with SCIM semantics: strings of
/// `caseExact: false` attributes compare without regard to case; `co`,
/// `sw`, `ew` are substring tests; `gt`/`lt`/`ge`/`le` order strings
/// lexicographically, dateTimes by their canonical fixed-width UTC form,
/// numbers numerically; `pr` means present and neither null nor empty;
/// `eq null` means absent and `ne null` present. A comparison with an
/// absent or differently typed value is false, except `ne`, which is true.
///
/// A term that names no sub-attribute compares the element itself (a
/// multi-valued attribute of simple values).
pub fn matches(elem: &Value, expr: &Expr) -> bool {
    match expr {
        Expr::And(items) => items.iter().all(|e| matches(elem, e)),
        Expr::Or(items) => items.iter().any(|e| matches(elem, e)),
        Expr::Not(inner) => !matches(elem, inner),
        Expr::Present(r) => operand(elem, r).is_some_and(is_present),
        Expr::Compare(r, op, literal) => compare(operand(elem, r), r.leaf(), *op, literal),
        Expr::Any(r, inner) => elem
            .get(r.attr.name)
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|e| matches(e, inner))),
    }
}

fn operand<'a>(elem: &'a Value, r: &Resolved) -> Option<&'a Value> {
    let Some(sub) = r.sub else {
        return Some(elem);
    };
    let fields = elem.as_object()?;
    get_ci(fields, sub.name)
}

pub(super) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(value: Option<&Value>, def: &AttrDef, op: Op, literal: &Literal) -> bool {
    if *literal == Literal::Null {
        let present = value.is_some_and(is_present);
        return match op {
            Op::Eq => !present,
            Op::Ne => present,
            _ => false,
        };
    }
    let value = match value {
        Some(Value::Array(items)) => {
            return items.iter().any(|v| compare(Some(v), def, op, literal));
        }
        Some(v) if !v.is_null() => v,
        _ => return op == Op::Ne,
    };
    match (literal, value) {
        (Literal::Str(s), Value::String(v)) => compare_str(v, s, def.case_exact, op),
        (Literal::DateTime(s), Value::String(v)) => {
            // Stored dateTimes are canonical already; a hand-made one is
            // brought to the same form so that the text order is time order.
            let v = Timestamp::parse_rfc3339(v)
                .map(|t| Cow::Owned(t.to_canonical()))
                .unwrap_or(Cow::Borrowed(v.as_str()));
            compare_str(&v, s, true, op)
        }
        (Literal::Bool(b), Value::Bool(v)) => match op {
            Op::Eq => v == b,
            Op::Ne => v != b,
            _ => false,
        },
        (Literal::Num(n), Value::Number(v)) => {
            v.as_f64().is_some_and(|v| ordered(op, v.partial_cmp(n)))
        }
        _ => op == Op::Ne,
    }
}

fn compare_str(value: &str, literal: &str, case_exact: bool, op: Op) -> bool {
    let (v, l) = if case_exact {
        (Cow::Borrowed(value), Cow::Borrowed(literal))
    } else {
        (
            Cow::Owned(value.to_lowercase()),
            Cow::Owned(literal.to_lowercase()),
        )
    };
    match op {
        Op::Co => v.contains(l.as_ref()),
        Op::Sw => v.starts_with(l.as_ref()),
        Op::Ew => v.ends_with(l.as_ref()),
        _ => ordered(op, Some(v.cmp(&l))),
    }
}

/// Whether an ordering satisfies a comparison operator.
fn ordered(op: Op, ord: Option<Ordering>) -> bool {
    use Ordering::{Equal, Greater, Less};
    matches!(
        (op, ord),
        (Op::Eq, Some(Equal))
            | (Op::Gt, Some(Greater))
            | (Op::Ge, Some(Greater | Equal))
            | (Op::Lt, Some(Less))
            | (Op::Le, Some(Less | Equal))
    ) || (op == Op::Ne && ord != Some(Equal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter;
    use crate::scim::patch::fixtures::{leak, value_filter};
    use crate::scim::schema::{AttrType, ResourceType};
    use serde_json::json;

    #[test]
    fn matches_strings_booleans_presence_and_logic() {
        let elem = json!({ "value": "Bjensen@Example.com", "type": "work", "primary": true });
        let bare = json!({ "value": "b@x" });
        let cases: &[(&Value, &str, bool)] = &[
            (&elem, r#"value eq "bjensen@example.com""#, true),
            (&elem, r#"value eq "bjensen""#, false),
            (&elem, r#"value ne "bjensen@example.com""#, false),
            (&elem, r#"value ne "x""#, true),
            (&elem, r#"value co "EXAMPLE""#, true),
            (&elem, r#"value co "nope""#, false),
            (&elem, r#"value sw "BJEN""#, true),
            (&elem, r#"value sw "example""#, false),
            (&elem, r#"value ew ".COM""#, true),
            (&elem, r#"value ew "bjensen""#, false),
            (&elem, r#"value gt "a""#, true),
            (&elem, r#"value gt "c""#, false),
            (&elem, r#"value lt "C""#, true),
            (&elem, r#"value lt "a""#, false),
            (&elem, r#"value ge "BJENSEN@example.com""#, true),
            (&elem, r#"value le "bjensen@example.com""#, true),
            (&elem, r#"value le "bjensen@example.co""#, false),
            (&elem, "primary eq true", true),
            (&elem, "primary eq false", false),
            (&elem, "primary ne false", true),
            (&elem, r#"primary eq "True""#, true),
            (&bare, "primary eq true", false),
            (&bare, "primary ne true", true),
            (&elem, "type pr", true),
            (&bare, "type pr", false),
            (&bare, "type eq null", true),
            (&elem, "type eq null", false),
            (&elem, "type ne null", true),
            (&bare, "type ne null", false),
            (&bare, r#"type gt "a""#, false),
            (&bare, r#"type ne "work""#, true),
            (&elem, r#"not (type eq "home")"#, true),
            (&elem, r#"type eq "work" and primary eq true"#, true),
            (&elem, r#"type eq "home" and primary eq true"#, false),
            (&elem, r#"type eq "home" or primary eq true"#, true),
            (&bare, r#"type eq "home" or primary eq true"#, false),
            (
                &elem,
                r#"(type eq "home" or type eq "work") and not (value co "jensen.org")"#,
                true,
            ),
        ];
        for (elem, filter, want) in cases {
            let expr = value_filter(ResourceType::User, &format!("emails[{filter}]"));
            assert_eq!(matches(elem, &expr), *want, "{filter} on {elem}");
        }
        let empty = json!({ "value": "", "type": "work" });
        let expr = value_filter(ResourceType::User, "emails[value pr]");
        assert!(!matches(&empty, &expr), "an empty string is not present");
    }

    #[test]
    fn matches_case_exact_strings_exactly() {
        let cert = json!({ "value": "MIIDQzCC" });
        let eq = value_filter(
            ResourceType::User,
            r#"x509Certificates[value eq "MIIDQzCC"]"#,
        );
        let folded = value_filter(
            ResourceType::User,
            r#"x509Certificates[value eq "miidqzcc"]"#,
        );
        assert!(matches(&cert, &eq));
        assert!(!matches(&cert, &folded));
    }

    #[test]
    fn matches_date_times_by_instant() {
        let meta = json!({ "created": "2021-01-01T00:00:00.000000Z" });
        let offset = json!({ "created": "2021-01-01T02:00:00+02:00" });
        let cases = [
            (r#"meta.created eq "2021-01-01T00:00:00Z""#, true),
            (r#"meta.created gt "2020-12-31T23:59:59Z""#, true),
            (r#"meta.created gt "2021-01-01T00:00:00Z""#, false),
            (r#"meta.created ge "2021-01-01T00:00:00Z""#, true),
            (r#"meta.created lt "2021-01-01T00:00:00.5Z""#, true),
            (r#"meta.created le "2020-01-01T00:00:00Z""#, false),
            (r#"meta.created ne "2021-01-01T01:00:00+01:00""#, false),
        ];
        for (f, want) in cases {
            let expr = filter::parse(ResourceType::User, f).unwrap();
            assert_eq!(matches(&meta, &expr), want, "{f}");
            assert_eq!(matches(&offset, &expr), want, "{f} (offset form)");
        }
    }

    #[test]
    fn matches_numbers_numerically() {
        // No schema attribute here is numeric, so build one.
        let level = leak("level", AttrType::Integer, vec![]);
        let ranks = leak("ranks", AttrType::Complex, vec![level.clone()]);
        let r = Resolved {
            extension: None,
            attr: ranks,
            sub: Some(level),
        };
        let elem = json!({ "level": 10 });
        let cases = [
            (Op::Eq, 10.0, true),
            (Op::Eq, 9.0, false),
            (Op::Ne, 9.0, true),
            (Op::Gt, 9.5, true),
            (Op::Gt, 10.0, false),
            (Op::Ge, 10.0, true),
            (Op::Lt, 11.0, true),
            (Op::Lt, 2.0, false),
            (Op::Le, 10.0, true),
        ];
        for (op, n, want) in cases {
            let expr = Expr::Compare(r, op, Literal::Num(n));
            assert_eq!(matches(&elem, &expr), want, "{op:?} {n}");
        }
        let text = json!({ "level": "10" });
        assert!(!matches(
            &text,
            &Expr::Compare(r, Op::Eq, Literal::Num(10.0))
        ));
    }
}
