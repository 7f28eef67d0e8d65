//! SCIM filters (RFC 7644 §3.4.2.2): parsed by the `scim_v2` crate, then
//! resolved against our schema into [`Expr`], which the SQL compiler
//! (`scim::query`) and the in-memory matcher (`scim::patch`, for value
//! paths) both read. Resolution is where unknown attributes, impossible
//! comparisons and mistyped values become `invalidFilter` errors, so that
//! neither consumer has to second-guess the tree.

use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};

use super::error::ScimError;
use super::schema::{self, AttrDef, AttrType, Resolved, ResourceType, Returned};
use crate::store::Timestamp;

/// Longest filter text accepted; the parser also bounds depth and terms.
pub const MAX_FILTER_LEN: usize = 8 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Lt,
    Ge,
    Le,
}

/// A comparison value, already typed for the attribute it is compared with.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Bool(bool),
    Num(f64),
    /// A dateTime, in the canonical fixed-width UTC form.
    DateTime(String),
    Null,
}

/// A resolved filter.
#[derive(Clone, Debug)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Present(Resolved),
    Compare(Resolved, Op, Literal),
    /// `attr[filter]`: some element of the multi-valued `attr` matches
    /// `filter`, whose paths are all sub-attributes of `attr`.
    Any(Resolved, Box<Expr>),
}

/// Parses and resolves a filter for a resource type.
pub fn parse(rt: ResourceType, raw: &str) -> Result<Expr, ScimError> {
    if raw.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter("the filter is too long"));
    }
    let text = super::value_path_compare::fold(&quote_bare_values(raw));
    let parsed = super::filter_shapes::parse(&text).map_err(|e| {
        ScimError::invalid_filter(format!("cannot parse the filter: {}", short(&e)))
    })?;
    resolve_filter(rt, &parsed)
}

/// Parses and resolves the filter of a PATCH value path
/// (`emails[type eq "work"]`), relative to its attribute.
pub fn resolve_value_filter(
    rt: ResourceType,
    attr: &Resolved,
    f: &ValFilter,
) -> Result<Expr, ScimError> {
    resolve_val(rt, attr, f)
}

/// Parses a PATCH path (RFC 7644 §3.5.2), with the same leniency as
/// filters for Entra ID's unquoted values (`members[value eq 5f8a-11]`).
/// A path that does not parse is `invalidPath`.
pub fn parse_patch_path(raw: &str) -> Result<scim_v2::filter::PatchPath, ScimError> {
    if raw.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_path("the path is too long"));
    }
    quote_bare_values(raw)
        .parse()
        .map_err(|e| ScimError::invalid_path(format!("cannot parse the path: {}", short(&e))))
}

fn short(e: &impl std::fmt::Display) -> String {
    e.to_string().chars().take(200).collect()
}

fn resolve_filter(rt: ResourceType, f: &Filter) -> Result<Expr, ScimError> {
    Ok(match f {
        Filter::Attr(exp) => resolve_exp(rt, None, exp)?,
        Filter::Not(inner) => Expr::Not(Box::new(resolve_filter(rt, inner)?)),
        Filter::And(items) => Expr::And(
            items
                .iter()
                .map(|i| resolve_filter(rt, i))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Or(items) => Expr::Or(
            items
                .iter()
                .map(|i| resolve_filter(rt, i))
                .collect::<Result<_, _>>()?,
        ),
        Filter::ValuePath(vp) => {
            let attr = resolve_path(rt, None, &vp.attr)?;
            if attr.sub.is_some() || attr.attr.ty != AttrType::Complex {
                return Err(ScimError::invalid_filter(format!(
                    "`{}[…]` needs a complex attribute",
                    vp.attr
                )));
            }
            Expr::Any(attr, Box::new(resolve_val(rt, &attr, &vp.filter)?))
        }
    })
}

fn resolve_val(rt: ResourceType, outer: &Resolved, f: &ValFilter) -> Result<Expr, ScimError> {
    Ok(match f {
        ValFilter::Attr(exp) => resolve_exp(rt, Some(outer), exp)?,
        ValFilter::Not(inner) => Expr::Not(Box::new(resolve_val(rt, outer, inner)?)),
        ValFilter::And(items) => Expr::And(
            items
                .iter()
                .map(|i| resolve_val(rt, outer, i))
                .collect::<Result<_, _>>()?,
        ),
        ValFilter::Or(items) => Expr::Or(
            items
                .iter()
                .map(|i| resolve_val(rt, outer, i))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Resolves a path; inside a value path it names a sub-attribute of `outer`.
fn resolve_path(
    rt: ResourceType,
    outer: Option<&Resolved>,
    p: &AttrPath,
) -> Result<Resolved, ScimError> {
    let unknown = || ScimError::invalid_filter(format!("unknown attribute `{p}`"));
    let resolved = match outer {
        Some(o) => {
            if p.sub_attr.is_some() || p.uri.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "inside `{}[…]`, name a sub-attribute only",
                    o.attr.name
                )));
            }
            Resolved {
                extension: o.extension,
                attr: o.attr,
                sub: Some(o.attr.sub(&p.name).ok_or_else(unknown)?),
            }
        }
        None => schema::resolve(rt, p.uri.as_deref(), &p.name, p.sub_attr.as_deref())
            .ok_or_else(unknown)?,
    };
    if resolved.leaf().returned == Returned::Never || resolved.attr.returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!(
            "`{p}` cannot be filtered on"
        )));
    }
    Ok(resolved)
}

