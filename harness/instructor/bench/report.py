"""The bench's results: medians, the issue's targets, the Markdown tables,
results.json and the chart (chart.gp, with gnuplot)."""
import json
import os
import shutil
import statistics
import subprocess

import peers

HERE = os.path.dirname(os.path.abspath(__file__))
WRK_KEYS = ("rps", "p50_ms", "p99_ms")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PROXIES = ("reference", "squid", "tinyproxy", "nginx")
# Peers that close the client's connection after each response, though it
# asked for keep-alive, and say nothing of it (no "Connection: close"): wrk
# counts each such close as a read error, and reconnects. That is how the
# peer works, not a fault of the bench, so the smoke form lets it pass.
CLOSES_EACH = {"tinyproxy"}


def brief(r):
    """One run's result, in a few words, for the progress lines."""
    if "failed" in r:
        return "FAILED: " + r["failed"].splitlines()[0]
    if "rps" in r:
        return f"{r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  " \
               f"errors {r['errors']}"
    if "mibps" in r:
        return f"{r['mibps']:.0f} MiB/s"
    return f"held {r['held']}  RSS {r['rss_mib']:.1f} MiB (before: {r['rss_before_mib']:.1f})"


def median_of(runs):
    """The median of each number over runs that did not fail; errors add up,
    and held is the worst run's. None if every run failed."""
    ok = [r for r in runs if "failed" not in r]
    if not ok:
        return None
    m = {k: statistics.median(r[k] for r in ok) for k in ok[0]
         if isinstance(ok[0][k], (int, float)) and k not in ("errors", "held")}
    m["errors"] = sum(r.get("errors", 0) for r in ok)
    m["read_errors"] = sum(r.get("error_kinds", {}).get("read", 0) for r in ok)
    if "held" in ok[0]:
        m["held"] = min(r["held"] for r in ok)
    m["runs"] = len(ok)
    m["failed"] = [r["failed"] for r in runs if "failed" in r]
    return m


def summarise(results):
    """{case: {proxy: medians or None}}, the proxies in PROXIES' order."""
    return {case: {name: median_of(by[name]) for name in PROXIES if name in by}
            for case, by in results.items()}


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def wrk_table(summary):
    lines = ["| case | proxy | req/s | p50 ms | p99 ms | errors | reference ÷ this |",
             "|---|---|--:|--:|--:|--:|--:|"]
    for case, by in summary.items():
        if case in ("tunnel", "idle"):
            continue
        ref = (by.get("reference") or {}).get("rps")
        for name, m in by.items():
            if m is None:
                lines.append(f"| {case} | {name} | failed | | | | |")
                continue
            lines.append(f"| {case} | {name} | {m['rps']:.0f} | {m['p50_ms']:.2f} | "
                         f"{m['p99_ms']:.2f} | {m['errors']} | "
                         f"{'' if name == 'reference' else ratio(ref, m['rps'])} |")
    return lines


def tunnel_table(by):
    direct = (by.get("nginx") or {}).get("mibps")
    lines = ["| proxy | MiB/s | of a direct transfer |", "|---|--:|--:|"]
    for name, m in by.items():
        label = "direct (no proxy)" if name == "nginx" else name
        lines.append(f"| {label} | " + ("failed | |" if m is None else
                                        f"{m['mibps']:.0f} | {ratio(m['mibps'], direct)} |"))
    return lines


def idle_table(by, n):
    lines = [f"| proxy | held of {n} | RSS before, MiB | RSS with them, MiB |", "|---|--:|--:|--:|"]
    for name, m in by.items():
        lines.append(f"| {name} | " + ("failed | | |" if m is None else
                                       f"{m['held']} | {m['rss_before_mib']:.1f} | "
                                       f"{m['rss_mib']:.1f} |"))
    return lines


def get(summary, case, name, key):
    return ((summary.get(case) or {}).get(name) or {}).get(key)


