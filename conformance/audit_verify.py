#!/usr/bin/env python3
"""Verifies a scimitar audit export against its checkpoints and JWKS, written
from docs/audit-format.md alone. Prints one JSON report; exits 0 when the
export verifies, 1 when it does not.

    audit_verify.py EXPORT.ndjson CHECKPOINTS.json JWKS.json
"""
import base64
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ORDER = ["id", "chain", "seq", "org_id", "workspace_id", "occurred_at", "actor_kind",
         "actor_id", "actor_display", "action", "target_type", "target_id", "target_display",
         "outcome", "reason", "http_status", "request_id", "source_ip", "user_agent", "changes"]
TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$")


class Break(Exception):
    def __init__(self, kind, seq, detail):
        super().__init__(detail)
        self.kind, self.seq, self.detail = kind, seq, detail


def b64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def canonical(r):
    # Version 2 is a record a workspace service reported: it names the
    # reporting SAT in `reported_by`. Every other record is version 1.
    version = 1 if r.get("reported_by") is None else 2
    if r.get("v", version) != version:
        raise Break("malformed_record", r.get("seq"), f"unknown version {r['v']}")
    m = TIME.match(r["occurred_at"])
    if not m:
        raise Break("malformed_record", r.get("seq"), "occurred_at is not RFC 3339 UTC")
    obj = {"v": version}
    for name in ORDER:
        obj[name] = r[name]
    if version == 2:
        obj["reported_by"] = r["reported_by"]
    obj["occurred_at"] = f"{m.group(1)}.{(m.group(2) or '').ljust(6, '0')}Z"
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def checkpoint(item, keys):
    seq = item.get("seq")
    try:
        head64, body64, sig64 = item["jws"].split(".")
        header = json.loads(b64(head64))
        if header.get("alg") != "EdDSA" or header.get("typ") != "audit-checkpoint+jwt":
            raise Break("bad_checkpoint", seq, "not an EdDSA audit checkpoint")
        key = keys.get(header.get("kid"))
        if key is None:
            raise Break("bad_checkpoint", seq, f"unknown kid {header.get('kid')}")
        key.verify(b64(sig64), f"{head64}.{body64}".encode("ascii"))
        claims = json.loads(b64(body64))
    except InvalidSignature:
        raise Break("bad_checkpoint", seq, "bad signature")
    except (KeyError, ValueError) as e:
        raise Break("bad_checkpoint", seq, f"malformed checkpoint: {e}")
    if item.get("seq", claims["seq"]) != claims["seq"] or item.get("hash", claims["hash"]) != claims["hash"]:
        raise Break("bad_checkpoint", seq, "listed seq or hash differ from the signed ones")
    return claims


def verify(export, checkpoints, jwks):
    report = {"ok": True, "chain": None, "records": 0, "first_seq": None, "last_seq": None,
              "anchored": False, "checkpoints_verified": 0, "attested_through": None}
    keys = {k["kid"]: Ed25519PublicKey.from_public_bytes(b64(k["x"]))
            for k in jwks["keys"] if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"}
    signed = {}
    for item in checkpoints["checkpoints"]:
        claims = checkpoint(item, keys)
        if report["chain"] not in (None, claims["chain"]):
            raise Break("wrong_chain", claims["seq"], "checkpoints of two chains")
        report["chain"] = claims["chain"]
        signed[claims["seq"]] = claims
        report["checkpoints_verified"] += 1
    oldest = min(signed, default=0)
    for seq, claims in sorted(signed.items()):
        prev = claims.get("prev", 0)
        if prev and prev >= oldest and prev not in signed:
            raise Break("checkpoint_missing", prev, f"checkpoint {seq} follows {prev}, which is gone")
    prev_hash = None
    for number, line in enumerate(export, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            seq, link, digest = r["seq"], bytes.fromhex(r["prev_hash"]), r["hash"]
        except (ValueError, KeyError, TypeError) as e:
            raise Break("malformed_record", None, f"line {number}: {e}")
        if report["chain"] not in (None, r["chain"]):
            raise Break("wrong_chain", seq, f"line {number}: a record of chain {r['chain']}")
        report["chain"] = r["chain"]
        if prev_hash is None:
            report["first_seq"] = seq
            anchor = bytes(32) if seq == 1 else (bytes.fromhex(signed[seq - 1]["hash"]) if seq - 1 in signed else None)
            report["anchored"] = anchor is not None
            expected_link = anchor if anchor is not None else link
        else:
            if seq != report["last_seq"] + 1:
                kind = "gap" if seq > report["last_seq"] + 1 else "reordered"
                raise Break(kind, seq, f"line {number}: expected seq {report['last_seq'] + 1}")
            expected_link = prev_hash
        if link != expected_link:
            raise Break("broken_link", seq, f"line {number}: prev_hash does not link")
        if hashlib.sha256(link + canonical(r)).hexdigest() != digest:
            raise Break("hash_mismatch", seq, f"line {number}: the contents do not match the hash")
        if seq in signed:
            if signed[seq]["hash"] != digest:
                raise Break("checkpoint_mismatch", seq, f"line {number}: not the signed hash")
            report["attested_through"] = seq
        prev_hash, report["last_seq"] = bytes.fromhex(digest), seq
        report["records"] += 1
    newest = max(signed, default=0)
    if newest > (report["last_seq"] or 0):
        raise Break("truncated", (report["last_seq"] or 0) + 1, f"checkpoint {newest} is past the export")
    return report


def main(argv):
    with open(argv[2]) as c, open(argv[3]) as j:
        checkpoints, jwks = json.load(c), json.load(j)
    with open(argv[1], encoding="utf-8") as export:
        try:
            report = verify(export, checkpoints, jwks)
        except Break as b:
            report = {"ok": False, "first_break": {"kind": b.kind, "seq": b.seq, "detail": b.detail}}
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
