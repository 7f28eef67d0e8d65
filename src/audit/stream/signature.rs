//! How a delivery is signed, so that a receiver can tell it came from this
//! server and was not replayed long after: `HMAC-SHA256(secret, timestamp
//! "." body)`, lowercase hex, with the secret's text as the key. The
//! headers below carry it, the timestamp, and the range of records sent.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Unix seconds at signing.
pub const TIMESTAMP: &str = "scimitar-timestamp";
/// `v1=<hex HMAC-SHA256 over "<timestamp>.<body>">`.
pub const SIGNATURE: &str = "scimitar-signature";
/// The stream's id.
pub const STREAM_ID: &str = "scimitar-stream-id";
/// The organization's chain the records come from.
pub const CHAIN: &str = "scimitar-chain";
/// The `seq` of the first and last record in the body.
pub const SEQ_FIRST: &str = "scimitar-seq-first";
pub const SEQ_LAST: &str = "scimitar-seq-last";
/// How many records (lines) the body holds.
pub const RECORDS: &str = "scimitar-records";
/// `test` on the request `POST /audit-streams/{id}/test` sends; absent on
/// deliveries of records.
pub const EVENT: &str = "scimitar-event";

/// The `scimitar-signature` value of `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1={}",
        crate::store::settings::to_hex(&mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let s = sign("whsec_k", 1_700_000_000, b"{\"seq\":1}\n");
        assert!(s.starts_with("v1=") && s.len() == 3 + 64, "{s}");
        assert_eq!(s, sign("whsec_k", 1_700_000_000, b"{\"seq\":1}\n"));
        assert_ne!(s, sign("whsec_k", 1_700_000_001, b"{\"seq\":1}\n"));
        assert_ne!(s, sign("whsec_k", 1_700_000_000, b"{\"seq\":2}\n"));
        assert_ne!(s, sign("whsec_j", 1_700_000_000, b"{\"seq\":1}\n"));
        // A known answer, computed independently:
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"1.body",hashlib.sha256).hexdigest())'
        assert_eq!(
            sign("key", 1, b"body"),
            "v1=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
        );
    }
}
