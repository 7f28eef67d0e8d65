//! SCIM Users, which are the organization's members: how a user is
//! rendered (with its groups), what a write sets on the member row, and the
//! password gate. The endpoints themselves are [`super::handlers`], the
//! write's shape [`super::write`], the rows [`super::store::users`].

use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::ScimError;
use super::groups::Groups;
use super::kind::{
    ById, Column, Columns, Names, Read, ScimResource, ScimWrite, Via, location, names,
};
use super::patch::PatchOperation;
use super::schema::ResourceType;
use super::store::users::ScimUserRow;
use super::store::{self, Meta, Page, memberships};
use crate::identity::members::RoleColumn;
use crate::identity::scim_users::{self, ScimUserWrite};
use crate::identity::{orgs, passwords};
use crate::permissions::Role;
use crate::store::page_anchors::PageAnchors;
use crate::store::{Db, Timestamp, Tx};

pub struct Users;

/// A user's groups: (group id, displayName).
type UserGroups = Vec<(Uuid, String)>;

impl ScimResource for Users {
    const RT: ResourceType = ResourceType::User;
    const NAMES: Names = names!("scim.user", target: "user");
    const RELATED: &'static str = "groups";
    const RELATED_STARTS_EMPTY: bool = true;

    type Row = ScimUserRow;
    type Reference = (Uuid, String);

    fn name(row: &ScimUserRow) -> &str {
        &row.user_name
    }

    fn stored(row: &ScimUserRow) -> Option<&str> {
        row.scim_doc.as_deref()
    }

    fn columns<'a>(row: &'a ScimUserRow, stored_has: &dyn Fn(&str) -> bool) -> Columns<'a> {
        // `active` is the member column. A user whose client never set it (or
        // removed it) shows none, unless the member has been deactivated.
        let assigned = row.scim_doc.is_none() || stored_has("active");
        vec![
            ("userName", Some(Column::Text(&row.user_name))),
            (
                "active",
                (assigned || !row.active).then_some(Column::Bool(row.active)),
            ),
            ("displayName", row.display_name.as_deref().map(Column::Text)),
            ("externalId", row.external_id.as_deref().map(Column::Text)),
        ]
    }

    /// A group the user is a direct member of.
    fn reference((id, name): &(Uuid, String), base: &str) -> Value {
        let location = location::<Groups>(base, *id);
        json!({ "value": id, "$ref": location, "display": name, "type": "direct" })
    }

    async fn related(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<ById<UserGroups>, ScimError> {
        memberships::groups_of(db, org_id, ids).await
    }

    /// A user's groups are few: one statement reads the user and them.
    async fn read(
        db: &Db,
        org_id: Uuid,
        id: Uuid,
        with_related: bool,
    ) -> Result<Option<Read<Self>>, ScimError> {
        if !with_related {
            return Ok(store::get(db, org_id, id).await?.map(|row| (row, None)));
        }
        Ok(store::users::with_groups(db, org_id, id)
            .await?
            .map(|(row, groups)| (row, Some(groups))))
    }

    /// A page of users and their groups are one statement too.
    async fn search_related(
        db: &Db,
        anchors: &PageAnchors,
        org_id: Uuid,
        page: &Page<'_>,
    ) -> Result<(Vec<Read<Self>>, i64), ScimError> {
        let (rows, total) = store::users::search_with_groups(db, anchors, org_id, page).await?;
        let rows = rows
            .into_iter()
            .map(|(row, groups)| (row, Some(groups)))
            .collect();
        Ok((rows, total))
    }
}

impl ScimWrite for Users {
    type Incoming = Incoming;
    /// A user's write reads nothing besides its row: its groups are
    /// read-only here.
    type Current = ();

    fn incoming(mut doc: Map<String, Value>) -> Result<Incoming, ScimError> {
        let password = match doc.remove("password") {
            Some(Value::String(p)) => Some(p),
            _ => None,
        };
        Ok(Incoming {
            doc,
            password,
            password_hash: None,
        })
    }

    fn doc(incoming: &Incoming) -> &Map<String, Value> {
        &incoming.doc
    }

    fn summary(incoming: &Incoming) -> Value {
        json!({ "attributes": incoming.doc.keys().collect::<Vec<_>>(), "password_set": incoming.password.is_some() })
    }

    /// The password gate, then the hash: a new user is a `member`.
    async fn admit(
        db: &Db,
        org_id: Uuid,
        incoming: &mut Incoming,
        before: Option<&ScimUserRow>,
    ) -> Result<(), ScimError> {
        let role = before.map_or(Role::Member, |b| b.role.0);
        incoming.admit_password(db, org_id, role).await?;
        if let Some(p) = incoming.password.clone() {
            let hash = passwords::hash(p).await.map_err(ScimError::internal)?;
            incoming.password_hash = Some(hash);
        }
        Ok(())
    }

    async fn current(
        _tx: &mut Tx,
        _before: &ScimUserRow,
        _ops: Option<&[PatchOperation]>,
    ) -> Result<(), ScimError> {
        Ok(())
    }

    fn current_of_row(_: &ScimUserRow) -> Option<()> {
        Some(())
    }

    fn patchable(before: &ScimUserRow, _: &()) -> Map<String, Value> {
        Self::attributes(before)
    }

