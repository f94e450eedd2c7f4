"""Reading the results of the HTTP caching tests (http-cache-tests, the suite
behind cache-tests.fyi), comparing them with the baseline, and writing
docs/conformance.md. Nothing here runs a program: conformance.py does, and
the self-tests (harness/instructor/selftest/test_conformance.py) feed this fixed data.

The suite's client prints, for each test id it ran, `true` (passed) or
`[error name, message]`: "Assertion" (the cache did something the test
forbids) or "Setup" (something the test relies on did not happen, so it
tested nothing; the message "retry" means the cache retried a request).
What a result means depends on the test's kind and on the tests it depends
on: outcome() follows the suite's own reading (determineTestResult in its
lib/display.mjs), dependencies honoured as cache-tests.fyi shows them.
"""
import json
import re

KINDS = ("required", "optimal", "check")

# Outcomes, as lib/display.mjs names them, and how the doc says each.
WORDS = {
    "pass": "pass",
    "fail": "FAIL",
    "optional_fail": "not optimal",
    "yes": "yes",
    "no": "no",
    "setup_fail": "setup failed",
    "retry": "retried",
    "harness_fail": "harness failed",
    "dependency_fail": "dependency failed",
    "untested": "not tested",
}
PASSED = ("pass", "yes")
FAILED = ("fail", "optional_fail", "no")
# Anything else is "not run": the test could not say.


class Test:
    """One test of the suite, as list-tests.mjs describes it."""

    def __init__(self, id, name, kind, suite, depends_on=(), browser_only=False, **_):
        self.id = id
        self.name = name
        self.kind = kind
        self.suite = suite
        self.depends_on = list(depends_on)
        self.browser_only = browser_only


def load_tests(text):
    """The tests a proxy can run (browser-only ones left out, as the suite's
    client leaves them out), by id, from list-tests.mjs's JSON."""
    tests = {}
    for item in json.loads(text):
        test = Test(**item)
        if test.kind not in KINDS:
            raise ValueError(f"test {test.id} has an unknown kind {test.kind!r}")
        if not test.browser_only:
            tests[test.id] = test
    return tests


def load_results(text):
    """The client's JSON results, checked for shape: {id: true | [name, message]}."""
    try:
        results = json.loads(text)
    except ValueError as e:
        raise ValueError(f"the suite's client did not print JSON results ({e})") from None
    if not isinstance(results, dict) or not results:
        raise ValueError("the suite's client printed no results")
    for test_id, r in results.items():
        if r is not True and not (isinstance(r, list) and len(r) == 2):
            raise ValueError(f"result of {test_id} has an unknown form: {r!r}")
    return results


def outcome(tests, results, test_id, seen=()):
    """What the result of test_id means, as the suite reads it: a key of WORDS."""
    test, result = tests[test_id], results.get(test_id)
    if result is None:
        return "untested"
    for dep in test.depends_on:
        if dep in seen or dep not in tests or \
                outcome(tests, results, dep, seen + (test_id,)) not in PASSED:
            return "dependency_fail"
    if result is not True and result[0] == "Setup":
        return "retry" if result[1] == "retry" else "setup_fail"
    if result is True:
        return "yes" if test.kind == "check" else "pass"
    return {"required": "fail", "optimal": "optional_fail", "check": "no"}[test.kind]


def outcomes(tests, results):
    """Every test's outcome, by id."""
    return {test_id: outcome(tests, results, test_id) for test_id in tests}


def group(word):
    """passed, failed or not_run."""
    return "passed" if word in PASSED else "failed" if word in FAILED else "not_run"


def totals(tests, outs):
    """{kind: {"passed": n, "failed": n, "not_run": n}}."""
    counts = {kind: {"passed": 0, "failed": 0, "not_run": 0} for kind in KINDS}
    for test_id, word in outs.items():
        counts[tests[test_id].kind][group(word)] += 1
    return counts


