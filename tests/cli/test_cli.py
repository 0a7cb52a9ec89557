#!/usr/bin/python3
"""`scorefarm estimate` and `scorefarm study` run as a user runs them, checked against numpy.

estimate:
- each bad input (ragged CSV, non-number with line:column, wrong --at dimension, h < 0, h = 0,
  unknown estimator / distribution / rule, missing options) exits 2 with one clear error line
  and nothing on stdout;
- the JSON for a CSV sample equals the LLSFE closed form of SPEC §3 computed here with numpy
  (weights, centred moments, a1 = Σ⁻¹m, A2 = h⁻²I − Σ⁻¹, S2 = a1a1ᵀ + A2, S4 from SPEC §1 by
  explicit index sums) to 1e-12, in d = 2 and d = 3, near and far query points; the KDE plug-in
  S2 likewise; the theory and Silverman bandwidths equal their formulas;
- --dist gaussian / paper_mixture: "exact" equals the closed forms of SPEC §2, the errors equal
  numpy's spectral / Frobenius norms of the JSON's own estimate minus those closed forms;
- a failed estimate writes null (never NaN) and a failure status.

study:
- expected rows (per error: one per n, then the slope row), finite slopes; JSON slopes equal
  np.polyfit of log percentile vs log n; failed trials counted and +inf, never dropped;
- the same seed twice gives identical bytes, another seed does not;
- a 1-trial study equals `estimate` of the same seed (trial 0 of cell 0 is the generated sample);
- a YAML config gives the same numbers as the equivalent command line; bad input exits 2.

usage: test_cli.py /path/to/scorefarm
"""
import itertools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SCOREFARM = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    p = subprocess.run([SCOREFARM, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def strict_json(text):
    def reject(name):
        raise ValueError("non-JSON constant " + name)
    return json.loads(text, parse_constant=reject)


def estimate_json(*args):
    rc, out, err = run("estimate", *args)
    check(rc == 0, f"estimate {args}: exit {rc}, stderr {err!r}")
    lines = [l for l in out.splitlines() if l.strip()]
    return [strict_json(l) for l in lines]


def close(a, b, tol=1e-12):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))))


# ---------------------------------------------------------------- independent reference maths
def s4_from_log_derivs(g, G):
    """SPEC §1 with G3 = G4 = 0, by explicit index sums (no symmetrisation helper)."""
    d = len(g)
    S = np.zeros((d, d, d, d))
    for i, j, k, l in itertools.product(range(d), repeat=4):
        S[i, j, k, l] = (g[i] * g[j] * g[k] * g[l]
                         + G[i, j] * g[k] * g[l] + G[i, k] * g[j] * g[l] + G[i, l] * g[j] * g[k]
                         + G[j, k] * g[i] * g[l] + G[j, l] * g[i] * g[k] + G[k, l] * g[i] * g[j]
                         + G[i, j] * G[k, l] + G[i, k] * G[j, l] + G[i, l] * G[j, k])
    return S


def llsfe_reference(X, x, h):
    """SPEC §3 closed form. X is n x d."""
    v = X - x
    logw = -np.sum(v * v, axis=1) / (2 * h * h)
    w = np.exp(logw - logw.max())
    M0 = w.sum()
    m = (w[:, None] * v).sum(axis=0) / M0
    c = v - m
    Sigma = (w[:, None, None] * c[:, :, None] * c[:, None, :]).sum(axis=0) / M0
    Sinv = np.linalg.inv(Sigma)
    a1 = Sinv @ m
    A2 = np.eye(len(x)) / h ** 2 - Sinv
    S2 = np.outer(a1, a1) + A2
    ess = M0 ** 2 / np.sum(w * w)
    return a1, A2, S2, s4_from_log_derivs(a1, A2), ess


def kde_s2_reference(X, x, h):
    """Plug-in KDE: S2 = (E_w[u uᵀ] − I)/h², u = (x − X_i)/h, w ∝ K(u)."""
    u = (x - X) / h
    logw = -np.sum(u * u, axis=1) / 2
    w = np.exp(logw - logw.max())
    w /= w.sum()
    E = (w[:, None, None] * u[:, :, None] * u[:, None, :]).sum(axis=0)
    return (E - np.eye(len(x))) / h ** 2


