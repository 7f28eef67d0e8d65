#!/usr/bin/env python3
"""Audit records for bench/audit_scale.sh, written straight into the SQLite file.

  audit_seed.py seed DB RECORDS OUTDIR [--org NAME] [--days N] [--seed N]
      Appends RECORDS hash-chained records to organization NAME's chain
      (default `default`), spread over the last N days (default 30), and moves
      `audit_chain_heads` to the last one. The server must not be running.
      Writes to OUTDIR the values the wrk script picks from:
        actors.txt   actor ids (SATs and members) that occur in the records
        users.txt    ids of users that occur as targets (target_type=user)
        meta.sh      CHAIN, FIRST_SEQ, LAST_SEQ, T_FIRST, T_LAST (epoch s),
                     and the number of records per action and outcome
  audit_seed.py plans DB OUTDIR
      Prints EXPLAIN QUERY PLAN for the query of each benchmark case, in the
      shape `audit_api::query::AuditQuery::page` builds it.

The record layout and hash follow src/audit/event.rs: `hash = SHA-256(prev_hash
|| canonical)`, where `canonical` is the compact JSON serde_json makes of the
`Canonical` struct (fixed field order, `null` for None, non-ASCII as UTF-8).
Before writing anything, `seed` recomputes every record already in the chain
with this encoding and refuses to go on if one does not match, so a change to
the canonical form in the server shows up here and not as a failed verify.

The mix imitates an org provisioned by two identity providers (Okta, Entra
ID) through SCIM, polled by a SIEM, managed by a few admins and Terraform: see
EVENTS below. It is generated from a fixed random seed, so two runs with the
same arguments on the same starting database write the same records.
"""
import datetime
import hashlib
import json
import os
import random
import sqlite3
import sys
import time
import uuid

GENESIS = bytes(32)
EPOCH = datetime.datetime(1970, 1, 1)
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

STORED_COLUMNS = (
    "id, chain, seq, org_id, workspace_id, occurred_at, actor_kind, actor_id, actor_display, "
    "action, target_type, target_id, target_display, outcome, reason, http_status, request_id, "
    "source_ip, user_agent, changes, prev_hash, hash"
)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ustr(b):
    return None if b is None else str(uuid.UUID(bytes=b))


