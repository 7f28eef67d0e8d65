//! SCIM PATCH (RFC 7644 §3.5.2): parsing a `PatchOp` request and applying
//! its operations to a normalized resource document (as
//! [`resource::normalize`](super::resource::normalize) returns it), plus
//! the in-memory filter matcher that value paths (`emails[type eq "work"]`)
//! need.
//!
//! This module owns the PATCH semantics and the identity-provider dialects
//! that come with them (Entra ID's capitalised ops, dotted and URN keys in a
//! path-less value, element creation from a value path, bare-id manager,
//! member removal by value; Okta's path-less `replace`). It does not touch
//! the database: the handler loads the document, calls [`apply`], and stores
//! the result with the audit record.
//!
//! Choices where the RFC leaves room, so that callers know what to expect:
//! - Read-only attributes named by an explicit path are refused with
//!   `mutability`; inside a path-less value they are ignored (RFC 7643 §2.2),
//!   because Okta echoes `id` when it renames a group.
//! - Removing a required attribute (`userName`, a Group's `displayName`) is
//!   `mutability`; emptying one with `replace` is `invalidValue`.
//! - A `remove` whose value path matches nothing succeeds without change, so
//!   that an identity provider retrying a member removal is not refused;
//!   `replace` on such a path is `noTarget` (RFC 7644 §3.5.2.3), and `add`
//!   creates the element when the filter describes one.
//! - An error in the filter of a value path is `invalidFilter`, as RFC 7644
//!   Table 9 lists it for PATCH; an unknown attribute or an unparsable path
//!   is `invalidPath`.
//! - Null and empty values mean unassigned: after the operations they are
//!   dropped, and so are objects and lists left empty.
//! - The value counts of [`limits`] hold after every operation, not only at
//!   the end (`invalidValue`), so that a long request cannot build a huge
//!   document on its way; the caller checks the result's size.

use std::borrow::Cow;
use std::cmp::Ordering;

use scim_v2::filter::PatchPath;
use serde_json::{Map, Number, Value};

use super::error::ScimError;
use super::filter::{self, Expr, Literal, Op};
use super::limits::{self, MAX_PATCH_OPERATIONS};
use super::resource::{check_value, extension_named};
use super::schema::{
    self, AttrDef, AttrType, COMMON, Mutability, PATCH_URN, Resolved, ResourceType, SchemaDef,
};
use crate::store::Timestamp;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }

    /// Identity providers differ in case (Entra ID sends "Replace").
    fn parse(s: &str) -> Option<Self> {
        [OpKind::Add, OpKind::Replace, OpKind::Remove]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// One operation of a PatchOp request, as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    /// `None` when absent, null or blank.
    pub path: Option<String>,
    /// `None` when absent; `Some(Value::Null)` when sent as null.
    pub value: Option<Value>,
}

/// Parses a PatchOp request body: `schemas` must include the PatchOp URN,
/// `Operations` (any case) must be a non-empty array of at most
/// [`MAX_PATCH_OPERATIONS`] operations, each with an `op` of add, replace or
/// remove (any case), a string `path` if any, and a `value` unless it is a
/// remove. Errors are `invalidSyntax`.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp request must be a JSON object"))?;
    let is_patch = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_URN))
            })
        });
    if !is_patch {
        return Err(ScimError::invalid_syntax(format!(
            "`schemas` must include {PATCH_URN}"
        )));
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("`Operations` must be an array"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("`Operations` is empty"));
    }
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "at most {MAX_PATCH_OPERATIONS} operations are accepted in one request"
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

fn parse_operation(i: usize, raw: &Value) -> Result<PatchOperation, ScimError> {
    let bad = |why: &str| ScimError::invalid_syntax(format!("Operations[{i}]: {why}"));
    let obj = raw.as_object().ok_or_else(|| bad("must be an object"))?;
    let op = get_ci(obj, "op")
        .and_then(Value::as_str)
        .and_then(OpKind::parse)
        .ok_or_else(|| bad("`op` must be add, replace or remove"))?;
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(bad("`path` must be a string")),
    };
    let value = get_ci(obj, "value").cloned();
    if op != OpKind::Remove && value.is_none() {
        return Err(bad(&format!("`{}` needs a `value`", op.as_str())));
    }
    Ok(PatchOperation { op, path, value })
}

/// A key of a JSON object, preferring the exact spelling.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Applies `ops` in order to `doc`, a normalized document of type `rt`
/// (core attributes at the top level under canonical names, each
/// extension's in an object under its URN, never `id` or `meta`).
///
/// All or nothing: on error `doc` is left unchanged. Returns the canonical
/// paths of the attributes that changed (`name.givenName`, `emails`,
/// `urn:…:enterprise:2.0:User:manager`), in schema order and without
/// values, for the audit log; empty when the request changed nothing.
pub fn apply(
    rt: ResourceType,
    doc: &mut Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<Vec<String>, ScimError> {
    let mut work = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        // Counts are checked after each operation, not only on the result:
        // a thousand operations must not build a huge document first.
        apply_op(rt, &mut work, op)
            .and_then(|()| limits::check_counts(rt, &work))
            .map_err(|e| in_operation(i, op, e))?;
    }
    work.retain(|_, v| prune(v));
    check_primaries(rt, &work)?;
    check_required(rt, &work)?;
    let changed = changed_paths(rt, doc, &work);
    *doc = work;
    Ok(changed)
}

/// Says which operation failed, so that an administrator reading the
/// identity provider's log can find it.
fn in_operation(i: usize, op: &PatchOperation, e: ScimError) -> ScimError {
    let path = op.path.as_deref().unwrap_or("(no path)");
    ScimError::new(
        e.status,
        e.scim_type,
        format!("Operations[{i}] ({} {path}): {}", op.op.as_str(), e.detail),
    )
}

fn apply_op(
    rt: ResourceType,
    doc: &mut Map<String, Value>,
    op: &PatchOperation,
) -> Result<(), ScimError> {
    let value = op.value.as_ref();
    match (&op.path, op.op) {
        (None, OpKind::Remove) => Err(ScimError::no_target("remove needs a `path`")),
        (None, kind) => apply_attributes(rt, doc, kind, value.unwrap_or(&Value::Null)),
        (Some(path), kind) => {
            let target = parse_target(rt, path)?;
            if target.read_only() {
                return Err(ScimError::mutability(format!(
                    "`{}` is read-only",
                    target.label()
                )));
            }
            apply_at(doc, kind, &target, value)
        }
    }
}

/// A path-less add or replace: each key of `value` is read as a path, so
/// that Entra ID's dotted and URN-qualified keys (`name.givenName`,
/// `urn:…:enterprise:2.0:User:department`) work like plain names.
/// Read-only attributes are ignored (RFC 7643 §2.2).
fn apply_attributes(
    rt: ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    value: &Value,
) -> Result<(), ScimError> {
    let obj = value.as_object().ok_or_else(|| {
        ScimError::invalid_value("without a `path`, `value` must be an object of attributes")
    })?;
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let target = parse_target(rt, key)?;
        if !target.read_only() {
            apply_at(doc, kind, &target, Some(v))?;
        }
    }
    Ok(())
}

/// Adds or replaces the attributes in an extension's object, each key
/// being a path inside the extension. Null replaces the whole extension
/// with nothing.
fn apply_extension(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    ext: &'static SchemaDef,
    value: &Value,
) -> Result<(), ScimError> {
    let fields = match value {
        Value::Null => {
            if kind == OpKind::Replace {
                doc.remove(ext.id);
            }
            return Ok(());
        }
        Value::Object(fields) => fields,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "`{}` must be an object",
                ext.id
            )));
        }
    };
    for (key, v) in fields {
        // Some clients repeat the extension's URN inside its object.
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let (name, sub) = match key.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (key.as_str(), None),
        };
        let attr = ext
            .attr(name)
            .ok_or_else(|| unknown(&format!("{}:{key}", ext.id)))?;
        let sub = match sub {
            Some(s) => Some(
                attr.sub(s)
                    .ok_or_else(|| unknown(&format!("{}:{key}", ext.id)))?,
            ),
            None => None,
        };
        let target = Target::Attr {
            at: Resolved {
                extension: Some(ext.id),
                attr,
                sub,
            },
            filter: None,
        };
        if !target.read_only() {
            apply_at(doc, kind, &target, Some(v))?;
        }
    }
    Ok(())
}

