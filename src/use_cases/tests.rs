//! The use cases on a fresh SQLite database, without any edge: who may do
//! what, that a change and its record are written together or not at all,
//! and that the edge's witness hears of exactly the calls that were recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::audit::{RequestContext, StoredEvent};
use crate::identity::orgs::Org;
use crate::permissions::{Principal, Role};
use crate::store::Db;
use crate::tokens::Peppers;
use crate::{on_db, use_cases};

async fn services() -> Services {
    let db = crate::store::testing::migrated_sqlite().await;
    Services::new(
        db,
        Arc::new(Peppers::new(1, vec![7; 32])),
        crate::store::Durability::Normal,
    )
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: Some("unit".into()),
        ..RequestContext::default()
    }
}

/// An organization with one admin, made by the operator; the admin's
/// session principal.
async fn org_with_admin(s: &Services, ctx: &RequestContext) -> (Org, Principal) {
    let org = organizations::create(s, &Call::operator(None, ctx, None), "acme")
        .await
        .unwrap();
    let new = members::NewMemberRequest {
        user_name: "root".into(),
        role: Role::Admin,
        password: None,
    };
    let admin = members::create(s, &Call::operator(Some(org.id), ctx, None), new)
        .await
        .unwrap();
    let session = Principal::Session {
        org_id: org.id,
        member_id: admin.id,
        user_name: admin.user_name,
        access: crate::permissions::Access::of_role(Role::Admin, Default::default()),
    };
    (org, session)
}

async fn records(db: &Db, org: Uuid) -> Vec<StoredEvent> {
    let sql = concat!(
        "SELECT ",
        crate::audit::event::stored_columns!(),
        " FROM audit_events WHERE chain = $1 ORDER BY seq"
    );
    on_db!(db, pool => {
        sqlx::query_as(sql).bind(org.to_string()).fetch_all(pool).await
    })
    .unwrap()
}

#[derive(Default)]
struct Counter(AtomicUsize);

