//! What one kind of SCIM resource (Users, Groups) is to the code written
//! once for both: the [`ScimResource`] trait. The generic handlers
//! ([`super::handlers`]) and the one write skeleton ([`super::write`]) are
//! written against it; `users` and `groups` implement it with what differs
//! (rendering, a user's password, a group's members).

use std::collections::HashMap;
use std::future::Future;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::ScimError;
use super::http;
use super::index::IndexRow;
use super::patch::PatchOperation;
use super::schema::ResourceType;
use super::store::{Page, StoredRow};
use crate::identity::passwords::Prehashed;
use crate::store::page_anchors::PageAnchors;
use crate::store::{Db, Tx};

/// The actions a kind's routes and audit records are named by, so that a
/// route and the record of its write cannot drift apart.
pub struct Names {
    pub list: &'static str,
    pub read: &'static str,
    pub search: &'static str,
    pub create: &'static str,
    pub replace: &'static str,
    pub patch: &'static str,
    pub delete: &'static str,
    /// The audit record's target type (`user`).
    pub target: &'static str,
}

/// The [`Names`] of a kind: `<prefix>.list`, `.read`, `.search`, `.create`,
/// `.replace`, `.patch` and `.delete`, every kind with the same verbs.
macro_rules! names {
    ($prefix:literal, target: $target:literal) => {
        $crate::scim::kind::Names {
            list: concat!($prefix, ".list"),
            read: concat!($prefix, ".read"),
            search: concat!($prefix, ".search"),
            create: concat!($prefix, ".create"),
            replace: concat!($prefix, ".replace"),
            patch: concat!($prefix, ".patch"),
            delete: concat!($prefix, ".delete"),
            target: $target,
        }
    };
}
pub(crate) use names;

/// Which request a replacement came through: what an absent attribute
/// means can depend on it (a user's `active`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Put,
    Patch,
}

/// One kind of SCIM resource, and how it is read and rendered: what the
/// reading endpoints are written against.
pub trait ScimResource: Send + Sync + 'static {
    const RT: ResourceType;
    const NAMES: Names;
    /// The attribute filled from other rows (a User's `groups`, a Group's
    /// `members`): read only when the projection may show it.
    const RELATED: &'static str;
    /// Whether a resource just created has no [`Self::RELATED`] yet (a user
    /// joins groups only through writes to the groups), so that answering
    /// its creation reads nothing more.
    const RELATED_STARTS_EMPTY: bool;

    type Row: StoredRow + Clone;
    /// One element of [`Self::RELATED`] as read (a user's group, a group's
    /// member).
    type Reference: Send + Sync;

    /// The name an audit record shows for a row.
    fn name(row: &Self::Row) -> &str;

    /// The row's stored document: its attributes that have no column of
    /// their own, as a JSON object's text.
    fn stored(row: &Self::Row) -> Option<&str>;

    /// The attributes kept in the row's columns, which take the place of
    /// the stored document's keys of the same name (`None` removes one).
    /// `stored_has` says whether the stored document has a key.
    fn columns<'a>(row: &'a Self::Row, stored_has: &dyn Fn(&str) -> bool) -> Columns<'a>;

    /// The kind's own attributes of a row: the stored document with the
    /// [`Self::columns`] put in. [`render`] adds `schemas`, `id`, `meta` and
    /// [`Self::RELATED`].
    fn attributes(row: &Self::Row) -> Map<String, Value> {
        let mut doc: Map<String, Value> = Self::stored(row)
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        for (name, column) in Self::columns(row, &|k| doc.contains_key(k)) {
            match column {
                Some(c) => doc.insert(name.into(), c.into()),
                None => doc.remove(name),
            };
        }
        doc
    }

    /// One element of [`Self::RELATED`] as rendered.
    fn reference(item: &Self::Reference, base: &str) -> Value;

    /// The [`Self::RELATED`] of each of `ids`.
    fn related(
        db: &Db,
        org_id: Uuid,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<ById<Vec<Self::Reference>>, ScimError>> + Send;

    /// One live row and, when `with_related`, its [`Self::RELATED`]: two
    /// reads, unless the kind can do it in one.
    fn read(
        db: &Db,
        org_id: Uuid,
        id: Uuid,
        with_related: bool,
    ) -> impl Future<Output = Result<Option<Read<Self>>, ScimError>> + Send {
        async move {
            let Some(row) = super::store::get::<Self::Row>(db, org_id, id).await? else {
                return Ok(None);
            };
            let related = if with_related {
                let mut all = Self::related(db, org_id, &[id]).await?;
                Some(all.remove(&id).unwrap_or_default())
            } else {
                None
            };
            Ok(Some((row, related)))
        }
    }

    /// One page of a search, each row with its [`Self::RELATED`]: the
    /// page, then the related of all its rows in one more read, unless the
    /// kind can do it in one.
    fn search_related(
        db: &Db,
        anchors: &PageAnchors,
        org_id: Uuid,
        page: &Page<'_>,
    ) -> impl Future<Output = Result<(Vec<Read<Self>>, i64), ScimError>> + Send {
        async move {
            let (rows, total) =
                super::store::search::<Self::Row>(db, anchors, org_id, page).await?;
            let ids: Vec<Uuid> = rows.iter().map(|r| r.as_ref().id).collect();
            let mut all = Self::related(db, org_id, &ids).await?;
            let rows = rows
                .into_iter()
                .map(|r| {
                    let related = all.remove(&r.as_ref().id).unwrap_or_default();
                    (r, Some(related))
                })
                .collect();
            Ok((rows, total))
        }
    }
}