fn unknown(path: &str) -> ScimError {
    ScimError::invalid_path(format!("unknown attribute `{path}`"))
}

/// What a path names.
#[derive(Debug)]
pub(super) enum Target {
    /// A whole extension (`urn:…:enterprise:2.0:User`).
    Extension(&'static SchemaDef),
    /// An attribute, or one sub-attribute of it. On a multi-valued
    /// attribute, `filter` (a value path) narrows the elements concerned;
    /// a sub-attribute without a filter concerns every element.
    Attr { at: Resolved, filter: Option<Expr> },
}

impl Target {
    pub(super) fn read_only(&self) -> bool {
        match self {
            Target::Extension(_) => false,
            Target::Attr { at, .. } => {
                at.attr.mutability == Mutability::ReadOnly
                    || at.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
            }
        }
    }

    /// The canonical path, for messages.
    fn label(&self) -> String {
        match self {
            Target::Extension(ext) => ext.id.to_string(),
            Target::Attr { at, .. } => canonical_path(at.extension, at.attr, at.sub),
        }
    }
}

fn canonical_path(ext: Option<&str>, attr: &AttrDef, sub: Option<&AttrDef>) -> String {
    let mut p = String::new();
    if let Some(e) = ext {
        p.push_str(e);
        p.push(':');
    }
    p.push_str(attr.name);
    if let Some(s) = sub {
        p.push('.');
        p.push_str(s.name);
    }
    p
}

/// Resolves a PATCH path (`userName`, `name.givenName`, `urn:…:manager`,
/// `emails[type eq "work"].value`, an extension's URN) against the schema.
pub(super) fn parse_target(rt: ResourceType, raw: &str) -> Result<Target, ScimError> {
    let raw = raw.trim();
    if let Some(ext) = extension_named(rt, raw) {
        return Ok(Target::Extension(ext));
    }
    if raw.eq_ignore_ascii_case("schemas") {
        return Err(ScimError::mutability("`schemas` is read-only"));
    }
    if raw.contains('[') {
        return parse_value_path(rt, raw);
    }
    let (uri, name, sub) = schema::split_path(raw);
    let at = schema::resolve(rt, uri, name, sub).ok_or_else(|| unknown(raw))?;
    Ok(Target::Attr { at, filter: None })
}

fn parse_value_path(rt: ResourceType, raw: &str) -> Result<Target, ScimError> {
    let PatchPath::Value(vp) = filter::parse_patch_path(raw)? else {
        return Err(ScimError::invalid_path(format!("cannot parse `{raw}`")));
    };
    if vp.attr.sub_attr.is_some() {
        return Err(ScimError::invalid_path(format!(
            "`{}[…]`: a value filter applies to a multi-valued attribute",
            vp.attr
        )));
    }
    let outer = schema::resolve(rt, vp.attr.uri.as_deref(), &vp.attr.name, None)
        .ok_or_else(|| unknown(&vp.attr.to_string()))?;
    if !outer.attr.multi_valued || outer.attr.ty != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "`{}` is not a multi-valued complex attribute",
            outer.attr.name
        )));
    }
    let expr = filter::resolve_value_filter(rt, &outer, &vp.filter)?;
    let sub = match &vp.sub_attr {
        Some(s) => Some(
            outer
                .attr
                .sub(s)
                .ok_or_else(|| unknown(&format!("{}.{s}", outer.attr.name)))?,
        ),
        None => None,
    };
    Ok(Target::Attr {
        at: Resolved { sub, ..outer },
        filter: Some(expr),
    })
}

/// Applies one operation at a resolved target.
fn apply_at(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    target: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let (at, filter) = match target {
        Target::Extension(ext) => {
            return match kind {
                OpKind::Remove => {
                    doc.remove(ext.id);
                    Ok(())
                }
                _ => apply_extension(doc, kind, ext, value.unwrap_or(&Value::Null)),
            };
        }
        Target::Attr { at, filter } => (at, filter.as_ref()),
    };
    let holder = object_at(doc, at.extension);
    if !at.attr.multi_valued {
        return apply_single(holder, kind, at, value);
    }
    let list = list_at(holder, at.attr.name);
    if filter.is_none() && at.sub.is_none() {
        return apply_whole_list(list, kind, at.attr, value);
    }
    let hits: Vec<usize> = (0..list.len())
        .filter(|&i| filter.is_none_or(|f| matches(&list[i], f)))
        .collect();
    match kind {
        OpKind::Remove => remove_selected(list, at, &hits),
        OpKind::Replace if hits.is_empty() => Err(ScimError::no_target(format!(
            "no value of `{}` matches the path",
            at.attr.name
        ))),
        OpKind::Replace => replace_selected(list, at, &hits, value),
        OpKind::Add if hits.is_empty() => add_new_element(list, at, filter, value),
        OpKind::Add => add_to_selected(list, at, &hits, value),
    }
}

/// The object holding an attribute: the document, or an extension's
/// object in it (created if missing; an empty one is pruned at the end).
fn object_at<'a>(doc: &'a mut Map<String, Value>, ext: Option<&str>) -> &'a mut Map<String, Value> {
    match ext {
        None => doc,
        Some(urn) => object_in(doc, urn),
    }
}

fn object_in<'a>(holder: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = holder
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("made an object above")
}

fn list_at<'a>(holder: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = holder
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().expect("made an array above")
}

/// A single-valued attribute or one of its sub-attributes. `add` and
/// `replace` both set the value (RFC 7644 §3.5.2.1: add replaces a
/// single value) and merge a complex one sub-attribute by sub-attribute
/// (§3.5.2.3); they differ on null, which `replace` reads as unassign.
fn apply_single(
    holder: &mut Map<String, Value>,
    kind: OpKind,
    at: &Resolved,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = at.attr;
    let value = value.unwrap_or(&Value::Null);
    match (kind, at.sub) {
        (OpKind::Remove, None) => {
            if attr.required {
                return Err(ScimError::mutability(format!(
                    "`{}` is required and cannot be removed",
                    attr.name
                )));
            }
            guard_immutable(attr, holder.get(attr.name), None)?;
            holder.remove(attr.name);
        }
        (OpKind::Remove, Some(sub)) => {
            if let Some(Value::Object(current)) = holder.get_mut(attr.name) {
                set_sub(current, sub, None)?;
            }
        }
        (kind, Some(sub)) => {
            let new = check_value(sub, value)?;
            if new.is_some() || kind == OpKind::Replace {
                set_sub(object_in(holder, attr.name), sub, new)?;
            }
        }
        (kind, None) if value.is_null() => {
            if kind == OpKind::Replace {
                guard_immutable(attr, holder.get(attr.name), None)?;
                holder.remove(attr.name);
            }
        }
        (_, None) if attr.ty == AttrType::Complex => {
            merge_complex(attr, object_in(holder, attr.name), value)?;
        }
        (_, None) => {
            let new = check_value(attr, value)?;
            guard_immutable(attr, holder.get(attr.name), new.as_ref())?;
            match new {
                Some(v) => holder.insert(attr.name.to_string(), v),
                None => holder.remove(attr.name),
            };
        }
    }
    Ok(())
}

