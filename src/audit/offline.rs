//! Offline verification of an NDJSON export against signed checkpoints and
//! a JWKS: what `scimitar audit verify` runs, with no database.
//!
//! 1. Every checkpoint's JWS must verify against the JWKS (a published
//!    `kid`, a good EdDSA signature, the checkpoint `typ`), and its listed
//!    fields must be the ones it signs.
//! 2. The export is recomputed record by record, a line at a time: sequence
//!    numbers without gap or reordering, each `prev_hash` the hash of the
//!    record before, each `hash` = SHA-256(prev_hash ‖ canonical record).
//! 3. Each checkpoint whose seq falls inside the export must match that
//!    record's hash. An export that starts after seq 1 is anchored by the
//!    checkpoint just before its first record when there is one; otherwise
//!    its first `prev_hash` is taken as given (`anchored: false`).
//!
//! Only records up to the last matching checkpoint are attested by a
//! signature (`attested_through`): anyone can compute a consistent chain,
//! nobody but the server can sign a checkpoint for it.

use std::collections::HashMap;
use std::io::BufRead;

use serde::Serialize;
use serde_json::Value;

use super::chain::GENESIS;
use super::checkpoints::{CHECKPOINT_TYP, CheckpointClaims};
use super::event::StoredEvent;
use crate::signing::{jws_type, verify_jws};
use crate::store::settings::from_hex;

/// The first problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfflineBreak {
    /// `bad_checkpoint`, `wrong_chain`, `malformed_record`, `gap`,
    /// `reordered`, `broken_link`, `hash_mismatch` or `checkpoint_mismatch`.
    pub kind: &'static str,
    /// The record's (or checkpoint's) sequence number, when known.
    pub seq: Option<i64>,
    /// The export line (1-based), for problems in the export.
    pub line: Option<u64>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfflineReport {
    pub ok: bool,
    pub chain: Option<String>,
    pub records: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// Whether the first record was checked against what precedes it: the
    /// genesis hash (seq 1) or a checkpoint at the seq before it.
    pub anchored: bool,
    /// Checkpoints whose signature verified.
    pub checkpoints_verified: u64,
    /// Checkpoints inside the export that matched their record.
    pub checkpoints_matched: u64,
    /// The last record attested by a matching checkpoint.
    pub attested_through: Option<i64>,
    pub first_break: Option<OfflineBreak>,
}

/// Reads the checkpoint list: `{"checkpoints":[…]}` (what the API and
/// `scimitar audit checkpoints` write) or a bare array.
fn checkpoint_items(checkpoints: &Value) -> Option<&Vec<Value>> {
    match checkpoints {
        Value::Array(items) => Some(items),
        other => other.get("checkpoints").and_then(Value::as_array),
    }
}

struct Verified {
    chain: String,
    seq: i64,
    hash: Vec<u8>,
}

fn verify_checkpoint(item: &Value, jwks: &Value) -> Result<Verified, OfflineBreak> {
    let listed_seq = item.get("seq").and_then(Value::as_i64);
    let bad = |detail: String| OfflineBreak {
        kind: "bad_checkpoint",
        seq: listed_seq,
        line: None,
        detail,
    };
    let jws = item
        .get("jws")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a checkpoint has no `jws`".into()))?;
    let claims = verify_jws(jws, jwks).map_err(|e| bad(format!("checkpoint signature: {e}")))?;
    if jws_type(jws).as_deref() != Some(CHECKPOINT_TYP) {
        return Err(bad(format!(
            "the JWS is not a checkpoint (typ {CHECKPOINT_TYP})"
        )));
    }
    let claims: CheckpointClaims =
        serde_json::from_value(claims).map_err(|e| bad(format!("checkpoint claims: {e}")))?;
    let hash = from_hex(&claims.hash)
        .filter(|h| h.len() == 32)
        .ok_or_else(|| bad("the signed hash is not 32 bytes of lowercase hex".into()))?;
    if listed_seq.is_some_and(|s| s != claims.seq)
        || item
            .get("hash")
            .and_then(Value::as_str)
            .is_some_and(|h| h != claims.hash)
    {
        return Err(bad(format!(
            "the listed seq or hash differ from what the checkpoint signs (seq {})",
            claims.seq
        )));
    }
    Ok(Verified {
        chain: claims.chain,
        seq: claims.seq,
        hash,
    })
}

