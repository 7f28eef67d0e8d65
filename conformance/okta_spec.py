#!/usr/bin/env python3
"""Replay Okta's "SCIM 2.0 Spec Test" (a Runscope export) against a live server.

The export is a list of steps. A `request` step has a method, URL, headers,
optional body, `assertions` and `variables` (values to extract from the
response for later steps); a `pause` step only waits. Variables in `{{…}}` are
filled the way Okta's Initial_Script_Spec.txt fills them (random Runscope
user), plus `SCIMBaseURL` and `auth`, plus what earlier steps extracted.

Assertion semantics follow Runscope's: the JSON value is compared as its
JavaScript string form for `equal` (so `true` equals "true" and 401 equals
"401"), `equal_number` compares numbers, `has_value` needs an array holding the
value, `contains` a string (or an array's JSON text) holding it, `not_empty`
needs a present value that is not null, "", [] or {}. One deliberate strictness:
`is_a_number` needs a JSON number (RFC 7644 §3.4.2 makes these integers), not a
numeric string.

The one JavaScript check in the export (the optional Groups step: "if
totalResults is 0 there are no groups, otherwise Resources must be an array")
is translated into Python; any other non-empty script fails the step as
unsupported rather than being ignored.

Each request step counts as one test: passed when all its assertions hold.

Usage:
  okta_spec.py [EXPORT_JSON] --base-url http://127.0.0.1:PORT/scim/v2 --token TOKEN
               [--honor-pauses] [--counts-file FILE]
EXPORT_JSON is relative to the repository root (default
../shared/conformance/okta/Okta-SCIM-20-SPEC-Test.json), falling back to
/work/shared/conformance/okta/Okta-SCIM-20-SPEC-Test.json.
"""

import argparse
import json
import os
import random
import re
import string
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx2

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXPORT = "../shared/conformance/okta/Okta-SCIM-20-SPEC-Test.json"
FALLBACK_EXPORT = Path("/work/shared/conformance/okta/Okta-SCIM-20-SPEC-Test.json")
BODY_LIMIT = 1200
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MISSING = object()


class UndefinedVariable(Exception):
    pass


# --- variables -------------------------------------------------------------


def initial_variables(base_url: str, token: str) -> dict[str, str]:
    """What Okta's Initial_Script_Spec.txt sets, plus the base URL and auth."""
    firstname = "Runscope" + "".join(random.choices(string.digits, k=3))
    lastname = (
        random.choice(string.ascii_uppercase)
        + "".join(random.choices(string.ascii_lowercase, k=8))
        + "".join(random.choices(string.digits, k=3))
    )
    email = f"{firstname}{lastname}@atko.com"
    return {
        "SCIMBaseURL": base_url.rstrip("/"),
        "auth": f"Bearer {token}",
        "randomGivenName": firstname,
        "randomFamilyName": lastname,
        "randomEmail": email,
        "randomUsername": email,
        "InvalidUserEmail": "abcdefgh@atko.com",
        "UserIdThatDoesNotExist": "010101001010101011001010101011",
        "randomUsernameCaps": email.upper(),
    }