/// Merges a client's complex value into `current`, sub-attribute by
/// sub-attribute: a null sub-attribute is unassigned, a read-only one
/// ignored. A bare string stands for the `value` sub-attribute (Entra ID's
/// manager).
fn merge_complex(
    attr: &AttrDef,
    current: &mut Map<String, Value>,
    value: &Value,
) -> Result<(), ScimError> {
    let incoming: Map<String, Value> = match value {
        Value::Object(fields) => fields.clone(),
        Value::String(s) if attr.sub("value").is_some() => {
            Map::from_iter([("value".to_string(), Value::String(s.clone()))])
        }
        other => {
            // `check_value` words the type error; anything it accepts was
            // handled above.
            check_value(attr, other)?;
            return Err(ScimError::invalid_value(format!(
                "`{}` must be a complex value",
                attr.name
            )));
        }
    };
    for (key, v) in value_first(&incoming) {
        let sub = attr.sub(key).ok_or_else(|| {
            ScimError::invalid_value(format!("unknown attribute `{}.{key}`", attr.name))
        })?;
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        set_sub(current, sub, check_value(sub, v)?)?;
    }
    Ok(())
}

/// The entries of a complex value with `value` first: setting it drops the
/// sub-attributes that described the old value (see [`set_sub`]), which
/// the same object may set again.
fn value_first(fields: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
    entries.sort_by_key(|(k, _)| !k.eq_ignore_ascii_case("value"));
    entries
}

/// Sets (or, with `None`, unassigns) one sub-attribute of a complex value.
/// When `value` changes, `$ref` and `display`/`displayName` go with it:
/// they described the old value (a new manager must not keep the old
/// manager's `$ref`).
fn set_sub(
    current: &mut Map<String, Value>,
    sub: &AttrDef,
    new: Option<Value>,
) -> Result<(), ScimError> {
    let old = current.get(sub.name);
    if old == new.as_ref() {
        return Ok(());
    }
    guard_immutable(sub, old, new.as_ref())?;
    if sub.name == "value" {
        for derived in ["$ref", "display", "displayName"] {
            current.remove(derived);
        }
    }
    match new {
        Some(v) => current.insert(sub.name.to_string(), v),
        None => current.remove(sub.name),
    };
    Ok(())
}

/// RFC 7643 §2.2: an immutable attribute may be set when it has no value,
/// never changed afterwards.
fn guard_immutable(
    def: &AttrDef,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<(), ScimError> {
    if def.mutability == Mutability::Immutable && old.is_some_and(is_present) && old != new {
        return Err(ScimError::mutability(format!(
            "`{}` is immutable",
            def.name
        )));
    }
    Ok(())
}

/// A multi-valued attribute named without a filter or sub-attribute:
/// add appends, replace replaces the list, remove removes the list or,
/// given a value, only the listed elements (Entra ID's member removal).
fn apply_whole_list(
    list: &mut Vec<Value>,
    kind: OpKind,
    attr: &AttrDef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    match kind {
        OpKind::Remove if value.is_null() => list.clear(),
        OpKind::Remove => {
            let listed = elements(check_value(attr, value)?);
            list.retain(|e| !listed.iter().any(|l| contains(attr, e, l)));
        }
        OpKind::Replace => *list = elements(check_value(attr, value)?),
        OpKind::Add => append(list, attr, elements(check_value(attr, value)?))?,
    }
    Ok(())
}

fn elements(checked: Option<Value>) -> Vec<Value> {
    match checked {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// Appends elements, skipping those already there. Where `value` is
/// immutable (Group members), it identifies the element: adding a member
/// that is already there merges into it instead of duplicating it.
fn append(list: &mut Vec<Value>, attr: &AttrDef, items: Vec<Value>) -> Result<(), ScimError> {
    let keyed = attr
        .default_sub()
        .is_some_and(|v| v.mutability == Mutability::Immutable);
    let mut touched = Vec::new();
    for item in items {
        if list.iter().any(|e| same_element(attr, e, &item)) {
            continue;
        }
        let existing = if keyed {
            list.iter()
                .position(|e| item.get("value").is_some() && contains_sub(attr, e, &item, "value"))
        } else {
            None
        };
        match existing {
            Some(i) => {
                merge_element(attr, &mut list[i], &item)?;
                touched.push(i);
            }
            None => {
                list.push(item);
                touched.push(list.len() - 1);
            }
        }
    }
    settle_primary(list, attr, &touched)
}

/// Merges a checked element into an existing one, sub-attribute by
/// sub-attribute.
fn merge_element(attr: &AttrDef, current: &mut Value, item: &Value) -> Result<(), ScimError> {
    let (Value::Object(current), Value::Object(fields)) = (current, item) else {
        return Ok(());
    };
    for (key, v) in value_first(fields) {
        if let Some(sub) = attr.sub(key) {
            set_sub(current, sub, Some(v.clone()))?;
        }
    }
    Ok(())
}

/// `remove` on a value path, or on a sub-attribute of every element.
/// Matching nothing is not an error: the state asked for already holds.
fn remove_selected(list: &mut Vec<Value>, at: &Resolved, hits: &[usize]) -> Result<(), ScimError> {
    match at.sub {
        None => {
            // `hits` is ascending: removing from the end keeps the rest valid.
            for &i in hits.iter().rev() {
                list.remove(i);
            }
        }
        Some(sub) => {
            for &i in hits {
                if let Value::Object(current) = &mut list[i] {
                    set_sub(current, sub, None)?;
                }
            }
        }
    }
    Ok(())
}

/// `replace` on a value path: the matching elements are replaced
/// (RFC 7644 §3.5.2.3), or their sub-attribute set.
fn replace_selected(
    list: &mut [Value],
    at: &Resolved,
    hits: &[usize],
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    match at.sub {
        None => {
            let new = check_element(at.attr, value)?;
            for &i in hits {
                guard_element(at.attr, &list[i], new.as_ref())?;
                list[i] = new.clone().unwrap_or(Value::Null);
            }
        }
        Some(sub) => {
            let new = check_value(sub, value)?;
            for &i in hits {
                if let Value::Object(current) = &mut list[i] {
                    set_sub(current, sub, new.clone())?;
                }
            }
        }
    }
    settle_primary(list, at.attr, hits)
}

/// `add` on a value path that matches: the value is merged into the
/// matching elements, or their sub-attribute set.
fn add_to_selected(
    list: &mut [Value],
    at: &Resolved,
    hits: &[usize],
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    match at.sub {
        None => {
            let Some(new) = check_element(at.attr, value)? else {
                return Ok(());
            };
            for &i in hits {
                merge_element(at.attr, &mut list[i], &new)?;
            }
        }
        Some(sub) => {
            let Some(new) = check_value(sub, value)? else {
                return Ok(());
            };
            for &i in hits {
                if let Value::Object(current) = &mut list[i] {
                    set_sub(current, sub, Some(new.clone()))?;
                }
            }
        }
    }
    settle_primary(list, at.attr, hits)
}

/// `add` on a value path that matches nothing (Entra ID's
/// `emails[type eq "work"].value` for a user without a work email): the
/// filter's equality terms describe the new element, and the value
/// completes it. Any other filter cannot describe one: `noTarget`.
fn add_new_element(
    list: &mut Vec<Value>,
    at: &Resolved,
    filter: Option<&Expr>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    if value.is_null() {
        return Ok(());
    }
    let no_target = || {
        ScimError::no_target(format!(
            "no value of `{}` matches the path, and only a filter of `eq` comparisons joined by `and` can describe a new one",
            at.attr.name
        ))
    };
    let terms = filter.and_then(eq_terms).ok_or_else(no_target)?;
    let mut element = Map::new();
    for (sub, literal) in terms {
        if let Some(v) = literal_json(sub, literal) {
            element.insert(sub.name.to_string(), v);
        }
    }
    match at.sub {
        Some(sub) => {
            element.insert(sub.name.to_string(), value.clone());
        }
        None => {
            if let Some(Value::Object(fields)) = check_element(at.attr, value)? {
                element.extend(fields);
            }
        }
    }
    let Some(element) = check_element(at.attr, &Value::Object(element))? else {
        return Ok(());
    };
    append(list, at.attr, vec![element])
}

/// The `attr eq literal` terms of a filter made only of such terms joined
/// by `and`.
fn eq_terms(expr: &Expr) -> Option<Vec<(&'static AttrDef, &Literal)>> {
    match expr {
        Expr::Compare(r, Op::Eq, literal) => Some(vec![(r.sub?, literal)]),
        Expr::And(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(eq_terms(item)?);
            }
            Some(out)
        }
        _ => None,
    }
}

fn literal_json(def: &AttrDef, literal: &Literal) -> Option<Value> {
    match literal {
        Literal::Str(s) | Literal::DateTime(s) => Some(Value::String(s.clone())),
        Literal::Bool(b) => Some(Value::Bool(*b)),
        Literal::Num(n) if def.ty == AttrType::Integer && n.fract() == 0.0 => {
            Some(Value::Number(Number::from(*n as i64)))
        }
        Literal::Num(n) => Number::from_f64(*n).map(Value::Number),
        Literal::Null => None,
    }
}

/// Checks one element of a multi-valued attribute (a one-element list is
/// accepted too). `None`: nothing left once read-only parts are dropped.
fn check_element(attr: &AttrDef, value: &Value) -> Result<Option<Value>, ScimError> {
    let single = match value {
        Value::Array(items) if items.len() == 1 => &items[0],
        Value::Array(_) => {
            return Err(ScimError::invalid_value(format!(
                "a value path of `{}` takes one value",
                attr.name
            )));
        }
        other => other,
    };
    Ok(elements(check_value(attr, single)?).pop())
}

/// Replacing an element must keep its immutable sub-attributes.
fn guard_element(attr: &AttrDef, old: &Value, new: Option<&Value>) -> Result<(), ScimError> {
    for sub in &attr.sub_attributes {
        guard_immutable(sub, old.get(sub.name), new.and_then(|n| n.get(sub.name)))?;
    }
    Ok(())
}

/// RFC 7643 §2.4: at most one element is primary. When the elements at
/// `touched` were just written, one of them being primary takes the flag
/// from the others (the server may do this); two of them is an error.
fn settle_primary(list: &mut [Value], attr: &AttrDef, touched: &[usize]) -> Result<(), ScimError> {
    let mut winners = touched.iter().copied().filter(|&i| is_primary(&list[i]));
    let Some(winner) = winners.next() else {
        return Ok(());
    };
    if winners.any(|i| i != winner) {
        return Err(too_many_primaries(attr));
    }
    for (i, e) in list.iter_mut().enumerate() {
        if i != winner
            && is_primary(e)
            && let Value::Object(fields) = e
        {
            fields.remove("primary");
        }
    }
    Ok(())
}

fn is_primary(element: &Value) -> bool {
    element.get("primary").and_then(Value::as_bool) == Some(true)
}

fn too_many_primaries(attr: &AttrDef) -> ScimError {
    ScimError::invalid_value(format!("at most one `{}` value may be primary", attr.name))
}

/// Two elements hold the same sub-attributes with equal values.
fn same_element(attr: &AttrDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && contains(attr, a, b),
        _ => a == b,
    }
}

/// Every sub-attribute of `listed` is in `element` with an equal value: how
/// a `remove` with a value (`[{"value": "id"}]`) picks elements.
fn contains(attr: &AttrDef, element: &Value, listed: &Value) -> bool {
    match listed {
        // `value` first: it tells most elements apart, and this runs for
        // every pair of elements.
        Value::Object(fields) => {
            (!fields.contains_key("value") || contains_sub(attr, element, listed, "value"))
                && fields
                    .keys()
                    .filter(|k| *k != "value")
                    .all(|k| contains_sub(attr, element, listed, k))
        }
        other => element == other,
    }
}

fn contains_sub(attr: &AttrDef, element: &Value, listed: &Value, key: &str) -> bool {
    let case_exact = attr.sub(key).is_none_or(|s| s.case_exact);
    match (element.get(key), listed.get(key)) {
        (Some(Value::String(a)), Some(Value::String(b))) if !case_exact => same_folded(a, b),
        (a, b) => a == b,
    }
}

/// Equal without regard to case, without allocating.
fn same_folded(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Drops what is unassigned: nulls, empty strings, and objects and lists
/// left empty. Returns whether `value` is kept.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => {
            items.retain_mut(prune);
            !items.is_empty()
        }
        Value::Object(fields) => {
            fields.retain(|_, v| prune(v));
            !fields.is_empty()
        }
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Every attribute definition of a resource type with where it lives.
fn all_attributes(rt: ResourceType) -> Vec<(Option<&'static str>, &'static AttrDef)> {
    let common: &'static Vec<AttrDef> = &COMMON;
    let mut out: Vec<(Option<&'static str>, &'static AttrDef)> = rt
        .schema()
        .attributes
        .iter()
        .chain(common.iter())
        .map(|a| (None, a))
        .collect();
    for ext in rt.extensions() {
        out.extend(ext.attributes.iter().map(|a| (Some(ext.id), a)));
    }
    out
}

fn lookup<'a>(doc: &'a Map<String, Value>, ext: Option<&str>, name: &str) -> Option<&'a Value> {
    match ext {
        None => doc.get(name),
        Some(urn) => doc.get(urn)?.get(name),
    }
}

