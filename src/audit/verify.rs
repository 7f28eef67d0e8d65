//! The one verifier of a chain, shared by online verification (records read
//! from the database, `chain`), the console (which shows the online report)
//! and the offline verifier (records read from an export, `offline`), so
//! that all three check the same things and report a break in one shape.
//!
//! It is fed the chain's signed checkpoints first, then the records in
//! sequence order, then what the caller knows of the chain's end:
//!
//! 1. every checkpoint's JWS verifies against the JWKS, its listed `seq`
//!    and `hash` are the signed ones, and each checkpoint's `prev` (the
//!    checkpoint signed before it) is still there;
//! 2. each record follows the one before (no gap, no reordering), links to
//!    its hash (or to genesis, or to the signed checkpoint just before the
//!    first record), hashes to its `hash`, and matches the checkpoint
//!    signed at its `seq`;
//! 3. when the records run to the chain head: the head is the last record,
//!    no checkpoint is newer than the head, and none names a missing record.
//!
//! Nothing here reads a database or a file.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::chain::GENESIS;
use super::checkpoints::{CHECKPOINT_TYP, CheckpointClaims};
use super::event::StoredEvent;
use crate::signing::{jws_type, verify_jws};
use crate::store::settings::{from_hex, to_hex};

/// The first problem found, in the same shape online, in the console and
/// offline. `expected` and `found` are what the check wanted and what it
/// saw, as text: a hash in lowercase hex, a sequence number, a chain name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Break {
    /// `bad_checkpoint`, `checkpoint_missing`, `wrong_chain`,
    /// `malformed_record`, `gap`, `reordered`, `broken_link`,
    /// `hash_mismatch`, `checkpoint_mismatch`, `truncated` (the newest
    /// records are missing: the head, or a checkpoint, says there were
    /// more) or `head_mismatch`.
    pub kind: &'static str,
    /// The record's (or checkpoint's) sequence number, when known.
    pub seq: Option<i64>,
    pub expected: Option<String>,
    pub found: Option<String>,
    pub detail: String,
}

impl Break {
    pub fn new(kind: &'static str, seq: Option<i64>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            seq,
            expected: None,
            found: None,
            detail: detail.into(),
        }
    }

    pub fn saw(mut self, expected: impl ToString, found: impl ToString) -> Self {
        self.expected = Some(expected.to_string());
        self.found = Some(found.to_string());
        self
    }
}

/// The verdict on a chain, or on the part of it that was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub chain: Option<String>,
    /// Records checked.
    pub records: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// Whether the first record was checked against what precedes it:
    /// genesis (seq 1), the record before it, or a checkpoint at the seq
    /// before it (false when retention removed its predecessor and no
    /// checkpoint is at hand).
    pub anchored: bool,
    /// The chain head's `seq` (online only).
    pub head: Option<i64>,
    /// Checkpoints whose signature verified.
    pub checkpoints_verified: u64,
    /// Checkpoints that fell on a checked record and matched it.
    pub checkpoints_matched: u64,
    /// The last record attested by a matching checkpoint.
    pub attested_through: Option<i64>,
    pub first_break: Option<Break>,
}

/// A checkpoint as listed (by the API, the CLI's file, or the database):
/// the `seq` and `hash` it claims, and the JWS that proves it.
pub struct Listed<'a> {
    pub seq: Option<i64>,
    pub hash: Option<String>,
    pub jws: Option<&'a str>,
}

/// What a verified checkpoint signs.
struct Signed {
    hash: Vec<u8>,
    prev: Option<i64>,
}

