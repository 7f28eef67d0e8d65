//! SCIM Groups and their members: how a group is rendered, what a write
//! sets on its row, and how its memberships change. The endpoints
//! themselves are [`super::handlers`], the write's shape [`super::write`],
//! the rows [`super::store::groups`] and [`super::store::memberships`].
//!
//! A write changes only the memberships that differ, and a PATCH that names
//! its members (see [`patch::scope`](super::patch::scope)) reads only those: a group may have
//! 100,000 members, and adding one must not rewrite or reread them all.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::ScimError;
use super::index::{self, IndexRow};
use super::kind::{ById, Column, Columns, Names, ScimResource, ScimWrite, Via, location, names};
use super::patch::PatchOperation;
use super::patch::scope as patch_scope;
use super::schema::{GROUP, ResourceType};
use super::store::Meta;
use super::store::groups::{self as store, GroupRow, GroupWrite};
use super::store::memberships::{self, MemberRef, NewMember};
use super::users::Users;
use crate::identity::group_mappings;
use crate::store::{Db, Timestamp, Tx};

pub struct Groups;

/// A group's members, or some of them.
type Members = Vec<MemberRef>;

impl ScimResource for Groups {
    const RT: ResourceType = ResourceType::Group;
    const NAMES: Names = names!("scim.group", target: "group");
    const RELATED: &'static str = "members";
    const RELATED_STARTS_EMPTY: bool = false;

    type Row = GroupRow;
    type Reference = MemberRef;

    fn name(row: &GroupRow) -> &str {
        &row.display_name
    }

    fn stored(row: &GroupRow) -> Option<&str> {
        Some(&row.scim_doc)
    }

    fn columns<'a>(row: &'a GroupRow, _stored_has: &dyn Fn(&str) -> bool) -> Columns<'a> {
        vec![
            ("displayName", Some(Column::Text(&row.display_name))),
            ("externalId", row.external_id.as_deref().map(Column::Text)),
        ]
    }

    fn reference(m: &MemberRef, base: &str) -> Value {
        let id = m.member_id;
        let location = if m.member_type == "Group" {
            location::<Groups>(base, id)
        } else {
            location::<Users>(base, id)
        };
        let mut v = json!({ "value": id, "$ref": location, "type": m.member_type });
        if let Some(d) = &m.display {
            v["display"] = json!(d);
        }
        v
    }

    async fn related(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<ById<Members>, ScimError> {
        memberships::of_groups(db, org_id, ids).await
    }
}

impl ScimWrite for Groups {
    type Incoming = Incoming;
    /// The memberships as read for the write: all of them, or those a
    /// PATCH names.
    type Current = Members;
    type Prepared = ();

    fn incoming(mut doc: Map<String, Value>) -> Result<Incoming, ScimError> {
        let mut members = Vec::new();
        if let Some(Value::Array(list)) = doc.remove("members") {
            let mut seen = HashSet::with_capacity(list.len());
            for m in list {
                let value = m.get("value").and_then(Value::as_str).unwrap_or_default();
                let id = Uuid::parse_str(value).map_err(|_| {
                    ScimError::invalid_value(format!("member `{value}` does not exist"))
                })?;
                let display = m.get("display").and_then(Value::as_str).map(str::to_string);
                if seen.insert(id) {
                    members.push((id, display));
                }
            }
        }
        Ok(Incoming { doc, members })
    }

    fn doc(incoming: &Incoming) -> &Map<String, Value> {
        &incoming.doc
    }

    fn summary(incoming: &Incoming) -> Value {
        json!({ "attributes": incoming.doc.keys().collect::<Vec<_>>(), "members": incoming.members.len() })
    }

    async fn current(
        tx: &mut Tx,
        before: &GroupRow,
        ops: Option<&[PatchOperation]>,
    ) -> Result<Members, ScimError> {
        let only = ops.and_then(named_members);
        memberships::of_group_in(tx, before.meta.org_id, before.meta.id, only.as_deref()).await
    }

    fn patchable(before: &GroupRow, current: &Members) -> Map<String, Value> {
        let mut doc = Self::attributes(before);
        if !current.is_empty() {
            // Members as a client would send them, without the server's `$ref`.
            let members = current.iter().map(|m| {
                let mut v = Self::reference(m, "");
                if let Value::Object(fields) = &mut v {
                    fields.remove("$ref");
                }
                v
            });
            doc.insert("members".into(), Value::Array(members.collect()));
        }
        doc
    }

    async fn insert(
        tx: &mut Tx,
        org_id: Uuid,
        new: &Incoming,
        index: &[IndexRow],
    ) -> Result<GroupRow, ScimError> {
        let stored = new.stored();
        let meta = Meta::new(org_id, Timestamp::now());
        let row = store::insert(tx, &meta, &new.write(&stored)).await?;
        index::insert(tx, org_id, Self::RT, meta.id, index).await?;
        store_members(tx, org_id, meta.id, &[], &new.members).await?;
        Ok(row)
    }