/// A safety net behind [`settle_primary`]: the result never has two
/// primary values.
fn check_primaries(rt: ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for (ext, def) in all_attributes(rt) {
        if let Some(Value::Array(items)) = lookup(doc, ext, def.name)
            && items.iter().filter(|e| is_primary(e)).count() > 1
        {
            return Err(too_many_primaries(def));
        }
    }
    Ok(())
}

/// A `replace` with null or "" must not leave a required attribute
/// unassigned.
fn check_required(rt: ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for def in rt.schema().attributes.iter().filter(|a| a.required) {
        let present = doc
            .get(def.name)
            .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()));
        if !present {
            return Err(ScimError::invalid_value(format!(
                "`{}` is required",
                def.name
            )));
        }
    }
    Ok(())
}

/// The canonical paths of the attributes that differ, in schema order.
/// A complex attribute like `name` reports its sub-attributes; one that
/// stands for a value (`manager`, with `value`) reports itself.
fn changed_paths(
    rt: ResourceType,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (ext, def) in all_attributes(rt) {
        let (b, a) = (lookup(before, ext, def.name), lookup(after, ext, def.name));
        if b == a {
            continue;
        }
        let by_sub = def.ty == AttrType::Complex && !def.multi_valued && def.sub("value").is_none();
        match (b, a) {
            (Some(Value::Object(b)), Some(Value::Object(a))) if by_sub => {
                for sub in &def.sub_attributes {
                    if b.get(sub.name) != a.get(sub.name) {
                        out.push(canonical_path(ext, def, Some(sub)));
                    }
                }
            }
            _ => out.push(canonical_path(ext, def, None)),
        }
    }
    out
}

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