def message(results, test_id):
    """What the suite said of a test that did not pass, made the same from run
    to run: the ids, dates and clock readings it quotes are replaced."""
    r = results.get(test_id)
    if r is None or r is True:
        return ""
    text = str(r[1])
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", text)
    text = re.sub(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*, [0-9A-Za-z :-]+ GMT", "DATE", text)
    text = re.sub(r"\b1[0-9]{9}(\.?[0-9]+)?\b", "TIME", text)
    return " ".join(text.split())


# -- the baseline ----------------------------------------------------------------

def passing(outs):
    """The ids of the tests that passed (for check tests, said yes), sorted."""
    return sorted(test_id for test_id, word in outs.items() if word in PASSED)


def baseline_text(suite_version, outs):
    """The baseline file: the suite's version and the tests the reference passes."""
    return json.dumps({"suite": suite_version, "passed": passing(outs)}, indent=1) + "\n"


def read_baseline(text):
    """The set of test ids a baseline file lists as passing."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("passed"), list):
        raise ValueError('the baseline is not {"suite": ..., "passed": [test ids]}')
    return set(data["passed"])


def regressions(tests, baseline, outs):
    """The required tests the baseline has passing that do not pass now,
    sorted: [(id, outcome)]. A test the suite no longer has is one too."""
    lost = []
    for test_id in sorted(baseline):
        if test_id not in tests:
            lost.append((test_id, "gone"))
        elif tests[test_id].kind == "required" and outs[test_id] not in PASSED:
            lost.append((test_id, outs[test_id]))
    return lost


def gains_and_losses(baseline, outs):
    """Tests passing now that the baseline does not list, and tests it lists
    that do not pass now (any kind): two sorted lists."""
    now = set(passing(outs))
    return sorted(now - baseline), sorted(baseline - now)


# -- the page ----------------------------------------------------------------------

def cell(text):
    """Text made safe for a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def totals_table(tests, runs):
    """Passed, failed and not run by kind, for each proxy side by side."""
    names = list(runs)
    head = "| kind | " + " | ".join(f"{n}: passed | failed | not run" for n in names) + " |"
    rule = "|---|" + "---:|---:|---:|" * len(names)
    rows = [head, rule]
    sums = {n: totals(tests, outs) for n, outs in runs.items()}
    for kind in KINDS + ("all",):
        cells = []
        for n in names:
            c = sums[n][kind] if kind != "all" else {
                g: sum(sums[n][k][g] for k in KINDS) for g in ("passed", "failed", "not_run")}
            cells += [str(c["passed"]), str(c["failed"]), str(c["not_run"])]
        rows.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def not_run_line(name, outs):
    """Why a proxy's "not run" tests did not run, counted."""
    counts = {}
    for word in outs.values():
        if group(word) == "not_run":
            counts[WORDS[word]] = counts.get(WORDS[word], 0) + 1
    parts = ", ".join(f"{n} {w}" for w, n in sorted(counts.items())) or "none"
    return f"- {name}: {parts}"


def differences(tests, runs):
    """The table of tests on which the proxies' outcomes differ, by test id."""
    names = list(runs)
    rows = [f"| test | kind | what it checks | {' | '.join(names)} |",
            "|---|---|---|" + "---|" * len(names)]
    for test_id in sorted(tests):
        words = [runs[n][test_id] for n in names]
        if len(set(words)) > 1:
            t = tests[test_id]
            rows.append(f"| `{test_id}` | {t.kind} | {cell(t.name)} | "
                        + " | ".join(WORDS[w] for w in words) + " |")
    return "\n".join(rows) if len(rows) > 2 else "None: both gave every test the same outcome."


def required_failures(tests, results, outs):
    """The required tests the reference fails, by the suite's section (which
    says what sort of behaviour they check), with the suite's own words."""
    failing = [t for t in tests.values() if t.kind == "required" and outs[t.id] == "fail"]
    if not failing:
        return "None."
    parts = []
    for suite in sorted({t.suite for t in failing}):
        parts.append(f"### {suite}\n\n"
                     "| test | what it checks | what the suite saw |\n|---|---|---|")
        for t in sorted((t for t in failing if t.suite == suite), key=lambda t: t.id):
            parts.append(f"| `{t.id}` | {cell(t.name)} | {cell(message(results, t.id))} |")
        parts.append("")
    return "\n".join(parts).rstrip("\n")


def stopped_by(tests, results, outs, test_id):
    """What kept a test from running: the tests it depends on that did not
    pass, with their outcomes, or its own outcome and the suite's message."""
    if outs[test_id] == "dependency_fail":
        deps = [d for d in tests[test_id].depends_on if outs.get(d) not in PASSED]
        return "depends on " + ", ".join(
            f"`{d}` ({WORDS[outs[d]] if d in outs else 'not applicable'})" for d in deps)
    said = message(results, test_id)
    return WORDS[outs[test_id]] + (f": {said}" if said else "")


def required_not_run(tests, results, outs):
    """The required tests the reference could not run, grouped by what stopped them."""
    groups = {}
    for t in tests.values():
        if t.kind == "required" and group(outs[t.id]) == "not_run":
            groups.setdefault(stopped_by(tests, results, outs, t.id), []).append(t.id)
    if not groups:
        return "None."
    rows = ["| what stopped them | tests |", "|---|---|"]
    for why in sorted(groups):
        rows.append(f"| {cell(why)} | " + ", ".join(f"`{i}`" for i in sorted(groups[why])) + " |")
    return "\n".join(rows)


def page(intro, versions, tests, results, runs, reference="reference"):
    """docs/conformance.md: intro (static text), the versions used, the
    totals, the differences, the required tests the reference fails, and
    those it could not run.
    results and runs are by proxy name: the raw results, and the outcomes."""
    lines = [intro.rstrip("\n"), "", "## Versions", ""]
    lines += [f"- {name}: {v}" for name, v in versions]
    lines += ["", "## Totals", "",
              f"{len(tests)} tests apply to a proxy (the suite's browser-only tests "
              "are left out, as its client leaves them out).", "",
              totals_table(tests, runs), "",
              "Passed counts a check test that said yes; failed, one that said no, and an "
              "optimal test that was not. Not run:", ""]
    lines += [not_run_line(name, outs) for name, outs in runs.items()]
    lines += ["", "## Where the reference and Squid differ", "",
              differences(tests, runs), "",
              "## Required tests the reference fails", "",
              "Grouped by the suite's sections; \"what the suite saw\" is the failure "
              "message of its client (ids, dates and clock readings replaced by "
              "UUID, DATE and TIME).", "",
              required_failures(tests, results[reference], runs[reference]), "",
              "## Required tests the reference could not run", "",
              "A test runs only once the tests it depends on pass, and its set-up "
              "requests go as planned; these did not.", "",
              required_not_run(tests, results[reference], runs[reference]), ""]
    return "\n".join(lines)
