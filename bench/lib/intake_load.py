#!/usr/bin/env python3
"""Drives POST /api/v1/audit-logs/events for bench/intake.sh: BATCHES
batches of SIZE events, each event with its own id, the subject SAT and the
current time, sent one batch at a time on CONCURRENCY keep-alive
connections (standard library only). Checks that every event was answered
201, and prints one JSON line: events, seconds, events per second, and the
per-batch latency (median, p90, max) in milliseconds.

    intake_load.py BASE REPORTER_TOKEN SUBJECT_TOKEN BATCHES SIZE CONCURRENCY
"""
import datetime
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid


def events(subject, size, run, batch):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        {
            "id": f"{run}-{batch}-{i}",
            "subject_token": subject,
            "action": "transformations.update",
            "target": {"type": "transformation", "id": str(i), "display": f"transformation {i}"},
            "outcome": "success",
            "occurred_at": now,
            "changes": {"code_bytes": 1000 + i, "name": f"transformation {i}"},
            "request_id": str(uuid.uuid4()),
            "source_ip": "10.0.0.1",
            "user_agent": "bench/intake",
        }
        for i in range(size)
    ]


def main(argv):
    base, reporter, subject = argv[1], argv[2], argv[3]
    batches, size, concurrency = int(argv[4]), int(argv[5]), int(argv[6])
    url = urllib.parse.urlparse(base)
    run = uuid.uuid4().hex[:8]
    todo = list(range(batches))
    lock = threading.Lock()
    latencies, failures = [], []

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        headers = {"Authorization": f"Bearer {reporter}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not todo:
                    break
                b = todo.pop(0)
            body = json.dumps({"events": events(subject, size, run, b)})
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1/audit-logs/events", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            dt = time.perf_counter() - t0
            ok = resp.status == 200 and all(
                r["status"] == 201 for r in json.loads(data)["results"]
            )
            with lock:
                latencies.append(dt)
                if not ok:
                    failures.append((resp.status, data[:300]))
        conn.close()

    # One warm-up batch, not counted: the first connection, the first plan.
    warm = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    warm.request(
        "POST", "/api/v1/audit-logs/events",
        body=json.dumps({"events": events(subject, size, run, "warm")}),
        headers={"Authorization": f"Bearer {reporter}", "Content-Type": "application/json"},
    )
    warm.getresponse().read()
    warm.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if failures:
        print(f"{len(failures)} batches failed, e.g. {failures[0]}", file=sys.stderr)
        return 1
    lat = sorted(latencies)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(json.dumps({
        "events": batches * size,
        "seconds": round(seconds, 3),
        "events_per_second": round(batches * size / seconds),
        "batch_ms_median": round(pick(0.5), 1),
        "batch_ms_p90": round(pick(0.9), 1),
        "batch_ms_max": round(lat[-1] * 1000, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
