#!/usr/bin/env python3
"""Proof that the crash checks can fail: runs the driver on SQLite and, while
the server is down after the 4th kill, damages the database the way a
durability bug would, once per kind below. Each run must FAIL; this script
exits 1 if one passes. Not part of CI (about 25 s per kind).

    python3 tests/crash/sabotage.py target/release/scimitar
"""

import importlib.util
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# A lost index row, a revocation undone, a lost membership, a lost audit record.
DAMAGE = {
    "index": "DELETE FROM scim_values WHERE rowid IN"
    " (SELECT rowid FROM scim_values WHERE path = 'title' ORDER BY rowid DESC LIMIT 1)",
    "revocation": "UPDATE tokens SET revoked_at = NULL, revoked_reason = NULL WHERE revoked_at IS NOT NULL",
    "membership": "DELETE FROM scim_group_members WHERE rowid = (SELECT max(rowid) FROM scim_group_members)",
    "audit": "DELETE FROM audit_events WHERE id = (SELECT id FROM audit_events"
    " WHERE request_id LIKE 'crash-%' AND action = 'scim.user.patch' ORDER BY seq DESC LIMIT 1)",
}


def one(kind, binary, work):
    """In a child process: the driver, with the damage after the 4th kill."""
    spec = importlib.util.spec_from_file_location("driver", os.path.join(HERE, "driver.py"))
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    kill9 = driver.Server.kill9
    kills = [0]

    def damaged_kill9(self):
        kill9(self)
        kills[0] += 1
        if kills[0] == 4:
            db = sqlite3.connect(self.db_url.removeprefix("sqlite://"))
            rows = db.execute(DAMAGE[kind]).rowcount
            db.commit()
            db.close()
            driver.log(f"damage {kind}: {rows} rows")

    driver.Server.kill9 = damaged_kill9
    sys.argv = [
        "driver.py", "--binary", binary, "--backend", "sqlite", "--database-url",
        f"sqlite://{work}/crash.db", "--workdir", work, "--kills", "5", "--workers", "4", "--seed", "5",
    ]
    driver.main()


def main():
    if len(sys.argv) == 4:
        one(sys.argv[2], sys.argv[1], sys.argv[3])
        return
    binary = sys.argv[1]
    passed = []
    for kind in DAMAGE:
        with tempfile.TemporaryDirectory(prefix=f"scimitar-sabotage-{kind}-") as work:
            rc = subprocess.run([sys.executable, __file__, binary, kind, work]).returncode
        print(f"== {kind}: {'caught' if rc != 0 else 'NOT CAUGHT'}", flush=True)
        if rc == 0:
            passed.append(kind)
    sys.exit(1 if passed else 0)


if __name__ == "__main__":
    main()