/// One attribute kept in a column of the row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Column<'a> {
    Text(&'a str),
    Bool(bool),
}

impl From<Column<'_>> for Value {
    fn from(c: Column<'_>) -> Value {
        match c {
            Column::Text(t) => Value::String(t.to_owned()),
            Column::Bool(b) => Value::Bool(b),
        }
    }
}

/// A row's [`Column`]s by attribute name (see [`ScimResource::columns`]).
pub type Columns<'a> = Vec<(&'static str, Option<Column<'a>>)>;

/// A row as read, with its [`ScimResource::RELATED`] when asked for.
pub type Read<R> = (
    <R as ScimResource>::Row,
    Option<Vec<<R as ScimResource>::Reference>>,
);

/// A change to an existing resource as requested, before its transaction
/// (see [`ScimWrite::prepare`]).
pub enum Proposed<'a, R: ScimWrite + ?Sized> {
    Replace(&'a R::Incoming),
    Patch(&'a [PatchOperation]),
}

/// How a kind of SCIM resource is written: the steps of the write skeleton
/// ([`super::write`]) that differ between kinds.
pub trait ScimWrite: ScimResource {
    /// A normalized document, split into what its writes need.
    type Incoming: Send + Sync;
    /// What a replace or PATCH reads besides the locked row.
    type Current: Send + Sync;
    /// What [`Self::prepare`] did ahead of a replace or PATCH.
    type Prepared: Send + Sync + Default;

    fn incoming(doc: Map<String, Value>) -> Result<Self::Incoming, ScimError>;

    /// The stored attributes of an incoming document, for the search index.
    fn doc(incoming: &Self::Incoming) -> &Map<String, Value>;

    /// What the audit record of a create or replace says changed.
    fn summary(incoming: &Self::Incoming) -> Value;

    /// The checks and preparation that need more than the document, before
    /// it is written: `before` is `None` for a create (run outside the
    /// transaction), else the locked row. `prepared` is what
    /// [`Self::prepare`] did ahead of a replace or PATCH.
    fn admit(
        _db: &Db,
        _org_id: Uuid,
        _incoming: &mut Self::Incoming,
        _before: Option<&Self::Row>,
        _prepared: Self::Prepared,
    ) -> impl Future<Output = Result<(), ScimError>> + Send {
        async { Ok(()) }
    }

    /// The slow part of [`Self::admit`] that needs no row, done for a
    /// replace or PATCH before its transaction opens (a password's hash:
    /// tens of milliseconds of CPU, during which an open transaction would
    /// hold up every other write and every read's audit record). `admit`
    /// uses it where the request turns out to need just that, and does the
    /// work itself otherwise.
    fn prepare(
        _db: &Db,
        _org_id: Uuid,
        _proposed: Proposed<'_, Self>,
    ) -> impl Future<Output = Result<Self::Prepared, ScimError>> + Send {
        async { Ok(Self::Prepared::default()) }
    }

    /// What an operation of a Bulk request has of the passwords hashed
    /// before the request took the writer (a run holds it for the whole
    /// request, so nothing is hashed under it that could be hashed before).
    fn prepared_in_bulk(_prehashed: &Prehashed) -> Self::Prepared {
        Self::Prepared::default()
    }

    /// Loads the row a change starts from and locks it for the write
    /// (PostgreSQL's `FOR UPDATE`; on SQLite the writers' turn is the lock),
    /// with its [`ScimResource::RELATED`] where the kind reads them in the
    /// same statement and none of its own writes changes them: the answer
    /// then shows them as the transaction saw them, with no read after the
    /// commit (on PostgreSQL a round trip of its own).
    fn lock(
        tx: &mut Tx,
        org_id: Uuid,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Read<Self>>, ScimError>> + Send {
        async move {
            let row = super::store::lock::<Self::Row>(tx, org_id, id).await?;
            Ok(row.map(|row| (row, None)))
        }
    }

    /// Reads [`Self::Current`] inside the write: for a PATCH, `ops` says
    /// what it can touch.
    fn current(
        tx: &mut Tx,
        before: &Self::Row,
        ops: Option<&[PatchOperation]>,
    ) -> impl Future<Output = Result<Self::Current, ScimError>> + Send;

    /// [`Self::current`] when it is read with the row alone (a user's
    /// writes read nothing more), so that a PATCH that would change nothing
    /// can be told from a snapshot, outside the write (see
    /// `write::unchanged_by_patch`). `None`: it is read in the write.
    fn current_of_row(_before: &Self::Row) -> Option<Self::Current> {
        None
    }

    /// The document a PATCH starts from: what the client could have PUT.
    fn patchable(before: &Self::Row, current: &Self::Current) -> Map<String, Value>;

    /// Stores a new resource and its search index rows, `index` (in the
    /// statement that inserts the resource where the kind can: on
    /// PostgreSQL each statement is a round trip in the writers' turn).
    fn insert(
        tx: &mut Tx,
        org_id: Uuid,
        incoming: &Self::Incoming,
        index: &[IndexRow],
    ) -> impl Future<Output = Result<Self::Row, ScimError>> + Send;

    /// Stores a new version of `before`; returns it with what the audit
    /// record adds to the change's summary.
    fn replace(
        tx: &mut Tx,
        before: &Self::Row,
        current: Self::Current,
        incoming: &Self::Incoming,
        via: Via,
    ) -> impl Future<Output = Result<(Self::Row, Map<String, Value>), ScimError>> + Send;

    fn delete(
        tx: &mut Tx,
        before: &Self::Row,
    ) -> impl Future<Output = Result<(), ScimError>> + Send;
}

/// Values by resource id.
pub type ById<T> = HashMap<Uuid, T>;

/// The full SCIM representation of a row. `related` is `None` when it was
/// not read (the projection leaves it out); an empty list is not shown.
pub fn render<R: ScimResource>(
    row: &R::Row,
    related: Option<&[R::Reference]>,
    base: &str,
) -> Map<String, Value> {
    let mut doc = R::attributes(row);
    if let Some(items) = related.filter(|r| !r.is_empty()) {
        let refs = items.iter().map(|i| R::reference(i, base)).collect();
        doc.insert(R::RELATED.into(), Value::Array(refs));
    }
    let meta = row.as_ref();
    let mut schemas = vec![json!(R::RT.schema().id)];
    for ext in R::RT.extensions() {
        if doc.contains_key(ext.id) {
            schemas.push(json!(ext.id));
        }
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.insert("id".into(), json!(meta.id));
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": R::RT.name(),
            "created": meta.created_at,
            "lastModified": meta.updated_at,
            "location": location::<R>(base, meta.id),
            "version": http::etag(meta.version),
        }),
    );
    doc
}

/// The URL of one resource.
pub fn location<R: ScimResource>(base: &str, id: Uuid) -> String {
    format!("{base}{}/{id}", R::RT.endpoint())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::groups::Groups;
    use crate::scim::users::Users;

    #[test]
    fn names_follow_the_kind() {
        let n = Users::NAMES;
        assert_eq!(
            [
                n.list, n.read, n.search, n.create, n.replace, n.patch, n.delete, n.target
            ],
            [
                "scim.user.list",
                "scim.user.read",
                "scim.user.search",
                "scim.user.create",
                "scim.user.replace",
                "scim.user.patch",
                "scim.user.delete",
                "user",
            ]
        );
        assert_eq!(Groups::NAMES.patch, "scim.group.patch");
        assert_eq!(Groups::NAMES.target, "group");
        assert_eq!(
            location::<Groups>("https://x/scim/v2", Uuid::nil()),
            format!("https://x/scim/v2/Groups/{}", Uuid::nil())
        );
    }
}