def substitute(text: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise UndefinedVariable(
                f"variable {{{{{name}}}}} is undefined (an earlier step did not extract it)"
            )
        return variables[name]

    return VARIABLE.sub(replace, text)


def encode_url(url: str) -> str:
    """Percent-encode the query the way a browser or Runscope would (spaces, quotes)."""
    if "?" not in url:
        return url
    path, query = url.split("?", 1)
    return path + "?" + quote(query, safe="=&%+:/@,;!$'()*")


# --- response access --------------------------------------------------------


def json_path(document, path: str):
    """Resolve a Runscope property such as `Resources[0].name.familyName`."""
    value = document
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or index >= len(value):
                return MISSING
            value = value[index]
        else:
            if not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
    return value


def js_string(value) -> str:
    """The JavaScript String() of a JSON value, which Runscope compares."""
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def show(value) -> str:
    return "(absent)" if value is MISSING else json.dumps(value)


def as_number(value):
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Response:
    def __init__(self, http_response: httpx2.Response, elapsed_ms: float):
        self.http = http_response
        self.elapsed_ms = elapsed_ms
        try:
            self.json = http_response.json()
        except ValueError:
            self.json = MISSING

    def source(self, source: str, prop: str | None):
        if source == "response_status":
            return self.http.status_code
        if source == "response_time":
            return self.elapsed_ms
        if source == "response_json":
            if self.json is MISSING:
                return MISSING
            return json_path(self.json, prop or "")
        if source == "response_headers":
            return self.http.headers.get(prop or "", MISSING)
        if source == "response_text":
            return self.http.text
        raise ValueError(f"unsupported assertion source {source!r}")


# --- assertions -------------------------------------------------------------


def check(comparison: str, actual, expected: str | None) -> bool:
    if comparison == "equal":
        return actual is not MISSING and js_string(actual) == expected
    if comparison == "not_equal":
        return js_string(actual) != expected
    if comparison == "equal_number":
        a, e = as_number(actual), as_number(expected)
        return a is not None and e is not None and a == e
    if comparison in ("is_less_than", "is_less_than_or_equal", "is_greater_than",
                      "is_greater_than_or_equal"):
        a, e = as_number(actual), as_number(expected)
        if a is None or e is None:
            return False
        return {
            "is_less_than": a < e,
            "is_less_than_or_equal": a <= e,
            "is_greater_than": a > e,
            "is_greater_than_or_equal": a >= e,
        }[comparison]
    if comparison == "is_a_number":
        return isinstance(actual, (int, float)) and not isinstance(actual, bool)
    if comparison == "not_empty":
        return actual not in (MISSING, None, "") and actual != [] and actual != {}
    if comparison == "empty":
        return actual in (MISSING, None, "") or actual == [] or actual == {}
    if comparison == "has_value":
        return isinstance(actual, list) and any(js_string(v) == expected for v in actual)
    if comparison == "has_key":
        return isinstance(actual, dict) and expected in actual
    if comparison == "contains":
        if actual is MISSING or actual is None:
            return False
        if isinstance(actual, list) and any(expected in js_string(v) for v in actual):
            return True
        return expected in js_string(actual)
    if comparison == "does_not_contain":
        return expected not in js_string(actual)
    if comparison == "is_null":
        return actual is None
    raise ValueError(f"unsupported comparison {comparison!r}")


def describe_assertion(assertion: dict) -> str:
    where = assertion["source"]
    if assertion.get("property"):
        where += f" {assertion['property']}"
    value = assertion.get("value")
    return f"{where} {assertion['comparison']}" + (f" {value!r}" if value is not None else "")


GROUPS_SCRIPT_MARKERS = ("data.totalResults", "Array.isArray(res)", "nogroups")


def run_script(script: str, response: Response) -> str | None:
    """Run the export's one known script; return a failure message or None."""
    if not script.strip():
        return None
    if all(marker in script for marker in GROUPS_SCRIPT_MARKERS):
        data = response.json
        if not isinstance(data, dict):
            return "script: response body is not a JSON object"
        total = data.get("totalResults")
        if total == 0:
            return None  # assert("nogroups", …): passes, no groups yet
        if isinstance(total, (int, float)) and total >= 1:
            if isinstance(data.get("Resources"), list):
                return None
            return f"script: totalResults={total} but Resources is {show(data.get('Resources', MISSING))}, not an array"
        # JS: neither branch runs (e.g. totalResults absent): no assertion fails.
        return None
    return f"script not supported by this runner: {script[:80]!r}"


# --- running ----------------------------------------------------------------


def truncate(text: str) -> str:
    text = text.strip()
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + " …(truncated)"


def run_step(http: httpx2.Client, step: dict, variables: dict[str, str]):
    """Send one request step; return (request summary, response or None, failures)."""
    method = step["method"]
    try:
        url = encode_url(substitute(step["url"], variables))
        headers = [
            (name, substitute(value, variables))
            for name, values in step.get("headers", {}).items()
            for value in values
        ]
        body = step.get("body")
        body = substitute(body, variables) if body else None
    except UndefinedVariable as exc:
        return f"{method} {step['url']}", None, [str(exc)]

    summary = f"{method} {url}"
    shown_headers = {k: ("Bearer …" if v.startswith("Bearer ") else v) for k, v in headers}
    summary += f"\n      headers: {json.dumps(shown_headers, ensure_ascii=False)}"
    if body:
        summary += f"\n      body: {body}"

    started = time.perf_counter()
    try:
        http_response = http.request(method, url, headers=headers, content=body)
    except httpx2.RequestError as exc:
        return summary, None, [f"request failed: {exc}"]
    response = Response(http_response, (time.perf_counter() - started) * 1000)

    failures = []
    for assertion in step.get("assertions", []):
        assertion = dict(assertion)
        if isinstance(assertion.get("value"), str):
            try:
                assertion["value"] = substitute(assertion["value"], variables)
            except UndefinedVariable as exc:
                failures.append(f"{describe_assertion(assertion)}: {exc}")
                continue
        actual = response.source(assertion["source"], assertion.get("property"))
        try:
            ok = check(assertion["comparison"], actual, assertion.get("value"))
        except ValueError as exc:
            failures.append(f"{describe_assertion(assertion)}: {exc}")
            continue
        if not ok:
            expected = assertion.get("value")
            failures.append(
                f"{describe_assertion(assertion)}: expected "
                f"{assertion['comparison']}{'' if expected is None else ' ' + repr(expected)}"
                f", got {show(actual) if assertion['source'] != 'response_time' else f'{actual:.0f} ms'}"
            )
    for script in step.get("scripts", []):
        message = run_script(script, response)
        if message:
            failures.append(message)

    for variable in step.get("variables", []):
        value = response.source(variable["source"], variable.get("property"))
        if value is MISSING or value is None:
            failures.append(
                f"variable {variable['name']}: {variable['source']} "
                f"{variable.get('property', '')} is absent, later steps cannot use it"
            )
        else:
            variables[variable["name"]] = js_string(value)
    return summary, response, failures


def find_export(argument: str) -> Path | None:
    path = Path(argument)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if path.is_file():
        return path
    if FALLBACK_EXPORT.is_file():
        return FALLBACK_EXPORT
    return None


def write_counts(path: str | None, passed: int, failed: int) -> None:
    if path:
        with open(path, "w") as counts:
            counts.write(f"{passed} {failed}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", default=DEFAULT_EXPORT)
    parser.add_argument("--base-url", required=True, help="…/scim/v2")
    parser.add_argument("--token", default=os.environ.get("SCIM_TOKEN"))
    parser.add_argument("--honor-pauses", action="store_true",
                        default=os.environ.get("OKTA_HONOR_PAUSES") == "1",
                        help="sleep for the export's pause steps (65 s in all)")
    parser.add_argument("--counts-file", help="write 'PASSED FAILED' here")
    args = parser.parse_args()
    if not args.token:
        parser.error("a token is needed: --token or SCIM_TOKEN")

    export = find_export(args.export)
    if export is None:
        print(f"okta: FAIL the Runscope export is missing: neither {REPO_ROOT / args.export} "
              f"nor {FALLBACK_EXPORT} exists")
        write_counts(args.counts_file, 0, 1)
        return 1
    suite = json.loads(export.read_text())
    requests = [s for s in suite["steps"] if s.get("step_type") == "request"]
    print(f"okta: {suite.get('name')} ({export}), {len(requests)} requests against {args.base_url}")

    variables = initial_variables(args.base_url, args.token)
    print(f"okta: random user {variables['randomUsername']}")
    passed, failed = 0, []
    http = httpx2.Client(timeout=30)
    number = 0
    for step in suite["steps"]:
        if step.get("skipped"):
            continue
        if step.get("step_type") == "pause":
            if args.honor_pauses:
                time.sleep(step.get("duration", 0))
            continue
        if step.get("step_type") != "request":
            print(f"okta: FAIL unsupported step type {step.get('step_type')!r}")
            failed.append((step.get("step_type"), "", None, ["unsupported step type"]))
            continue
        number += 1
        note = substitute_safe(step.get("note", ""), variables)
        summary, response, failures = run_step(http, step, variables)
        status = response.http.status_code if response else "-"
        label = "PASS" if not failures else "FAIL"
        print(f"  {label} {number:>2}/{len(requests)} {step['method']} "
              f"{summary.splitlines()[0].split(' ', 1)[1]} -> {status}  ({note})")
        for failure in failures:
            print(f"         ✗ {failure}")
        if failures:
            failed.append((f"{number}/{len(requests)} {note}", summary, response, failures))
        else:
            passed += 1

    if failed:
        print(f"\nokta: {len(failed)} FAILED steps:")
        for title, summary, response, failures in failed:
            print(f"\n  {title}")
            print(f"    request: {summary}")
            for failure in failures:
                print(f"    expected/got: {failure}")
            if response is not None:
                print(f"    response: {response.http.status_code} "
                      f"({response.http.headers.get('content-type', 'no content-type')}) "
                      f"{truncate(response.http.text)}")

    print(f"\nokta: {passed} passed, {len(failed)} failed")
    write_counts(args.counts_file, passed, len(failed))
    return 1 if failed else 0


def substitute_safe(text: str, variables: dict[str, str]) -> str:
    try:
        return substitute(text, variables).strip()
    except UndefinedVariable:
        return text.strip()


if __name__ == "__main__":
    sys.exit(main())