impl Witness for Counter {
    fn recorded(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_write_records_its_change_once_and_a_refused_one_records_nothing() {
    let s = services().await;
    let ctx = ctx();
    let (org, admin) = org_with_admin(&s, &ctx).await;
    let witness = Counter::default();
    let call = Call::new(&admin, &ctx).witnessed_by(&witness);
    let before = records(&s.db, org.id).await.len();

    let ws = use_cases::workspaces::create(&s, &call, "prod")
        .await
        .unwrap();
    let taken = use_cases::workspaces::create(&s, &call, "prod").await;
    assert!(matches!(taken, Err(UseCaseError::Conflict(_))), "{taken:?}");

    let after = records(&s.db, org.id).await;
    assert_eq!(after.len(), before + 1, "one record, for the one change");
    let r = after.last().unwrap();
    assert_eq!(r.action, "workspace.create");
    assert_eq!(r.target_id.as_deref(), Some(ws.id.to_string().as_str()));
    assert_eq!(r.http_status, Some(201));
    assert_eq!(r.actor_kind, "member_session");
    assert_eq!(r.request_id.as_deref(), Some("unit"));
    assert_eq!(witness.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_revoke_changes_and_records_nothing() {
    let s = services().await;
    let ctx = ctx();
    let (org, admin) = org_with_admin(&s, &ctx).await;
    let witness = Counter::default();
    let call = Call::new(&admin, &ctx).witnessed_by(&witness);
    let new = service_tokens::NewSat {
        name: "idp".into(),
        permissions: vec!["scim:read".into()],
        expiry: Expiry::InDays(30),
        allowed_cidrs: vec!["10.0.0.0/8".into()],
        ..Default::default()
    };
    let (view, _) = service_tokens::create(&s, &call, new).await.unwrap();
    assert!(service_tokens::revoke(&s, &call, &view.id).await.unwrap().1);
    assert!(!service_tokens::revoke(&s, &call, &view.id).await.unwrap().1);

    let actions: Vec<String> = records(&s.db, org.id)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "sat.revoke").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(witness.0.load(Ordering::SeqCst), 2, "create and one revoke");
}

#[tokio::test]
async fn an_expiry_in_days_is_bounded_for_every_caller() {
    let s = services().await;
    let ctx = ctx();
    let (org, admin) = org_with_admin(&s, &ctx).await;
    for call in [
        Call::new(&admin, &ctx),
        Call::operator(Some(org.id), &ctx, None),
    ] {
        let new = service_tokens::NewSat {
            name: "too long".into(),
            permissions: vec!["scim:read".into()],
            expiry: Expiry::InDays(MAX_EXPIRY_DAYS + 1),
            ..Default::default()
        };
        let refused = service_tokens::create(&s, &call, new).await;
        assert!(
            matches!(refused, Err(UseCaseError::OutOfRange(_))),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn only_the_operator_sets_retention_and_lifetime_caps() {
    let s = services().await;
    let ctx = ctx();
    let (org, admin) = org_with_admin(&s, &ctx).await;
    let retention = organizations::Settings {
        audit_retention_days: Some(30),
        ..Default::default()
    };
    let refused = organizations::update(&s, &Call::new(&admin, &ctx), retention.clone()).await;
    match refused {
        Err(UseCaseError::Forbidden { missing }) => assert_eq!(missing, "organizations:manage"),
        other => panic!("{other:?}"),
    }
    let passwords = organizations::Settings {
        scim_passwords: Some(true),
        ..Default::default()
    };
    organizations::update(&s, &Call::new(&admin, &ctx), passwords)
        .await
        .unwrap();
    let operator = Call::operator(Some(org.id), &ctx, Some("ops".into()));
    organizations::update(&s, &operator, retention)
        .await
        .unwrap();
    let out_of_range = organizations::Settings {
        max_token_lifetime_days: Some(Some(0)),
        ..Default::default()
    };
    let refused = organizations::update(&s, &operator, out_of_range).await;
    assert!(
        matches!(refused, Err(UseCaseError::OutOfRange(_))),
        "{refused:?}"
    );

    let updates: Vec<StoredEvent> = records(&s.db, org.id)
        .await
        .into_iter()
        .filter(|r| r.action == "org.update")
        .collect();
    assert_eq!(updates.len(), 2, "{updates:?}");
    let changes = |r: &StoredEvent| -> serde_json::Value {
        serde_json::from_str(r.changes.as_deref().unwrap()).unwrap()
    };
    assert_eq!(
        changes(&updates[0]),
        json!({ "scim_passwords": { "from": false, "to": true } })
    );
    assert_eq!(
        changes(&updates[1]),
        json!({ "audit_retention_days": { "from": 365, "to": 30 } })
    );
    assert_eq!(updates[1].actor_kind, "operator");
    assert_eq!(updates[1].actor_id.as_deref(), Some("ops"));
}

#[tokio::test]
async fn an_admin_keeps_the_last_admin_but_the_operator_need_not() {
    let s = services().await;
    let ctx = ctx();
    let (org, admin) = org_with_admin(&s, &ctx).await;
    let me = admin.member_id().unwrap();
    let refused = members::update(&s, &Call::new(&admin, &ctx), me, Some(Role::Member), None).await;
    assert!(
        matches!(refused, Err(UseCaseError::Conflict(_))),
        "{refused:?}"
    );
    let operator = Call::operator(Some(org.id), &ctx, None);
    let m = members::update(&s, &operator, me, None, Some(false))
        .await
        .unwrap();
    assert!(!m.active);
}

#[tokio::test]
async fn the_operator_names_the_organization_it_acts_in() {
    let s = services().await;
    let ctx = ctx();
    let nowhere = Call::operator(None, &ctx, None);
    let refused = workspaces::create(&s, &nowhere, "prod").await;
    assert!(
        matches!(refused, Err(UseCaseError::Invalid(_))),
        "{refused:?}"
    );
}
