"""The grader's outputs, from one result (see harness/grade):

    {"stage": N, "student": name, "built": bool, "score": x, "max_score": y,
     "execution_time": seconds, "output": text, "notes": [...],
     "tests": [rows of grading.fill_in]}

Only the stage's own tests earn points; earlier stages' tests, which must
still pass, are reported with a max_score of 0, and each that fails takes
the points it is worth in its own stage off the score
(grading.regressions()), down to 0 at most.
"""
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import xml.etree.ElementTree as ET

TEST_OUTPUT_MAX = 8000      # characters of one test's output in the reports


def counted(result, row):
    """Whether a row's points count towards the result's score."""
    return row["stage"] == result["stage"]


def test_output(row):
    """What a student sees of one test: the reason, then its output."""
    text = row["reason"] if row["outcome"] != "passed" else ""
    if row["outcome"] != "passed" and row.get("output"):
        text += "\n\n" + row["output"]
    return text.strip()[:TEST_OUTPUT_MAX]


def test_name(result, row):
    """A test's name as reported: earlier stages' tests say so."""
    if counted(result, row):
        return row["name"]
    return (f"(stage {row['stage']}, must still pass: if it fails, -{row['max_points']:g} "
            f"here) {row['name']}")


def gradescope(result):
    """Gradescope's results.json, as a dict."""
    tests = []
    for i, row in enumerate(result["tests"], 1):
        own = counted(result, row)
        tests.append({"name": test_name(result, row), "number": f"{row['stage']}.{i}",
                      "score": row["points"] if own else 0,
                      "max_score": row["max_points"] if own else 0,
                      "status": "passed" if row["outcome"] == "passed" else "failed",
                      "output": test_output(row), "visibility": row["visibility"]})
    return {"score": result["score"], "execution_time": round(result["execution_time"], 1),
            "output": result["output"], "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def junit(result):
    """JUnit XML, as a string, valid under Jenkins' strict schema: one
    testsuite per stage, each test's points as properties of its suite
    ("score ID", "max_score ID"), and nothing that XML 1.0 cannot hold
    (a student's output may carry any byte)."""
    top = ET.Element("testsuites", name=f"proxylab stage {result['stage']}",
                     time=f"{result['execution_time']:.1f}")
    for stage in sorted({r["stage"] for r in result["tests"]}):
        rows = [r for r in result["tests"] if r["stage"] == stage]
        suite = ET.SubElement(top, "testsuite", name=f"stage {stage}", tests=str(len(rows)),
                              failures=str(sum(r["outcome"] != "passed" for r in rows)),
                              errors="0", skipped="0")
        props = ET.SubElement(suite, "properties")
        for row in rows:
            _testcase(suite, props, result, row)
    _counts(top, result["tests"])
    return ET.tostring(top, encoding="unicode", xml_declaration=True) + "\n"


# Characters XML 1.0 cannot hold, even escaped: C0 controls but tab, LF, CR;
# surrogates; U+FFFE and U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text):
    """text with each character XML cannot hold written as \\xNN (\\uNNNN)."""
    return NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                       else f"\\u{ord(m.group()):04x}", text)


def _testcase(suite, props, result, row):
    own = counted(result, row)
    points = (row["points"] if own else 0, row["max_points"] if own else 0)
    for name, value in zip(("score", "max_score"), points):
        ET.SubElement(props, "property", name=f"{name} {row['id']}", value=f"{value:g}")
    case = ET.SubElement(suite, "testcase", classname=f"stage{row['stage']}", name=row["id"])
    if row["outcome"] != "passed":
        failure = ET.SubElement(case, "failure", type="failed",
                                message=xml_text(row["reason"][:500]))
        failure.text = xml_text(test_output(row))
    out = ET.SubElement(case, "system-out")
    out.text = xml_text(f"{row['name']}: {points[0]:g} of {points[1]:g} points "
                        f"({row['visibility']})")


