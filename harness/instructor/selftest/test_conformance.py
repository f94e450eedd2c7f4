"""Self-tests of make conformance's reading of the HTTP caching tests
(harness/instructor/conformance/cachetests.py) and of its baseline check
(conformance.judge), on a small fixed sample of the suite's test list and of
its client's results: no network, no servers."""
import argparse
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "conformance"))
import cachetests  # noqa: E402
import conformance  # noqa: E402

UUID = "0f4c6a2e-1b2d-4c3e-8f9a-0123456789ab"

# As list-tests.mjs prints them (kind already defaulted to required).
TESTS = [
    {"id": "freshness-none", "kind": "check", "suite": "Cache-Control Freshness",
     "name": "Does HTTP cache avoid reusing a response without explicit freshness?"},
    {"id": "freshness-max-age", "kind": "optimal", "suite": "Cache-Control Freshness",
     "name": "An optimal HTTP cache reuses a response with positive `max-age`",
     "depends_on": ["freshness-none"]},
    {"id": "freshness-max-age-0", "kind": "required", "suite": "Cache-Control Freshness",
     "name": "HTTP cache must not reuse a response with `max-age: 0`",
     "depends_on": ["freshness-none"]},
    {"id": "age-parse-negative", "kind": "required", "suite": "Age Parsing",
     "name": "HTTP cache should consider a response with a negative `Age` to be stale | old",
     "depends_on": ["freshness-none"]},
    {"id": "304-etag-update", "kind": "required", "suite": "Update 304",
     "name": "HTTP cache must update headers from a `304`",
     "depends_on": ["conditional-etag-strong-generate"]},
    {"id": "conditional-etag-strong-generate", "kind": "optimal", "suite": "Conditional ETag",
     "name": "An optimal HTTP cache generates `If-None-Match`"},
    {"id": "vary-setup", "kind": "required", "suite": "Vary",
     "name": "HTTP cache must not reuse a Vary response when the header differs"},
    {"id": "vary-retry", "kind": "required", "suite": "Vary",
     "name": "HTTP cache must not reuse a Vary response (retried)"},
    {"id": "expires-date", "kind": "required", "suite": "Expires Freshness",
     "name": "HTTP cache must not reuse a response whose `Expires` is past"},
    {"id": "browser-only-test", "kind": "required", "suite": "Other",
     "name": "A browser-only test", "browser_only": True},
]

REFERENCE = {
    "freshness-none": True,
    "freshness-max-age": True,
    "freshness-max-age-0": True,
    "age-parse-negative": ["Assertion", "Response 2 comes from cache"],
    "304-etag-update": True,
    "conditional-etag-strong-generate": ["Assertion", "Request 2 should have been conditional"],
    "vary-setup": ["Setup", "Response 1 status is 500, not 200"],
    "vary-retry": ["Setup", "retry"],
    "expires-date": ["Assertion", f'Response 2 body is "{UUID}", header Expires is '
                     '"Thu, 01 Jan 2026 00:00:00 GMT" at 1767225600.123'],
}
SQUID = dict(REFERENCE, **{"age-parse-negative": True, "conditional-etag-strong-generate": True})


@pytest.fixture
def tests():
    return cachetests.load_tests(json.dumps(TESTS))


def results(d):
    return cachetests.load_results(json.dumps(d))


def test_browser_only_tests_are_left_out(tests):
    assert "browser-only-test" not in tests and len(tests) == len(TESTS) - 1


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        cachetests.load_tests(json.dumps([dict(TESTS[0], kind="sometimes")]))


@pytest.mark.parametrize("text, says", [("", "did not print JSON"), ("{}", "no results"),
                                         ('{"a": false}', "unknown form"),
                                         ('{"a": ["Setup"]}', "unknown form")])
def test_results_of_the_wrong_shape_are_refused(text, says):
    with pytest.raises(ValueError, match=says):
        cachetests.load_results(text)


def test_outcomes_follow_the_suites_reading(tests):
    outs = cachetests.outcomes(tests, results(REFERENCE))
    assert outs == {
        "freshness-none": "yes",
        "freshness-max-age": "pass",
        "freshness-max-age-0": "pass",
        "age-parse-negative": "fail",
        "304-etag-update": "dependency_fail",     # its dependency was not optimal
        "conditional-etag-strong-generate": "optional_fail",
        "vary-setup": "setup_fail",
        "vary-retry": "retry",
        "expires-date": "fail",
    }


def test_a_failed_check_fails_what_depends_on_it(tests):
    outs = cachetests.outcomes(tests, results(dict(REFERENCE, **{"freshness-none": ["Assertion",
                                                                 "Response 2 comes from cache"]})))
    assert outs["freshness-none"] == "no"
    assert outs["freshness-max-age"] == outs["freshness-max-age-0"] == "dependency_fail"


def test_a_test_without_a_result_was_not_tested(tests):
    partial = dict(REFERENCE)
    del partial["vary-setup"]
    assert cachetests.outcome(tests, results(partial), "vary-setup") == "untested"


def test_totals_by_kind(tests):
    counts = cachetests.totals(tests, cachetests.outcomes(tests, results(REFERENCE)))
    assert counts == {"required": {"passed": 1, "failed": 2, "not_run": 3},
                      "optimal": {"passed": 1, "failed": 1, "not_run": 0},
                      "check": {"passed": 1, "failed": 0, "not_run": 0}}


