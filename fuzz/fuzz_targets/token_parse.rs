//! Token values as they arrive in an Authorization header:
//! `PlainToken::parse` (prefix, length, base62, checksum) and `id_hint`
//! (used to attribute a refusal). A value that parses must print back as
//! itself, and its id hint must be its id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimitar::tokens::{PlainToken, TokenId, TokenKind};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let hint = PlainToken::id_hint(value);
    let _ = TokenKind::parse(value);
    let _ = TokenId::parse(value);
    if let Ok(token) = PlainToken::parse(value) {
        assert_eq!(token.reveal(), value);
        assert_eq!(hint.as_ref(), Some(token.id()));
    }
});