def gaussian_exact(x):
    d = len(x)
    g = -x
    G = -np.eye(d)
    return g, G, np.outer(x, x) - np.eye(d), s4_from_log_derivs(g, G)


def mixture_exact_s2(x):
    """0.5 N(1, I) + 0.5 N(−1, I): S2 = Σ π_k ((x − μ_k)(x − μ_k)ᵀ − I)."""
    d = len(x)
    mus = [np.ones(d), -np.ones(d)]
    lp = np.array([-0.5 * np.sum((x - mu) ** 2) for mu in mus])
    pi = np.exp(lp - lp.max())
    pi /= pi.sum()
    return sum(p * (np.outer(x - mu, x - mu) - np.eye(d)) for p, mu in zip(pi, mus))


def write_csv(path, X):
    with open(path, "w") as f:
        for row in X:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


# ---------------------------------------------------------------- estimate: bad input
def expect_bad(args, must_contain, what):
    rc, out, err = run("estimate", *args)
    lines = [l for l in err.splitlines() if l.strip()]
    check(rc == 2, f"{what}: exit {rc} (want 2), stderr {err!r}")
    check(out == "", f"{what}: stdout not empty: {out!r}")
    check(len(lines) == 1, f"{what}: want one error line, got {lines!r}")
    for s in must_contain:
        check(s in err, f"{what}: stderr {err!r} lacks {s!r}")


def test_estimate_bad_input(tmp):
    ragged = os.path.join(tmp, "ragged.csv")
    with open(ragged, "w") as f:
        f.write("0.1,0.2\n0.3,0.4\n0.5,0.6,0.7\n")
    expect_bad(["--samples", ragged, "--at", "0,0", "--bandwidth", "1"], [ragged + ":3:", "ragged"],
               "ragged CSV")
    nonnum = os.path.join(tmp, "nonnum.csv")
    with open(nonnum, "w") as f:
        f.write("# comment\n0.1,0.2\n0.3,  x7\n")
    expect_bad(["--samples", nonnum, "--at", "0,0", "--bandwidth", "1"],
               [nonnum + ":3:7:", "'x7'", "not a number"], "non-number line:column")
    nonnum1 = os.path.join(tmp, "nonnum1.csv")
    with open(nonnum1, "w") as f:
        f.write("0.1,0.2\nabc,0.4\n")
    expect_bad(["--samples", nonnum1, "--at", "0,0", "--bandwidth", "1"], [nonnum1 + ":2:1:"],
               "non-number in column 1")
    good = os.path.join(tmp, "good.csv")
    write_csv(good, np.random.default_rng(1).normal(size=(50, 2)))
    expect_bad(["--samples", good, "--at", "1,2,3", "--bandwidth", "1"], ["--at 1,2,3", "d = 2", "got 3"],
               "--at of the wrong dimension (CSV)")
    expect_bad(["--dist", "gaussian", "--n", "50", "--d", "3", "--at", "1,2", "--bandwidth", "1"],
               ["d = 3", "got 2"], "--at of the wrong dimension (--dist)")
    expect_bad(["--samples", good, "--at", "1,zz", "--bandwidth", "1"], ["--at 1,zz", "'zz'"],
               "--at non-number")
    expect_bad(["--samples", good, "--at", "0,0", "--bandwidth", "-0.5"], ["--bandwidth", "-0.5"], "h < 0")
    expect_bad(["--samples", good, "--at", "0,0", "--bandwidth", "0"], ["--bandwidth", "positive"], "h = 0")
    expect_bad(["--samples", good, "--at", "0,0", "--bandwidth", "1", "--estimator", "llsfe7"],
               ["unknown estimator 'llsfe7'"], "unknown estimator")
    expect_bad(["--dist", "cauchy", "--n", "10", "--at", "0,0", "--bandwidth", "1"],
               ["unknown preset 'cauchy'"], "unknown distribution")
    expect_bad(["--dist", "gaussian", "--n", "10", "--at", "0,0", "--bandwidth-rule", "scott"],
               ["unknown 'scott'"], "unknown bandwidth rule")
    expect_bad(["--dist", "gaussian", "--n", "10", "--at", "0,0", "--bandwidth-rule", "constant"],
               ["needs --bandwidth"], "constant rule without h")
    expect_bad(["--dist", "gaussian", "--n", "10", "--at", "0,0"], ["--bandwidth"], "no bandwidth")
    expect_bad(["--dist", "gaussian", "--n", "10", "--bandwidth", "1"], ["--at"], "no query point")
    expect_bad(["--dist", "gaussian", "--at", "0,0", "--bandwidth", "1"], ["--n"], "--dist without --n")
    expect_bad(["--samples", os.path.join(tmp, "missing.csv"), "--at", "0,0", "--bandwidth", "1"],
               ["missing.csv", "cannot open"], "missing file")
    empty = os.path.join(tmp, "empty.csv")
    open(empty, "w").close()
    expect_bad(["--samples", empty, "--at", "0,0", "--bandwidth", "1"], [empty, "no data rows"], "empty CSV")
    expect_bad(["--samples", good, "--d", "3", "--at", "0,0,0", "--bandwidth", "1"], [good + ":1:", "d = 3"],
               "CSV width differs from --d")


