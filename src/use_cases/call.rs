//! Who is acting, in which organization, and from where: the first input of
//! every use case, and the source of its audit event's actor and context.

use serde_json::Value;
use uuid::Uuid;

use super::UseCaseError;
use crate::audit::{Actor, AuditEvent, RequestContext};
use crate::permissions::{Action, Principal, authorize};

/// The operator's principal, for calls the CLI makes.
static OPERATOR: Principal = Principal::Operator;

/// Told when a use case writes the audit record of its call, so that an
/// edge that also records calls on its own (the HTTP request trail) adds no
/// second record for the same call.
pub trait Witness: Send + Sync {
    fn recorded(&self);
}

/// One call of a use case: a verified principal, the organization it acts
/// in, the request context, and the actor its audit records name.
pub struct Call<'a> {
    principal: &'a Principal,
    org_id: Option<Uuid>,
    ctx: &'a RequestContext,
    actor: Actor,
    witness: Option<&'a dyn Witness>,
}

impl<'a> Call<'a> {
    /// A principal acting in its own organization (every HTTP caller).
    pub fn new(principal: &'a Principal, ctx: &'a RequestContext) -> Self {
        Self {
            principal,
            org_id: principal.org_id(),
            ctx,
            actor: Actor::of(principal),
            witness: None,
        }
    }

    /// The operator (the CLI), acting in `org_id` (`None` only to create an
    /// organization), recorded with actor id `login` when there is one: the
    /// operator has no id of its own.
    pub fn operator(org_id: Option<Uuid>, ctx: &'a RequestContext, login: Option<String>) -> Self {
        let mut actor = Actor::of(&OPERATOR);
        actor.id = login;
        Self {
            principal: &OPERATOR,
            org_id,
            ctx,
            actor,
            witness: None,
        }
    }

    /// Tells `witness` when this call's record is committed.
    pub fn witnessed_by(mut self, witness: &'a dyn Witness) -> Self {
        self.witness = Some(witness);
        self
    }

    pub fn principal(&self) -> &Principal {
        self.principal
    }

    /// The organization the call acts in.
    pub fn org_id(&self) -> Result<Uuid, UseCaseError> {
        self.org_id
            .ok_or_else(|| UseCaseError::Invalid("name the organization to act in".into()))
    }

    /// Asks the permission core; a refusal names the missing permission.
    /// (The edge that answers the refusal records it, as `auth.denied`.)
    pub(super) fn authorize(&self, action: Action) -> Result<(), UseCaseError> {
        authorize(self.principal, action).map_err(UseCaseError::from)
    }

    /// An audit event of this call in its organization, with the status the
    /// API answers the operation with (see [`Done`]) and what changed.
    pub(super) fn event(&self, action: &str, done: Done, changes: Option<Value>) -> AuditEvent {
        self.event_in(self.org_id, action, done, changes)
    }

    /// An audit event in the chain of `org_id` (an organization the call
    /// has just created).
    pub(super) fn event_in(
        &self,
        org_id: Option<Uuid>,
        action: &str,
        done: Done,
        changes: Option<Value>,
    ) -> AuditEvent {
        let mut event =
            AuditEvent::new(org_id, self.actor.clone(), action, self.ctx).status(done.status());
        event.changes = changes;
        event
    }

    pub(super) fn witness(&self) -> Option<&dyn Witness> {
        self.witness
    }
}

/// What an operation did. Its record carries the status the API answers it
/// with, whichever edge made it, so that the records of one operation are
/// alike (the console answers with a page, the CLI with an exit code).
#[derive(Clone, Copy, Debug)]
pub(super) enum Done {
    Created,
    Changed,
    Removed,
}

impl Done {
    fn status(self) -> u16 {
        match self {
            Done::Created => 201,
            Done::Changed => 200,
            Done::Removed => 204,
        }
    }
}
