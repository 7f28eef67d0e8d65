//! The public id of a token: what a principal that is a token goes by, in
//! lists, URLs and audit records. It lives here, below `tokens`, because a
//! [`Principal`](super::Principal) carries it and `tokens` builds on the
//! permission core, not the other way round.

use std::fmt;

use rand::distr::{Alphanumeric, SampleString};

/// Length of a token id, in base62 characters.
pub const ID_LEN: usize = 22;

/// The public identifier of a token (22 base62 characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(String);

impl TokenId {
    pub fn generate() -> Self {
        Self(Alphanumeric.sample_string(&mut rand::rng(), ID_LEN))
    }

    /// Accepts only a well-formed id, so that path parameters never reach a
    /// query with arbitrary text.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_22_base62_characters_are_an_id() {
        let id = TokenId::generate();
        assert_eq!(TokenId::parse(id.as_str()), Some(id));
        assert!(TokenId::parse("short").is_none());
        assert!(TokenId::parse(&"a".repeat(ID_LEN + 1)).is_none());
        assert!(TokenId::parse(&format!("{}-", "a".repeat(ID_LEN - 1))).is_none());
    }
}