def test_messages_leave_out_what_changes_from_run_to_run():
    said = cachetests.message(results(REFERENCE), "expires-date")
    assert said == 'Response 2 body is "UUID", header Expires is "DATE" at TIME'
    assert cachetests.message(results(REFERENCE), "freshness-none") == ""


def test_the_baseline_lists_what_passes_sorted(tests):
    outs = cachetests.outcomes(tests, results(REFERENCE))
    text = cachetests.baseline_text("http-cache-tests 0.4.5", outs)
    assert json.loads(text) == {"suite": "http-cache-tests 0.4.5",
                                "passed": ["freshness-max-age", "freshness-max-age-0",
                                           "freshness-none"]}
    assert cachetests.read_baseline(text) == {"freshness-none", "freshness-max-age",
                                              "freshness-max-age-0"}


def test_a_malformed_baseline_is_refused():
    with pytest.raises(ValueError):
        cachetests.read_baseline('["freshness-none"]')


def test_only_required_tests_of_the_baseline_that_no_longer_pass_are_regressions(tests):
    outs = cachetests.outcomes(tests, results(REFERENCE))
    baseline = {"freshness-none", "freshness-max-age-0", "age-parse-negative", "vary-setup",
                "conditional-etag-strong-generate", "a-test-the-suite-dropped"}
    assert cachetests.regressions(tests, baseline, outs) == [
        ("a-test-the-suite-dropped", "gone"), ("age-parse-negative", "fail"),
        ("vary-setup", "setup_fail")]


def test_the_page_is_the_same_for_the_same_results(tests):
    def render(order):
        ref = results(dict(sorted(REFERENCE.items(), reverse=order)))
        runs = {"reference": cachetests.outcomes(tests, ref),
                "Squid": cachetests.outcomes(tests, results(SQUID))}
        return cachetests.page("# Title\n", [("Squid", "5.7")], tests,
                               {"reference": ref, "Squid": results(SQUID)}, runs)
    assert render(False) == render(True)


def test_the_page_lists_differences_and_required_failures(tests):
    ref, squid = results(REFERENCE), results(SQUID)
    runs = {"reference": cachetests.outcomes(tests, ref),
            "Squid": cachetests.outcomes(tests, squid)}
    text = cachetests.page("# Title\n", [("Squid", "5.7")], tests,
                           {"reference": ref, "Squid": squid}, runs)
    differ = text.split("## Where the reference and Squid differ")[1].split("## Required")[0]
    rows = [l for l in differ.splitlines() if l.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["304-etag-update", "age-parse-negative",
                                               "conditional-etag-strong-generate"]
    assert "| `age-parse-negative` | required |" in rows[1] and rows[1].endswith("| FAIL | pass |")
    assert "stale \\| old" in rows[1]           # a | in a name cannot split the cell
    failing = text.split("## Required tests the reference fails")[1].split("## Required")[0]
    assert failing.index("### Age Parsing") < failing.index("### Expires Freshness")
    assert "`vary-setup`" not in failing        # not run is not failed
    assert "| required | 1 | 2 | 3 | 3 | 1 | 2 |" in text


def test_the_page_says_what_kept_required_tests_from_running(tests):
    ref = results(REFERENCE)
    runs = {"reference": cachetests.outcomes(tests, ref), "Squid": cachetests.outcomes(tests, ref)}
    text = cachetests.page("# Title\n", [], tests, {"reference": ref, "Squid": ref}, runs)
    section = text.split("## Required tests the reference could not run")[1]
    rows = [l for l in section.splitlines() if l.startswith("| ") and "---" not in l][1:]
    assert rows == [
        "| depends on `conditional-etag-strong-generate` (not optimal) | `304-etag-update` |",
        "| retried: retry | `vary-retry` |",
        "| setup failed: Response 1 status is 500, not 200 | `vary-setup` |"]


def judge(tmp_path, baseline, update=False):
    tests = cachetests.load_tests(json.dumps(TESTS))
    ref = results(REFERENCE)
    path = tmp_path / "baseline.json"
    if baseline is not None:
        path.write_text(json.dumps({"suite": "x", "passed": sorted(baseline)}))
    args = argparse.Namespace(update=update, baseline=str(path))
    outs = cachetests.outcomes(tests, ref)
    return conformance.judge(args, tests, {"reference": ref},
                             {"reference": outs, "squid": outs}, "http-cache-tests 0.4.5"), path


def test_judge_fails_naming_the_required_test_lost(tmp_path, capsys):
    status, _ = judge(tmp_path, {"freshness-none", "age-parse-negative"})
    out = capsys.readouterr().out
    assert status == 1
    assert "FAILED: age-parse-negative (required) passed in the baseline, now FAIL: " \
           "Response 2 comes from cache" in out


def test_judge_passes_and_names_what_is_new(tmp_path, capsys):
    status, _ = judge(tmp_path, {"freshness-none", "conditional-etag-strong-generate"})
    out = capsys.readouterr().out
    assert status == 0
    assert "freshness-max-age, freshness-max-age-0" in out and "UPDATE=1" in out
    assert "no longer pass (not a failure): conditional-etag-strong-generate" in out


def test_judge_without_a_baseline_says_how_to_make_one(tmp_path):
    with pytest.raises(conformance.Fatal, match="UPDATE=1"):
        judge(tmp_path, None)


def test_update_rewrites_the_baseline(tmp_path):
    status, path = judge(tmp_path, {"age-parse-negative"}, update=True)
    assert status == 0
    assert cachetests.read_baseline(path.read_text()) == {
        "freshness-none", "freshness-max-age", "freshness-max-age-0"}
