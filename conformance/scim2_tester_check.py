#!/usr/bin/env python3
"""Run scim2-tester's `check_server` against a live SCIM server.

The server is described by its own discovery endpoints (/ServiceProviderConfig,
/ResourceTypes, /Schemas): the client is built with no models, and
`check_server` composes them from what the server publishes, then runs its CRUD,
query, PATCH and discovery checks for the User and Group resource types.

Counting:
  SUCCESS, COMPLIANT, ACCEPTABLE  -> passed
  DEVIATION (a SHOULD not followed) -> passed, but listed as a warning
  ERROR, CRITICAL, SKIPPED        -> failed

For every failed check the HTTP exchanges the check made are printed (method,
URL, request body, status, response body), so the server can be fixed from the
output alone.

Usage:
  scim2_tester_check.py --base-url http://127.0.0.1:PORT/scim/v2 --token TOKEN
                        [--counts-file FILE]
The token may also come from the SCIM_TOKEN environment variable.
"""

import argparse
import json
import os
import sys
import textwrap

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.DEVIATION}
FAILED = {Status.ERROR, Status.CRITICAL, Status.SKIPPED}
RESOURCE_TYPES = ["User", "Group"]
BODY_LIMIT = 1500

# Every HTTP exchange, in order, and for every CheckResult the number of
# exchanges made before it was created: the exchanges between two results are
# the ones the later check made.
EXCHANGES: list[dict] = []
_original_init = CheckResult.__init__


def _marking_init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self._exchange_mark = len(EXCHANGES)


CheckResult.__init__ = _marking_init


def _record_response(response: httpx2.Response) -> None:
    response.read()
    request = response.request
    EXCHANGES.append(
        {
            "method": request.method,
            "url": str(request.url),
            "request_body": request.content.decode("utf-8", "replace"),
            "status": response.status_code,
            "content_type": response.headers.get("content-type", ""),
            "response_body": response.text,
        }
    )


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + " …(truncated)"


def _describe_exchange(exchange: dict) -> str:
    lines = [f"{exchange['method']} {exchange['url']}"]
    if exchange["request_body"]:
        lines.append(f"  request body: {_short(exchange['request_body'])}")
    lines.append(
        f"  -> {exchange['status']} ({exchange['content_type'] or 'no content-type'})"
    )
    if exchange["response_body"]:
        lines.append(f"  response body: {_short(exchange['response_body'])}")
    return "\n".join(lines)


def _data_text(data) -> str:
    if data is None:
        return ""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json", exclude_none=True)
    try:
        return _short(json.dumps(data, default=str))
    except TypeError:
        return _short(repr(data))


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="…/scim/v2")
    parser.add_argument("--token", default=os.environ.get("SCIM_TOKEN"))
    parser.add_argument("--counts-file", help="write 'PASSED FAILED' here")
    args = parser.parse_args()
    if not args.token:
        parser.error("a token is needed: --token or SCIM_TOKEN")

    http = httpx2.Client(
        base_url=args.base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {args.token}"},
        event_hooks={"response": [_record_response]},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client, resource_types=RESOURCE_TYPES)

    passed, failed, warnings = 0, [], []
    previous_mark = 0
    print(f"scim2-tester: {len(results)} checks against {args.base_url}")
    for result in results:
        mark = getattr(result, "_exchange_mark", previous_mark)
        result._exchanges = EXCHANGES[previous_mark:mark]
        previous_mark = max(previous_mark, mark)

        where = f"[{result.resource_type}] " if result.resource_type else ""
        label = result.status.name
        if result.status in FAILED:
            label = f"FAIL {label}"
            failed.append(result)
        else:
            passed += 1
            if result.status == Status.DEVIATION:
                warnings.append(result)
        reason = _first_line(result.reason)
        print(f"  {label:<16} {where}{result.title}: {reason}")

    if warnings:
        print(f"\nscim2-tester: {len(warnings)} DEVIATION (SHOULD not followed; counted as passed):")
        for result in warnings:
            where = f"[{result.resource_type}] " if result.resource_type else ""
            print(f"  - {where}{result.title}: {result.reason}")

    if failed:
        print(f"\nscim2-tester: {len(failed)} FAILED checks, with the requests they made:")
        for number, result in enumerate(failed, 1):
            where = f"[{result.resource_type}] " if result.resource_type else ""
            print(f"\n  {number}. {result.status.name} {where}{result.title}")
            description = _first_line(result.description)
            if description:
                print(f"     check: {description}")
            print(textwrap.indent(f"reason: {result.reason}", "     "))
            data = _data_text(result.data)
            if data:
                print(textwrap.indent(f"data: {data}", "     "))
            if result._exchanges:
                # The check's own requests come last; earlier ones are usually
                # the cleanup of the previous check.
                for exchange in result._exchanges[-4:]:
                    print(textwrap.indent(_describe_exchange(exchange), "     "))
            else:
                print("     (no HTTP request made by this check)")

    print(f"\nscim2-tester: {passed} passed, {len(failed)} failed")
    if args.counts_file:
        with open(args.counts_file, "w") as counts:
            counts.write(f"{passed} {len(failed)}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