/// Verifies an NDJSON export (read a line at a time) against `checkpoints`
/// and `jwks`. `Err` only when the export cannot be read.
pub fn verify_export(
    export: impl BufRead,
    checkpoints: &Value,
    jwks: &Value,
) -> std::io::Result<OfflineReport> {
    let mut report = OfflineReport {
        ok: true,
        chain: None,
        records: 0,
        first_seq: None,
        last_seq: None,
        anchored: false,
        checkpoints_verified: 0,
        checkpoints_matched: 0,
        attested_through: None,
        first_break: None,
    };
    let fail = |mut report: OfflineReport, b: OfflineBreak| {
        report.ok = false;
        report.first_break = Some(b);
        Ok(report)
    };

    // 1. Checkpoints.
    let Some(items) = checkpoint_items(checkpoints) else {
        return fail(
            report,
            OfflineBreak {
                kind: "bad_checkpoint",
                seq: None,
                line: None,
                detail: "the checkpoints file has no `checkpoints` list".into(),
            },
        );
    };
    let mut by_seq: HashMap<i64, Vec<u8>> = HashMap::with_capacity(items.len());
    let mut checkpoint_chain: Option<String> = None;
    for item in items {
        let v = match verify_checkpoint(item, jwks) {
            Ok(v) => v,
            Err(b) => return fail(report, b),
        };
        match &checkpoint_chain {
            Some(c) if *c != v.chain => {
                return fail(
                    report,
                    OfflineBreak {
                        kind: "wrong_chain",
                        seq: Some(v.seq),
                        line: None,
                        detail: format!("checkpoints of two chains: `{c}` and `{}`", v.chain),
                    },
                );
            }
            _ => checkpoint_chain = Some(v.chain.clone()),
        }
        report.checkpoints_verified += 1;
        by_seq.insert(v.seq, v.hash);
    }

    // 2 and 3. The records.
    let mut prev_hash: Option<Vec<u8>> = None;
    for (index, line) in export.lines().enumerate() {
        let line = line?;
        let line_no = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let record: StoredEvent = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let seq = report.last_seq.map(|s| s + 1);
                return fail(
                    report,
                    OfflineBreak {
                        kind: "malformed_record",
                        seq,
                        line: Some(line_no),
                        detail: format!("not an audit record: {e}"),
                    },
                );
            }
        };
        let at = |kind: &'static str, detail: String| OfflineBreak {
            kind,
            seq: Some(record.seq),
            line: Some(line_no),
            detail,
        };
        match &report.chain {
            None => {
                if let Some(c) = checkpoint_chain.as_ref().filter(|c| **c != record.chain) {
                    return fail(
                        report,
                        at(
                            "wrong_chain",
                            format!(
                                "the export is chain `{}`, the checkpoints `{c}`",
                                record.chain
                            ),
                        ),
                    );
                }
                report.chain = Some(record.chain.clone());
                report.first_seq = Some(record.seq);
                // The anchor: genesis, or the checkpoint just before.
                let anchor = if record.seq == 1 {
                    Some(GENESIS.to_vec())
                } else {
                    by_seq.get(&(record.seq - 1)).cloned()
                };
                report.anchored = anchor.is_some();
                if let Some(anchor) = anchor
                    && record.prev_hash != anchor
                {
                    let what = if record.seq == 1 {
                        "the genesis hash".to_string()
                    } else {
                        format!("the checkpoint at seq {}", record.seq - 1)
                    };
                    return fail(
                        report,
                        at("broken_link", format!("prev_hash does not match {what}")),
                    );
                }
            }
            Some(chain) => {
                if *chain != record.chain {
                    return fail(
                        report,
                        at(
                            "wrong_chain",
                            format!("a record of chain `{}`", record.chain),
                        ),
                    );
                }
                let expected = report.last_seq.unwrap_or(0) + 1;
                if record.seq > expected {
                    return fail(
                        report,
                        at(
                            "gap",
                            format!(
                                "expected seq {expected}, found {}: records are missing",
                                record.seq
                            ),
                        ),
                    );
                }
                if record.seq < expected {
                    return fail(
                        report,
                        at(
                            "reordered",
                            format!("seq {} after seq {}", record.seq, expected - 1),
                        ),
                    );
                }
                if Some(&record.prev_hash) != prev_hash.as_ref() {
                    return fail(
                        report,
                        at(
                            "broken_link",
                            "prev_hash is not the hash of the record before".into(),
                        ),
                    );
                }
            }
        }
        if record.compute_hash() != record.hash {
            return fail(
                report,
                at(
                    "hash_mismatch",
                    "the record's contents do not match its hash".into(),
                ),
            );
        }
        if let Some(signed) = by_seq.get(&record.seq) {
            if *signed != record.hash {
                return fail(
                    report,
                    at(
                        "checkpoint_mismatch",
                        "the record's hash is not the one the checkpoint signed".into(),
                    ),
                );
            }
            report.checkpoints_matched += 1;
            report.attested_through = Some(record.seq);
        }
        report.records += 1;
        report.last_seq = Some(record.seq);
        prev_hash = Some(record.hash);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::signing::KeyPair;
    use crate::store::Timestamp;
    use crate::store::settings::to_hex;

    fn chain_of(n: i64) -> Vec<StoredEvent> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let mut e = StoredEvent {
                    id: Uuid::now_v7(),
                    chain: "c1".into(),
                    seq,
                    org_id: None,
                    workspace_id: None,
                    occurred_at: Timestamp::now(),
                    actor_kind: "operator".into(),
                    actor_id: None,
                    actor_display: None,
                    action: format!("test.{seq}"),
                    target_type: None,
                    target_id: None,
                    target_display: None,
                    outcome: "success".into(),
                    reason: None,
                    http_status: None,
                    request_id: None,
                    source_ip: None,
                    user_agent: None,
                    changes: Some(r#"{"a":1}"#.into()),
                    prev_hash: prev.clone(),
                    hash: Vec::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn ndjson(records: &[StoredEvent]) -> String {
        records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect()
    }

    fn checkpoint(key: &KeyPair, r: &StoredEvent) -> Value {
        let claims = CheckpointClaims {
            chain: r.chain.clone(),
            seq: r.seq,
            hash: to_hex(&r.hash),
            time: Timestamp::now().to_canonical(),
        };
        let jws = key.sign_jws_typed(CHECKPOINT_TYP, &claims).unwrap();
        json!({ "seq": r.seq, "hash": claims.hash, "time": claims.time, "kid": key.kid(), "jws": jws })
    }

    fn run(export: &str, cps: &[Value], jwks: &Value) -> OfflineReport {
        verify_export(export.as_bytes(), &json!({ "checkpoints": cps }), jwks).unwrap()
    }

    #[test]
    fn a_whole_export_verifies_and_edits_are_found() {
        let key = KeyPair::generate();
        let jwks = json!({ "keys": [key.jwk()] });
        let records = chain_of(6);
        let cps = vec![checkpoint(&key, &records[2]), checkpoint(&key, &records[5])];
        let good = run(&ndjson(&records), &cps, &jwks);
        assert!(good.ok, "{good:?}");
        assert_eq!((good.records, good.checkpoints_matched), (6, 2));
        assert_eq!(good.attested_through, Some(6));
        assert!(good.anchored);

        // One changed byte in a record.
        let edited = ndjson(&records).replacen("test.4", "test.X", 1);
        let r = run(&edited, &cps, &jwks);
        assert_eq!(r.first_break.as_ref().unwrap().kind, "hash_mismatch");
        assert_eq!(r.first_break.unwrap().seq, Some(4));

        // A deleted line.
        let mut missing = records.clone();
        missing.remove(3);
        let r = run(&ndjson(&missing), &cps, &jwks);
        let b = r.first_break.unwrap();
        assert_eq!((b.kind, b.seq), ("gap", Some(5)));

        // Two lines swapped.
        let mut swapped = records.clone();
        swapped.swap(2, 3);
        let r = run(&ndjson(&swapped), &cps, &jwks);
        assert_eq!(r.first_break.unwrap().kind, "gap");

        // A record rewritten with every later hash recomputed: only the
        // signed checkpoint catches it.
        let mut forged = records.clone();
        forged[1].action = "forged".into();
        for i in 1..forged.len() {
            forged[i].prev_hash = forged[i - 1].hash.clone();
            forged[i].hash = forged[i].compute_hash();
        }
        let r = run(&ndjson(&forged), &cps, &jwks);
        let b = r.first_break.unwrap();
        assert_eq!((b.kind, b.seq), ("checkpoint_mismatch", Some(3)));
    }

    #[test]
    fn checkpoints_must_be_signed_by_a_published_key() {
        let key = KeyPair::generate();
        let other = KeyPair::generate();
        let jwks = json!({ "keys": [key.jwk()] });
        let records = chain_of(3);
        let export = ndjson(&records);

        let r = run(&export, &[checkpoint(&other, &records[2])], &jwks);
        assert_eq!(r.first_break.unwrap().kind, "bad_checkpoint");

        // Another key's signature under the published kid.
        let mut cp = checkpoint(&other, &records[2]);
        let genuine = checkpoint(&key, &records[2]);
        let mut parts: Vec<String> = genuine["jws"]
            .as_str()
            .unwrap()
            .split('.')
            .map(String::from)
            .collect();
        parts[2] = cp["jws"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap()
            .to_string();
        cp["jws"] = json!(parts.join("."));
        let r = run(&export, &[cp], &jwks);
        let b = r.first_break.unwrap();
        assert_eq!(b.kind, "bad_checkpoint");
        assert!(b.detail.contains("bad signature"), "{}", b.detail);

        // Listed fields that differ from the signed ones.
        let mut cp = checkpoint(&key, &records[2]);
        cp["seq"] = json!(2);
        assert_eq!(
            run(&export, &[cp], &jwks).first_break.unwrap().kind,
            "bad_checkpoint"
        );

        // A plain JWT signed by the right key is not a checkpoint.
        let jwt = key
            .sign_jws(
                &json!({ "chain": "c1", "seq": 3, "hash": to_hex(&records[2].hash), "time": "x" }),
            )
            .unwrap();
        let r = run(&export, &[json!({ "jws": jwt })], &jwks);
        assert_eq!(r.first_break.unwrap().kind, "bad_checkpoint");

        // No checkpoints at all: consistent, but nothing attested.
        let r = run(&export, &[], &jwks);
        assert!(r.ok);
        assert_eq!(r.attested_through, None);
    }

    #[test]
    fn a_partial_export_is_anchored_by_the_checkpoint_before_it() {
        let key = KeyPair::generate();
        let jwks = json!({ "keys": [key.jwk()] });
        let records = chain_of(6);
        let tail = ndjson(&records[3..]);
        let r = run(&tail, &[checkpoint(&key, &records[2])], &jwks);
        assert!(r.ok && r.anchored, "{r:?}");
        assert_eq!((r.first_seq, r.last_seq), (Some(4), Some(6)));
        assert_eq!(r.attested_through, None);

        let r = run(&tail, &[], &jwks);
        assert!(r.ok && !r.anchored);

        // The anchor does not match the first record's link.
        let mut wrong = records[2].clone();
        wrong.hash = vec![9; 32];
        let r = run(&tail, &[checkpoint(&key, &wrong)], &jwks);
        let b = r.first_break.unwrap();
        assert_eq!((b.kind, b.seq), ("broken_link", Some(4)));

        // Another chain's checkpoints.
        let mut elsewhere = records[2].clone();
        elsewhere.chain = "c2".into();
        let r = run(&tail, &[checkpoint(&key, &elsewhere)], &jwks);
        assert_eq!(r.first_break.unwrap().kind, "wrong_chain");

        // A line that is not a record.
        let r = run(&format!("{}not json\n", ndjson(&records[..2])), &[], &jwks);
        let b = r.first_break.unwrap();
        assert_eq!(
            (b.kind, b.line, b.seq),
            ("malformed_record", Some(3), Some(3))
        );
    }
}
