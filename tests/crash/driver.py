#!/usr/bin/env python3
"""Crash-safety driver: SIGKILLs a release `scimitar serve` at random moments
while workers write through SCIM and the SAT API, restarts it, and checks
that what was acknowledged survived, that nothing is half-applied, and that
the audit chain verifies with a record for every acknowledged write.

Standard library only. Run by tests/crash/run (which makes the database);
see tests/crash/README.md for what is checked and why.

The model. Each worker owns its resources (nobody else touches them) and
sends one request at a time, so at a kill each worker has at most one
request in flight. For every resource the model keeps the set of states it
may be in: an acknowledged (2xx) write narrows it to the new state, a failed
one (an answered non-2xx) leaves it alone, and an in-flight one (the
connection broke) adds the new state as a possibility. After each restart
the checker reads every touched resource, requires its state to be one of
the possibilities, and narrows the set to what it found.

Every write sets all of a resource's checked attributes from one marker
(for a user: title, displayName, nickName, name.givenName, the work email
and the enterprise department), so an attribute left behind by a partly
applied write shows up as attributes that disagree.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENT_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ORG = "crash"
ADMIN = "crash-admin"
ADMIN_PASSWORD = "crash-test-password-0123"

# What the audit log names each acknowledged write.
ACTIONS = {
    "user.create": "scim.user.create",
    "user.put": "scim.user.replace",
    "user.patch": "scim.user.patch",
    "user.delete": "scim.user.delete",
    "group.create": "scim.group.create",
    "group.put": "scim.group.replace",
    "group.patch": "scim.group.patch",
    "group.delete": "scim.group.delete",
    "sat.create": "sat.create",
    "sat.rotate": "sat.rotate",
    "sat.revoke": "sat.revoke",
}


class Failure(Exception):
    """A check that failed: the run fails."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------- HTTP


class Ambiguous(Exception):
    """The connection broke after the request may have been sent."""


class NotSent(Exception):
    """The server was not there to take the request."""


class Client:
    def __init__(self, port, token):
        self.port = port
        self.token = token
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, rid=None, token=None, ctype=None):
        """Returns (status, parsed JSON body or None). Raises NotSent when the
        connection could not be made and Ambiguous when it broke afterwards."""
        headers = {"authorization": f"Bearer {token or self.token}"}
        if rid:
            headers["x-request-id"] = rid
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = ctype or (
                "application/scim+json" if path.startswith("/scim/") else "application/json"
            )
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            try:
                self.conn.connect()
            except OSError as e:
                self.close()
                raise NotSent(str(e)) from e
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            # A kept-alive connection the server closed before reading
            # anything is indistinguishable here from a kill mid-request:
            # both count as in flight, which only widens what is accepted.
            self.close()
            raise Ambiguous(f"{type(e).__name__}: {e}") from e
        if resp.getheader("connection", "").lower() == "close":
            self.close()
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
        return resp.status, parsed


# --------------------------------------------------------------- server


