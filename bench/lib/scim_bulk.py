#!/usr/bin/env python3
"""Helpers for bench/scim_scale.sh.

  gen OUTDIR N [PER_REQUEST]   write OUTDIR/bulk-00001.json ... (SCIM BulkRequests
                               of POST /Users, PER_REQUEST operations each) and
                               OUTDIR/usernames.txt (line i = userName of bulkId u<i>)
  ids RESPDIR USERNAMES IDS NAMES
                               read the BulkResponses RESPDIR/bulk-*.json, check
                               every operation is 201, write the created ids
                               (from `location`) to IDS and the matching
                               userNames to NAMES, in the same order
"""
import glob
import json
import os
import random
import sys
import unicodedata

GIVEN = ["Barbara", "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael",
         "Linda", "William", "Elizabeth", "David", "Susan", "Richard", "Jessica", "Joseph",
         "Sarah", "Thomas", "Karen", "Charles", "Nancy", "Daniel", "Lisa", "Matthew",
         "Zoë", "José", "Ana", "Łukasz", "Søren", "Chloé", "Ingrid", "Hiroshi", "Mei", "Arjun"]
FAMILY = ["Jensen", "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
          "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson",
          "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "O'Malley",
          "Müller", "Nakamura", "Kowalski", "Andersson", "Dubois", "Rossi", "Patel"]
DOMAINS = ["example.com", "corp.example.org", "mail.example.net"]
URN_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
URN_BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
MAX_PAYLOAD = 1048576


def user(i, rng):
    given = rng.choice(GIVEN)
    family = rng.choice(FAMILY)
    domain = rng.choice(DOMAINS)
    local = f"{given}.{family}".lower().replace("'", "").replace(" ", "")
    # ASCII-only userName (it ends up in URLs built by the Lua script), unique by i.
    ascii_local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    user_name = f"{ascii_local}.{i:07d}@{domain}"
    doc = {
        "schemas": [URN_USER],
        "externalId": f"00u{i:010d}x{rng.randrange(16**6):06x}",
        "userName": user_name,
        "name": {
            "givenName": given,
            "familyName": family,
            "formatted": f"{given} {family}",
        },
        "displayName": f"{given} {family}",
        "active": rng.random() > 0.05,
        "emails": [
            {"value": user_name, "type": "work", "primary": True},
            {"value": f"{ascii_local}{i}@home.example", "type": "home"},
        ],
    }
    return user_name, doc


def gen(outdir, n, per):
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(20240601)
    names = []
    batch = 0
    for start in range(0, n, per):
        batch += 1
        ops = []
        for i in range(start, min(start + per, n)):
            name, doc = user(i, rng)
            names.append(name)
            ops.append({"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": doc})
        body = json.dumps({"schemas": [URN_BULK], "Operations": ops},
                          ensure_ascii=False, separators=(",", ":")).encode()
        if len(body) > MAX_PAYLOAD:
            sys.exit(f"bulk request {batch} is {len(body)} bytes, over maxPayloadSize")
        with open(os.path.join(outdir, f"bulk-{batch:05d}.json"), "wb") as f:
            f.write(body)
    with open(os.path.join(outdir, "usernames.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"{batch} bulk requests, {n} users, "
          f"{os.path.getsize(os.path.join(outdir, 'bulk-00001.json'))} bytes in the first")


def ids(respdir, usernames, ids_out, names_out):
    names = open(usernames).read().split("\n")
    out_ids, out_names, bad = [], [], []
    for path in sorted(glob.glob(os.path.join(respdir, "bulk-*.json"))):
        with open(path) as f:
            resp = json.load(f)
        for op in resp.get("Operations", []):
            if op.get("status") != "201" or "location" not in op:
                bad.append((os.path.basename(path), op))
                continue
            out_ids.append(op["location"].rsplit("/", 1)[1])
            out_names.append(names[int(op["bulkId"][1:])])
    if bad:
        for b in bad[:5]:
            print("failed operation:", b, file=sys.stderr)
        sys.exit(f"{len(bad)} bulk operations did not return 201")
    with open(ids_out, "w") as f:
        f.write("\n".join(out_ids) + "\n")
    with open(names_out, "w") as f:
        f.write("\n".join(out_names) + "\n")
    print(len(out_ids))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "gen" and len(sys.argv) in (4, 5):
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) == 5 else 1000)
    elif cmd == "ids" and len(sys.argv) == 6:
        ids(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
