//! The operator's `token revoke`: one id, a SAT or a PAT, revoked through
//! the use case of its kind.

use super::{Call, Services, UseCaseError, personal_tokens, service_tokens};
use crate::permissions::Action;
use crate::store::Timestamp;
use crate::tokens::{self, TokenKind, TokenView};

/// Revokes the token `id`, whichever its kind; returns the view and whether
/// this call revoked it. Only the first revoke is recorded.
pub async fn revoke_any_token(
    services: &Services,
    call: &Call<'_>,
    id: &str,
) -> Result<(TokenView, bool), UseCaseError> {
    // Only someone who may manage tokens learns which kind an id is.
    call.authorize(Action::ManageServiceTokens)?;
    let token_id = service_tokens::token_id(id)?;
    let existing = tokens::get(&services.db, call.org_id()?, &token_id, Timestamp::now()).await?;
    match existing.kind {
        TokenKind::Sat => service_tokens::revoke(services, call, id).await,
        TokenKind::Pat => personal_tokens::revoke(services, call, id).await,
    }
}