    async fn replace(
        tx: &mut Tx,
        before: &GroupRow,
        current: Members,
        new: &Incoming,
        _: Via,
    ) -> Result<(GroupRow, Map<String, Value>), ScimError> {
        let stored = new.stored();
        let row = store::replace(tx, &before.meta, &new.write(&stored), Timestamp::now()).await?;
        let Meta { org_id, id, .. } = before.meta;
        let members = store_members(tx, org_id, id, &current, &new.members).await?;
        let mut more = Map::new();
        more.insert("members_added".into(), json!(members.added));
        more.insert("members_removed".into(), json!(members.removed));
        Ok((row, more))
    }

    /// A mapped group's mappings go with it, and so does what they gave
    /// its members.
    async fn delete(tx: &mut Tx, before: &GroupRow) -> Result<(), ScimError> {
        let Meta { org_id, id, .. } = before.meta;
        if group_mappings::delete_for_group(tx, org_id, id).await? {
            for u in group_mappings::users_of(tx, org_id, id).await? {
                tx.access_source_changed(u);
            }
        }
        store::delete(tx, &before.meta).await
    }
}

/// A normalized Group document split into its stored part and its members.
pub struct Incoming {
    doc: Map<String, Value>,
    /// Member ids with the display name the client gave.
    members: Vec<(Uuid, Option<String>)>,
}

impl Incoming {
    fn display_name(&self) -> &str {
        self.doc
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn stored(&self) -> String {
        let mut d = self.doc.clone();
        for k in ["displayName", "externalId"] {
            d.remove(k);
        }
        Value::Object(d).to_string()
    }

    fn write<'a>(&'a self, doc: &'a str) -> GroupWrite<'a> {
        GroupWrite {
            display_name: self.display_name(),
            external_id: self.doc.get("externalId").and_then(Value::as_str),
            doc,
        }
    }
}

/// How many memberships a write added and removed.
#[derive(Clone, Copy, Debug, Default)]
struct MemberChanges {
    added: usize,
    removed: usize,
}

/// Stores the difference between `before` (the memberships as read, all of
/// them or those a PATCH names) and `after` (what they must become): new
/// members are checked to exist in the organization and stored with their
/// real types, and only the rows that differ are written.
async fn store_members(
    tx: &mut Tx,
    org: Uuid,
    group: Uuid,
    before: &[MemberRef],
    after: &[(Uuid, Option<String>)],
) -> Result<MemberChanges, ScimError> {
    let old: HashMap<Uuid, Option<&str>> = before
        .iter()
        .map(|m| (m.member_id, m.display.as_deref()))
        .collect();
    let kept: HashSet<Uuid> = after.iter().map(|(id, _)| *id).collect();
    let removed: Vec<Uuid> = before
        .iter()
        .map(|m| m.member_id)
        .filter(|id| !kept.contains(id))
        .collect();
    let new: Vec<&(Uuid, Option<String>)> = after
        .iter()
        .filter(|(id, _)| !old.contains_key(id))
        .collect();
    let ids: Vec<Uuid> = new.iter().map(|(id, _)| *id).collect();
    let found = memberships::existing(tx, org, &ids).await?;
    let mut typed = Vec::with_capacity(new.len());
    for (id, display) in new {
        let kind = found
            .get(id)
            .ok_or_else(|| ScimError::invalid_value(format!("member `{id}` does not exist")))?;
        typed.push(NewMember {
            kind,
            id: *id,
            display: display.clone(),
        });
    }
    memberships::remove(tx, group, &removed).await?;
    memberships::add(tx, org, group, &typed).await?;
    note_access_sources(tx, group, before, &removed, &typed).await?;
    for (id, display) in after {
        if old.get(id).is_some_and(|d| *d != display.as_deref()) {
            memberships::set_display(tx, group, *id, display.as_deref()).await?;
        }
    }
    Ok(MemberChanges {
        added: typed.len(),
        removed: removed.len(),
    })
}

/// A mapped group's users who joined or left it have their effective
/// access recomputed by the write (see [`crate::identity::access`]); an
/// unmapped group's memberships change nobody's.
async fn note_access_sources(
    tx: &mut Tx,
    group: Uuid,
    before: &[MemberRef],
    removed: &[Uuid],
    added: &[NewMember],
) -> Result<(), ScimError> {
    let users_removed = before
        .iter()
        .filter(|m| m.member_type == "User" && removed.contains(&m.member_id))
        .map(|m| m.member_id);
    let users_added = added.iter().filter(|m| m.kind == "User").map(|m| m.id);
    let users: Vec<Uuid> = users_removed.chain(users_added).collect();
    if users.is_empty() || !group_mappings::is_mapped(tx, group).await? {
        return Ok(());
    }
    for u in users {
        tx.access_source_changed(u);
    }
    Ok(())
}

/// The members a PATCH can touch, when it names them all (see
/// [`patch::scope`](super::patch::scope)); `None` means every member. A string that is not an id
/// names no member.
fn named_members(ops: &[PatchOperation]) -> Option<Vec<Uuid>> {
    let members = GROUP.attr("members")?;
    let named = patch_scope::named_values(ResourceType::Group, members, ops)?;
    let mut ids: Vec<Uuid> = named
        .iter()
        .filter_map(|v| Uuid::parse_str(v).ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}