fn resolve_exp(
    rt: ResourceType,
    outer: Option<&Resolved>,
    exp: &AttrExp,
) -> Result<Expr, ScimError> {
    match exp {
        AttrExp::Present(p) => Ok(Expr::Present(resolve_path(rt, outer, p)?)),
        AttrExp::Comparison(p, op, value) => {
            let mut target = resolve_path(rt, outer, p)?;
            // `emails co "x"` means `emails.value co "x"`.
            if target.sub.is_none() && target.attr.ty == AttrType::Complex {
                match target.attr.default_sub() {
                    Some(sub) if target.attr.multi_valued => target.sub = Some(sub),
                    _ => {
                        return Err(ScimError::invalid_filter(format!(
                            "`{p}` is complex: compare one of its sub-attributes"
                        )));
                    }
                }
            }
            let op = to_op(op);
            let literal = typed_literal(target.leaf(), op, value, p)?;
            Ok(Expr::Compare(target, op, literal))
        }
    }
}

fn to_op(op: &CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Lt => Op::Lt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Le => Op::Le,
    }
}

/// Types the literal for the attribute and refuses comparisons the RFC
/// does not define (ordering booleans, substring-matching numbers).
fn typed_literal(
    def: &AttrDef,
    op: Op,
    value: &CompValue,
    p: &AttrPath,
) -> Result<Literal, ScimError> {
    let bad = |why: &str| ScimError::invalid_filter(format!("`{p}`: {why}"));
    let ordering = matches!(op, Op::Gt | Op::Lt | Op::Ge | Op::Le);
    let substring = matches!(op, Op::Co | Op::Sw | Op::Ew);
    if let CompValue::Null = value {
        return if matches!(op, Op::Eq | Op::Ne) {
            Ok(Literal::Null)
        } else {
            Err(bad("null can only be compared with eq or ne"))
        };
    }
    match def.ty {
        AttrType::Boolean => {
            if ordering || substring {
                return Err(bad("booleans compare with eq or ne only"));
            }
            match value {
                CompValue::True => Ok(Literal::Bool(true)),
                CompValue::False => Ok(Literal::Bool(false)),
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
                _ => Err(bad("expected true or false")),
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if substring {
                return Err(bad("numbers do not support co, sw or ew"));
            }
            let n = match value {
                CompValue::Number(n) => n.as_f64(),
                CompValue::Str(s) => s.parse().ok(),
                _ => None,
            };
            n.map(Literal::Num).ok_or_else(|| bad("expected a number"))
        }
        AttrType::DateTime => {
            if substring {
                return Err(bad("dateTimes do not support co, sw or ew"));
            }
            match value {
                CompValue::Str(s) => Timestamp::parse_rfc3339(s)
                    .map(|t| Literal::DateTime(t.to_canonical()))
                    .ok_or_else(|| bad("expected an RFC 3339 dateTime")),
                _ => Err(bad("expected an RFC 3339 dateTime")),
            }
        }
        AttrType::Complex => Err(bad("compare a sub-attribute")),
        AttrType::Binary if ordering || substring => {
            Err(bad("binary values compare with eq or ne only"))
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            // No stored value holds NUL (bodies refuse it), and PostgreSQL
            // cannot take it as a parameter.
            CompValue::Str(s) if s.contains('\0') => Err(bad("a value may not hold NUL")),
            CompValue::Str(s) => Ok(Literal::Str(s.clone())),
            CompValue::Number(n) => Ok(Literal::Str(n.to_string())),
            CompValue::True => Ok(Literal::Str("true".into())),
            CompValue::False => Ok(Literal::Str("false".into())),
            CompValue::Null => Ok(Literal::Null),
        },
    }
}

/// Entra ID sends unquoted values (`externalId eq jyoung`). Quote a bare
/// word that follows a comparison operator, unless it is a JSON literal
/// (true, false, null, a number).
fn quote_bare_values(raw: &str) -> String {
    const OPS: [&str; 9] = ["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"];
    let mut out = String::with_capacity(raw.len() + 8);
    let mut prev_word = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            // Copy a quoted string verbatim, escapes included.
            out.push(c);
            let mut escaped = false;
            for d in chars.by_ref() {
                out.push(d);
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == '"' {
                    break;
                }
            }
            prev_word.clear();
            continue;
        }
        if c.is_whitespace() || "()[]".contains(c) {
            out.push(c);
            continue;
        }
        let mut word = String::from(c);
        while let Some(&d) = chars.peek() {
            if d.is_whitespace() || "()[]\"".contains(d) {
                break;
            }
            word.push(d);
            chars.next();
        }
        let after_op = OPS.iter().any(|op| prev_word.eq_ignore_ascii_case(op));
        let literal = ["true", "false", "null"]
            .iter()
            .any(|l| word.eq_ignore_ascii_case(l))
            || word.parse::<f64>().is_ok();
        if after_op && !literal {
            out.push('"');
            out.push_str(&word.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
            prev_word.clear();
        } else {
            out.push_str(&word);
            prev_word = word;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;

    fn user(f: &str) -> Result<Expr, ScimError> {
        parse(ResourceType::User, f)
    }

    #[test]
    fn rfc_examples_resolve() {
        for f in [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
            "USERNAME EQ \"x\"",
            r#"emails[type eq "work"].value eq "ada@example.com""#,
        ] {
            user(f).unwrap_or_else(|e| panic!("{f}: {}", e.detail));
        }
    }

    #[test]
    fn bad_filters_are_invalid_filter() {
        for f in [
            "userName eq",
            "nope eq \"x\"",
            "name eq \"x\"",
            "active gt true",
            "meta.created eq \"yesterday\"",
            "password eq \"x\"",
            "emails[nope eq \"x\"]",
            "userName.x eq \"y\"",
            "((((userName eq \"x\"",
        ] {
            let e = user(f).expect_err(f);
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
        }
    }

    #[test]
    fn entra_bare_values_are_quoted() {
        assert_eq!(
            quote_bare_values("externalId eq jyoung"),
            r#"externalId eq "jyoung""#
        );
        assert_eq!(
            quote_bare_values(r#"userName eq "a b""#),
            r#"userName eq "a b""#
        );
        assert_eq!(quote_bare_values("active eq true"), "active eq true");
        assert_eq!(
            quote_bare_values("id eq 5f8a-11 and (x eq y)"),
            r#"id eq "5f8a-11" and (x eq "y")"#
        );
        assert!(
            matches!(user("externalId eq jyoung").unwrap(), Expr::Compare(_, Op::Eq, Literal::Str(s)) if s == "jyoung")
        );
    }

    #[test]
    fn literals_are_typed_for_their_attribute() {
        match user("active eq \"True\"").unwrap() {
            Expr::Compare(_, Op::Eq, Literal::Bool(true)) => {}
            other => panic!("{other:?}"),
        }
        match user("meta.created gt \"2020-01-01T00:00:00+02:00\"").unwrap() {
            Expr::Compare(_, Op::Gt, Literal::DateTime(s)) => {
                assert_eq!(s, "2019-12-31T22:00:00.000000Z")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}userName eq \"x\"{}", "(".repeat(500), ")".repeat(500));
        assert!(user(&deep).is_err());
        let nots = format!(
            "{}userName eq \"x\"{}",
            "not (".repeat(300),
            ")".repeat(300)
        );
        assert!(user(&nots).is_err());
    }
}