fn verify_checkpoint(item: &Listed, jwks: &Value) -> Result<(String, i64, Signed), Break> {
    let bad = |detail: String| Break::new("bad_checkpoint", item.seq, detail);
    let jws = item
        .jws
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
    if let Some(listed) = item.seq.filter(|s| *s != claims.seq) {
        return Err(bad("the listed seq is not the signed one".into()).saw(claims.seq, listed));
    }
    if let Some(listed) = item.hash.as_ref().filter(|h| **h != claims.hash) {
        return Err(bad(format!(
            "the listed hash of seq {} is not the signed one",
            claims.seq
        ))
        .saw(&claims.hash, listed));
    }
    Ok((
        claims.chain,
        claims.seq,
        Signed {
            hash,
            prev: claims.prev,
        },
    ))
}

/// Verifies one chain: see the module's documentation for the order.
pub struct Verifier {
    report: Report,
    checkpoints: BTreeMap<i64, Signed>,
    /// What the next record must link to; `None` before the first record.
    prev_hash: Option<Vec<u8>>,
    /// The hash the first record must link to, given by the caller (the
    /// record before it, online).
    predecessor: Option<Vec<u8>>,
    /// The seq the first record must have (online: the start of the range).
    first_expected: Option<i64>,
    /// Whether a first record that links to nothing known is a break
    /// (online, where retention always leaves a checkpoint before the
    /// oldest record it keeps).
    require_anchor: bool,
}

impl Verifier {
    /// A verifier of `chain`, or of whichever chain the checkpoints or the
    /// first record name.
    pub fn new(chain: Option<String>) -> Self {
        Self {
            report: Report {
                ok: true,
                chain,
                records: 0,
                first_seq: None,
                last_seq: None,
                anchored: false,
                head: None,
                checkpoints_verified: 0,
                checkpoints_matched: 0,
                attested_through: None,
                first_break: None,
            },
            checkpoints: BTreeMap::new(),
            prev_hash: None,
            predecessor: None,
            first_expected: None,
            require_anchor: false,
        }
    }

    /// The first record must be `seq` and link to `predecessor` when given
    /// (else to genesis or the checkpoint before it, which must exist).
    pub fn starting_at(&mut self, seq: i64, predecessor: Option<Vec<u8>>) {
        self.first_expected = Some(seq);
        self.predecessor = predecessor;
        self.require_anchor = true;
    }