# ---------------------------------------------------------------- estimate: against numpy
def test_estimate_csv_matches_numpy(tmp):
    rng = np.random.default_rng(20190416)
    cases = [
        (2, 300, 0.63, [np.array([1.0, 1.0]), np.array([0.0, -0.5]), np.array([2.5, -2.0])]),
        (3, 400, 0.9, [np.array([0.3, -0.2, 0.5]), np.array([1.5, 1.0, -1.0])]),
        (1, 200, 0.5, [np.array([0.7])]),
    ]
    for d, n, h, points in cases:
        X = rng.normal(size=(n, d)) @ np.diag(np.linspace(1.0, 1.5, d)) + 0.1
        path = os.path.join(tmp, f"sample_d{d}.csv")
        write_csv(path, X)
        args = ["--samples", path, "--bandwidth", str(h)]
        for x in points:
            args += ["--at=" + ",".join(repr(float(v)) for v in x)]
        objs = estimate_json(*args)
        check(len(objs) == len(points), f"d={d}: {len(objs)} JSON objects for {len(points)} points")
        for obj, x in zip(objs, points):
            a1, A2, S2, S4, ess = llsfe_reference(X, x, h)
            tag = f"d={d} x={x.tolist()}"
            check(obj["status"]["code"] == 0 and obj["status"]["flags"] == [], f"{tag}: status {obj['status']}")
            check(obj["n"] == n and obj["d"] == d and obj["h"] == h, f"{tag}: n/d/h {obj['n']} {obj['d']} {obj['h']}")
            check(close(obj["at"], x, 0), f"{tag}: at {obj['at']}")
            check(close(obj["g"], a1), f"{tag}: g {obj['g']} vs {a1}")
            check(close(obj["G2"], A2.reshape(-1)), f"{tag}: G2 {obj['G2']} vs {A2}")
            check(close(obj["S2"], S2.reshape(-1)), f"{tag}: S2 {obj['S2']} vs {S2}")
            check(close(obj["S4"], S4.reshape(-1)), f"{tag}: S4 differs from numpy")
            check(close(obj["ess"], ess), f"{tag}: ess {obj['ess']} vs {ess}")
            check("exact" not in obj and "err_S2_sp" not in obj, f"{tag}: exact values for a CSV sample")

    # KDE plug-in S2 and the data-driven bandwidth rules.
    X = rng.normal(size=(250, 2))
    path = os.path.join(tmp, "kde.csv")
    write_csv(path, X)
    x = np.array([0.4, -0.8])
    (obj,) = estimate_json("--samples", path, "--at", "0.4,-0.8", "--bandwidth", "0.7", "--estimator", "kde")
    check(close(obj["S2"], kde_s2_reference(X, x, 0.7).reshape(-1), 1e-11), f"kde S2 {obj['S2']}")
    (obj,) = estimate_json("--samples", path, "--at", "0,0", "--bandwidth-rule", "theory", "--c", "1.3")
    check(close(obj["h"], 1.3 * 250 ** (-1 / 8), 1e-14), f"theory h {obj['h']}")
    a1, A2, S2, _, _ = llsfe_reference(X, np.zeros(2), 1.3 * 250 ** (-1 / 8))
    check(close(obj["S2"], S2.reshape(-1)), "theory-rule S2 differs from numpy at its h")
    (obj,) = estimate_json("--samples", path, "--at", "0,0", "--bandwidth-rule", "silverman")
    sig = np.mean(np.std(X, axis=0, ddof=1))
    check(close(obj["h"], sig * (4 / (4 * 250)) ** (1 / 6), 1e-13), f"silverman h {obj['h']}")


