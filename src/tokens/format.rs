//! The token wire format, GitHub/Cloudflare style:
//!
//! ```text
//! scim_sat_<id: 22 base62><secret: 32 base62><crc32 of everything before: 6 base62>
//! scim_pat_...
//! ```
//!
//! The prefix lets secret scanners recognise a leaked value; the checksum lets
//! us reject a typo or a truncated paste without touching the database. The
//! id is public; the secret (32 base62 characters, about 190 bits) never
//! leaves this module except as its HMAC.

use std::fmt;

use rand::distr::{Alphanumeric, SampleString};

pub use crate::permissions::{ID_LEN, TokenId};
pub const SECRET_LEN: usize = 32;
pub const CHECKSUM_LEN: usize = 6;
const PREFIX_LEN: usize = 9;
pub const TOKEN_LEN: usize = PREFIX_LEN + ID_LEN + SECRET_LEN + CHECKSUM_LEN;

/// What the prefix says a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Service Access Token: owned by an organization or one workspace.
    Sat,
    /// Personal Access Token: owned by a member, dies with them.
    Pat,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Sat => "scim_sat_",
            TokenKind::Pat => "scim_pat_",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Sat => "sat",
            TokenKind::Pat => "pat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sat" => Some(TokenKind::Sat),
            "pat" => Some(TokenKind::Pat),
            _ => None,
        }
    }
}

/// A token value in clear. It exists between generation and the one response
/// that shows it, and between parsing an Authorization header and hashing
/// the secret. Debug output never shows the secret.
#[derive(Clone)]
pub struct PlainToken {
    kind: TokenKind,
    id: TokenId,
    secret: String,
}

/// Why a presented value is not a token. The reasons are for the audit log;
/// none of them includes any part of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MalformedToken {
    #[error("not a scimitar token (unknown prefix)")]
    UnknownPrefix,
    #[error("wrong length")]
    WrongLength,
    #[error("characters outside base62")]
    BadCharacters,
    #[error("checksum mismatch")]
    BadChecksum,
}

impl PlainToken {
    pub fn generate(kind: TokenKind) -> Self {
        Self::with_id(kind, TokenId::generate())
    }

    /// A new secret for an existing id (rotation keeps the id).
    pub fn with_id(kind: TokenKind, id: TokenId) -> Self {
        let secret = Alphanumeric.sample_string(&mut rand::rng(), SECRET_LEN);
        Self { kind, id, secret }
    }

    pub fn parse(value: &str) -> Result<Self, MalformedToken> {
        let kind = [TokenKind::Sat, TokenKind::Pat]
            .into_iter()
            .find(|k| value.starts_with(k.prefix()))
            .ok_or(MalformedToken::UnknownPrefix)?;
        if value.len() != TOKEN_LEN {
            return Err(MalformedToken::WrongLength);
        }
        let body = &value[PREFIX_LEN..];
        if !is_base62(body) {
            return Err(MalformedToken::BadCharacters);
        }
        let (signed, checksum) = value.split_at(TOKEN_LEN - CHECKSUM_LEN);
        if checksum != checksum_of(signed) {
            return Err(MalformedToken::BadChecksum);
        }
        Ok(Self {
            kind,
            id: TokenId::parse(&body[..ID_LEN]).ok_or(MalformedToken::BadCharacters)?,
            secret: body[ID_LEN..ID_LEN + SECRET_LEN].to_string(),
        })
    }

    /// Whether a presented credential is meant as one of our tokens (rather
    /// than a session JWT), even a malformed one, so that its refusal says so.
    pub fn looks_like_token(value: &str) -> bool {
        value.starts_with("scim_")
    }

    /// What a value claims to be by its prefix alone (nothing else checked).
    pub fn kind_hint(value: &str) -> Option<TokenKind> {
        [TokenKind::Sat, TokenKind::Pat]
            .into_iter()
            .find(|k| value.starts_with(k.prefix()))
    }

    /// The id of a value that looks like a token, even if its checksum is
    /// wrong, so that a refusal can be attributed in the audit log. Never
    /// returns any part of the secret.
    pub fn id_hint(value: &str) -> Option<TokenId> {
        let body = value
            .strip_prefix(TokenKind::Sat.prefix())
            .or_else(|| value.strip_prefix(TokenKind::Pat.prefix()))?;
        body.get(..ID_LEN).and_then(TokenId::parse)
    }

    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    pub fn id(&self) -> &TokenId {
        &self.id
    }

    pub fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// The full value, for the single response that shows it.
    pub fn reveal(&self) -> String {
        let signed = format!("{}{}{}", self.kind.prefix(), self.id, self.secret);
        let checksum = checksum_of(&signed);
        signed + &checksum
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainToken")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn checksum_of(signed: &str) -> String {
    let crc = crc32fast::hash(signed.as_bytes());
    format!("{:0>width$}", base62::encode(crc), width = CHECKSUM_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_has_the_documented_layout_and_parses_back() {
        let t = PlainToken::generate(TokenKind::Sat);
        let v = t.reveal();
        assert_eq!(v.len(), TOKEN_LEN);
        assert!(v.starts_with("scim_sat_"));
        let parsed = PlainToken::parse(&v).unwrap();
        assert_eq!(parsed.id(), t.id());
        assert_eq!(parsed.secret(), t.secret());
        assert_eq!(parsed.kind(), TokenKind::Sat);
    }

    #[test]
    fn pat_prefix_is_recognised() {
        let v = PlainToken::generate(TokenKind::Pat).reveal();
        assert!(v.starts_with("scim_pat_"));
        assert_eq!(PlainToken::parse(&v).unwrap().kind(), TokenKind::Pat);
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let v = PlainToken::generate(TokenKind::Sat).reveal();
        for i in PREFIX_LEN..v.len() {
            let mut bytes = v.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(PlainToken::parse(&changed).is_err(), "position {i}");
        }
    }

    #[test]
    fn malformed_values_are_classified() {
        let v = PlainToken::generate(TokenKind::Sat).reveal();
        assert_eq!(
            PlainToken::parse("Bearer x").unwrap_err(),
            MalformedToken::UnknownPrefix
        );
        assert_eq!(
            PlainToken::parse(&v[..v.len() - 1]).unwrap_err(),
            MalformedToken::WrongLength
        );
        let mut bad = v.clone();
        bad.replace_range(20..21, "-");
        assert_eq!(
            PlainToken::parse(&bad).unwrap_err(),
            MalformedToken::BadCharacters
        );
        assert_eq!(
            PlainToken::parse("scim_sat_é").unwrap_err(),
            MalformedToken::WrongLength
        );
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let t = PlainToken::generate(TokenKind::Sat);
        let secret = String::from_utf8(t.secret().to_vec()).unwrap();
        assert!(!format!("{t:?}").contains(&secret));
    }

    #[test]
    fn id_hint_names_the_id_of_a_damaged_value() {
        let t = PlainToken::generate(TokenKind::Sat);
        let mut v = t.reveal();
        v.pop();
        assert_eq!(PlainToken::id_hint(&v).as_ref(), Some(t.id()));
        assert_eq!(PlainToken::id_hint("scim_sat_short"), None);
    }

    #[test]
    fn secrets_differ() {
        let a = PlainToken::generate(TokenKind::Sat);
        let b = PlainToken::generate(TokenKind::Sat);
        assert_ne!(a.secret(), b.secret());
        assert_ne!(a.id(), b.id());
    }
}