class Server:
    def __init__(self, binary, db_url, port, workdir, env):
        self.binary = binary
        self.db_url = db_url
        self.port = port
        self.workdir = workdir
        self.env = env
        self.proc = None
        self.starts = 0
        self.start_seconds = []

    def cli(self, *args, stdin=None):
        out = subprocess.run(
            [self.binary, "--json", "--database-url", self.db_url, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if out.returncode != 0:
            raise Failure(f"scimitar {' '.join(args)} exited {out.returncode}: {out.stdout} {out.stderr}")
        return json.loads(out.stdout)

    def spawn(self):
        self.starts += 1
        self.log_path = os.path.join(self.workdir, f"server-{self.starts:02d}.log")
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "--database-url",
                    self.db_url,
                    "serve",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--session-ttl-seconds",
                    "86400",
                    "--audit-checkpoint-records",
                    "200",
                    "--audit-checkpoint-seconds",
                    "1",
                    # Durability is under test, not abuse limits: the driver
                    # checks on purpose that revoked and rotated-out values
                    # are refused, which would soon block its own address.
                    "--rate-limit-per-token",
                    "0",
                    "--rate-limit-per-address",
                    "0",
                    "--auth-failure-limit-per-address",
                    "0",
                    "--auth-failure-limit-per-token",
                    "0",
                ],
                stdout=logf,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    def kill_while_starting(self, delay):
        """SIGKILL during startup (migrations, first-use settings and keys)."""
        self.spawn()
        time.sleep(delay)
        self.kill9()

    def start(self):
        t0 = time.monotonic()
        self.spawn()
        log_path = self.log_path
        deadline = t0 + 60
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"server start {self.starts} exited {self.proc.returncode}; see {log_path}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/readyz")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Failure(f"server start {self.starts} not ready after 60 s; see {log_path}")
            time.sleep(0.05)
        self.start_seconds.append(time.monotonic() - t0)
        self.check_log(startup=True)

    def check_log(self, startup=False):
        """A panic is always a failure; an ERROR line while starting means the
        server did not start cleanly."""
        with open(self.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        if "panicked" in text:
            raise Failure(f"server panicked; see {self.log_path}")
        if startup and " ERROR " in text:
            raise Failure(f"errors while starting; see {self.log_path}")

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.check_log()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("server did not stop within 30 s of SIGTERM")
            self.check_log()


# ---------------------------------------------------------------- model


def user_doc(key, marker):
    return {
        "schemas": [USER_URN, ENT_URN],
        "userName": key,
        "name": {"givenName": marker, "familyName": key},
        "displayName": marker,
        "nickName": marker,
        "title": marker,
        "emails": [{"value": f"{marker}@crash.test", "type": "work", "primary": True}],
        ENT_URN: {"department": marker},
    }


def user_marker(doc):
    """The marker a user's checked attributes agree on; Failure if they do not
    agree (a write applied in part)."""
    emails = doc.get("emails") or []
    values = {
        "name.givenName": (doc.get("name") or {}).get("givenName"),
        "displayName": doc.get("displayName"),
        "nickName": doc.get("nickName"),
        "title": doc.get("title"),
        "email": emails[0]["value"].removesuffix("@crash.test") if len(emails) == 1 else repr(emails),
        "department": (doc.get(ENT_URN) or {}).get("department"),
    }
    if len(set(values.values())) != 1:
        raise Failure(f"user {doc.get('userName')} is half-written: {values}")
    return values["title"]


class Res:
    """One resource: its id (None until known) and the states it may be in
    (None = absent). `pending` is the in-flight request of the last kill."""

    def __init__(self, kind, key, states):
        self.kind = kind
        self.key = key
        self.id = None
        self.states = states
        self.pending = None  # (ledger entry, state if applied)
        # Users and groups: the ETag of the last acknowledged write ("?" after
        # a write in flight), and the one the last read found.
        self.version = None
        self.seen_version = None
        self.touched = True
        # SATs: the token value in use, and values that must be refused.
        self.token = None
        self.dead = []


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ledger = []
        self.checks = 0
        self.tokens = 0  # token values tried against /tokens/self

    def add(self, entry):
        with self.lock:
            self.ledger.append(entry)

    def check(self, n=1, token=False):
        with self.lock:
            self.checks += n
            self.tokens += int(token)


# --------------------------------------------------------------- worker


class Worker:
    """One client with its own resources; `loop` runs in a thread of its own
    during each epoch (the time between a start and the next kill)."""

    def __init__(self, wid, run):
        self.wid = wid
        self.run_ = run
        self.rng = random.Random(run.seed * 1000 + wid)
        self.pool = []  # users that groups use; never deleted
        self.users = []  # churned users: created, changed and deleted
        self.groups = []
        self.sats = []
        self.n = 0
        self.epoch = 0
        self.stop = threading.Event()
        self.error = None

    def all_res(self):
        return self.pool + self.users + self.groups + self.sats

    def next_marker(self):
        self.n += 1
        return f"m{self.wid}x{self.epoch}x{self.n}"

    def send(self, op, res, method, path, body, new_state, expect_fail=False, token=None):
        """Sends one write and updates the model. Returns (status, body), or
        None when the request did not get an answer."""
        self.n += 1
        rid = f"crash-{self.epoch}-{self.wid}-{self.n}"
        entry = {
            "rid": rid,
            "epoch": self.epoch,
            "op": op,
            "key": res.key,
            "expect_fail": expect_fail,
        }
        try:
            status, answer = self.client.request(method, path, body, rid=rid, token=token)
        except NotSent:
            entry["outcome"] = "not_sent"
            self.run_.stats.add(entry)
            self.stop.set()
            return None
        except Ambiguous as e:
            entry["outcome"] = "ambiguous"
            entry["error"] = str(e)
            self.run_.stats.add(entry)
            res.touched = True
            if expect_fail:
                # Refused whether or not the server got to it: no change.
                entry["applied"] = False
            else:
                if new_state not in res.states:
                    res.states = res.states + [new_state]
                res.pending = (entry, new_state)
                res.version = "?"
            self.stop.set()
            return None
        entry["status"] = status
        res.touched = True
        if 200 <= status < 300:
            entry["outcome"] = "ack"
            if expect_fail:
                raise Failure(f"{op} {rid} was meant to fail but got {status}: {answer}")
            res.states = [new_state]
            if isinstance(answer, dict) and "meta" in answer:
                res.version = answer["meta"]["version"]
        else:
            entry["outcome"] = "failed"
            entry["body"] = answer
            if status >= 500 and status != 503:
                raise Failure(f"{op} {rid} got {status}: {answer}")
            if not expect_fail and status != 503:
                raise Failure(f"{op} {rid} got {status}: {answer}")
        self.run_.stats.add(entry)
        return status, answer

    # Users ------------------------------------------------------------

    def new_user(self, into):
        key = f"u{self.wid}x{self.epoch}x{self.n + 1}"
        res = Res("user", key, [None])
        into.append(res)
        m = self.next_marker()
        out = self.send("user.create", res, "POST", "/scim/v2/Users", user_doc(key, m), m)
        if out and out[0] == 201:
            res.id = out[1]["id"]
        return res

    def user_put(self, res):
        m = self.next_marker()
        self.send("user.put", res, "PUT", f"/scim/v2/Users/{res.id}", user_doc(res.key, m), m)

    def patch_ops(self, m):
        return [
            {"op": "replace", "path": "name.givenName", "value": m},
            {"op": "replace", "path": "displayName", "value": m},
            {"op": "replace", "path": "nickName", "value": m},
            {"op": "replace", "path": "title", "value": m},
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": f"{m}@crash.test"},
            {"op": "replace", "path": f"{ENT_URN}:department", "value": m},
        ]

    def user_patch(self, res):
        m = self.next_marker()
        body = {"schemas": [PATCH_URN], "Operations": self.patch_ops(m)}
        self.send("user.patch", res, "PATCH", f"/scim/v2/Users/{res.id}", body, m)

    def user_patch_failing(self, res):
        """Six good operations, then a userName another user has: the
        database refuses the row, and none of the six may stay."""
        others = [u for u in self.pool if u is not res and u.states == [u.states[0]] and u.states[0]]
        if not others:
            return
        m = self.next_marker()
        ops = self.patch_ops(m) + [{"op": "replace", "path": "userName", "value": others[0].key.upper()}]
        body = {"schemas": [PATCH_URN], "Operations": ops}
        self.send("user.patch", res, "PATCH", f"/scim/v2/Users/{res.id}", body, m, expect_fail=True)

    def user_create_failing(self):
        """A user whose userName is taken (in another case): 409, and the
        existing user keeps its attributes."""
        taken = self.rng.choice(self.pool)
        if taken.id is None:
            return
        m = self.next_marker()
        self.send(
            "user.create", taken, "POST", "/scim/v2/Users", user_doc(taken.key.upper(), m), m, expect_fail=True
        )

    def user_delete(self, res):
        self.send("user.delete", res, "DELETE", f"/scim/v2/Users/{res.id}", None, None)

    # Groups -----------------------------------------------------------

    def pick_members(self):
        known = [u for u in self.pool if u.id is not None and u.states == [u.states[0]] and u.states[0]]
        return frozenset(u.id for u in self.rng.sample(known, min(len(known), self.rng.randint(0, 3))))

    def group_body(self, res, members):
        return {
            "schemas": [GROUP_URN],
            "displayName": res.key,
            "members": [{"value": i} for i in sorted(members)],
        }

    def group_create(self):
        key = f"g{self.wid}x{self.epoch}x{self.n + 1}"
        res = Res("group", key, [None])
        self.groups.append(res)
        members = self.pick_members()
        out = self.send("group.create", res, "POST", "/scim/v2/Groups", self.group_body(res, members), members)
        if out and out[0] == 201:
            res.id = out[1]["id"]

    def group_put(self, res):
        members = self.pick_members()
        self.send("group.put", res, "PUT", f"/scim/v2/Groups/{res.id}", self.group_body(res, members), members)

    def group_patch(self, res, failing=False):
        """Removes one member and adds up to two in one request; a failing
        one also adds a member that does not exist (400, nothing applied)."""
        current = res.states[0]
        ops = []
        new = set(current)
        if current:
            gone = self.rng.choice(sorted(current))
            ops.append({"op": "remove", "path": f'members[value eq "{gone}"]'})
            new.discard(gone)
        adds = [i for i in self.pick_members() if i not in current][:2]
        if adds:
            ops.append({"op": "add", "path": "members", "value": [{"value": i} for i in adds]})
            new.update(adds)
        if failing:
            ops.append({"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]})
        if not ops:
            return
        body = {"schemas": [PATCH_URN], "Operations": ops}
        self.send(
            "group.patch", res, "PATCH", f"/scim/v2/Groups/{res.id}", body, frozenset(new), expect_fail=failing
        )

    def group_delete(self, res):
        self.send("group.delete", res, "DELETE", f"/scim/v2/Groups/{res.id}", None, None)

    # SATs -------------------------------------------------------------
    # A SAT's state is (status, token): "active" with the value in use
    # ("?" when a rotation's answer was lost), or "revoked".

    def sat_create(self, failing=False):
        key = f"s{self.wid}x{self.epoch}x{self.n + 1}"
        res = Res("sat", key, [None])
        perms = ["nope:nothing"] if failing else ["scim:read"]
        body = {"name": key, "permissions": perms}
        out = self.send(
            "sat.create",
            res,
            "POST",
            "/api/v1/service-access-tokens",
            body,
            ("active", "?"),
            expect_fail=failing,
            token=self.run_.admin,
        )
        self.sats.append(res)
        if out and out[0] == 201:
            res.id = out[1]["id"]
            res.token = out[1]["token"]
            res.states = [("active", res.token)]

    def sat_rotate(self, res):
        old = res.token
        out = self.send(
            "sat.rotate",
            res,
            "POST",
            f"/api/v1/service-access-tokens/{res.id}/rotate",
            {},
            ("active", "?"),
            token=self.run_.admin,
        )
        if out and out[0] == 200:
            res.token = out[1]["token"]
            res.states = [("active", res.token)]
            if old:
                res.dead.append(old)

    def sat_revoke(self, res):
        out = self.send(
            "sat.revoke",
            res,
            "DELETE",
            f"/api/v1/service-access-tokens/{res.id}",
            None,
            ("revoked", None),
            token=self.run_.admin,
        )
        if out and out[0] == 204 and res.token:
            res.dead.append(res.token)
            res.token = None

    # The loop ---------------------------------------------------------

    def settled(self, res):
        return res.id is not None and len(res.states) == 1 and res.states[0] is not None

    def step(self):
        r = self.rng.random()
        live_users = [u for u in self.users if self.settled(u)]
        live_groups = [g for g in self.groups if self.settled(g)]
        live_sats = [s for s in self.sats if self.settled(s) and s.states[0][0] == "active"]
        pool = [u for u in self.pool if self.settled(u)]
        if r < 0.14:
            self.new_user(self.users)
        elif r < 0.22 and live_users:
            self.user_put(self.rng.choice(live_users))
        elif r < 0.34 and live_users + pool:
            self.user_patch(self.rng.choice(live_users + pool))
        elif r < 0.39 and live_users + pool:
            self.user_patch_failing(self.rng.choice(live_users + pool))
        elif r < 0.42:
            self.user_create_failing()
        elif r < 0.50 and live_users:
            self.user_delete(self.rng.choice(live_users))
        elif r < 0.58:
            self.group_create()
        elif r < 0.63 and live_groups:
            self.group_put(self.rng.choice(live_groups))
        elif r < 0.73 and live_groups:
            self.group_patch(self.rng.choice(live_groups))
        elif r < 0.77 and live_groups:
            self.group_patch(self.rng.choice(live_groups), failing=True)
        elif r < 0.80 and live_groups:
            self.group_delete(self.rng.choice(live_groups))
        elif r < 0.87:
            self.sat_create()
        elif r < 0.89:
            self.sat_create(failing=True)
        elif r < 0.95 and live_sats:
            self.sat_rotate(self.rng.choice(live_sats))
        elif live_sats:
            self.sat_revoke(self.rng.choice(live_sats))

    def loop(self):
        try:
            self.client = Client(self.run_.port, self.run_.scim)
            while not self.stop.is_set():
                self.step()
        except Failure as e:
            self.error = e
        except Exception as e:  # a bug in the driver: report it, do not hang
            self.error = Failure(f"worker {self.wid}: {type(e).__name__}: {e}")
        finally:
            self.client.close()


# -------------------------------------------------------------- checker


class Run:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.port = args.port
        self.stats = Stats()
        env = dict(os.environ)
        env.setdefault("SCIMITAR_LOG", "info")
        self.server = Server(args.binary, args.database_url, args.port, args.workdir, env)
        self.workers = []
        self.local = threading.local()

    def setup(self):
        s = self.server
        s.cli("org", "create", ORG)
        s.cli(
            "member", "create", "--org", ORG, "--user-name", ADMIN, "--role", "admin", "--password-stdin",
            stdin=ADMIN_PASSWORD + "\n",
        )
        tok = s.cli(
            "token", "create", "--org", ORG, "--name", "crash-scim",
            "--permission", "scim:read", "--permission", "scim:write", "--permission", "audit_logs:read",
        )
        self.scim = tok["token"]

    def login(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        body = json.dumps({"organization": ORG, "user_name": ADMIN, "password": ADMIN_PASSWORD})
        c.request("POST", "/api/v1/auth/login", body=body, headers={"content-type": "application/json"})
        r = c.getresponse()
        data = json.loads(r.read())
        if r.status != 200:
            raise Failure(f"login: {r.status} {data}")
        self.admin = data["access_token"]

    def get(self, path, token=None):
        client = getattr(self.local, "client", None) or self.reader
        try:
            return client.request("GET", path, token=token)
        except Ambiguous:
            # The server closes a kept-alive connection left idle past its
            # header timeout (10 s), as the checks between requests can. A
            # GET changes nothing: once more, on a new connection.
            return client.request("GET", path, token=token)

    # One resource -----------------------------------------------------

    def fetch(self, res, kind, key_attr):
        """The stored document of `res` (finding its id by `key_attr` if a
        write's answer never arrived), or None if it does not exist."""
        noun = kind[:-1].lower()
        if res.id is None:
            q = urllib.parse.quote(f'{key_attr} eq "{res.key}"')
            status, body = self.get(f"/scim/v2/{kind}?filter={q}")
            if status != 200:
                raise Failure(f"{noun} search: {status} {body}")
            found = body["Resources"]
            if len(found) > 1:
                raise Failure(f"{noun} {res.key} exists {len(found)} times")
            if not found:
                return None
            res.id = found[0]["id"]
        status, body = self.get(f"/scim/v2/{kind}/{res.id}")
        if status == 404:
            return None
        if status != 200:
            raise Failure(f"GET {noun} {res.key}: {status} {body}")
        res.seen_version = body["meta"]["version"]
        return body

    def read_user(self, res):
        body = self.fetch(res, "Users", "userName")
        if body is None:
            return None
        if body["userName"] != res.key:
            raise Failure(f"user {res.id} has userName {body['userName']}, not {res.key}")
        marker = user_marker(body)
        # The index (scim_values) must agree with the document: a filter on
        # two indexed attributes finds exactly this user.
        q = urllib.parse.quote(f'title eq "{marker}" and emails.value eq "{marker}@crash.test"')
        status, found = self.get(f"/scim/v2/Users?filter={q}")
        ids = [r["id"] for r in found["Resources"]] if status == 200 else found
        if ids != [res.id]:
            raise Failure(f"index of user {res.key} (marker {marker}) finds {ids}")
        self.stats.check(2)
        return marker

    def check_user_gone(self, res):
        """A deleted (or never created) user leaves no index rows behind."""
        for marker in res.states:
            if marker is None:
                continue
            q = urllib.parse.quote(f'title eq "{marker}"')
            status, found = self.get(f"/scim/v2/Users?filter={q}")
            if status != 200 or found["Resources"]:
                raise Failure(f"user {res.key} is gone but its index finds {status} {found}")
            self.stats.check()

    def read_group(self, res):
        body = self.fetch(res, "Groups", "displayName")
        if body is None:
            return None
        return frozenset(m["value"] for m in body.get("members") or [])

    def read_sat(self, res, views):
        view = views.get(res.key)
        if view is None:
            return None
        res.id = view["id"]
        if view["status"] == "revoked":
            return ("revoked", None)
        if view["status"] != "active":
            raise Failure(f"SAT {res.key} is {view['status']}")
        if res.token is None:
            return ("active", "?")
        status, _ = self.get("/api/v1/tokens/self", token=res.token)
        self.stats.check(0, token=True)
        if status == 200:
            return ("active", res.token)
        if status == 401:
            # The answer to a rotation was lost: the value we hold is the
            # previous one and is refused, as it must be.
            return ("active", "?")
        raise Failure(f"SAT {res.key}: tokens/self gave {status}")

    def check_dead(self, res):
        for value in res.dead:
            status, _ = self.get("/api/v1/tokens/self", token=value)
            self.stats.check(0, token=True)
            self.stats.check()
            if status != 401:
                raise Failure(f"SAT {res.key}: a revoked or rotated-out value got {status}")

    def reconcile(self, everything=False):
        """Reads every touched resource (or all), checks it against the model,
        and narrows the model to what it found."""
        status, body = self.get("/api/v1/service-access-tokens", token=self.admin)
        if status != 200:
            raise Failure(f"SAT list: {status} {body}")
        views = {}
        for v in body["tokens"]:
            if v["name"] in views:
                raise Failure(f"two SATs named {v['name']}")
            views[v["name"]] = v
        # Readers in parallel, each with a share of the resources: every
        # read waits for its own audit record to be durable, and concurrent
        # records share a commit (and its fsync).
        shares = [res for w in self.workers for res in w.all_res() if res.touched or everything]
        readers = self.args.readers
        counts = [0] * readers
        errors = []

        def check_share(i):
            self.local.client = Client(self.port, self.scim)
            try:
                for res in shares[i::readers]:
                    counts[i] += 1
                    self.check_resource(res, views)
            except Failure as e:
                errors.append(e)
            except Exception as e:  # a bug in the driver: report it
                errors.append(Failure(f"checker: {type(e).__name__}: {e}"))
            finally:
                self.local.client.close()

        threads = [threading.Thread(target=check_share, args=(i,)) for i in range(readers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        # The failed SAT creations left nothing behind.
        for name in views:
            if name.startswith("s") and not any(s.key == name for w in self.workers for s in w.sats):
                raise Failure(f"unexpected SAT {name}")
        return sum(counts)

    def check_resource(self, res, views):
        """Reads one resource, checks it against the model, and narrows the
        model to what it found."""
        if res.kind == "user":
            actual = self.read_user(res)
            if actual is None:
                self.check_user_gone(res)
        elif res.kind == "group":
            actual = self.read_group(res)
        else:
            actual = self.read_sat(res, views)
            if actual and actual[0] == "revoked" and res.token:
                res.dead.append(res.token)
                res.token = None
            if actual == ("active", "?") and res.token:
                res.dead.append(res.token)
                res.token = None
            self.check_dead(res)
        if actual not in res.states:
            raise Failure(f"{res.kind} {res.key}: found {actual!r}, expected one of {res.states!r}")
        self.stats.check()
        if res.kind != "sat" and actual is not None:
            # Only acknowledged writes move the version: a failed
            # write that left its row update behind would show here.
            if res.version not in (None, "?") and res.seen_version != res.version:
                raise Failure(
                    f"{res.kind} {res.key} is at version {res.seen_version}, "
                    f"its last acknowledged write made {res.version}"
                )
            res.version = res.seen_version
            self.stats.check()
        if res.pending:
            entry, applied_state = res.pending
            if len(res.states) == 2:
                entry["applied"] = actual == applied_state
            res.pending = None
        res.states = [actual]
        res.touched = False

    def check_group_index(self):
        """The membership table against the model, from the users' side."""
        for w in self.workers:
            expected = {}
            for g in w.groups:
                for uid in g.states[0] or ():
                    expected.setdefault(uid, set()).add(g.id)
            for u in w.pool:
                if u.id is None:
                    continue
                q = urllib.parse.quote(f'members.value eq "{u.id}"')
                status, body = self.get(f"/scim/v2/Groups?filter={q}&count=1000")
                if status != 200:
                    raise Failure(f"group search: {status} {body}")
                found = {g["id"] for g in body["Resources"]}
                if found != expected.get(u.id, set()):
                    raise Failure(f"user {u.key} is in groups {found}, expected {expected.get(u.id)}")
                self.stats.check()

    def verify_chain(self):
        status, report = self.get("/api/v1/audit-logs/verify")
        if status != 200 or not report.get("ok"):
            raise Failure(f"audit chain does not verify: {status} {report}")
        self.stats.check()
        return report

    # The audit records of the ledger ---------------------------------------

    def check_audit(self):
        records = {}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("GET", "/api/v1/audit-logs/export?format=ndjson", headers={"authorization": f"Bearer {self.scim}"})
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        if r.status != 200:
            raise Failure(f"audit export: {r.status} {raw[:300]!r}")
        total = 0
        for line in raw.splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            total += 1
            rid = rec.get("request_id")
            if rid and rid.startswith("crash-"):
                records.setdefault(rid, []).append(rec)
        problems = []
        counts = {"ack": 0, "failed": 0, "ambiguous_applied": 0, "ambiguous_not_applied": 0}
        for e in self.stats.ledger:
            recs = records.get(e["rid"], [])
            want = ACTIONS[e["op"]]
            success = [x for x in recs if x["action"] == want and x["outcome"] == "success"]
            if e["outcome"] == "ack":
                counts["ack"] += 1
                if len(success) != 1:
                    problems.append(f"{e['rid']} {e['op']} acknowledged {e['status']}, success records: {len(success)}")
            elif e["outcome"] == "failed":
                counts["failed"] += 1
                if success:
                    problems.append(f"{e['rid']} {e['op']} failed {e['status']} but has a success record")
                if e["status"] != 503 and not any(x["outcome"] == "failure" for x in recs):
                    problems.append(f"{e['rid']} {e['op']} failed {e['status']} without a failure record")
            elif e["outcome"] == "ambiguous" and "applied" in e:
                # Applied if and only if its record is there: the record
                # commits in the change's transaction.
                key = "ambiguous_applied" if e["applied"] else "ambiguous_not_applied"
                counts[key] += 1
                if e["applied"] != (len(success) == 1):
                    problems.append(f"{e['rid']} {e['op']} in flight: applied={e['applied']}, success records: {len(success)}")
            elif e["outcome"] == "not_sent" and recs:
                problems.append(f"{e['rid']} was never sent but has records")
        if problems:
            raise Failure("audit records do not match the ledger:\n  " + "\n  ".join(problems[:20]))
        self.stats.check(sum(counts.values()))
        return total, counts

    def offline_verify(self):
        """After a graceful stop: the CLI's export, checkpoints and JWKS, and
        its offline verifier over the whole chain."""
        d = self.args.workdir
        s = self.server
        s.cli("audit", "export", "--org", ORG, "--output", f"{d}/audit.ndjson")
        s.cli("audit", "checkpoints", "--org", ORG, "--output", f"{d}/checkpoints.json")
        s.cli("audit", "jwks", "--output", f"{d}/jwks.json")
        report = s.cli(
            "audit", "verify", "--file", f"{d}/audit.ndjson", "--checkpoints", f"{d}/checkpoints.json",
            "--jwks", f"{d}/jwks.json",
        )
        if not report.get("ok") or report.get("first_seq") != 1:
            raise Failure(f"offline verify: {report}")
        self.stats.check()
        return report

    # The run -----------------------------------------------------------

    def main(self):
        t0 = time.monotonic()
        args = self.args
        rng = random.Random(self.seed)
        kills = 0
        startup_kills = 0
        self.setup()
        # The first start makes the signing key and the generated settings:
        # kill it in the middle once.
        self.server.kill_while_starting(rng.uniform(0.0, 0.08))
        startup_kills += 1
        self.server.start()
        self.login()
        self.reader = Client(self.port, self.scim)
        self.workers = [Worker(i, self) for i in range(args.workers)]
        # Each worker's users for groups, made before the first kill.
        for w in self.workers:
            w.client = Client(self.port, self.scim)
            for _ in range(args.pool):
                w.new_user(w.pool)
            w.client.close()
        ambiguous_total = 0
        for epoch in range(1, args.kills + 1):
            threads = []
            for w in self.workers:
                w.epoch = epoch
                w.stop.clear()
                threads.append(threading.Thread(target=w.loop, daemon=True))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(args.min_delay, args.max_delay))
            self.server.kill9()
            kills += 1
            for w in self.workers:
                w.stop.set()
            for w, t in zip(self.workers, threads):
                t.join(timeout=60)
                if t.is_alive():
                    raise Failure(f"worker {w.wid} did not stop")
                if w.error:
                    raise w.error
            self.reader.close()
            if rng.random() < args.startup_kill_rate:
                self.server.kill_while_starting(rng.uniform(0.0, 0.08))
                startup_kills += 1
            self.server.start()
            checked = self.reconcile()
            report = self.verify_chain()
            ambiguous = sum(1 for e in self.stats.ledger if e["epoch"] == epoch and e["outcome"] == "ambiguous")
            ambiguous_total += ambiguous
            acked = sum(1 for e in self.stats.ledger if e["epoch"] == epoch and e["outcome"] == "ack")
            log(
                f"kill {kills}: {acked} acknowledged, {ambiguous} in flight; restart "
                f"{self.server.start_seconds[-1]:.2f} s; {checked} resources checked; chain {report['last_seq']} records ok"
            )
        checked = self.reconcile(everything=True)
        self.check_group_index()
        total, counts = self.check_audit()
        self.server.stop()
        offline = self.offline_verify()
        ledger_path = os.path.join(args.workdir, "ledger.jsonl")
        with open(ledger_path, "w") as f:
            for e in self.stats.ledger:
                f.write(json.dumps(e, default=str) + "\n")
        summary = {
            "backend": args.backend,
            "kills": kills,
            "kills_while_starting": startup_kills,
            "server_starts": self.server.starts,
            "max_start_seconds": round(max(self.server.start_seconds), 2),
            "requests": len(self.stats.ledger),
            "acknowledged": counts["ack"],
            "failed_as_intended": counts["failed"],
            "in_flight_at_kill": ambiguous_total,
            "in_flight_applied": counts["ambiguous_applied"],
            "in_flight_not_applied": counts["ambiguous_not_applied"],
            "not_sent": sum(1 for e in self.stats.ledger if e["outcome"] == "not_sent"),
            "resources": checked,
            "token_checks": self.stats.tokens,
            "checks_passed": self.stats.checks,
            "audit_records": total,
            "checkpoints_verified": offline.get("checkpoints_verified"),
            "seconds": round(time.monotonic() - t0, 1),
        }
        log("summary " + json.dumps(summary))
        return summary


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", required=True)
    p.add_argument("--database-url", required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--pool", type=int, default=4, help="users per worker that groups use")
    p.add_argument("--min-delay", type=float, default=0.3)
    p.add_argument("--max-delay", type=float, default=2.0)
    p.add_argument("--readers", type=int, default=16, help="concurrent readers when checking")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--startup-kill-rate", type=float, default=0.25, help="chance of an extra kill while restarting"
    )
    args = p.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    if args.port == 0:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        args.port = s.getsockname()[1]
        s.close()
    log(f"{args.backend}: seed {args.seed}, port {args.port}, {args.kills} kills, {args.workers} workers")
    run = Run(args)
    try:
        run.main()
    except Failure as e:
        log(f"FAILED: {e}")
        log(f"replay with --seed {args.seed}; logs in {args.workdir}")
        with open(os.path.join(args.workdir, "ledger.jsonl"), "w") as f:
            for entry in run.stats.ledger:
                f.write(json.dumps(entry, default=str) + "\n")
        run.server.stop() if run.server.proc else None
        sys.exit(1)


if __name__ == "__main__":
    main()