fn is_present(v: &Value) -> bool {
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
    use crate::scim::error::ScimType;
    use crate::scim::resource::{Shape, normalize};
    use crate::scim::schema::{ENTERPRISE_URN as ENT, Returned, Uniqueness};
    use serde_json::json;

    const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

    fn user() -> Map<String, Value> {
        normalize(
            ResourceType::User,
            &json!({
                "userName": "bjensen",
                "externalId": "bjensen-ext",
                "name": { "givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III" },
                "displayName": "Babs Jensen",
                "nickName": "Babs",
                "title": "Tour Guide",
                "active": true,
                "emails": [
                    { "value": "bjensen@example.com", "type": "work", "primary": true },
                    { "value": "babs@jensen.org", "type": "home" }
                ],
                "phoneNumbers": [{ "value": "555-555-8377", "type": "work" }],
                "addresses": [{ "type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood" }],
                ENT: {
                    "employeeNumber": "701984",
                    "department": "Tour Operations",
                    "manager": { "value": "26118915", "$ref": "../Users/26118915" }
                }
            }),
            Shape::Fragment,
        )
        .unwrap()
    }

    fn group() -> Map<String, Value> {
        normalize(
            ResourceType::Group,
            &json!({
                "displayName": "Tour Guides",
                "members": [
                    { "value": "2819c223", "type": "User" },
                    { "value": "902c246b", "type": "User" }
                ]
            }),
            Shape::Fragment,
        )
        .unwrap()
    }

    /// Runs a PatchOp request; on error, checks the document was left
    /// unchanged (atomicity holds for every failing case below).
    fn patch(
        rt: ResourceType,
        doc: &Map<String, Value>,
        ops: &Value,
    ) -> Result<(Value, Vec<String>), ScimError> {
        let body = json!({ "schemas": [PATCH_URN], "Operations": ops });
        let ops = parse_request(&body)?;
        let mut work = doc.clone();
        match apply(rt, &mut work, &ops) {
            Ok(changed) => Ok((Value::Object(work), changed)),
            Err(e) => {
                assert_eq!(&work, doc, "the document changed despite the error");
                Err(e)
            }
        }
    }

    /// `/ent/...` is a pointer into the enterprise extension.
    fn at<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
        match pointer.strip_prefix("/ent") {
            Some(rest) => doc.get(ENT)?.pointer(rest),
            None => doc.pointer(pointer),
        }
    }

    struct Case {
        name: &'static str,
        ops: Value,
        /// Pointers and the value expected there; null means absent.
        expect: Vec<(&'static str, Value)>,
        /// The reported paths, when the case checks them.
        changed: Option<Vec<&'static str>>,
    }

    fn case(name: &'static str, ops: Value, expect: Vec<(&'static str, Value)>) -> Case {
        Case {
            name,
            ops,
            expect,
            changed: None,
        }
    }

    fn run_cases(rt: ResourceType, base: &Map<String, Value>, cases: Vec<Case>) {
        for c in cases {
            let (doc, changed) = patch(rt, base, &c.ops)
                .unwrap_or_else(|e| panic!("{}: {:?} {}", c.name, e.scim_type, e.detail));
            for (pointer, want) in &c.expect {
                let got = at(&doc, pointer).cloned().unwrap_or(Value::Null);
                assert_eq!(&got, want, "{}: {pointer} in {doc:#}", c.name);
            }
            if let Some(want) = c.changed {
                assert_eq!(changed, want, "{}: changed paths", c.name);
            }
        }
    }

    #[test]
    fn user_operations() {
        let cases = vec![
            Case {
                name: "RFC 7644 §3.5.2.1 add without a path",
                ops: json!([{ "op": "add", "value": {
                    "emails": [{ "value": "babs@example.org", "type": "other" }],
                    "nickname": "Barbie"
                }}]),
                expect: vec![
                    ("/emails/2/value", json!("babs@example.org")),
                    ("/emails/0/primary", json!(true)),
                    ("/nickName", json!("Barbie")),
                ],
                changed: Some(vec!["nickName", "emails"]),
            },
            Case {
                name: "adding an email already there changes nothing",
                ops: json!([{ "op": "add", "path": "emails", "value": [
                    { "value": "BJENSEN@example.com", "type": "work", "primary": true }
                ]}]),
                expect: vec![("/emails/2", Value::Null)],
                changed: Some(vec![]),
            },
            case(
                "RFC 7644 §3.5.2.3 replace without a path replaces lists wholesale",
                json!([{ "op": "replace", "value": {
                    "emails": [{ "value": "bjensen@example.com", "type": "work" }],
                    "nickName": "Babs2"
                }}]),
                vec![
                    (
                        "/emails/0",
                        json!({ "value": "bjensen@example.com", "type": "work" }),
                    ),
                    ("/emails/1", Value::Null),
                    ("/nickName", json!("Babs2")),
                    ("/name/givenName", json!("Barbara")),
                ],
            ),
            Case {
                name: "Okta deactivation",
                ops: json!([{ "op": "replace", "value": { "active": false } }]),
                expect: vec![("/active", json!(false))],
                changed: Some(vec!["active"]),
            },
            case(
                "Entra string boolean and capitalised op",
                json!([{ "op": "Replace", "path": "active", "value": "False" }]),
                vec![("/active", json!(false))],
            ),
            Case {
                name: "Entra dotted keys without a path",
                ops: json!([{ "op": "Replace", "value": { "name.givenName": "Barb", "name.familyName": "J" } }]),
                expect: vec![
                    ("/name/givenName", json!("Barb")),
                    ("/name/familyName", json!("J")),
                    ("/name/formatted", json!("Ms. Barbara J Jensen III")),
                ],
                changed: Some(vec!["name.familyName", "name.givenName"]),
            },
            Case {
                name: "Entra URN-qualified keys without a path",
                ops: json!([{ "op": "Add", "value": {
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
                    "urn:ietf:params:scim:schemas:core:2.0:User:title": "Boss",
                    "externalId": "new-ext"
                }}]),
                expect: vec![
                    ("/ent/department", json!("R&D")),
                    ("/ent/employeeNumber", json!("701984")),
                    ("/title", json!("Boss")),
                    ("/externalId", json!("new-ext")),
                ],
                changed: Some(vec![
                    "title",
                    "externalId",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                ]),
            },
            case(
                "core URN path",
                json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "value": "B" }]),
                vec![("/name/givenName", json!("B"))],
            ),
            case(
                "paths are case-insensitive",
                json!([
                    { "op": "replace", "path": "NAME.GIVENNAME", "value": "B" },
                    { "op": "replace", "path": "Urn:Ietf:Params:Scim:Schemas:Extension:Enterprise:2.0:user:DEPARTMENT", "value": "X" },
                    { "op": "replace", "path": "EMAILS[TYPE EQ \"WORK\"].VALUE", "value": "w@x" }
                ]),
                vec![
                    ("/name/givenName", json!("B")),
                    ("/ent/department", json!("X")),
                    ("/emails/0/value", json!("w@x")),
                ],
            ),
            Case {
                name: "Entra manager as a bare id drops the old $ref",
                ops: json!([{ "op": "Replace", "path": MANAGER, "value": "boss-2" }]),
                expect: vec![("/ent/manager", json!({ "value": "boss-2" }))],
                changed: Some(vec![MANAGER]),
            },
            case(
                "manager as {value}",
                json!([{ "op": "Add", "path": MANAGER, "value": { "value": "boss-3" } }]),
                vec![("/ent/manager", json!({ "value": "boss-3" }))],
            ),
            case(
                "manager with the same value keeps its $ref",
                json!([{ "op": "Add", "path": MANAGER, "value": { "value": "26118915" } }]),
                vec![("/ent/manager/$ref", json!("../Users/26118915"))],
            ),
            case(
                "manager and $ref set together",
                json!([{ "op": "replace", "path": MANAGER, "value": { "$ref": "../Users/b4", "value": "b4" } }]),
                vec![(
                    "/ent/manager",
                    json!({ "value": "b4", "$ref": "../Users/b4" }),
                )],
            ),
            Case {
                name: "Entra manager removal by an empty string",
                ops: json!([{ "op": "Replace", "path": MANAGER, "value": "" }]),
                expect: vec![
                    ("/ent/manager", Value::Null),
                    ("/ent/department", json!("Tour Operations")),
                ],
                changed: Some(vec![MANAGER]),
            },
            case(
                "Entra manager removal by an empty value",
                json!([{ "op": "Replace", "path": MANAGER, "value": { "value": "" } }]),
                vec![("/ent/manager", Value::Null)],
            ),
            case(
                "manager removal by remove",
                json!([{ "op": "Remove", "path": MANAGER }]),
                vec![("/ent/manager", Value::Null)],
            ),
            case(
                "manager.value removal takes the manager",
                json!([{ "op": "remove", "path": format!("{MANAGER}.value") }]),
                vec![("/ent/manager", Value::Null)],
            ),
            case(
                "extension object without a path; read-only manager.displayName ignored",
                json!([{ "op": "add", "value": { ENT: {
                    "costCenter": "4130",
                    "manager": { "value": "m", "displayName": "Boss" }
                }}}]),
                vec![
                    ("/ent/costCenter", json!("4130")),
                    ("/ent/manager", json!({ "value": "m" })),
                    ("/ent/department", json!("Tour Operations")),
                ],
            ),
            case(
                "extension URN as the path",
                json!([{ "op": "replace", "path": ENT, "value": { "division": "Theme Park" } }]),
                vec![
                    ("/ent/division", json!("Theme Park")),
                    ("/ent/department", json!("Tour Operations")),
                ],
            ),
            case(
                "removing the extension",
                json!([{ "op": "remove", "path": ENT }]),
                vec![("/ent", Value::Null)],
            ),
            case(
                "replacing the extension with null",
                json!([{ "op": "replace", "value": { ENT: null } }]),
                vec![("/ent", Value::Null)],
            ),
            case(
                "Entra add on a value path that matches sets the sub-attribute",
                json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com" }]),
                vec![
                    (
                        "/emails/0",
                        json!({ "value": "new@example.com", "type": "work", "primary": true }),
                    ),
                    ("/emails/2", Value::Null),
                ],
            ),
            case(
                "Entra add on a value path that matches nothing creates the element",
                json!([{ "op": "Add", "path": "emails[type eq \"other\"].value", "value": "o@example.com" }]),
                vec![(
                    "/emails/2",
                    json!({ "type": "other", "value": "o@example.com" }),
                )],
            ),
            case(
                "Entra add creates an address from the filter",
                json!([{ "op": "Add", "path": "addresses[type eq \"home\"].locality", "value": "Paris" }]),
                vec![(
                    "/addresses/1",
                    json!({ "type": "home", "locality": "Paris" }),
                )],
            ),
            case(
                "a created primary element takes the flag",
                json!([{ "op": "add", "path": "emails[type eq \"other\" and primary eq true].value", "value": "p@x" }]),
                vec![
                    (
                        "/emails/2",
                        json!({ "type": "other", "primary": true, "value": "p@x" }),
                    ),
                    ("/emails/0/primary", Value::Null),
                ],
            ),
            case(
                "add on a value path without sub-attribute merges into the match",
                json!([{ "op": "add", "path": "phoneNumbers[type eq \"work\"]", "value": { "display": "desk" } }]),
                vec![(
                    "/phoneNumbers/0",
                    json!({ "value": "555-555-8377", "type": "work", "display": "desk" }),
                )],
            ),
            case(
                "add on a value path without sub-attribute creates when nothing matches",
                json!([{ "op": "add", "path": "phoneNumbers[type eq \"mobile\"]", "value": { "value": "555-1" } }]),
                vec![(
                    "/phoneNumbers/1",
                    json!({ "value": "555-1", "type": "mobile" }),
                )],
            ),
            case(
                "Entra unquoted filter value",
                json!([{ "op": "Replace", "path": "emails[type eq work].value", "value": "w@x" }]),
                vec![("/emails/0/value", json!("w@x"))],
            ),
            case(
                "replace on a value path sets the sub-attribute",
                json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x" }]),
                vec![(
                    "/emails/0",
                    json!({ "value": "w@x", "type": "work", "primary": true }),
                )],
            ),
            case(
                "RFC 7644 §3.5.2.3 replace of a matching element",
                json!([{ "op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                    "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "region": "CA",
                    "postalCode": "91608", "country": "US", "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": true
                }}]),
                vec![
                    (
                        "/addresses/0/streetAddress",
                        json!("911 Universal City Plaza"),
                    ),
                    ("/addresses/0/postalCode", json!("91608")),
                    ("/addresses/1", Value::Null),
                ],
            ),
            case(
                "RFC 7644 §3.5.2.3 replace of a sub-attribute of a matching element",
                json!([{ "op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave" }]),
                vec![
                    ("/addresses/0/streetAddress", json!("1010 Broadway Ave")),
                    ("/addresses/0/locality", json!("Hollywood")),
                ],
            ),
            Case {
                name: "RFC 7644 §3.5.2.2 remove matching elements",
                ops: json!([{ "op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]" }]),
                expect: vec![
                    ("/emails/0/value", json!("babs@jensen.org")),
                    ("/emails/1", Value::Null),
                ],
                changed: Some(vec!["emails"]),
            },
            Case {
                name: "remove on a value path that matches nothing changes nothing",
                ops: json!([{ "op": "remove", "path": "emails[type eq \"other\"]" }]),
                expect: vec![("/emails/1/value", json!("babs@jensen.org"))],
                changed: Some(vec![]),
            },
            case(
                "remove a whole multi-valued attribute",
                json!([{ "op": "remove", "path": "emails" }]),
                vec![("/emails", Value::Null)],
            ),
            Case {
                name: "remove a sub-attribute",
                ops: json!([{ "op": "remove", "path": "name.givenName" }]),
                expect: vec![
                    ("/name/givenName", Value::Null),
                    ("/name/familyName", json!("Jensen")),
                ],
                changed: Some(vec!["name.givenName"]),
            },
            case(
                "remove a sub-attribute of every element",
                json!([{ "op": "remove", "path": "emails.type" }]),
                vec![
                    (
                        "/emails/0",
                        json!({ "value": "bjensen@example.com", "primary": true }),
                    ),
                    ("/emails/1", json!({ "value": "babs@jensen.org" })),
                ],
            ),
            case(
                "remove a sub-attribute of matching elements",
                json!([{ "op": "remove", "path": "emails[type eq \"work\"].primary" }]),
                vec![(
                    "/emails/0",
                    json!({ "value": "bjensen@example.com", "type": "work" }),
                )],
            ),
            case(
                "a new primary through a value path clears the old one",
                json!([{ "op": "replace", "path": "emails[type eq \"home\"].primary", "value": true }]),
                vec![
                    ("/emails/1/primary", json!(true)),
                    ("/emails/0/primary", Value::Null),
                ],
            ),
            case(
                "a new primary through add clears the old one",
                json!([{ "op": "add", "path": "emails", "value": { "value": "n@x", "primary": "True" } }]),
                vec![
                    ("/emails/2/primary", json!(true)),
                    ("/emails/0/primary", Value::Null),
                ],
            ),
            case(
                "Entra bare string for a multi-valued complex attribute",
                json!([{ "op": "add", "path": "emails", "value": "x@y" }]),
                vec![("/emails/2", json!({ "value": "x@y" }))],
            ),
            case(
                "replace with null or empty unassigns",
                json!([
                    { "op": "replace", "path": "nickName", "value": null },
                    { "op": "replace", "value": { "title": "", "name": { "formatted": null } } }
                ]),
                vec![
                    ("/nickName", Value::Null),
                    ("/title", Value::Null),
                    ("/name/formatted", Value::Null),
                    ("/name/givenName", json!("Barbara")),
                ],
            ),
            case(
                "add with null changes nothing",
                json!([{ "op": "add", "path": "nickName", "value": null }]),
                vec![("/nickName", json!("Babs"))],
            ),
            Case {
                name: "read-only attributes in a path-less value are ignored",
                ops: json!([{ "op": "replace", "value": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "id": "other", "meta": { "version": "W/\"x\"" }, "groups": [{ "value": "g" }],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName": "ignored",
                    "displayName": "D"
                }}]),
                expect: vec![
                    ("/displayName", json!("D")),
                    ("/id", Value::Null),
                    ("/groups", Value::Null),
                ],
                changed: Some(vec!["displayName"]),
            },
            case(
                "replace of a complex attribute merges sub-attributes",
                json!([{ "op": "replace", "path": "name", "value": { "givenName": "B" } }]),
                vec![
                    ("/name/givenName", json!("B")),
                    ("/name/familyName", json!("Jensen")),
                ],
            ),
            case(
                "add creates a missing complex attribute",
                json!([
                    { "op": "remove", "path": "name" },
                    { "op": "add", "path": "name.middleName", "value": "Jane" }
                ]),
                vec![("/name", json!({ "middleName": "Jane" }))],
            ),
            Case {
                name: "operations apply in order",
                ops: json!([
                    { "op": "add", "path": "emails", "value": [{ "value": "tmp@x", "type": "other" }] },
                    { "op": "replace", "path": "emails[value eq \"tmp@x\"].type", "value": "home" },
                    { "op": "remove", "path": "emails[value eq \"tmp@x\"]" }
                ]),
                expect: vec![("/emails/2", Value::Null)],
                changed: Some(vec![]),
            },
            Case {
                name: "a password change is reported by name only",
                ops: json!([{ "op": "replace", "path": "password", "value": "t1meMa$heen" }]),
                expect: vec![("/password", json!("t1meMa$heen"))],
                changed: Some(vec!["password"]),
            },
            Case {
                name: "manager reported as a whole, name by sub-attribute",
                ops: json!([{ "op": "replace", "value": {
                    "name": { "givenName": "X" },
                    ENT: { "manager": "boss-9" }
                }}]),
                expect: vec![],
                changed: Some(vec!["name.givenName", MANAGER]),
            },
        ];
        run_cases(ResourceType::User, &user(), cases);
    }

    #[test]
    fn group_operations() {
        let cases = vec![
            Case {
                name: "Okta rename echoes the id",
                ops: json!([{ "op": "replace", "value": { "id": "abf4dd94", "displayName": "Tour Leads" } }]),
                expect: vec![("/displayName", json!("Tour Leads")), ("/id", Value::Null)],
                changed: Some(vec!["displayName"]),
            },
            Case {
                name: "RFC 7644 §3.5.2.1 add members, display kept as given",
                ops: json!([{ "op": "add", "path": "members", "value": [{
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/aaaa",
                    "value": "aaaa"
                }]}]),
                expect: vec![(
                    "/members/2",
                    json!({ "value": "aaaa", "$ref": "https://example.com/v2/Users/aaaa", "display": "Babs Jensen" }),
                )],
                changed: Some(vec!["members"]),
            },
            case(
                "Okta add members",
                json!([{ "op": "add", "path": "members", "value": [{ "value": "bbbb", "display": "x" }] }]),
                vec![("/members/2", json!({ "value": "bbbb", "display": "x" }))],
            ),
            case(
                "Entra capitalised add of members",
                json!([{ "op": "Add", "path": "members", "value": [{ "value": "cccc" }, { "value": "dddd" }] }]),
                vec![
                    ("/members/2/value", json!("cccc")),
                    ("/members/3/value", json!("dddd")),
                ],
            ),
            Case {
                name: "adding a member already there changes nothing",
                ops: json!([{ "op": "add", "path": "members", "value": [
                    { "value": "2819c223" },
                    { "value": "902c246b", "type": "User" }
                ]}]),
                expect: vec![("/members/2", Value::Null)],
                changed: Some(vec![]),
            },
            case(
                "RFC 7644 §3.5.2.2 / Okta remove one member by value path",
                json!([{ "op": "remove", "path": "members[value eq \"2819c223\"]" }]),
                vec![
                    ("/members/0/value", json!("902c246b")),
                    ("/members/1", Value::Null),
                ],
            ),
            case(
                "Entra remove of listed members",
                json!([{ "op": "Remove", "path": "members", "value": [{ "value": "2819c223" }, { "value": "902c246b" }] }]),
                vec![
                    ("/members", Value::Null),
                    ("/displayName", json!("Tour Guides")),
                ],
            ),
            case(
                "Entra remove of listed members ignores those not there",
                json!([{ "op": "Remove", "path": "members", "value": [{ "value": "nope" }, { "value": "902c246b" }] }]),
                vec![
                    ("/members/0/value", json!("2819c223")),
                    ("/members/1", Value::Null),
                ],
            ),
            case(
                "RFC 7644 §3.5.2.2 remove all members",
                json!([{ "op": "remove", "path": "members" }]),
                vec![("/members", Value::Null)],
            ),
            case(
                "RFC 7644 §3.5.2.2 remove all members then add one",
                json!([
                    { "op": "remove", "path": "members" },
                    { "op": "add", "path": "members", "value": [{ "value": "eeee", "$ref": "https://example.com/v2/Users/eeee" }] }
                ]),
                vec![
                    ("/members/0/value", json!("eeee")),
                    ("/members/1", Value::Null),
                ],
            ),
            case(
                "RFC 7644 §3.5.2.3 replace all members",
                json!([{ "op": "replace", "path": "members", "value": [{ "value": "ffff" }] }]),
                vec![("/members", json!([{ "value": "ffff" }]))],
            ),
            case(
                "members can be added to a group without any",
                json!([
                    { "op": "remove", "path": "members" },
                    { "op": "add", "value": { "members": [{ "value": "gggg" }] } }
                ]),
                vec![("/members", json!([{ "value": "gggg" }]))],
            ),
        ];
        run_cases(ResourceType::Group, &group(), cases);
    }

    #[test]
    fn refusals_carry_the_right_scim_type_and_change_nothing() {
        use ScimType::*;
        let user_cases: Vec<(Value, ScimType)> = vec![
            (json!([{ "op": "remove" }]), NoTarget),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"other\"].value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"other\"]", "value": { "value": "x" } }]),
                NoTarget,
            ),
            (
                json!([{ "op": "add", "path": "emails[type eq \"a\" or type eq \"b\"].value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "add", "path": "emails[value co \"zzz\"].value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "add", "path": "ims.value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "replace", "path": "shoeSize", "value": 44 }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "name.nope", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "name.givenName.x", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "urn:bogus:schema:foo", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "employeeNumber", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"].nope", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "userName[type eq \"work\"]", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "name.givenName[type eq \"work\"]", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "value": { "shoeSize": 44 } }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "value": { ENT: { "shoeSize": 44 } } }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "remove", "path": "emails[nope eq \"x\"]" }]),
                InvalidFilter,
            ),
            (
                json!([{ "op": "remove", "path": "emails[primary gt true]" }]),
                InvalidFilter,
            ),
            (
                json!([{ "op": "replace", "path": "id", "value": "x" }]),
                Mutability,
            ),
            (json!([{ "op": "remove", "path": "meta" }]), Mutability),
            (
                json!([{ "op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z" }]),
                Mutability,
            ),
            (
                json!([{ "op": "add", "path": "groups", "value": [{ "value": "g" }] }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": "schemas", "value": [] }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": format!("{MANAGER}.displayName"), "value": "x" }]),
                Mutability,
            ),
            (json!([{ "op": "remove", "path": "userName" }]), Mutability),
            (
                json!([{ "op": "replace", "path": "userName", "value": "" }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "value": { "userName": null } }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "userName", "value": 5 }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "userName", "value": ["a", "b"] }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "add", "path": "emails", "value": [{ "value": 1 }] }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "name", "value": "x" }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "name", "value": { "nope": "x" } }]),
                InvalidValue,
            ),
            (json!([{ "op": "add", "value": "x" }]), InvalidValue),
            (
                json!([{ "op": "replace", "path": "emails", "value": [
                { "value": "a@x", "primary": true }, { "value": "b@x", "primary": true }
            ] }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\" or type eq \"home\"].primary", "value": true }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"]", "value": [{ "value": "a" }, { "value": "b" }] }]),
                InvalidValue,
            ),
            // Atomicity: the first operation is valid, the second is not.
            (
                json!([
                    { "op": "replace", "path": "displayName", "value": "changed" },
                    { "op": "remove", "path": "emails" },
                    { "op": "replace", "path": "nope", "value": "x" }
                ]),
                InvalidPath,
            ),
        ];
        let base = user();
        for (ops, want) in user_cases {
            let e = patch(ResourceType::User, &base, &ops).expect_err(&ops.to_string());
            assert_eq!(e.scim_type, Some(want), "{ops}: {}", e.detail);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
        let group_cases: Vec<(Value, ScimType)> = vec![
            (
                json!([{ "op": "replace", "path": "members[value eq \"2819c223\"].value", "value": "other" }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": "members[value eq \"2819c223\"]", "value": { "value": "other" } }]),
                Mutability,
            ),
            (
                json!([{ "op": "add", "path": "members", "value": [{ "value": "2819c223", "type": "Group" }] }]),
                Mutability,
            ),
            (
                json!([{ "op": "remove", "path": "members[value eq \"2819c223\"].value" }]),
                Mutability,
            ),
            (
                json!([{ "op": "remove", "path": "displayName" }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": "displayName", "value": "  " }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": ENT, "value": {} }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "userName", "value": "x" }]),
                InvalidPath,
            ),
        ];
        let base = group();
        for (ops, want) in group_cases {
            let e = patch(ResourceType::Group, &base, &ops).expect_err(&ops.to_string());
            assert_eq!(e.scim_type, Some(want), "{ops}: {}", e.detail);
        }
    }

    #[test]
    fn errors_name_the_failing_operation() {
        let ops = json!([
            { "op": "replace", "path": "displayName", "value": "x" },
            { "op": "replace", "path": "nope", "value": "x" }
        ]);
        let e = patch(ResourceType::User, &user(), &ops).unwrap_err();
        assert!(
            e.detail.starts_with("Operations[1] (replace nope): "),
            "{}",
            e.detail
        );
    }

    #[test]
    fn no_operation_may_grow_an_attribute_past_its_value_cap() {
        use crate::scim::limits::MAX_VALUES;
        let base = user(); // two emails
        let add = |i: usize| json!({ "op": "add", "path": "emails", "value": [{ "value": format!("n{i}@x"), "display": "d".repeat(700) }] });
        // The probe that grew one user to 45,000 values: refused at the
        // operation that passes the cap, before the rest are applied.
        let flood: Vec<Value> = (0..MAX_PATCH_OPERATIONS).map(add).collect();
        let e = patch(ResourceType::User, &base, &json!(flood)).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let failing = MAX_VALUES - 2;
        assert!(
            e.detail.starts_with(&format!(
                "Operations[{failing}] (add emails): `emails` holds"
            )),
            "{}",
            e.detail
        );
        // Up to the cap is fine.
        let to_cap: Vec<Value> = (0..MAX_VALUES - 2).map(add).collect();
        let (doc, _) = patch(ResourceType::User, &base, &json!(to_cap)).unwrap();
        assert_eq!(doc["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
        // One value list over the cap is refused as it is read.
        let many: Vec<Value> = (0..=MAX_VALUES)
            .map(|i| json!({ "value": format!("m{i}@x") }))
            .collect();
        let e = patch(
            ResourceType::User,
            &base,
            &json!([{ "op": "replace", "path": "roles", "value": many }]),
        )
        .unwrap_err();
        assert!(e.detail.contains("`roles` holds"), "{}", e.detail);
        // Group members have no cap.
        let members: Vec<Value> = (0..MAX_VALUES * 3)
            .map(|i| json!({ "value": format!("member-{i}") }))
            .collect();
        let (doc, _) = patch(
            ResourceType::Group,
            &group(),
            &json!([{ "op": "add", "path": "members", "value": members }]),
        )
        .unwrap();
        assert_eq!(
            doc["members"].as_array().map(Vec::len),
            Some(MAX_VALUES * 3 + 2)
        );
    }

    #[test]
    fn an_oversized_string_in_a_value_is_refused_naming_its_path() {
        let e = patch(
            ResourceType::User,
            &user(),
            &json!([{ "op": "add", "path": "emails[type eq \"work\"].display", "value": "d".repeat(5000) }]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(
            e.detail.contains("`display` is longer than 2048"),
            "{}",
            e.detail
        );
        let e = patch(
            ResourceType::User,
            &user(),
            &json!([{ "op": "replace", "value": { "userName": "u".repeat(100_000) } }]),
        )
        .unwrap_err();
        assert!(
            e.detail.contains("`userName` is longer than 256"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn an_unchanged_immutable_element_can_be_replaced() {
        let ops = json!([{ "op": "replace", "path": "members[value eq \"2819c223\"]",
            "value": { "value": "2819c223", "type": "User" } }]);
        let (_, changed) = patch(ResourceType::Group, &group(), &ops).unwrap();
        assert!(changed.is_empty());
    }

    #[test]
    fn request_parsing() {
        let ok = parse_request(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "operations": [
                { "op": "Add", "path": "members", "value": [] },
                { "op": "REPLACE", "path": " ", "value": { "active": false } },
                { "op": "Remove", "path": "emails" },
                { "op": "replace", "path": "nickName", "value": null }
            ]
        }))
        .unwrap();
        assert_eq!(ok[0].op, OpKind::Add);
        assert_eq!(ok[0].path.as_deref(), Some("members"));
        assert_eq!(ok[1].op, OpKind::Replace);
        assert_eq!(ok[1].path, None, "a blank path is no path");
        assert_eq!(ok[2].op, OpKind::Remove);
        assert_eq!(ok[2].value, None);
        assert_eq!(ok[3].value, Some(Value::Null), "an explicit null is kept");

        let op = json!({ "op": "add", "path": "x", "value": 1 });
        let too_many: Vec<Value> = (0..=MAX_PATCH_OPERATIONS).map(|_| op.clone()).collect();
        let at_limit: Vec<Value> = (0..MAX_PATCH_OPERATIONS).map(|_| op.clone()).collect();
        assert_eq!(
            parse_request(&json!({ "schemas": [PATCH_URN], "Operations": at_limit }))
                .unwrap()
                .len(),
            MAX_PATCH_OPERATIONS
        );
        let bad = [
            json!([]),
            json!({ "Operations": [op] }),
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [op] }),
            json!({ "schemas": [PATCH_URN] }),
            json!({ "schemas": [PATCH_URN], "Operations": [] }),
            json!({ "schemas": [PATCH_URN], "Operations": op }),
            json!({ "schemas": [PATCH_URN], "Operations": too_many }),
            json!({ "schemas": [PATCH_URN], "Operations": ["add"] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "move", "path": "x" }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "path": "x", "value": 1 }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "add", "path": 5, "value": 1 }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "add", "path": "x" }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "replace" }] }),
        ];
        for body in bad {
            let e = parse_request(&body).expect_err(&body.to_string());
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{body}");
        }
    }

    /// The filter of a value path on `attr`, resolved.
    fn value_filter(rt: ResourceType, path: &str) -> Expr {
        match parse_target(rt, path).unwrap() {
            Target::Attr {
                filter: Some(f), ..
            } => f,
            other => panic!("{path}: {other:?}"),
        }
    }

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

    fn leak(name: &'static str, ty: AttrType, subs: Vec<AttrDef>) -> &'static AttrDef {
        Box::leak(Box::new(AttrDef {
            name,
            ty,
            multi_valued: ty == AttrType::Complex,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: vec![],
            reference_types: vec![],
            sub_attributes: subs,
            description: "test",
        }))
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
        let created = literal_json(level, &Literal::Num(3.0)).unwrap();
        assert_eq!(created, json!(3), "integers are created as integers");
    }
}