def _counts(top, rows):
    top.set("tests", str(len(rows)))
    top.set("failures", str(sum(r["outcome"] != "passed" for r in rows)))


def autolab(result, key=None):
    """Autolab's score line: the last line the grader prints."""
    key = key or f"stage{result['stage']}"
    return json.dumps({"scores": {key: result["score"]}, "scoreboard": [result["score"]]})


def write_text(path, text):
    """Write text to path, making its directory."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# -- a class at once -------------------------------------------------------------

def own_tests(results):
    """(id, name) of the stage's own tests, in rubric order, over all results."""
    seen = {}
    for result in results:
        for row in result["tests"]:
            if counted(result, row):
                seen.setdefault(row["id"], row["name"])
    return list(seen.items())


def write_csv(path, results):
    """One row per student: total, whether it built, the reason it lost
    points before its tests said (an unreadable archive, a build that failed
    or that a limit stopped, a fork bomb, the time limit; empty if none), the
    grader's notes (a warning about the sandbox, processes stopped at the
    memory limit), then the points of each of the stage's tests."""
    tests = own_tests(results)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "total", "built", "reason", "notes"] + [tid for tid, _ in tests])
        for r in results:
            points = {row["id"]: row["points"] for row in r["tests"]}
            w.writerow([r["student"], f"{r['score']:g}", "yes" if r["built"] else "no",
                        r.get("reason", ""), " | ".join(r.get("notes", []))]
                       + [f"{points.get(tid, 0):g}" for tid, _ in tests])


BUCKETS = [(lo, lo + 9) for lo in range(0, 100, 10)]


def bucket_counts(totals, top=100):
    """[(label, count)] of totals in tens, with full marks on their own."""
    counts = [(f"{lo}-{hi}", sum(lo <= t < hi + 1 for t in totals if t < top))
              for lo, hi in BUCKETS]
    return counts + [(f"{top:g}", sum(t >= top for t in totals))]


def summary(results):
    """The class's summary, as text."""
    totals = [r["score"] for r in results]
    if not totals:
        return "no submissions graded"
    lines = [f"{len(totals)} graded: mean {statistics.mean(totals):.1f}, median "
             f"{statistics.median(totals):g}, min {min(totals):g}, max {max(totals):g}, "
             f"{sum(not r['built'] for r in results)} did not build", "", "distribution:"]
    widest = max(c for _, c in bucket_counts(totals)) or 1
    for label, count in bucket_counts(totals):
        lines.append(f"  {label:>6} {count:>4} {'#' * round(40 * count / widest)}")
    lines += ["", "earned each test (students out of %d):" % len(totals)]
    for tid, name in own_tests(results):
        n = sum(any(row["id"] == tid and row["outcome"] == "passed" for row in r["tests"])
                for r in results)
        lines.append(f"  {n:>4}  {name[:70]}")
    return "\n".join(lines)


def histogram(path, results, stage):
    """A histogram of totals drawn by gnuplot into path (.png or .svg).
    Returns an error message, or None."""
    if not shutil.which("gnuplot"):
        return "gnuplot is missing (apt-get install -y gnuplot-nox): no histogram"
    counts = bucket_counts([r["score"] for r in results])
    data = "\n".join(f'"{label}" {count}' for label, count in counts)
    step = max(1, -(-max(c for _, c in counts) // 10))     # whole students on the y axis
    term = "svg size 800,500" if path.endswith(".svg") else "pngcairo size 800,500"
    script = (f"set terminal {term}\nset output '{path}'\n"
              f"set title 'Stage {stage}: totals of {len(results)} submissions'\n"
              "set xlabel 'total points'\nset ylabel 'students'\nset style fill solid 0.6\n"
              f"set boxwidth 0.8\nset yrange [0:*]\nset ytics {step}\nset grid ytics\n"
              "plot '-' using 0:2:xtic(1) with boxes notitle\n" + data + "\ne\n")
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
    return None if r.returncode == 0 else f"gnuplot failed: {r.stderr.strip()}"
