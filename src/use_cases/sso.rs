//! Sign-in through the organization's identity provider: its admins read,
//! set and remove the OpenID Connect configuration (and whether passwords
//! still sign everyone in); the operator marks the break-glass members who
//! keep their password when they do not. The client secret is sealed with
//! the key-encryption key and never recorded: the record says only whether
//! it changed. A new issuer is checked before it is saved: its discovery
//! document must be readable and name it, so that a typo is refused when
//! it is made rather than at everyone's next sign-in.

use serde_json::json;
use uuid::Uuid;

use super::call::Done;
use super::{Call, Change, Services, UseCaseError, write};
use crate::audit::Target;
use crate::identity::members;
use crate::permissions::Action;
use crate::signing::Kek;
use crate::sso::config::{self, ClientSecret, NewConfig, check_issuer};
use crate::sso::{Claim, PasswordSignIn, Refusal, Relying, SsoConfig, SsoError, break_glass};
use crate::store::Timestamp;

impl From<SsoError> for UseCaseError {
    fn from(e: SsoError) -> Self {
        match e {
            SsoError::Store(e) => e.into(),
            SsoError::Identity(e) => e.into(),
            SsoError::Audit(e) => e.into(),
            SsoError::Invalid(m) => UseCaseError::Invalid(m),
            other => UseCaseError::Internal(other.to_string()),
        }
    }
}

fn target(org_id: Uuid, issuer: &str) -> Target {
    Target::new("sso", org_id, Some(issuer))
}

/// The organization's configuration, without its secret.
pub async fn get(services: &Services, call: &Call<'_>) -> Result<SsoConfig, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    config::get(&services.db, call.org_id()?)
        .await?
        .ok_or(UseCaseError::NotFound("SSO configuration"))
}

/// A configuration to set, as an edge read it.
#[derive(Debug)]
pub struct SsoInput {
    pub issuer: String,
    pub client_id: String,
    /// `None` keeps the stored secret.
    pub client_secret: Option<ClientSecret>,
    pub claim: String,
    /// `None` means `all`.
    pub password_sign_in: Option<String>,
}

fn printable(what: &str, value: &str, max: usize) -> Result<(), UseCaseError> {
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(UseCaseError::Invalid(format!(
            "{what} must be 1 to {max} printable characters"
        )));
    }
    Ok(())
}

/// Sets the configuration (replacing any) and records `sso.update`.
/// `break_glass_only` needs an active break-glass member first, so that an
/// identity provider outage leaves someone able to sign in. A new issuer
/// (the first configuration, or a change of issuer) must serve a usable
/// discovery document naming it; an unchanged one is not fetched, so that
/// the other settings can still be changed while the provider is down.
pub async fn configure(
    services: &Services,
    call: &Call<'_>,
    kek: &Kek,
    relying: &Relying,
    input: SsoInput,
) -> Result<SsoConfig, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org_id = call.org_id()?;
    let issuer = check_issuer(&input.issuer)?;
    let client_id = input.client_id.trim().to_string();
    printable("client_id", &client_id, 255)?;
    if let Some(secret) = &input.client_secret {
        printable("client_secret", secret.expose(), 1000)?;
    }
    let claim = Claim::parse(&input.claim).ok_or_else(|| {
        UseCaseError::Invalid("claim must be `email`, `preferred_username` or `sub`".into())
    })?;
    let password_sign_in = match input.password_sign_in.as_deref() {
        None => PasswordSignIn::All,
        Some(s) => PasswordSignIn::parse(s).ok_or_else(|| {
            UseCaseError::Invalid("password_sign_in must be `all` or `break_glass_only`".into())
        })?,
    };
    if password_sign_in == PasswordSignIn::BreakGlassOnly
        && break_glass::active_count(&services.db, org_id).await? == 0
    {
        return Err(UseCaseError::Conflict(
            "password_sign_in `break_glass_only` needs an active break-glass member first \
             (scimitar member break-glass), or nobody could sign in while the identity \
             provider is down"
                .into(),
        ));
    }
    let current = config::get(&services.db, org_id).await?;
    if current.as_ref().is_none_or(|c| c.issuer != issuer) {
        check_discovery(relying, &issuer).await?;
    }
    write(services, call, async |tx| {
        let before = config::get_in(tx, org_id).await?;
        let new = NewConfig {
            issuer: &issuer,
            client_id: &client_id,
            client_secret: input.client_secret.as_ref(),
            claim,
            password_sign_in,
        };
        let saved = config::put_in(tx, kek, org_id, new, Timestamp::now()).await?;
        let changes = json!({
            "before": before.as_ref().map(|b| json!({
                "issuer": b.issuer, "client_id": b.client_id, "claim": b.claim,
                "password_sign_in": b.password_sign_in,
            })),
            "issuer": saved.issuer,
            "client_id": saved.client_id,
            "claim": saved.claim,
            "password_sign_in": saved.password_sign_in,
            "client_secret_changed": input.client_secret.is_some(),
        });
        let event = call
            .event("sso.update", Done::Changed, Some(changes))
            .target(target(org_id, &saved.issuer));
        Ok(Change::Made(saved, event))
    })
    .await
}

/// Reads the issuer's discovery document (outside any transaction: it is a
/// network call of up to ten seconds). Its failure is the admin's to fix,
/// so it is an invalid input, with what went wrong (an address and a
/// status, never a secret).
async fn check_discovery(relying: &Relying, issuer: &str) -> Result<(), UseCaseError> {
    match relying.check_discovery(issuer).await {
        Ok(_) => Ok(()),
        Err(SsoError::Refused(Refusal::IssuerUnreachable, detail)) => Err(UseCaseError::Invalid(
            format!("issuer: its discovery document could not be used ({detail})"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes the configuration (passwords sign everyone in again) and
/// records `sso.delete`.
pub async fn remove(services: &Services, call: &Call<'_>) -> Result<(), UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org_id = call.org_id()?;
    write(services, call, async |tx| {
        let Some(removed) = config::delete_in(tx, org_id).await? else {
            return Err(UseCaseError::NotFound("SSO configuration"));
        };
        let event = call
            .event(
                "sso.delete",
                Done::Removed,
                Some(json!({ "issuer": removed.issuer, "client_id": removed.client_id })),
            )
            .target(target(org_id, &removed.issuer));
        Ok(Change::Made((), event))
    })
    .await
}

/// Marks (or unmarks) a member as break-glass: the operator's alone.
/// Records `member.break_glass`; returns whether anything changed.
pub async fn set_break_glass(
    services: &Services,
    call: &Call<'_>,
    member_id: Uuid,
    on: bool,
) -> Result<bool, UseCaseError> {
    call.authorize(Action::ManageOrganizations)?;
    let org_id = call.org_id()?;
    let member = members::get(&services.db, org_id, member_id).await?;
    write(services, call, async |tx| {
        let changed = break_glass::set_in(tx, org_id, member.id, on, Timestamp::now()).await?;
        if !changed {
            return Ok(Change::Unchanged(false));
        }
        let event = call
            .event(
                "member.break_glass",
                Done::Changed,
                Some(json!({ "break_glass": { "from": !on, "to": on } })),
            )
            .target(Target::new("member", member.id, Some(&member.user_name)));
        Ok(Change::Made(true, event))
    })
    .await
}