    async fn insert(tx: &mut Tx, org_id: Uuid, new: &Incoming) -> Result<ScimUserRow, ScimError> {
        let stored = new.stored();
        let write = new.write(&stored, true);
        let now = Timestamp::now();
        let id = scim_users::insert(tx, org_id, &write, now).await?;
        // The row as just written, rather than read back.
        let meta = Meta {
            id,
            ..Meta::new(org_id, now)
        };
        Ok(written(meta, &write, Role::Member))
    }

    async fn replace(
        tx: &mut Tx,
        before: &ScimUserRow,
        _: (),
        new: &Incoming,
        via: Via,
    ) -> Result<(ScimUserRow, Map<String, Value>), ScimError> {
        // A PUT that leaves `active` out must not quietly reactivate anyone.
        // A PATCH starts from the rendered user, which always shows a
        // deactivated member's `active: false`; so an `active` missing there
        // was removed by the PATCH and is unassigned again, which means
        // active, as for a new user.
        let default_active = match via {
            Via::Put => before.active,
            Via::Patch => true,
        };
        let stored = new.stored();
        let write = new.write(&stored, default_active);
        let Meta { org_id, id, .. } = before.meta;
        let now = Timestamp::now();
        scim_users::replace(tx, org_id, id, (before.role.0, before.active), &write, now).await?;
        // The row as just written (the version one up), rather than read back.
        let meta = Meta {
            version: before.meta.version + 1,
            updated_at: now,
            ..before.meta.clone()
        };
        Ok((written(meta, &write, before.role.0), Map::new()))
    }

    /// The member is deleted (see [`scim_users::delete`]) and leaves its
    /// groups.
    async fn delete(tx: &mut Tx, before: &ScimUserRow) -> Result<(), ScimError> {
        let Meta { org_id, id, .. } = before.meta;
        scim_users::delete(tx, org_id, id, Timestamp::now()).await?;
        memberships::leave_every_group(tx, org_id, id).await
    }
}

/// Creates many users (one Bulk request's run of creates whose userNames
/// were checked free) in multi-row INSERTs: the rows as written, in order.
pub(super) async fn insert_many(
    tx: &mut Tx,
    org_id: Uuid,
    news: &[Incoming],
) -> Result<Vec<ScimUserRow>, ScimError> {
    let stored: Vec<String> = news.iter().map(Incoming::stored).collect();
    let writes: Vec<ScimUserWrite<'_>> = news
        .iter()
        .zip(&stored)
        .map(|(new, doc)| new.write(doc, true))
        .collect();
    let now = Timestamp::now();
    let ids = scim_users::insert_many(tx, org_id, &writes, now).await?;
    Ok(ids
        .into_iter()
        .zip(&writes)
        .map(|(id, write)| {
            let meta = Meta {
                id,
                ..Meta::new(org_id, now)
            };
            written(meta, write, Role::Member)
        })
        .collect())
}

/// A user's row as a write left it.
fn written(meta: Meta, write: &ScimUserWrite<'_>, role: Role) -> ScimUserRow {
    ScimUserRow {
        meta,
        user_name: write.user_name.to_string(),
        display_name: write.display_name.map(str::to_string),
        external_id: write.external_id.map(str::to_string),
        active: write.active,
        role: RoleColumn(role),
        scim_doc: Some(write.doc.to_string()),
    }
}

/// A normalized User document split into what the member row needs.
pub struct Incoming {
    doc: Map<String, Value>,
    password: Option<String>,
    /// Set once the password is admitted.
    password_hash: Option<String>,
}

impl Incoming {
    /// Refuses a password SCIM may not set, before any hashing: unless the
    /// organization allows SCIM passwords, for an admin (`target_role`), or
    /// one the password policy refuses. An identity-provider token must never
    /// be able to choose the password of someone who manages tokens.
    async fn admit_password(
        &self,
        db: &Db,
        org_id: Uuid,
        target_role: Role,
    ) -> Result<(), ScimError> {
        let Some(password) = &self.password else {
            return Ok(());
        };
        if !orgs::get(db, org_id).await?.scim_passwords {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "this organization does not accept passwords through SCIM \
                 (an admin can allow them: scim_passwords)",
            )
            .reason("scim_passwords_disabled"));
        }
        if target_role == Role::Admin {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "SCIM cannot set the password of an admin",
            )
            .reason("admin_password"));
        }
        passwords::check_policy(password, self.user_name())
            .map_err(|m| ScimError::invalid_value(m).reason("weak_password"))
    }

    pub(super) fn user_name(&self) -> &str {
        self.doc
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The member columns. `active` absent means `default_active`.
    fn write<'a>(&'a self, doc_text: &'a str, default_active: bool) -> ScimUserWrite<'a> {
        ScimUserWrite {
            user_name: self.user_name(),
            display_name: self.doc.get("displayName").and_then(Value::as_str),
            external_id: self.doc.get("externalId").and_then(Value::as_str),
            active: self
                .doc
                .get("active")
                .and_then(Value::as_bool)
                .unwrap_or(default_active),
            doc: doc_text,
            password_hash: self.password_hash.clone(),
        }
    }

    /// The stored document: without the attributes that live in columns
    /// (`active` stays, to tell an assigned value from an unassigned one).
    fn stored(&self) -> String {
        let mut d = self.doc.clone();
        for k in ["userName", "displayName", "externalId"] {
            d.remove(k);
        }
        Value::Object(d).to_string()
    }
}
