//! Offline verification of an NDJSON export against signed checkpoints and
//! a JWKS: what `scimitar audit verify --file` runs, with no database. The
//! checks are the shared verifier's ([`super::verify`]), fed from files:
//! the checkpoints first, then the export a line at a time.
//!
//! An export that starts after seq 1 is anchored by the checkpoint just
//! before its first record when there is one; otherwise its first
//! `prev_hash` is taken as given (`anchored: false`). The checkpoints file
//! must not be newer than the export: a checkpoint after the export's last
//! record means records are missing from it (take the checkpoints first,
//! or ask for them up to the export's last seq). Only records up to the
//! last matching checkpoint are attested by a signature
//! (`attested_through`).

use std::io::BufRead;

use serde_json::Value;

use super::event::StoredEvent;
use super::verify::{Break, Listed, Report, Verifier};

/// Reads the checkpoint list: `{"checkpoints":[…]}` (what the API and
/// `scimitar audit checkpoints` write) or a bare array.
fn checkpoint_items(checkpoints: &Value) -> Option<&Vec<Value>> {
    match checkpoints {
        Value::Array(items) => Some(items),
        other => other.get("checkpoints").and_then(Value::as_array),
    }
}

fn listed(item: &Value) -> Listed<'_> {
    Listed {
        seq: item.get("seq").and_then(Value::as_i64),
        hash: item.get("hash").and_then(Value::as_str).map(str::to_string),
        jws: item.get("jws").and_then(Value::as_str),
    }
}

/// Verifies an NDJSON export (read a line at a time) against `checkpoints`
/// and `jwks`. `Err` only when the export cannot be read.
pub fn verify_export(
    export: impl BufRead,
    checkpoints: &Value,
    jwks: &Value,
) -> std::io::Result<Report> {
    let mut v = Verifier::new(None);
    let Some(items) = checkpoint_items(checkpoints) else {
        let b = Break::new(
            "bad_checkpoint",
            None,
            "the checkpoints file has no `checkpoints` list",
        );
        return Ok(v.finish(Err(b)));
    };
    if let Err(b) = v.checkpoints(items.iter().map(listed), jwks, false) {
        return Ok(v.finish(Err(b)));
    }
    let mut next_seq = None;
    for (index, line) in export.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let at_line = |mut b: Break| {
            b.detail = format!("line {}: {}", index + 1, b.detail);
            b
        };
        let outcome = match serde_json::from_str::<StoredEvent>(&line) {
            Ok(record) => v.record(&record).map(|()| record.seq + 1),
            Err(e) => Err(Break::new(
                "malformed_record",
                next_seq,
                format!("not an audit record: {e}"),
            )),
        };
        match outcome {
            Ok(next) => next_seq = Some(next),
            Err(b) => return Ok(v.finish(Err(at_line(b)))),
        }
    }
    let end = v.at_export_end();
    Ok(v.finish(end))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::audit::checkpoints::{CHECKPOINT_TYP, CheckpointClaims};
    use crate::signing::KeyPair;
    use crate::store::Timestamp;
    use crate::store::settings::to_hex;

    use crate::audit::verify::tests::chain_of;

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
            prev: None,
        };
        let jws = key.sign_jws_typed(CHECKPOINT_TYP, &claims).unwrap();
        json!({ "seq": r.seq, "hash": claims.hash, "time": claims.time, "kid": key.kid(), "jws": jws })
    }

    fn run(export: &str, cps: &[Value], jwks: &Value) -> Report {
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
        assert_eq!((b.kind, b.seq), ("malformed_record", Some(3)));
        assert!(b.detail.starts_with("line 3: "), "{}", b.detail);
    }
}