def test_estimate_exact(tmp):
    for x in [np.array([1.0, 1.0]), np.array([-0.3, 2.0])]:
        (obj,) = estimate_json("--dist", "gaussian", "--n", "2000", "--seed", "9", "--bandwidth", "0.63",
                               "--at=" + ",".join(map(repr, x.tolist())))
        g, G, S2, S4 = gaussian_exact(x)
        ex = obj["exact"]
        tag = f"gaussian x={x.tolist()}"
        check(close(ex["g"], g) and close(ex["G2"], G.reshape(-1)), f"{tag}: exact g/G2 {ex}")
        check(close(ex["S2"], S2.reshape(-1)), f"{tag}: exact S2 {ex['S2']}")
        check(close(ex["S4"], S4.reshape(-1)), f"{tag}: exact S4 {ex['S4']}")
        E2 = np.array(obj["S2"]).reshape(2, 2) - S2
        check(close(obj["err_S2_sp"], np.max(np.abs(np.linalg.eigvalsh(E2)))), f"{tag}: err_S2_sp")
        check(close(obj["err_S4_F"], np.linalg.norm(np.array(obj["S4"]) - S4.reshape(-1))), f"{tag}: err_S4_F")
        check(obj["err_S2_sp"] < 1.0, f"{tag}: implausible S2 error {obj['err_S2_sp']} at n = 2000")
        # The estimate's own S2/S4 are the closed forms of its g and G2.
        ge, Ge = np.array(obj["g"]), np.array(obj["G2"]).reshape(2, 2)
        check(close(obj["S2"], (np.outer(ge, ge) + Ge).reshape(-1)), f"{tag}: S2 != g g^T + G2")
        check(close(obj["S4"], s4_from_log_derivs(ge, Ge).reshape(-1)), f"{tag}: S4 != SPEC §1 of g, G2")
    x = np.array([0.5, -0.25, 1.0])
    (obj,) = estimate_json("--dist", "paper_mixture", "--d", "3", "--n", "500", "--bandwidth", "0.8",
                           "--at", "0.5,-0.25,1")
    check(close(obj["exact"]["S2"], mixture_exact_s2(x).reshape(-1)), f"mixture exact S2 {obj['exact']['S2']}")
    # Same seed, same sample, same bytes; another seed, another sample.
    a = run("estimate", "--dist", "laplace", "--n", "300", "--seed", "4", "--bandwidth", "0.7", "--at", "0.5,0.5")
    b = run("estimate", "--dist", "laplace", "--n", "300", "--seed", "4", "--bandwidth", "0.7", "--at", "0.5,0.5")
    c = run("estimate", "--dist", "laplace", "--n", "300", "--seed", "5", "--bandwidth", "0.7", "--at", "0.5,0.5")
    check(a == b and a[1] != c[1], "estimate --dist is not a function of the seed")
    check(close(strict_json(a[1])["exact"]["S2"], [1, 1, 1, 1]), "laplace exact S2 = s s^T at x > 0")


def test_estimate_failure_is_null(tmp):
    rc, out, err = run("estimate", "--dist", "gaussian", "--n", "20", "--bandwidth", "1e-4", "--at", "3,3")
    check(rc == 0, f"failed estimate: exit {rc} {err!r}")
    check("NaN" not in out and "nan" not in out and "inf" not in out.lower(), f"bare NaN/inf in {out!r}")
    obj = strict_json(out)
    check(obj["status"]["code"] & 1 and "failed" in obj["status"]["flags"], f"status {obj['status']}")
    check(all(v is None for v in obj["S2"]) and obj["err_S2_sp"] is None, f"nulls {obj['S2']} {obj['err_S2_sp']}")


