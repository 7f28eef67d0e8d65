#!/usr/bin/env python3
"""Times GET /api/v1/tokens/self over HTTP for bench/token_timing.sh.

Three kinds of credential, interleaved in a random order on one keep-alive
connection: a well-formed token whose id does not exist (a fresh one each
time), the valid token's id with a wrong secret, and the valid token.
Prints `kind,ns` CSV lines (client-side time from sending the request to
reading the whole answer).

usage: token_timing_http.py BASE_URL VALID_TOKEN PER_KIND [WARMUP]
"""

import http.client
import random
import secrets
import sys
import time
import urllib.parse
import zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b62(n, width):
    out = []
    for _ in range(width):
        out.append(B62[n % 62])
        n //= 62
    return "".join(reversed(out))


def rand62(k):
    return "".join(secrets.choice(B62) for _ in range(k))


def token(prefix, tid, secret):
    """A well-formed value: the checksum is CRC32 of the rest, base62."""
    body = f"{prefix}{tid}{secret}"
    return body + b62(zlib.crc32(body.encode()), 6)


def main():
    base, valid, per_kind = sys.argv[1], sys.argv[2], int(sys.argv[3])
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    prefix, tid = valid[:9], valid[9:31]
    wrong = token(prefix, tid, rand62(32))
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    kinds = ["unknown_id", "wrong_secret", "valid"] * (per_kind + warmup // 3)
    random.shuffle(kinds)
    expected = {"unknown_id": 401, "wrong_secret": 401, "valid": 200}
    print("kind,ns")
    for i, kind in enumerate(kinds):
        if kind == "unknown_id":
            value = token(prefix, rand62(22), rand62(32))
        elif kind == "wrong_secret":
            value = wrong
        else:
            value = valid
        headers = {"Authorization": f"Bearer {value}"}
        start = time.perf_counter_ns()
        conn.request("GET", "/api/v1/tokens/self", headers=headers)
        resp = conn.getresponse()
        resp.read()
        ns = time.perf_counter_ns() - start
        if resp.status != expected[kind]:
            sys.exit(f"{kind}: HTTP {resp.status}, expected {expected[kind]}")
        if i >= warmup:
            print(f"{kind},{ns}")


if __name__ == "__main__":
    main()
