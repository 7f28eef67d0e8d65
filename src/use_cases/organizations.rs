//! Organizations: the operator creates them; their settings are changed
//! here whichever edge asks. Whether SCIM may set passwords governs
//! members' credentials, so it takes the permission to manage members; the
//! cap on token lifetime and the audit retention are the operator's alone.

use serde_json::{Map, Value, json};

use super::call::Done;
use super::{Call, Change, Services, UseCaseError, write};
use crate::audit::Target;
use crate::identity::orgs::{self, Org};
use crate::permissions::Action;
use crate::store::Timestamp;

fn target(org: &Org) -> Target {
    Target::new("organization", org.id, Some(&org.name))
}

/// Creates an organization and records `org.create` in its own chain.
pub async fn create(services: &Services, call: &Call<'_>, name: &str) -> Result<Org, UseCaseError> {
    call.authorize(Action::ManageOrganizations)?;
    write(services, call, async |tx| {
        let org = orgs::create(tx, name, Timestamp::now()).await?;
        let event = call
            .event_in(Some(org.id), "org.create", Done::Created, None)
            .target(target(&org));
        Ok(Change::Made(org, event))
    })
    .await
}

/// The organization the call acts in.
pub async fn get(services: &Services, call: &Call<'_>) -> Result<Org, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    Ok(orgs::get(&services.db, call.org_id()?).await?)
}

/// Settings to change; `None` leaves one alone.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Whether the identity provider may set non-admin members' passwords.
    pub scim_passwords: Option<bool>,
    /// The cap on new tokens' lifetime in days; `Some(None)` lifts it.
    pub max_token_lifetime_days: Option<Option<i32>>,
    /// How many days audit records are kept.
    pub audit_retention_days: Option<i32>,
}

/// Changes the organization's settings in one transaction and records one
/// `org.update` with each setting's value before and after.
pub async fn update(
    services: &Services,
    call: &Call<'_>,
    settings: Settings,
) -> Result<Org, UseCaseError> {
    let nothing = settings.scim_passwords.is_none()
        && settings.max_token_lifetime_days.is_none()
        && settings.audit_retention_days.is_none();
    if settings.scim_passwords.is_some() || nothing {
        call.authorize(Action::ManageMembers)?;
    }
    if settings.max_token_lifetime_days.is_some() || settings.audit_retention_days.is_some() {
        call.authorize(Action::ManageOrganizations)?;
    }
    if nothing {
        return Err(UseCaseError::Invalid(
            "nothing to change: give a setting".into(),
        ));
    }
    let org_id = call.org_id()?;
    write(services, call, async |tx| {
        let mut changes = Map::new();
        let mut changed = |name: &str, from: Value, to: Value| {
            changes.insert(name.into(), json!({ "from": from, "to": to }));
        };
        if let Some(allowed) = settings.scim_passwords {
            let before = orgs::set_scim_passwords(tx, org_id, allowed).await?;
            changed("scim_passwords", json!(before), json!(allowed));
        }
        if let Some(days) = settings.max_token_lifetime_days {
            let before = orgs::set_max_token_lifetime(tx, org_id, days)
                .await
                .map_err(UseCaseError::range)?;
            changed("max_token_lifetime_days", json!(before), json!(days));
        }
        if let Some(days) = settings.audit_retention_days {
            let before = orgs::set_audit_retention(tx, org_id, days)
                .await
                .map_err(UseCaseError::range)?;
            changed("audit_retention_days", json!(before), json!(days));
        }
        let org = orgs::get_in(tx, org_id).await?;
        let event = call
            .event("org.update", Done::Changed, Some(Value::Object(changes)))
            .target(target(&org));
        Ok(Change::Made(org, event))
    })
    .await
}
