//! Sign-in through an organization's OpenID Connect provider: the
//! organization's configuration (its client secret sealed with the
//! key-encryption key), the relying party (discovery, the JWKS cache, the
//! code exchange and ID token validation), the state of a sign-in in flight
//! and its one use, the member a verified claim names, and the
//! break-glass members who may still use a password when the organization
//! allows passwords to them alone.
//!
//! Nothing here renders HTTP: the admin API and the console drive a sign-in
//! through [`Relying`] and these functions, and answer in their own forms.

pub mod break_glass;
pub mod config;
pub mod flow;
pub mod id_token;
pub mod matching;
pub mod provider;

pub use config::{Claim, PasswordSignIn, SsoConfig};
pub use provider::{Relying, choose_tls_crypto};

use crate::store::StoreError;

/// Why a sign-in through the identity provider was refused: the reason
/// code its audit record carries (`reason_code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The organization has no SSO configuration (or no such organization).
    NotConfigured,
    /// The callback's state is unknown, forged, expired or already used.
    BadState,
    /// The ID token's nonce is not the one this sign-in sent.
    BadNonce,
    /// The ID token failed validation (signature, issuer, audience, times).
    IdTokenInvalid,
    /// Discovery, the JWKS or the token endpoint could not be reached, or
    /// answered something unusable.
    IssuerUnreachable,
    /// The identity provider refused the code, or returned an error.
    ProviderError,
    /// The configured claim is missing from the ID token.
    ClaimMissing,
    /// No live SCIM-provisioned member has that claim.
    NoSuchMember,
    /// The member exists but is deactivated.
    Inactive,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotConfigured => "not_configured",
            Refusal::BadState => "bad_state",
            Refusal::BadNonce => "bad_nonce",
            Refusal::IdTokenInvalid => "id_token_invalid",
            Refusal::IssuerUnreachable => "issuer_unreachable",
            Refusal::ProviderError => "provider_error",
            Refusal::ClaimMissing => "claim_missing",
            Refusal::NoSuchMember => "no_such_member",
            Refusal::Inactive => "inactive",
        }
    }

    /// What the person signing in is told: enough to act on, nothing that
    /// helps an attacker tell members apart.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotConfigured => {
                "this organization does not sign in through an identity provider"
            }
            Refusal::BadState => "this sign-in is unknown, expired or already used: start again",
            Refusal::IssuerUnreachable => "the identity provider could not be reached",
            Refusal::NoSuchMember | Refusal::Inactive | Refusal::ClaimMissing => {
                "the identity provider signed you in, but you have no active account in this organization"
            }
            Refusal::BadNonce | Refusal::IdTokenInvalid | Refusal::ProviderError => {
                "the identity provider's answer could not be verified"
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error("{0}")]
    Invalid(String),
    /// The stored client secret cannot be decrypted with this process's
    /// key-encryption key.
    #[error(
        "the client secret cannot be decrypted with this key-encryption key: set it again with PUT /api/v1/sso"
    )]
    SecretUnreadable,
    #[error("sign-in refused: {}", .0.code())]
    Refused(Refusal, String),
}

impl From<sqlx::Error> for SsoError {
    fn from(e: sqlx::Error) -> Self {
        SsoError::Store(e.into())
    }
}

impl SsoError {
    /// A refusal with what the logs may say about it (never a secret).
    pub fn refused(refusal: Refusal, detail: impl Into<String>) -> Self {
        SsoError::Refused(refusal, detail.into())
    }
}