def targets(summary, args):
    """The issue's targets: (what, measured, met) for each that was measured."""
    out = []
    for case, peer, want in (("hit-1k", "squid", 1.3), ("hit-100k", "squid", 2.0),
                             ("miss-1k", "squid", 1.2), ("miss-1k", "tinyproxy", 1.5)):
        a, b = get(summary, case, "reference", "rps"), get(summary, case, peer, "rps")
        if a and b:
            out.append((f"{case}: ≥ {want}× {peer}", f"{a / b:.2f}×", a / b >= want))
    for case in summary:
        a, b = get(summary, case, "reference", "p99_ms"), get(summary, case, "squid", "p99_ms")
        if a and b:
            out.append((f"{case}: p99 ≤ Squid's", f"{a:.2f} vs {b:.2f} ms", a <= b))
    held, rss = get(summary, "idle", "reference", "held"), get(summary, "idle", "reference",
                                                               "rss_mib")
    if held is not None:
        limit = 64 + peers.CACHE_MIB
        out.append((f"{args.idle} idle connections held, RSS < {limit} MiB",
                    f"{held} held, {rss:.1f} MiB", held == args.idle and rss < limit))
    a, b = get(summary, "tunnel", "reference", "mibps"), get(summary, "tunnel", "nginx", "mibps")
    if a and b:
        out.append(("tunnel ≥ 80% of direct", f"{100 * a / b:.0f}%", a >= 0.8 * b))
    return out


def markdown(info, summary, skipped, args):
    """The results section of docs/performance.md."""
    lines = [f"Measured {info['date']} on {info['nproc']} cores ({info['cpu']}), Linux "
             f"{info['kernel']}; load average {info['load_before']} before, "
             f"{info['load_after']} after. wrk {args.threads} threads, {args.connections} "
             f"connections, {args.duration} s a run, median of {args.runs} run(s), the "
             f"proxies in turn. {info['nginx']}; {info['squid']}; {info['tinyproxy']}.", ""]
    lines += [f"Not installed, so not measured: {', '.join(skipped)}.", ""] if skipped else []
    lines += wrk_table(summary) + [""]
    lines += [f"{', '.join(sorted(CLOSES_EACH))}: its errors are read errors: it closes "
              "the connection after each response, though the client asked for keep-alive, "
              "and wrk reconnects.", ""]
    if "tunnel" in summary:
        lines += [f"CONNECT tunnel, one transfer of {args.tunnel_mib} MiB:", ""]
        lines += tunnel_table(summary["tunnel"]) + [""]
    if "idle" in summary:
        lines += [f"{args.idle} idle keep-alive connections, each after one 1 KiB hit:", ""]
        lines += idle_table(summary["idle"], args.idle) + [""]
    lines += ["Targets (issue 10):", ""]
    lines += [f"- {'met' if ok else '**not met**'}: {what} (measured {got})"
              for what, got, ok in targets(summary, args)]
    return "\n".join(lines) + "\n"


def failures(summary, args):
    """What did not work at all: failed runs, errors, connections dropped."""
    out = []
    for case, by in summary.items():
        for name, m in by.items():
            closes = name in CLOSES_EACH
            if m is None or m["failed"]:
                out.append(f"{case} {name}: " + ("; ".join(m["failed"]) if m else "every run failed"))
            elif m["errors"] - (m["read_errors"] if closes else 0):
                out.append(f"{case} {name}: {m['errors']} errors")
            elif "held" in m and m["held"] != args.idle and not closes:
                out.append(f"{case} {name}: held {m['held']} of {args.idle} connections")
    return out


def save(out, info, results, summary):
    """results.json, chart.dat and chart.svg in out."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": info, "runs": results, "medians": summary}, f, indent=1)
    chart(out, summary)


def chart(out, summary):
    """Plot the median req/s of each wrk case and proxy (chart.gp)."""
    names = [n for n in PROXIES if any(n in by for by in summary.values())]
    dat = os.path.join(out, "chart.dat")
    with open(dat, "w") as f:
        f.write("case " + " ".join("nginx-direct" if n == "nginx" else n for n in names) + "\n")
        for case, by in summary.items():
            if case not in ("tunnel", "idle"):
                f.write(case + " " + " ".join(
                    f"{(by.get(n) or {}).get('rps', 0):.0f}" for n in names) + "\n")
    if shutil.which("gnuplot") is None:
        print("bench: gnuplot is not installed (apt-get install gnuplot-nox): no chart")
        return
    subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{os.path.join(out, 'chart.svg')}'; "
                    f"ncols={len(names)}", os.path.join(HERE, "chart.gp")], check=True)


def rewrite(doc, text):
    """Put text between the bench markers of doc."""
    with open(doc) as f:
        old = f.read()
    start, end = old.index(BEGIN) + len(BEGIN), old.index(END)
    with open(doc, "w") as f:
        f.write(old[:start] + "\n" + text + old[end:])