# ---------------------------------------------------------------- study
NS = [100, 200, 500, 1000]


def study_args(seed="11", trials="60", extra=()):
    return ["study", "--dist", "gaussian", "--d", "2", "--n", ",".join(map(str, NS)), "--trials", trials,
            "--seed", seed, "--bandwidth", "0.63", "--at", "1,1", *extra]


def test_study(tmp):
    j1 = os.path.join(tmp, "s1.json")
    rc, out, err = run(*study_args(extra=["--json", j1]))
    check(rc == 0, f"study: exit {rc} {err!r}")
    rows = [l.split() for l in out.splitlines() if l.split() and l.split()[0] in ("S2_sp", "S4_F")]
    for e in ("S2_sp", "S4_F"):
        mine = [r for r in rows if r[0] == e]
        check([r[1] for r in mine] == [str(n) for n in NS] + ["slope"], f"study rows for {e}: {mine}")
        if mine:
            slope = mine[-1][2:]
            check(len(slope) == 6 and all(np.isfinite(float(s)) for s in slope), f"{e} slope row {slope}")
            for r in mine[:-1]:
                check(r[-2:] == ["0", "0"], f"{e}: failures in a clean study {r}")
    s = strict_json(open(j1).read())
    (curve,) = s["curves"]
    check([c["n"] for c in curve["cells"]] == NS, f"json cells {[c['n'] for c in curve['cells']]}")
    for e in ("S2_sp", "S4_F"):
        for lvl in (5, 25, 50, 75, 95):
            p = [c["errors"][e][f"p{lvl}"] for c in curve["cells"]]
            check(all(a >= b for a, b in zip(p, p[1:])) or lvl in (5, 95), f"{e} p{lvl} not decreasing: {p}")
            ref = np.polyfit(np.log(NS), np.log(p), 1)[0]
            check(abs(curve["slopes"][e][f"p{lvl}"] - ref) < 1e-10, f"{e} p{lvl} slope vs polyfit {ref}")
        med = curve["slopes"][e]["p50"]
        check(-0.8 < med < -0.25, f"{e}: median slope {med} far from -0.5")
        for c in curve["cells"]:
            q = [c["errors"][e][f"p{l}"] for l in (5, 25, 50, 75, 95)]
            check(q == sorted(q), f"{e} n={c['n']}: percentiles not ordered {q}")

    # Determinism.
    j2 = os.path.join(tmp, "s2.json")
    rc2, out2, _ = run(*study_args(extra=["--json", j2]))
    check(rc2 == 0 and out2 == out and open(j1).read() == open(j2).read(), "same seed, different output")
    _, out3, _ = run(*study_args(seed="12"))
    check(out3 != out, "another seed gave the same output")

    # One trial of one n is `estimate` of the same seed (trial 0 of cell 0).
    j = os.path.join(tmp, "one.json")
    rc, _, err = run("study", "--dist", "gaussian", "--n", "700", "--trials", "1", "--seed", "31",
                     "--bandwidth", "0.63", "--at", "1,1", "--json", j)
    check(rc == 0, f"1-trial study: {err!r}")
    cell = strict_json(open(j).read())["curves"][0]["cells"][0]
    (est,) = estimate_json("--dist", "gaussian", "--n", "700", "--seed", "31", "--bandwidth", "0.63", "--at", "1,1")
    for e in ("S2_sp", "S4_F"):
        vals = [cell["errors"][e][k] for k in ("p5", "p25", "p50", "p75", "p95", "mean")]
        check(all(v == est["err_" + e] for v in vals), f"1-trial study {e} {vals} != estimate {est['err_' + e]}")

    # Failures count as +inf, never dropped.
    jf = os.path.join(tmp, "fail.json")
    rc, out, err = run("study", "--dist", "gaussian", "--n", "20,40", "--trials", "10", "--bandwidth", "1e-3",
                       "--at", "3,3", "--json", jf)
    check(rc == 0, f"failing study: exit {rc} {err!r}")
    f = strict_json(open(jf).read())
    for c in f["curves"][0]["cells"]:
        check(c["failed"] == 10 and c["trials"] == 10, f"failure count {c}")
        check(c["errors"]["S2_sp"]["p50"] == "inf" and c["errors"]["S2_sp"]["mean"] == "inf", f"+inf {c}")
    check(f["curves"][0]["slopes"]["S2_sp"]["p50"] is None, "slope through +inf should be null")

    # Sampled query and KDE run too.
    rc, out, err = run("study", "--dist", "paper_mixture", "--n", "200,400", "--trials", "20", "--bandwidth",
                       "0.7", "--query", "sample", "--estimator", "kde", "--errors", "S2_sp,S2_F")
    check(rc == 0 and "S2_F" in out and "query=sample" in out, f"kde sampled study: {rc} {err!r}")

    # A YAML config gives the numbers of the equivalent command line.
    cfg = os.path.join(tmp, "study.yaml")
    with open(cfg, "w") as fh:
        fh.write("kind: estimator\nseed: 11\ntrials: 60\nerrors: [S2_sp, S4_F]\naxes:\n"
                 "  distribution: [gaussian]\n  d: [2]\n  n: [100, 200, 500, 1000]\n"
                 "  estimator: [llsfe]\n  bandwidth: [{rule: constant, value: 0.63}]\n"
                 "  query: [{point: [1, 1]}]\n")
    jc = os.path.join(tmp, "cfg.json")
    rc, out, err = run("study", cfg, "--json", jc)
    check(rc == 0, f"config study: exit {rc} {err!r}")
    if rc == 0:
        a = strict_json(open(jc).read())["curves"][0]
        check(a["cells"] == curve["cells"] and a["slopes"] == curve["slopes"], "config and command line differ")
    rc, out, err = run("study", cfg, "--set", "trials=5", "--json", jc)
    check(rc == 0 and strict_json(open(jc).read())["trials_per_cell"] == 5, "--set trials=5")

    # Bad input.
    bad_cfg = os.path.join(tmp, "bad.yaml")
    with open(bad_cfg, "w") as fh:
        fh.write("kind: estimator\nseed: 1\ntrials: 0\naxes: {}\n")
    for args, what in [
        (["study", "--dist", "nope", "--n", "100", "--trials", "5", "--bandwidth", "1", "--at", "1,1"], "dist"),
        (["study", "--dist", "gaussian", "--n", "100", "--bandwidth", "1", "--at", "1,1"], "no trials"),
        (["study", "--dist", "gaussian", "--n", "100", "--trials", "5", "--bandwidth", "0", "--at", "1,1"], "h=0"),
        (["study", "--dist", "gaussian", "--n", "100", "--trials", "5", "--bandwidth", "1", "--at", "1,1,1"], "at"),
        (["study", "--dist", "gaussian", "--n", "100", "--trials", "5", "--bandwidth", "1"], "no query"),
        (["study", "--dist", "gaussian", "--n", "100,x", "--trials", "5", "--bandwidth", "1", "--at", "1,1"], "n"),
        (["study", "--dist", "gaussian", "--n", "100", "--trials", "5", "--bandwidth", "1", "--at", "1,1",
          "--errors", "S9"], "errors"),
        (["study", bad_cfg], "bad config"),
        (["study", os.path.join(tmp, "missing.yaml")], "missing config"),
        (["study", cfg, "--trials", "3"], "config plus options"),
    ]:
        rc, out, err = run(*args)
        check(rc == 2 and err.strip() != "" and out == "", f"study bad input ({what}): exit {rc}, stderr {err!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for test in (test_estimate_bad_input, test_estimate_csv_matches_numpy, test_estimate_exact,
                     test_estimate_failure_is_null, test_study):
            before = len(failures)
            test(tmp)
            print(("ok   " if len(failures) == before else "FAIL ") + test.__name__)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all cli tests passed")


if __name__ == "__main__":
    main()
