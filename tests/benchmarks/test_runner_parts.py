"""The benchmark runner's pure parts: wrk output, peer configurations from a case, the markers-preserving writer."""

from __future__ import annotations

import json

import pytest

from benchmarks.cases import BenchCase, StubResponse
from benchmarks.peers import (bodies_match, mockoon_environment, prism_extra_headers, prism_openapi,
                              wiremock_mapping)
from benchmarks.report import CaseResult, Measurement, case_table, replace_section, verdict
from benchmarks.wrk import lua_script, lua_string, parse_wrk_output

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8440/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.12ms    3.40ms  61.20ms   88.00%
    Req/Sec     3.97k   312.00     4.40k    80.00%
  Latency Distribution
     50%    7.52ms
     75%    9.01ms
     90%   11.30ms
     99%    1.02s
  39512 requests in 10.01s, 12.34MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 17
Requests/sec:   3947.25
Transfer/sec:      1.23MB
"""

GET = BenchCase(name="sf GET account", method="GET", path="/services/data/v60.0/sobjects/Account/001x?fields=Name",
                headers={"Authorization": "Bearer t"}, stub=StubResponse(200, '{"Id": "001x", "Name": "Acme"}'))
POST = BenchCase(name="sf POST account", method="POST", path="/services/data/v60.0/sobjects/Account",
                 headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
                 body=b'{"Name": "Acme \\"quoted\\"\\n"}',
                 stub=StubResponse(201, '{"id": "001y", "success": true}',
                                   {"Content-Type": "application/json", "Location": "/x/001y"}))


def test_parse_wrk_output() -> None:
    r = parse_wrk_output(WRK_OUTPUT)
    assert r.requests == 39512 and r.requests_per_sec == pytest.approx(3947.25)
    assert r.p50_ms == pytest.approx(7.52) and r.p99_ms == pytest.approx(1020.0)
    assert r.non_2xx == 17 and r.socket_errors == 5 and r.duration_s == pytest.approx(10.01)
    assert not r.clean


def test_parse_wrk_output_clean_and_microseconds() -> None:
    text = WRK_OUTPUT.replace("  Socket errors: connect 0, read 2, write 0, timeout 3\n", "").replace(
        "  Non-2xx or 3xx responses: 17\n", "").replace("7.52ms", "752.00us")
    r = parse_wrk_output(text)
    assert r.clean and r.p50_ms == pytest.approx(0.752)


def test_parse_wrk_output_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused")


def test_lua_script_escapes_body_and_headers() -> None:
    script = lua_script(POST, {"Prefer": "example=case1"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.path = "/services/data/v60.0/sobjects/Account"' in script
    assert 'wrk.headers["Authorization"] = "Bearer t"' in script
    assert 'wrk.headers["Prefer"] = "example=case1"' in script
    assert lua_string(b'a"b\\c\n\xff') == '"a\\"b\\\\c\\010\\255"'
    assert "wrk.body" not in lua_script(GET)


def test_wiremock_mapping() -> None:
    m = wiremock_mapping(POST)
    assert m["request"] == {"method": "POST", "url": "/services/data/v60.0/sobjects/Account"}
    assert m["response"]["status"] == 201 and m["response"]["body"] == POST.stub.body
    assert m["response"]["headers"]["Location"] == "/x/001y"
    assert wiremock_mapping(GET)["request"]["url"] == GET.path  # query string matched exactly


def test_prism_openapi_examples_and_collisions() -> None:
    other = BenchCase(name="sf GET account other fields", method="GET",
                      path="/services/data/v60.0/sobjects/Account/001x?fields=Id", headers={},
                      stub=StubResponse(200, '{"Id": "001x"}'))
    cases = [GET, POST, other]
    doc = prism_openapi(cases)
    op = doc["paths"]["/services/data/v60.0/sobjects/Account/001x"]["get"]
    examples = op["responses"]["200"]["content"]["application/json"]["examples"]
    assert examples["case0"]["value"] == {"Id": "001x", "Name": "Acme"} and examples["case2"]["value"] == {"Id": "001x"}
    post = doc["paths"]["/services/data/v60.0/sobjects/Account"]["post"]
    assert "application/json" in post["requestBody"]["content"]
    assert post["responses"]["201"]["headers"]["Location"]["example"] == "/x/001y"
    assert prism_extra_headers(cases, 1) == {}
    assert prism_extra_headers(cases, 2) == {"Prefer": "code=200, example=case2"}
    json.dumps(doc)  # serialisable


def test_mockoon_environment() -> None:
    env = mockoon_environment([GET, POST], 3001)
    assert env["port"] == 3001 and len(env["routes"]) == 2
    assert {c["uuid"] for c in env["rootChildren"]} == {r["uuid"] for r in env["routes"]}
    route = env["routes"][1]
    assert route["method"] == "post" and route["endpoint"] == "services/data/v60.0/sobjects/Account"
    response = route["responses"][0]
    assert response["statusCode"] == 201 and response["body"] == POST.stub.body and response["default"]
    assert response["disableTemplating"] is True
    assert {"key": "Location", "value": "/x/001y"} in response["headers"]
    special = BenchCase(name="x", method="GET", path="/a/b:c(d)", headers={}, stub=StubResponse(200, "{}"))
    assert mockoon_environment([special], 1)["routes"][0]["endpoint"] == "a/b\\:c\\(d\\)"


def test_mockoon_environment_query_rules_for_shared_paths() -> None:
    a = BenchCase(name="q1", method="GET", path="/query?q=SELECT+Id", headers={}, stub=StubResponse(200, '{"a": 1}'))
    b = BenchCase(name="q2", method="GET", path="/query?q=SELECT+Name", headers={}, stub=StubResponse(200, '{"b": 2}'))
    route = mockoon_environment([a, b], 1)["routes"][0]
    assert [r["rules"][0]["value"] for r in route["responses"]] == ["SELECT Id", "SELECT Name"]


def test_bodies_match_json_equivalence() -> None:
    assert bodies_match('{"a": 1, "b": [1, 2]}', '{"b":[1,2],"a":1}')
    assert not bodies_match('{"a": 1}', '{"a": 2}')
    assert not bodies_match("plain", "other")


def test_replace_section_preserves_everything_else() -> None:
    text = "# Benchmarks\n\nintro\n\n<!-- peers:begin -->\nold\n<!-- peers:end -->\n\n## Scenario suite\nkept\n"
    out = replace_section(text, "peers", "new table")
    assert out == "# Benchmarks\n\nintro\n\n<!-- peers:begin -->\nnew table\n<!-- peers:end -->\n\n## Scenario suite\nkept\n"
    appended = replace_section(out, "memory", "rss")
    assert appended.startswith(out.rstrip("\n")) and appended.endswith("<!-- memory:begin -->\nrss\n<!-- memory:end -->\n")
    assert replace_section(appended, "peers", "new table") == appended  # idempotent
    assert replace_section("", "peers", "x").startswith("# Benchmarks")
    with pytest.raises(ValueError):
        replace_section("<!-- peers:begin -->\nno end", "peers", "x")


def test_table_flags_errors_and_verdict() -> None:
    good = parse_wrk_output(WRK_OUTPUT.replace("  Socket errors: connect 0, read 2, write 0, timeout 3\n", "")
                            .replace("  Non-2xx or 3xx responses: 17\n", ""))
    bad = parse_wrk_output(WRK_OUTPUT)
    case = CaseResult("salesforce", "c", "GET", "/x", [
        Measurement("simulator", bad), Measurement("WireMock (journal on)", good),
        Measurement("Prism", None, "npm install failed")])
    table = case_table(case)
    assert "17 of 39512 responses not 2xx/3xx" in table and "not measured: npm install failed" in table
    assert "below, simulator answered errors" in verdict("salesforce", [case])
    ok = CaseResult("salesforce", "c", "GET", "/x", [Measurement("simulator", good), Measurement("WireMock (journal on)", good),
                                                     Measurement("WireMock (journal off)", good)])
    assert "MEETS the target" in verdict("salesforce", [ok])
    assert "c: 1.00× (meets; 1.00× of WireMock (journal off))" in verdict("salesforce", [ok])
    assert "no verdict" in verdict("salesforce", [CaseResult("salesforce", "c", "GET", "/x", [Measurement("simulator", good)])])
