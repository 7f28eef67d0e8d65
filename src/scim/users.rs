//! SCIM Users, which are the organization's members: how a user is
//! rendered (with its groups), what a write sets on the member row, and the
//! password gate. The endpoints themselves are [`super::handlers`], the
//! write's shape [`super::write`], the rows [`super::store::users`].

use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::ScimError;
use super::groups::Groups;
use super::index::{self, IndexRow};
use super::kind::{
    ById, Column, Columns, Names, Proposed, Read, ScimResource, ScimWrite, Via, location, names,
};
use super::patch::{OpKind, PatchOperation};
use super::schema::{ResourceType, resolve, split_path};
use super::store::users::ScimUserRow;
use super::store::{self, Meta, Page, memberships};
use crate::identity::members::RoleColumn;
use crate::identity::passwords::Prehashed;
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
    /// The password the request sets, hashed before its transaction.
    type Prepared = Prehashed;

    /// The user and its groups in the locking read: no write of a user
    /// changes them.
    async fn lock(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Option<Read<Self>>, ScimError> {
        Ok(store::users::lock_with_groups(tx, org_id, id)
            .await?
            .map(|(row, groups)| (row, Some(groups))))
    }

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

    /// The password gate, then the hash (the one prepared, if it is of
    /// this password): a new user is a `member`.
    async fn admit(
        db: &Db,
        org_id: Uuid,
        incoming: &mut Incoming,
        before: Option<&ScimUserRow>,
        prepared: Prehashed,
    ) -> Result<(), ScimError> {
        let role = before.map_or(Role::Member, |b| b.role.0);
        incoming.admit_password(db, org_id, role).await?;
        if let Some(p) = incoming.password.clone() {
            let hash = match prepared.hash_of(&p) {
                Some(done) => done.to_string(),
                None => passwords::hash(p).await.map_err(ScimError::internal)?,
            };
            incoming.password_hash = Some(hash);
        }
        Ok(())
    }

    /// Hashes the password a PUT or PATCH sets, unless the organization
    /// takes no passwords through SCIM or its length alone fails the
    /// policy (the gate, which needs the row, refuses those anyway).
    async fn prepare(
        db: &Db,
        org_id: Uuid,
        proposed: Proposed<'_, Self>,
    ) -> Result<Prehashed, ScimError> {
        let password = match proposed {
            Proposed::Replace(incoming) => incoming.password.clone(),
            Proposed::Patch(ops) => password_set_by(ops).map(str::to_owned),
        };
        hash_ahead(db, org_id, password).await
    }

    fn prepared_in_bulk(prehashed: &Prehashed) -> Prehashed {
        prehashed.clone()
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

    async fn insert(
        tx: &mut Tx,
        org_id: Uuid,
        new: &Incoming,
        index: &[IndexRow],
    ) -> Result<ScimUserRow, ScimError> {
        let stored = new.stored();
        let write = new.write(&stored, true);
        let now = Timestamp::now();
        let id = Uuid::now_v7();
        let beside = (!tx.is_sqlite())
            .then(|| index::insert_beside(org_id, Self::RT, id, index))
            .flatten();
        let indexed = beside.is_some();
        scim_users::insert(tx, org_id, id, &write, now, beside).await?;
        if !indexed {
            index::insert(tx, org_id, Self::RT, id, index).await?;
        }
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
/// Hashes `passwords` ahead of their writes, leaving out those the gate
/// refuses whatever the row: all of them when the organization takes no
/// passwords through SCIM, and those whose length fails the policy.
async fn hash_ahead(
    db: &Db,
    org_id: Uuid,
    passwords: impl IntoIterator<Item = String>,
) -> Result<Prehashed, ScimError> {
    let mut passwords = passwords
        .into_iter()
        .filter(|p| (passwords::MIN_LEN..=passwords::MAX_LEN).contains(&p.chars().count()))
        .peekable();
    if passwords.peek().is_none() || !orgs::get(db, org_id).await?.scim_passwords {
        return Ok(Prehashed::default());
    }
    Prehashed::ahead(passwords)
        .await
        .map_err(ScimError::internal)
}

/// The passwords the operations of a Bulk request set on users, hashed
/// before the request takes the writer (see [`hash_ahead`]): a `POST` or
/// `PUT`'s `password`, a `PATCH`'s as [`password_set_by`] finds it. Read as
/// `bulk` reads an operation (its method in any case, its path's first
/// segment `Users`).
pub async fn hash_ahead_in_bulk(
    db: &Db,
    org_id: Uuid,
    ops: &[Value],
) -> Result<Prehashed, ScimError> {
    let mut found = Vec::new();
    for op in ops {
        let text = |name| op.get(name).and_then(Value::as_str);
        let on_users =
            text("path").is_some_and(|p| p.trim_matches('/').split('/').next() == Some("Users"));
        let (Some(method), Some(data), true) = (text("method"), op.get("data"), on_users) else {
            continue;
        };
        match method.to_ascii_uppercase().as_str() {
            "POST" | "PUT" => found.extend(
                data.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(name, _)| is_password(name))
                    .filter_map(|(_, value)| value.as_str().map(str::to_owned)),
            ),
            "PATCH" => {
                if let Ok(ops) = super::patch::parse_request(data) {
                    found.extend(password_set_by(&ops).map(str::to_owned));
                }
            }
            _ => {}
        }
    }
    hash_ahead(db, org_id, found).await
}

/// Whether `path` names the core attribute `password` (in any case, with
/// or without the core schema's URN).
fn is_password(path: &str) -> bool {
    let (urn, name, sub) = split_path(path);
    sub.is_none()
        && resolve(ResourceType::User, urn, name, None)
            .is_some_and(|r| r.extension.is_none() && r.attr.name == "password")
}

/// The password PATCH `ops` would leave set, where it is plainly there: the
/// value of the last `add` or `replace` of the path `password`, or of the
/// `password` member of a pathless one's value. Anything subtler is left
/// to the write, which hashes what it finds itself.
fn password_set_by(ops: &[PatchOperation]) -> Option<&str> {
    let mut set = None;
    for op in ops {
        if op.op == OpKind::Remove {
            if op.path.as_deref().is_some_and(is_password) {
                set = None;
            }
            continue;
        }
        match (&op.path, &op.value) {
            (Some(path), Some(Value::String(p))) if is_password(path) => set = Some(p.as_str()),
            (None, Some(Value::Object(fields))) => {
                for (name, value) in fields {
                    if is_password(name) {
                        set = value.as_str();
                    }
                }
            }
            _ => {}
        }
    }
    set
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, path: Option<&str>, value: Option<Value>) -> PatchOperation {
        PatchOperation {
            op: kind,
            path: path.map(str::to_owned),
            value,
        }
    }

    #[test]
    fn the_password_a_patch_sets_is_found_in_each_plain_form() {
        use OpKind::*;
        let set = |ops: &[PatchOperation]| password_set_by(ops).map(str::to_owned);
        let p = |s: &str| Some(json!(s));
        assert_eq!(
            set(&[op(Replace, Some("password"), p("one"))]).as_deref(),
            Some("one")
        );
        assert_eq!(
            set(&[op(
                Add,
                Some("urn:ietf:params:scim:schemas:core:2.0:User:PASSWORD"),
                p("two")
            )])
            .as_deref(),
            Some("two")
        );
        let pathless = op(
            Replace,
            None,
            Some(json!({"active": true, "Password": "three"})),
        );
        assert_eq!(
            set(std::slice::from_ref(&pathless)).as_deref(),
            Some("three")
        );
        // The last one wins; a removal leaves none.
        let later = op(Replace, Some("password"), p("four"));
        assert_eq!(
            set(&[pathless.clone(), later.clone()]).as_deref(),
            Some("four")
        );
        let removed = op(Remove, Some("password"), None);
        assert_eq!(set(&[later.clone(), removed]), None);
        // Other attributes, and removals of them, are not a password.
        assert_eq!(set(&[op(Replace, Some("displayName"), p("five"))]), None);
        let other_removed = op(Remove, Some("title"), None);
        assert_eq!(set(&[later, other_removed]).as_deref(), Some("four"));
        assert_eq!(set(&[op(Replace, Some("password"), Some(json!(6)))]), None);
    }

    /// A PUT or PATCH that sets a password finds it hashed before its
    /// transaction: `admit` keeps that hash for the same password and
    /// hashes any other itself; nothing is hashed for an organization that
    /// takes no SCIM passwords.
    #[tokio::test]
    async fn admit_keeps_the_hash_prepared_for_the_same_password() {
        for db in crate::store::testing::each_backend().await {
            keeps_the_prepared_hash(&db).await;
        }
    }

    async fn keeps_the_prepared_hash(db: &Db) {
        let mut tx = db.begin().await.unwrap();
        let org = orgs::create(&mut tx, "acme", Timestamp::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let passphrase = "a long enough passphrase";
        let ops = [op(
            OpKind::Replace,
            Some("password"),
            Some(json!(passphrase)),
        )];
        let prepared = Users::prepare(db, org.id, Proposed::Patch(&ops))
            .await
            .unwrap();
        assert!(
            prepared.hash_of(passphrase).is_none(),
            "SCIM passwords are off"
        );
        let mut tx = db.begin().await.unwrap();
        orgs::set_scim_passwords(&mut tx, org.id, true)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let prepared = Users::prepare(db, org.id, Proposed::Patch(&ops))
            .await
            .unwrap();
        let hash = prepared
            .hash_of(passphrase)
            .expect("hashed ahead")
            .to_string();
        assert!(passwords::verify(passphrase.into(), Some(hash)).await);

        let incoming = |password: &str| {
            let mut doc = Map::new();
            doc.insert("userName".into(), json!("ann"));
            doc.insert("password".into(), json!(password));
            Users::incoming(doc).unwrap()
        };
        let marked = || Prehashed::given(&[(passphrase, "prepared")]);
        let mut same = incoming(passphrase);
        Users::admit(db, org.id, &mut same, None, marked())
            .await
            .unwrap();
        assert_eq!(same.password_hash.as_deref(), Some("prepared"));
        let mut other = incoming("another long passphrase");
        Users::admit(db, org.id, &mut other, None, marked())
            .await
            .unwrap();
        let hash = other.password_hash.expect("hashed in admit");
        assert!(passwords::verify("another long passphrase".into(), Some(hash)).await);
    }

    /// What a Bulk request hashes before it takes the writer: the
    /// passwords its user operations set, and nothing else.
    #[tokio::test]
    async fn a_bulk_request_hashes_its_users_passwords_ahead() {
        for db in crate::store::testing::each_backend().await {
            let mut tx = db.begin().await.unwrap();
            let org = orgs::create(&mut tx, "acme", Timestamp::now())
                .await
                .unwrap();
            orgs::set_scim_passwords(&mut tx, org.id, true)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let patch = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "path": "password", "value": "patched long passphrase" }],
            });
            let ops = [
                json!({ "method": "POST", "path": "/Users", "data": { "userName": "a", "password": "posted long passphrase" } }),
                json!({ "method": "put", "path": "/Users/x", "data": { "userName": "b", "Password": "put long passphrase" } }),
                json!({ "method": "PATCH", "path": "/Users/y", "data": patch }),
                json!({ "method": "POST", "path": "/Groups", "data": { "displayName": "g", "password": "a group's long passphrase" } }),
                json!({ "method": "POST", "path": "/Users", "data": { "userName": "c", "password": "short" } }),
                json!({ "method": "DELETE", "path": "/Users/z" }),
            ];
            let ahead = hash_ahead_in_bulk(&db, org.id, &ops).await.unwrap();
            for p in [
                "posted long passphrase",
                "put long passphrase",
                "patched long passphrase",
            ] {
                let h = ahead
                    .hash_of(p)
                    .unwrap_or_else(|| panic!("{p} hashed ahead"));
                assert!(passwords::verify(p.into(), Some(h.to_string())).await);
            }
            assert!(ahead.hash_of("a group's long passphrase").is_none());
            assert!(ahead.hash_of("short").is_none());
        }
    }
}