    /// Verifies the checkpoints. With `complete` (every checkpoint of the
    /// chain, as the database holds them), each one's `prev` must be
    /// there; a partial list is checked only from its oldest checkpoint on.
    pub fn checkpoints<'a>(
        &mut self,
        items: impl IntoIterator<Item = Listed<'a>>,
        jwks: &Value,
        complete: bool,
    ) -> Result<(), Break> {
        for item in items {
            let (chain, seq, signed) = verify_checkpoint(&item, jwks)?;
            match &self.report.chain {
                Some(c) if *c != chain => {
                    return Err(Break::new(
                        "wrong_chain",
                        Some(seq),
                        "a checkpoint of another chain",
                    )
                    .saw(c, chain));
                }
                _ => self.report.chain = Some(chain),
            }
            self.report.checkpoints_verified += 1;
            self.checkpoints.insert(seq, signed);
        }
        let oldest = self.checkpoints.keys().next().copied().unwrap_or(0);
        for (seq, signed) in &self.checkpoints {
            let Some(prev) = signed.prev.filter(|p| *p > 0) else {
                continue;
            };
            if (complete || prev >= oldest) && !self.checkpoints.contains_key(&prev) {
                return Err(Break::new(
                    "checkpoint_missing",
                    Some(prev),
                    format!("the checkpoint at seq {seq} follows one at seq {prev}, which is gone"),
                ));
            }
        }
        Ok(())
    }

    /// The next record, in sequence order.
    pub fn record(&mut self, record: &StoredEvent) -> Result<(), Break> {
        let seq = Some(record.seq);
        match &self.report.chain {
            Some(c) if *c != record.chain => {
                return Err(Break::new("wrong_chain", seq, "a record of another chain")
                    .saw(c, &record.chain));
            }
            _ => self.report.chain = Some(record.chain.clone()),
        }
        let link = match (self.report.last_seq, self.prev_hash.take()) {
            (Some(last), Some(prev)) => {
                let expected = last + 1;
                if record.seq > expected {
                    return Err(
                        Break::new("gap", seq, "records are missing").saw(expected, record.seq)
                    );
                }
                if record.seq < expected {
                    return Err(Break::new("reordered", seq, "records are out of order")
                        .saw(expected, record.seq));
                }
                Some((prev, "the hash of the record before"))
            }
            _ => {
                // Retention, running meanwhile, may have removed records up
                // to a checkpoint: the first one left is anchored by it.
                let purged =
                    |e: i64| record.seq > e && self.checkpoints.contains_key(&(record.seq - 1));
                if let Some(expected) = self.first_expected.filter(|e| *e != record.seq) {
                    if !purged(expected) {
                        return Err(Break::new("gap", seq, "records are missing at the start")
                            .saw(expected, record.seq));
                    }
                    self.predecessor = None;
                }
                self.report.first_seq = Some(record.seq);
                let anchor = if record.seq == 1 {
                    Some((GENESIS.to_vec(), "the genesis hash"))
                } else if let Some(p) = self.predecessor.take() {
                    Some((p, "the hash of the record before"))
                } else {
                    self.checkpoints
                        .get(&(record.seq - 1))
                        .map(|c| (c.hash.clone(), "the checkpoint at the seq before"))
                };
                self.report.anchored = anchor.is_some();
                if anchor.is_none() && self.require_anchor {
                    return Err(Break::new(
                        "gap",
                        seq,
                        "the oldest records are missing, and no signed checkpoint anchors the first one left",
                    )
                    .saw(format!("a checkpoint at seq {}", record.seq - 1), "none"));
                }
                anchor
            }
        };
        if let Some((prev, what)) = link
            && record.prev_hash != prev
        {
            return Err(
                Break::new("broken_link", seq, format!("prev_hash is not {what}"))
                    .saw(to_hex(&prev), to_hex(&record.prev_hash)),
            );
        }
        let computed = record.compute_hash();
        if computed != record.hash {
            return Err(Break::new(
                "hash_mismatch",
                seq,
                "the record's contents do not match its hash",
            )
            .saw(to_hex(&computed), to_hex(&record.hash)));
        }
        if let Some(signed) = self.checkpoints.get(&record.seq) {
            if signed.hash != record.hash {
                return Err(Break::new(
                    "checkpoint_mismatch",
                    seq,
                    "the record's hash is not the one the checkpoint signed",
                )
                .saw(to_hex(&signed.hash), to_hex(&record.hash)));
            }
            self.report.checkpoints_matched += 1;
            self.report.attested_through = Some(record.seq);
        }
        self.report.records += 1;
        self.report.last_seq = Some(record.seq);
        self.prev_hash = Some(record.hash.clone());
        Ok(())
    }

    /// The records ran to the chain head, whose last record is `head`
    /// (seq and hash): it must be the last record checked, and no
    /// checkpoint may be newer than it (with no record left, because
    /// retention removed them all, the head must still not be behind a
    /// checkpoint).
    pub fn at_head(&mut self, head: Option<(i64, Vec<u8>)>) -> Result<(), Break> {
        let head_seq = head.as_ref().map_or(0, |h| h.0);
        self.report.head = Some(head_seq);
        let last = self.report.last_seq;
        if let Some(last) = last
            && head_seq > last
        {
            return Err(Break::new(
                "truncated",
                Some(last + 1),
                "the newest records are missing: the chain head says there were more",
            )
            .saw(head_seq, last));
        }
        if let (Some(last), Some((_, hash))) = (last, &head)
            && head_seq == last
            && self.prev_hash.as_ref() != Some(hash)
        {
            return Err(Break::new(
                "head_mismatch",
                Some(last),
                "the chain head's hash is not the last record's",
            )
            .saw(
                to_hex(hash),
                to_hex(self.prev_hash.as_deref().unwrap_or(&[])),
            ));
        }
        if let Some((&newest, _)) = self.checkpoints.last_key_value()
            && newest > head_seq
        {
            return Err(Break::new(
                "truncated",
                Some(head_seq + 1),
                "a signed checkpoint is newer than the chain head: the newest records are missing",
            )
            .saw(newest, head_seq));
        }
        Ok(())
    }

    /// The export ended: no checkpoint may be newer than its last record,
    /// or records after it are missing from it (the checkpoints of a
    /// deliberately shorter export are asked for up to its last seq).
    pub fn at_export_end(&mut self) -> Result<(), Break> {
        let last = self.report.last_seq.unwrap_or(0);
        if let Some((&newest, _)) = self.checkpoints.last_key_value()
            && newest > last
        {
            return Err(Break::new(
                "truncated",
                Some(last + 1),
                "a signed checkpoint is newer than the export's last record: records are missing",
            )
            .saw(newest, last));
        }
        Ok(())
    }

    /// The records of a range ran to `to`: the last one must be `to`.
    pub fn at_range_end(&mut self, to: i64) -> Result<(), Break> {
        let last = self
            .report
            .last_seq
            .or(self.first_expected.map(|f| f - 1))
            .unwrap_or(0);
        if last < to {
            return Err(Break::new(
                "gap",
                Some(last + 1),
                "records are missing at the end of the range",
            )
            .saw(to, last));
        }
        Ok(())
    }

    /// The report, with `outcome` as its verdict.
    pub fn finish(mut self, outcome: Result<(), Break>) -> Report {
        if let Err(b) = outcome {
            self.report.ok = false;
            self.report.first_break = Some(b);
        }
        self.report
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::signing::KeyPair;
    use crate::store::Timestamp;

    /// A valid chain `c1` of `n` records (the offline verifier's tests
    /// use it too).
    pub(crate) fn chain_of(n: i64) -> Vec<StoredEvent> {
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
                    reported_by: None,
                    prev_hash: prev.clone(),
                    hash: Vec::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    /// Checkpoints at these records, each linked to the one before.
    fn signed(key: &KeyPair, records: &[StoredEvent], at: &[i64]) -> Vec<String> {
        let mut prev = 0;
        at.iter()
            .map(|seq| {
                let r = &records[*seq as usize - 1];
                let claims = CheckpointClaims {
                    chain: r.chain.clone(),
                    seq: r.seq,
                    hash: to_hex(&r.hash),
                    time: Timestamp::now().to_canonical(),
                    prev: Some(prev),
                };
                prev = r.seq;
                key.sign_jws_typed(CHECKPOINT_TYP, &claims).unwrap()
            })
            .collect()
    }

    fn run(
        records: &[StoredEvent],
        jws: &[String],
        jwks: &Value,
        complete: bool,
        head: Option<(i64, Vec<u8>)>,
    ) -> Report {
        let mut v = Verifier::new(Some("c1".into()));
        let outcome = (|| {
            v.checkpoints(
                jws.iter().map(|j| Listed {
                    seq: None,
                    hash: None,
                    jws: Some(j),
                }),
                jwks,
                complete,
            )?;
            v.starting_at(records.first().map_or(1, |r| r.seq), None);
            for r in records {
                v.record(r)?;
            }
            v.at_head(head)
        })();
        v.finish(outcome)
    }

    fn head_of(records: &[StoredEvent]) -> Option<(i64, Vec<u8>)> {
        records.last().map(|r| (r.seq, r.hash.clone()))
    }

    #[test]
    fn a_whole_chain_with_its_head_and_checkpoints_verifies() {
        let key = KeyPair::generate();
        let jwks = json!({ "keys": [key.jwk()] });
        let records = chain_of(9);
        let cps = signed(&key, &records, &[3, 6, 9]);
        let r = run(&records, &cps, &jwks, true, head_of(&records));
        assert!(r.ok, "{r:?}");
        assert_eq!((r.checkpoints_verified, r.checkpoints_matched), (3, 3));
        assert_eq!((r.attested_through, r.head), (Some(9), Some(9)));
    }

    #[test]
    fn a_checkpoint_whose_predecessor_is_gone_is_a_break() {
        let key = KeyPair::generate();
        let jwks = json!({ "keys": [key.jwk()] });
        let records = chain_of(9);
        let mut cps = signed(&key, &records, &[3, 6, 9]);
        cps.remove(1);
        let b = run(&records, &cps, &jwks, true, head_of(&records))
            .first_break
            .unwrap();
        assert_eq!((b.kind, b.seq), ("checkpoint_missing", Some(6)));
        // A partial list (the API's from_seq) is checked from its oldest on:
        // the predecessor of the oldest is not expected.
        let r = run(
            &records,
            &signed(&key, &records, &[3, 6, 9])[1..],
            &jwks,
            false,
            None,
        );
        assert!(r.first_break.is_none_or(|b| b.kind != "checkpoint_missing"));
        // But deleting the oldest of a complete list shows.
        let b = run(
            &records,
            &signed(&key, &records, &[3, 6, 9])[1..],
            &jwks,
            true,
            None,
        )
        .first_break
        .unwrap();
        assert_eq!((b.kind, b.seq), ("checkpoint_missing", Some(3)));
    }

    #[test]
    fn the_head_must_be_the_last_record_and_not_behind_a_checkpoint() {
        let key = KeyPair::generate();
        let jwks = json!({ "keys": [key.jwk()] });
        let records = chain_of(9);
        let cps = signed(&key, &records, &[3, 6, 9]);

        // The head says there were more records.
        let b = run(&records[..7], &cps[..2], &jwks, true, head_of(&records))
            .first_break
            .unwrap();
        assert_eq!((b.kind, b.seq), ("truncated", Some(8)));
        assert_eq!(
            (b.expected.as_deref(), b.found.as_deref()),
            (Some("9"), Some("7"))
        );

        // The head was set back with the tail, but checkpoint 9 remains.
        let b = run(&records[..7], &cps, &jwks, true, head_of(&records[..7]))
            .first_break
            .unwrap();
        assert_eq!((b.kind, b.seq), ("truncated", Some(8)));

        // The head's hash is not the last record's.
        let b = run(&records, &cps, &jwks, true, Some((9, vec![7; 32])))
            .first_break
            .unwrap();
        assert_eq!((b.kind, b.seq), ("head_mismatch", Some(9)));
    }

    #[test]
    fn the_oldest_record_left_needs_an_anchor_online() {
        let key = KeyPair::generate();
        let jwks = json!({ "keys": [key.jwk()] });
        let records = chain_of(9);
        // Retention's way: up to a checkpoint (at 3), the rest anchored by it.
        let cps = signed(&key, &records, &[3, 6, 9]);
        let r = run(&records[3..], &cps, &jwks, true, head_of(&records));
        assert!(r.ok && r.anchored, "{r:?}");
        // Retention purging up to checkpoint 3 while the check began at 1.
        let mut v = Verifier::new(None);
        let jws: Vec<Listed> = cps
            .iter()
            .map(|j| Listed {
                seq: None,
                hash: None,
                jws: Some(j),
            })
            .collect();
        v.checkpoints(jws, &jwks, true).unwrap();
        v.starting_at(1, None);
        for r in &records[3..] {
            v.record(r).unwrap();
        }
        v.at_head(head_of(&records)).unwrap();
        // Not retention's way: nothing signed at 4.
        let b = run(&records[4..], &cps, &jwks, true, head_of(&records))
            .first_break
            .unwrap();
        assert_eq!((b.kind, b.seq), ("gap", Some(5)));
    }
}
