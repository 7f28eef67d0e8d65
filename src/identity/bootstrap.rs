//! First start on an empty database: organization `default` with an admin
//! member `admin` and a random password, returned once for the operator to
//! read. The password is printed (and may stay in a service's log), so it
//! only serves to set a new one: sign-in refuses it until then. Never again
//! once any organization exists.

use super::members::{self, NewMember};
use super::{IdentityError, orgs, passwords};
use crate::audit::{self, Actor, AuditEvent, RequestContext, Target};
use crate::permissions::{PrincipalKind, Role};
use crate::store::{Db, Timestamp};

pub const DEFAULT_ORG: &str = "default";
pub const DEFAULT_ADMIN: &str = "admin";

#[derive(Debug)]
pub struct BootstrapCredential {
    pub organization: String,
    pub user_name: String,
    pub password: String,
}

pub async fn bootstrap_if_empty(db: &Db) -> Result<Option<BootstrapCredential>, IdentityError> {
    if orgs::count(db).await? > 0 {
        return Ok(None);
    }
    let password = passwords::generate();
    let hash = passwords::hash(password.clone())
        .await
        .map_err(IdentityError::Invalid)?;
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    let org = match orgs::create(&mut tx, DEFAULT_ORG, now).await {
        Ok(org) => org,
        // Another instance bootstrapped at the same moment.
        Err(IdentityError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let admin = members::create(
        &mut tx,
        NewMember {
            org_id: org.id,
            user_name: DEFAULT_ADMIN,
            display_name: Some("Bootstrap administrator"),
            role: Role::Admin,
            password_hash: None,
        },
        now,
    )
    .await?;
    let admin = members::set_password(&mut tx, org.id, admin.id, &hash, true, now).await?;
    let actor = Actor {
        kind: PrincipalKind::Operator.as_str().to_string(),
        id: None,
        display: Some("bootstrap".to_string()),
    };
    let ctx = RequestContext::default();
    for event in [
        AuditEvent::new(Some(org.id), actor.clone(), "org.create", &ctx).target(Target::new(
            "organization",
            org.id,
            Some(&org.name),
        )),
        AuditEvent::new(Some(org.id), actor, "member.create", &ctx)
            .target(Target::new("member", admin.id, Some(&admin.user_name)))
            .changes(serde_json::json!({"role": "admin"})),
    ] {
        audit::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(Some(BootstrapCredential {
        organization: org.name,
        user_name: admin.user_name,
        password,
    }))
}
