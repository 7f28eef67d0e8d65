#!/usr/bin/env python3
"""Reads one `wrk --latency` report and prints, space-separated:
requests/s, p50 ms, p90 ms, p99 ms, requests, non-2xx/3xx responses, socket errors."""
import re
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def main(path):
    text = open(path).read()
    pct = {p: ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", text, re.M)}
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    reqs = re.search(r"^\s+(\d+) requests in", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    print(
        f"{float(rps.group(1)) if rps else float('nan'):.2f}",
        f"{pct.get('50', float('nan')):.3f}",
        f"{pct.get('90', float('nan')):.3f}",
        f"{pct.get('99', float('nan')):.3f}",
        reqs.group(1) if reqs else 0,
        non2xx.group(1) if non2xx else 0,
        errors,
    )


if __name__ == "__main__":
    main(sys.argv[1])