def canonical(rec):
    """The bytes `StoredEvent::canonical()` hashes. `rec` holds the stored
    columns, UUIDs as strings."""
    return json.dumps(
        {
            "v": 1,
            "id": rec["id"],
            "chain": rec["chain"],
            "seq": rec["seq"],
            "org_id": rec["org_id"],
            "workspace_id": rec["workspace_id"],
            "occurred_at": rec["occurred_at"],
            "actor_kind": rec["actor_kind"],
            "actor_id": rec["actor_id"],
            "actor_display": rec["actor_display"],
            "action": rec["action"],
            "target_type": rec["target_type"],
            "target_id": rec["target_id"],
            "target_display": rec["target_display"],
            "outcome": rec["outcome"],
            "reason": rec["reason"],
            "http_status": rec["http_status"],
            "request_id": rec["request_id"],
            "source_ip": rec["source_ip"],
            "user_agent": rec["user_agent"],
            "changes": rec["changes"],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def chain_hash(prev, rec):
    return hashlib.sha256(prev + canonical(rec)).digest()


def check_existing(db, chain):
    """Recomputes the records already in `chain`; returns (count, last seq, last hash)."""
    prev, n, last = GENESIS, 0, 0
    cols = [c.strip() for c in STORED_COLUMNS.split(",")]
    for row in db.execute(f"SELECT {STORED_COLUMNS} FROM audit_events WHERE chain = ? ORDER BY seq", (chain,)):
        rec = dict(zip(cols, row))
        for k in ("id", "org_id", "workspace_id"):
            rec[k] = ustr(rec[k])
        if rec["seq"] != last + 1:
            sys.exit(f"existing chain {chain}: gap before seq {rec['seq']}")
        if rec["prev_hash"] != prev or chain_hash(prev, rec) != rec["hash"]:
            sys.exit(
                f"existing record seq {rec['seq']} does not hash as this script computes it: "
                "the canonical encoding in src/audit/event.rs changed; update canonical() here"
            )
        prev, n, last = rec["hash"], n + 1, rec["seq"]
    return n, last, prev


class Gen:
    """Random values from one seeded generator."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def token_id(self):
        return "".join(self.r.choice(B62) for _ in range(22))

    def uuid4(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def uuid7(self, unix_us):
        v = (unix_us // 1000) << 80 | 0x7 << 76 | self.r.getrandbits(12) << 64 | 0b10 << 62 | self.r.getrandbits(62)
        return uuid.UUID(int=v)


FIRST = ["Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena",
         "Mateo", "Nora", "Olivia", "Pavel", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wei", "Yara", "Zoë"]
LAST = ["Smith", "García", "Müller", "Okafor", "Tanaka", "Kowalski", "Dubois", "Rossi", "Nguyen", "Silva",
        "Johansson", "Haddad", "O'Brien", "Novák", "Patel", "Kim", "Larsen", "Costa", "Fischer", "Ivanova"]
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"


def build_world(g, n_users):
    """Actors, users and groups. Actor: dict(kind, id, display, ua, ips)."""
    sat = lambda name, ua, ips: {"kind": "sat", "id": g.token_id(), "display": name, "ua": ua, "ips": ips}
    actors = {
        "okta": sat("okta-scim", "Okta SCIM Client 1.0.0", ["198.51.100.%d" % i for i in range(10, 26)]),
        "entra": sat("entra-provisioning", "Microsoft Azure Active Directory SCIM Client",
                     ["203.0.113.%d" % i for i in range(40, 48)]),
        "siem": sat("siem", "splunk-scimitar-audit/2.3.1", ["10.20.0.15"]),
        "terraform": sat("terraform", "Terraform/1.9.5 terraform-provider-scimitar/0.4.0", ["10.20.3.7", "10.20.3.8"]),
        "okta_old": sat("okta-scim-2025", "Okta SCIM Client 1.0.0", ["198.51.100.12"]),
    }
    admins, members = [], []
    for i in range(24):
        f, l = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        m = {
            "kind": "member_session",
            "id": str(g.uuid7(1_700_000_000_000_000 + i * 1_000_000)),
            "display": (f[0] + l).lower().replace("'", "").replace("ü", "u").replace("í", "i").replace("á", "a"),
            "ua": BROWSER,
            "ips": ["192.0.2.%d" % (10 + i)],
        }
        (admins if i < 4 else members).append(m)
    actors["operator"] = {"kind": "operator", "id": None, "display": "operator cli", "ua": "scimitar-cli/0.1.0", "ips": [None]}
    users = []
    for i in range(n_users):
        f, l = g.r.choice(FIRST), g.r.choice(LAST)
        name = f"{f.lower()}.{l.lower().replace(chr(39), '')}{i}@example.com"
        users.append((str(g.uuid7(1_700_000_000_000_000 + i * 997)), name))
    groups = [(str(g.uuid7(1_700_000_000_000_000 + i * 13)), n) for i, n in enumerate(
        ["Engineering", "Sales", "Support", "Finance", "Everyone", "Contractors", "Admins", "Data"])]
    return actors, admins, members, users, groups


# (weight, name): the event kinds and how often each occurs. About 7 % of
# all records are failures.
EVENTS = [
    (22.0, "user_read"), (16.0, "user_list"), (5.0, "user_create"), (0.5, "user_create_conflict"),
    (12.0, "user_patch"), (3.0, "user_replace"), (0.5, "user_delete"), (0.8, "user_read_404"),
    (4.0, "group_list"), (3.0, "group_patch"),
    (15.0, "audit_list"), (0.05, "audit_export"), (0.2, "audit_verify"),
    (1.5, "denied_revoked"), (1.5, "denied_missing_perm"), (1.2, "denied_session"), (0.8, "denied_bad_secret"),
    (1.3, "login"), (0.3, "login_failed"),
    (0.3, "sat_create"), (0.15, "sat_rotate"), (0.1, "sat_revoke"), (0.5, "sat_list"),
    (1.0, "member_list"), (1.0, "workspace_list"), (1.0, "token_self"), (0.5, "workspace_update"),
]


def attach_index(db, db_path):
    """The server keeps the filter index (audit_index) in a file of its own
    beside the database (store::index_file), which it created when it first
    opened it; attached, the table's name finds it as the server's does."""
    index = db_path + "-audit-index"
    if os.path.exists(index):
        db.execute("ATTACH DATABASE ? AS audit_filter", (index,))


def seed(db_path, n, outdir, org_name="default", days=30.0, rng_seed=1):
    os.makedirs(outdir, exist_ok=True)
    db = sqlite3.connect(db_path, isolation_level=None)
    attach_index(db, db_path)
    db.execute("PRAGMA busy_timeout = 10000")
    row = db.execute("SELECT id FROM organizations WHERE name = ?", (org_name,)).fetchone()
    if not row:
        sys.exit(f"no organization named {org_name!r}")
    org_b = row[0]
    org = ustr(org_b)
    chain = org
    existing, last_seq, prev = check_existing(db, chain)
    head = db.execute("SELECT last_seq, last_hash FROM audit_chain_heads WHERE chain = ?", (chain,)).fetchone()
    if existing and (head is None or head[0] != last_seq or head[1] != prev):
        sys.exit(f"chain head {head} does not match the last record ({last_seq})")
    log(f"chain {chain}: {existing} records already there, all recomputed OK; appending {n} from seq {last_seq + 1}")
    workspaces = [str(uuid.UUID(bytes=w)) for (w,) in db.execute("SELECT id FROM workspaces WHERE org_id = ?", (org_b,))]

    g = Gen(rng_seed)
    n_users = max(100, n // 50)
    actors, admins, members, users, groups = build_world(g, n_users)
    workspaces = workspaces or [str(g.uuid7(1_700_000_000_000_000 + i)) for i in range(3)]
    live = users[: n_users // 2]  # users that exist at the start
    pending = users[n_users // 2:]  # users that scim.user.create will create
    # Hot users (the first tenth) get a quarter of the traffic.
    hot = max(1, len(live) // 10)

    def pick_user():
        if g.r.random() < 0.25:
            return live[g.r.randrange(min(hot, len(live)))]
        return g.r.choice(live)

    weights = [w for w, _ in EVENTS]
    names = [k for _, k in EVENTS]
    end_us = int(time.time() * 1_000_000) - 5_000_000
    span_us = int(days * 86400 * 1_000_000)
    # Exponential gaps (a Poisson process), scaled so that the last record
    # lands exactly at end_us.
    gaps = [g.r.expovariate(1.0) for _ in range(n)]
    scale = span_us / sum(gaps)
    t_us = end_us - span_us

    pragmas = ["synchronous = OFF", "cache_size = -1048576", "temp_store = MEMORY"]
    for p in pragmas:
        db.execute("PRAGMA " + p)

    insert = f"INSERT INTO audit_events ({STORED_COLUMNS}) VALUES ({', '.join('?' * 22)})"
    counts_action, counts_outcome = {}, {"success": 0, "failure": 0}
    actor_ids, user_targets = set(), set()
    batch, started = [], time.time()
    kinds = g.r.choices(names, weights, k=n)
    okta_share = 0.7
    db.execute("BEGIN")
    for i in range(n):
        seq = last_seq + 1 + i
        t_us += max(1, int(gaps[i] * scale))
        kind = kinds[i]
        idp = actors["okta"] if g.r.random() < okta_share else actors["entra"]
        r = {
            "workspace_id": None, "target_type": None, "target_id": None, "target_display": None,
            "outcome": "success", "reason": None, "http_status": 200, "changes": None,
        }
        actor = idp

        def endpoint(method, path):
            r["target_type"], r["target_id"] = "endpoint", f"{method} {path}"

        def fail(status, reason):
            r["outcome"], r["http_status"], r["reason"] = "failure", status, reason

        if kind == "user_read":
            r["action"] = "scim.user.read"
            endpoint("GET", f"/scim/v2/Users/{pick_user()[0]}")
        elif kind == "user_read_404":
            r["action"] = "scim.user.read"
            endpoint("GET", f"/scim/v2/Users/{g.uuid4()}")
            fail(404, "Not Found")
        elif kind == "user_list":
            r["action"] = "scim.user.list"
            endpoint("GET", "/scim/v2/Users")
        elif kind == "user_create":
            if pending:
                u = pending.pop(g.r.randrange(len(pending)))
                live.append(u)
            else:
                u = pick_user()
            r.update(action="scim.user.create", target_type="user", target_id=u[0], target_display=u[1], http_status=201)
            r["changes"] = json.dumps(
                {"attributes": sorted(["userName", "name", "emails", "active", "externalId", "displayName"]),
                 "password_set": False}, separators=(",", ":"))
        elif kind == "user_create_conflict":
            r["action"] = "scim.user.create"
            endpoint("POST", "/scim/v2/Users")
            fail(409, "Conflict")
        elif kind in ("user_patch", "user_replace", "user_delete"):
            u = pick_user()
            action = {"user_patch": "scim.user.patch", "user_replace": "scim.user.replace", "user_delete": "scim.user.delete"}[kind]
            r.update(action=action, target_type="user", target_id=u[0], target_display=u[1])
            if kind == "user_patch":
                attrs = g.r.choice([["active"], ["active"], ["name", "displayName"], ["emails"], ["title", "department"]])
                r["changes"] = json.dumps({"attributes": attrs}, separators=(",", ":"))
            elif kind == "user_replace":
                r["changes"] = json.dumps({"attributes": ["active", "displayName", "emails", "name", "userName"]}, separators=(",", ":"))
            else:
                r["http_status"] = 204
                if len(live) > hot + 1:
                    live.remove(u)
        elif kind == "group_list":
            r["action"] = "scim.group.list"
            endpoint("GET", "/scim/v2/Groups")
        elif kind == "group_patch":
            grp = g.r.choice(groups)
            r.update(action="scim.group.patch", target_type="group", target_id=grp[0], target_display=grp[1])
            r["changes"] = json.dumps({"members_added": g.r.randint(0, 3), "members_removed": g.r.randint(0, 2)}, separators=(",", ":"))
        elif kind in ("audit_list", "audit_export", "audit_verify"):
            actor = actors["siem"]
            path = {"audit_list": "/api/v1/audit-logs", "audit_export": "/api/v1/audit-logs/export",
                    "audit_verify": "/api/v1/audit-logs/verify"}[kind]
            r["action"] = "audit_logs." + kind.split("_")[1]
            endpoint("GET", path)
        elif kind == "denied_revoked":
            actor = dict(actors["okta_old"], display=None)
            r["action"] = "auth.denied"
            endpoint("GET", "/scim/v2/Users")
            fail(401, "token revoked")
            r["changes"] = '{"reason_code":"revoked"}'
        elif kind == "denied_bad_secret":
            actor = dict(idp, display=None)
            r["action"] = "auth.denied"
            endpoint("POST", "/scim/v2/Users")
            fail(401, "wrong secret")
            r["changes"] = '{"reason_code":"bad_secret"}'
        elif kind == "denied_missing_perm":
            actor = actors["siem"]
            r["action"] = "auth.denied"
            endpoint("GET", "/scim/v2/Users")
            fail(403, "missing permission `scim:read`")
            r["changes"] = '{"missing_permission":"scim:read"}'
        elif kind == "denied_session":
            m = g.r.choice(admins + members)
            actor = {"kind": "member_session", "id": None, "display": None, "ua": m["ua"], "ips": m["ips"]}
            r["action"] = "auth.denied"
            endpoint("GET", "/api/v1/service-access-tokens")
            fail(401, "session invalid or expired")
            r["changes"] = '{"reason_code":"invalid_session"}'
        elif kind == "login":
            actor = g.r.choice(admins + members)
            r.update(action="auth.login", target_type="member", target_id=actor["id"], target_display=actor["display"])
        elif kind == "login_failed":
            m = g.r.choice(admins + members)
            actor = {"kind": "member_session", "id": None, "display": m["display"], "ua": m["ua"], "ips": m["ips"]}
            r["action"] = "auth.login"
            fail(401, "invalid organization, user name or password")
        elif kind in ("sat_create", "sat_rotate", "sat_revoke"):
            actor = g.r.choice(admins + [actors["operator"]])
            name = g.r.choice(["okta-scim", "entra-provisioning", "siem", "terraform", "ci-deploy", "backup-export"])
            action = "sat." + kind.split("_")[1]
            r.update(action=action, target_type="sat", target_id=g.token_id(), target_display=name)
            if kind == "sat_create":
                r["http_status"] = 201
                r["changes"] = json.dumps({"expires_at": None, "level": "organization",
                                           "permissions": g.r.choice([["scim:read", "scim:write"], ["audit_logs:read"]]),
                                           "workspace_id": None}, separators=(",", ":"))
            elif kind == "sat_rotate":
                r["changes"] = json.dumps({"grace_period_seconds": 86400, "previous_secret_valid_until":
                                           (EPOCH + datetime.timedelta(microseconds=t_us + 86400_000_000)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
                                          separators=(",", ":"))
            else:
                r["changes"] = '{"reason":"rotated out"}'
            if actor["kind"] == "operator":
                r["http_status"] = None
        elif kind == "sat_list":
            actor = actors["terraform"]
            r["action"] = "sat.list"
            endpoint("GET", "/api/v1/service-access-tokens")
        elif kind == "member_list":
            actor = g.r.choice(admins)
            r["action"] = "member.list"
            endpoint("GET", "/api/v1/members")
        elif kind == "workspace_list":
            actor = g.r.choice([actors["terraform"]] + admins)
            r["action"] = "workspace.list"
            endpoint("GET", "/api/v1/workspaces")
        elif kind == "workspace_update":
            actor = g.r.choice(admins)
            w = g.r.choice(workspaces)
            r.update(action="workspace.update", target_type="workspace", target_id=w, workspace_id=w)
            r["changes"] = '{"name":"renamed"}'
        elif kind == "token_self":
            actor = actors["terraform"]
            r["action"] = "token.self"
            endpoint("GET", "/api/v1/tokens/self")
        else:  # pragma: no cover
            raise AssertionError(kind)
        if actor["kind"] == "operator":
            r["request_id"], r["source_ip"] = g.uuid4(), None
        else:
            r["request_id"], r["source_ip"] = g.uuid4(), g.r.choice(actor["ips"])
        rid = g.uuid7(t_us)
        r.update(
            id=str(rid), chain=chain, seq=seq, org_id=org,
            occurred_at=(EPOCH + datetime.timedelta(microseconds=t_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            actor_kind=actor["kind"], actor_id=actor["id"], actor_display=actor["display"], user_agent=actor["ua"],
        )
        h = chain_hash(prev, r)
        batch.append((
            rid.bytes, chain, seq, org_b, None if r["workspace_id"] is None else uuid.UUID(r["workspace_id"]).bytes,
            r["occurred_at"], r["actor_kind"], r["actor_id"], r["actor_display"], r["action"], r["target_type"],
            r["target_id"], r["target_display"], r["outcome"], r["reason"], r["http_status"], r["request_id"],
            r["source_ip"], r["user_agent"], r["changes"], prev, h,
        ))
        prev = h
        counts_action[r["action"]] = counts_action.get(r["action"], 0) + 1
        counts_outcome[r["outcome"]] += 1
        if actor["id"] is not None:
            actor_ids.add(actor["id"])
        if r["target_type"] == "user":
            user_targets.add(r["target_id"])
        if len(batch) == 20000 or i == n - 1:
            db.executemany(insert, batch)
            batch.clear()
            if (i + 1) % 100000 == 0 or i == n - 1:
                db.execute("COMMIT")
                el = time.time() - started
                log(f"{i + 1:>9} records  {el:6.1f}s  {(i + 1) / el:8.0f} records/s")
                if i != n - 1:
                    db.execute("BEGIN")
    db.execute(
        "INSERT INTO audit_chain_heads (chain, last_seq, last_hash) VALUES (?, ?, ?) "
        "ON CONFLICT (chain) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
        (chain, last_seq + n, prev),
    )
    # The server's filter index (audit_index) holds what it has indexed;
    # filling it here, as the server would have, keeps the measured queries
    # off the unindexed tail.
    db.execute(
        "INSERT INTO audit_index (chain, seq, occurred_at, actor_kind, actor_id, action, target_type, "
        "target_id, workspace_id, outcome) SELECT chain, seq, occurred_at, actor_kind, actor_id, action, "
        "target_type, target_id, workspace_id, outcome FROM audit_events WHERE chain = ? AND seq > ? "
        "ON CONFLICT DO NOTHING",
        (chain, last_seq),
    )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

    with open(os.path.join(outdir, "actors.txt"), "w") as f:
        f.write("\n".join(sorted(actor_ids)) + "\n")
    with open(os.path.join(outdir, "users.txt"), "w") as f:
        f.write("\n".join(sorted(user_targets)) + "\n")
    first_us = end_us - span_us
    with open(os.path.join(outdir, "meta.sh"), "w") as f:
        f.write(f"CHAIN={chain}\nFIRST_SEQ={last_seq + 1}\nLAST_SEQ={last_seq + n}\n")
        f.write(f"T_FIRST={first_us // 1_000_000}\nT_LAST={t_us // 1_000_000}\n")
        f.write(f"N_FAILURE={counts_outcome['failure']}\nN_USER_TARGETS={len(user_targets)}\nN_ACTORS={len(actor_ids)}\n")
        for a, c in sorted(counts_action.items()):
            f.write(f"# {a} {c}\n")
    el = time.time() - started
    log(f"seeded {n} records in {el:.1f}s ({n / el:.0f} records/s); "
        f"{counts_outcome['failure']} failures, {len(actor_ids)} actor ids, {len(user_targets)} user targets")


# The benchmark cases, as AuditQuery::page builds them (SqlParts binds `?`).
def plan_cases(chain, actor, user, t_since, t_until, cursor):
    """The statements the server runs for each case (`audit::query_sql`): an
    unfiltered page walks the records; a filtered one takes its sequence
    numbers from the filter index (audit_index) and from the records past
    what the index holds."""
    base = f"SELECT {STORED_COLUMNS} FROM audit_events WHERE chain = ?"
    tail = " AND seq > ? ORDER BY seq ASC LIMIT ?"
    upto = "(SELECT COALESCE(MAX(seq), 0) FROM audit_index WHERE chain = ?)"

    def filtered(where, args, limit=100, index_where=None, index_args=None):
        iw = where if index_where is None else index_where
        ia = args if index_args is None else index_args
        sql = (base + " AND seq IN (SELECT seq FROM (SELECT seq FROM audit_index WHERE chain = ?"
               + " AND seq <= (SELECT last_seq FROM audit_chain_heads WHERE chain = ?)" + iw
               + " ORDER BY seq ASC LIMIT ?) AS indexed UNION ALL SELECT seq FROM audit_events WHERE chain = ?"
               + " AND seq > " + upto + where + ") ORDER BY seq ASC LIMIT ?")
        return sql, (chain, chain, chain, *ia, limit, chain, chain, *args, limit)

    first_at = ("COALESCE((SELECT b.seq FROM audit_index b WHERE b.chain = ? AND b.occurred_at >= ? "
                "ORDER BY b.occurred_at, b.seq LIMIT 1), 9223372036854775807)")
    window = " AND occurred_at >= ? AND occurred_at < ?"
    return [
        ("page", base + tail, (chain, cursor, 100)),
        ("action prefix scim.user.*", *filtered(" AND action LIKE ? ESCAPE '\\' AND seq > ?", ("scim.user.%", cursor))),
        ("action prefix sat.*", *filtered(" AND action LIKE ? ESCAPE '\\' AND seq > ?", ("sat.%", cursor))),
        ("exact action", *filtered(" AND action = ? AND seq > ?", ("scim.user.patch", cursor))),
        ("actor_id", *filtered(" AND actor_id = ? AND seq > ?", (actor, cursor))),
        ("outcome=failure", *filtered(" AND outcome = ? AND seq > ?", ("failure", cursor))),
        ("target_id", *filtered(" AND target_id = ?", (user,))),
        ("target_type+target_id", *filtered(" AND target_type = ? AND target_id = ?", ("user", user))),
        ("since/until", *filtered(window, (t_since, t_until),
                                  index_where=window + " AND seq >= " + first_at + " AND seq < " + first_at,
                                  index_args=(t_since, t_until, chain, t_since, chain, t_until))),
        ("export batch (limit 1000)", base + tail, (chain, cursor, 1000)),
    ]


def plans(db_path, outdir):
    meta = {}
    for line in open(os.path.join(outdir, "meta.sh")):
        if "=" in line and not line.startswith("#"):
            k, v = line.strip().split("=", 1)
            meta[k] = v
    actor = open(os.path.join(outdir, "actors.txt")).readline().strip()
    user = open(os.path.join(outdir, "users.txt")).readline().strip()
    t0 = int(meta["T_FIRST"]) + (int(meta["T_LAST"]) - int(meta["T_FIRST"])) // 2
    fmt = lambda s: (EPOCH + datetime.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cursor = (int(meta["FIRST_SEQ"]) + int(meta["LAST_SEQ"])) // 2
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    attach_index(db, db_path)
    print(f"SQLite {sqlite3.sqlite_version} (Python's sqlite3 module; the server bundles its own SQLite)")
    for name, sql, args in plan_cases(meta["CHAIN"], actor, user, fmt(t0), fmt(t0 + 86400), cursor):
        rows = db.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
        print(f"{name}:")
        for r in rows:
            print(f"    {r[-1]}")
        t = time.perf_counter()
        got = len(db.execute(sql, args).fetchall())
        print(f"    -> {got} rows in {(time.perf_counter() - t) * 1000:.2f} ms (here, in Python)")


def main(argv):
    if len(argv) >= 4 and argv[1] == "seed":
        opts = dict(zip(argv[5::2], argv[6::2]))
        seed(argv[2], int(argv[3]), argv[4], org_name=opts.get("--org", "default"),
             days=float(opts.get("--days", 30)), rng_seed=int(opts.get("--seed", 1)))
    elif len(argv) == 4 and argv[1] == "plans":
        plans(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
