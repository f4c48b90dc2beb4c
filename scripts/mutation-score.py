#!/usr/bin/env python3
"""Score a scripts/mutation-bench run: compare each mutation's check report
(JSON, docs/report.schema.json) with the unpatched build's and print the
catch rate and the false reports.

Usage: mutation-score.py MUTATIONS_DIR RESULTS_DIR SUMMARY_TSV

A drift is "new" when the unpatched build's report does not hold the same
(machine, profile, rule, path, old, new); only unwaived drift counts.
"""
import json
import re
import sys
from pathlib import Path

LOUD = ("break", "warn")


def headers(patch: Path) -> dict:
    """The `# key: value` lines before the diff."""
    out = {}
    for line in patch.read_text().splitlines():
        if line.startswith("diff --git"):
            break
        m = re.match(r"^# ([a-z-]+): (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    for key in ("mutation", "change", "expect"):
        if key not in out:
            sys.exit(f"{patch}: no '# {key}:' line")
    if out["expect"] not in ("break", "clean"):
        sys.exit(f"{patch}: expect must be break or clean, not {out['expect']!r}")
    if out["expect"] == "break" and "match" not in out:
        sys.exit(f"{patch}: an expected break needs a '# match:' regex")
    if out["expect"] == "clean" and ("match" in out or "machines" in out):
        sys.exit(f"{patch}: a change expected clean has no '# match:' or '# machines:' (nothing may break)")
    return out


def load(path: Path):
    """(report, {key: drift}) of one check, unwaived drift only."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return None, f"no report ({e})"
    drifts = {}
    for d in report["drifts"]:
        if d["waiver"] is not None:
            continue
        key = (d["machine"], d["profile"], d["rule"], d["path"], d["old"], d["new"])
        drifts[key] = d
    return report, drifts


def main() -> None:
    mutations, results, summary = (Path(a) for a in sys.argv[1:4])
    rows = {}
    for line in summary.read_text().splitlines():
        name, rc, check_s, build_s = line.split("\t")
        rows[name] = (rc, check_s, build_s)
    if "base" not in rows:
        sys.exit("the unpatched build was not checked: nothing to compare with")
    base_report, base = load(results / "base.json")
    if base_report is None:
        sys.exit(f"unpatched build: {base}")
    failed = [r for r in base_report["results"] if r["status"] == "failed"]
    if failed:
        sys.exit(f"unpatched build: {len(failed)} pairs could not be checked, e.g. "
                 f"{failed[0]['machine']}/{failed[0]['profile']}: {failed[0]['error']}")
    pairs = len(base_report["results"])
    print(f"\npairs checked per run: {pairs} (machine type x profile)")

    # Self-built vs Debian's binary of the same release: the reference must
    # be the release's own findings, or the bench measures the build setup.
    deb_report, deb = load(results / "debian.json")
    if deb_report is not None:
        only_self = sorted(set(base) - set(deb))
        only_deb = sorted(set(deb) - set(base))
        print(f"unpatched self-built vs Debian 10.0.2 (exit {rows.get('debian', ('?',))[0]} / "
              f"{rows['base'][0]}): {len(base)} unwaived findings each side, "
              f"{len(only_self)} only in the self-built, {len(only_deb)} only in Debian's")
        for k in (only_self + only_deb)[:10]:
            print(f"    {'self' if k in base else 'debian'}: {k[0]} {k[1]} {k[2]} {k[3]}: {k[4]} -> {k[5]}")
        build_differs = bool(only_self or only_deb)
    else:
        print(f"Debian's 10.0.2 binary: {deb}")
        build_differs = True

    fmt = "{:<32} {:<6} {:>4} {:>6} {:>6} {:>6} {:>6}  {:<22} {:>7} {:>7}"
    print()
    print(fmt.format("mutation", "expect", "exit", "+break", "+warn", "+info", "false",
                     "verdict", "build s", "check s"))
    caught = expected_breaks = clean_ok = expected_clean = false_total = 0
    details = []
    for patch in sorted(mutations.glob("*.patch")):
        name = patch.stem
        if name not in rows:
            continue
        h = headers(patch)
        rc, check_s, build_s = rows[name]
        if h["expect"] == "break":
            expected_breaks += 1
        else:
            expected_clean += 1
        if rc == "build-failed":
            print(fmt.format(name, h["expect"], "-", "-", "-", "-", "-", "DID NOT BUILD", build_s, "-"))
            continue
        report, drifts = load(results / f"{name}.json")
        if report is None or any(r["status"] == "failed" for r in report["results"]):
            why = drifts if report is None else "a pair could not be checked"
            print(fmt.format(name, h["expect"], rc, "-", "-", "-", "-", "COULD NOT CHECK", build_s, check_s))
            details.append((name, [f"could not check: {why}"]))
            continue
        new = [drifts[k] for k in sorted(set(drifts) - set(base))]
        gone = sorted(set(base) - set(drifts))
        by_sev = {s: [d for d in new if d["severity"] == s] for s in ("break", "warn", "info")}
        match = re.compile(h["match"]) if "match" in h else None
        where = re.compile(h["machines"]) if "machines" in h else re.compile(".*")
        if h["expect"] == "break":
            hit = lambda d: bool(match.search(d["path"]) and where.fullmatch(d["machine"]))
            hits = [d for d in by_sev["break"] if hit(d)]
            false = [d for d in new if d["severity"] in LOUD and not hit(d)]
            if rc == "1" and hits:
                verdict = "caught"
                caught += 1
            elif any(hit(d) for d in new):
                verdict = "MISSED (below break)"
            else:
                verdict = "MISSED"
        else:
            false = [d for d in new if d["severity"] in LOUD]
            if rc == rows["base"][0] and not false:
                verdict = "clean (as expected)"
                clean_ok += 1
            else:
                verdict = "FALSE FAILURE"
        false_total += len(false)
        print(fmt.format(name, h["expect"], rc, len(by_sev["break"]), len(by_sev["warn"]),
                         len(by_sev["info"]), len(false), verdict, build_s, check_s))
        lines = []
        machines = sorted({d["machine"] for d in new if d["severity"] in LOUD})
        if machines:
            lines.append("machine types with new findings: " + " ".join(machines))
        for d in (new if h["expect"] == "clean" else by_sev["break"])[:4]:
            dev = f" [{d['device']}]" if d["device"] else ""
            lines.append(f"{d['severity']} {d['rule']}: {d['machine']} {d['profile']} "
                         f"{d['path']}{dev}: {d['old']} -> {d['new']}")
        for d in false[:6]:
            lines.append(f"FALSE? {d['severity']} {d['rule']}: {d['machine']} {d['profile']} "
                         f"{d['path']}: {d['old']} -> {d['new']}")
        if gone:
            lines.append(f"{len(gone)} findings of the unpatched build no longer reported")
        details.append((name, lines))

    print()
    for name, lines in details:
        if lines:
            print(name)
            for line in lines:
                print("    " + line)
    print()
    print(f"caught: {caught}/{expected_breaks} ungated ABI breaks")
    print(f"left alone: {clean_ok}/{expected_clean} changes that keep the ABI (gated change, controls)")
    print(f"false reports: {false_total} new unwaived breaks or warnings on facts a mutation did not touch")
    if build_differs:
        print("the unpatched self-built binary does not check like Debian's: the figures above measure the build setup too")
    if caught != expected_breaks or clean_ok != expected_clean or false_total or build_differs:
        sys.exit(1)


if __name__ == "__main__":
    main()
