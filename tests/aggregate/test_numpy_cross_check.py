#!/usr/bin/python3
"""`scorefarm aggregate` and `scorefarm compare` run as a user runs them, on study files written by
h5py (tests/analysis/synthetic_study.py), checked against numpy computed from /records:

- percentiles equal numpy's default 'linear' method bit for bit (failed trials as +inf: numpy gives
  NaN when it interpolates towards inf, so +inf is replaced by 1e300 and a result >= 1e200 means
  +inf), means and slopes (np.polyfit) to rounding, failure/flag counts and completion;
- CSV and JSON carry the same numbers as /summary;
- a partial file; an idempotent /summary that does not grow the file on reruns; /records untouched; --no-write leaves the file's bytes;
  a live lock refuses the write, a stale one is taken over; bad input exits 2;
- compare: identical copies exit 0, one changed record exits 1 and is located, bad input exits 2.

usage: test_numpy_cross_check.py /path/to/scorefarm
"""
import csv
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "analysis"))
import synthetic_study  # noqa: E402

FAILURE_MASK = 1 | 16 | 64
COVARIATES = {"h", "ess", "iteration", "iterations", "iterations_done", "sign"}
LEVELS = [5, 25, 50, 75, 95]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    p = subprocess.run([SCOREFARM, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def expected_percentiles(values):
    big = np.where(np.isinf(values), 1e300, values)
    p = np.percentile(big, LEVELS)
    return np.where(p >= 1e200, np.inf, p)  # any weight on 1e300 lands far above real data


def numpy_summary(path):
    """Per cell and error field: percentiles, mean, counts, from /records with numpy."""
    out = {}
    with h5py.File(path, "r") as f:
        done = f["records/done"][()] == 1
        status = f["records/status"][()]
        n = f["cells/n"][()]
        for name, ds in f["records"].items():
            if name in ("done", "status") or ds.ndim != 2:
                continue
            data = ds[()]
            cells = []
            for c in range(data.shape[0]):
                v = data[c][done[c]].copy()
                st = status[c][done[c]]
                failed = (st & FAILURE_MASK) != 0
                bad = ~np.isfinite(v)
                if name not in COVARIATES:
                    bad |= failed
                v[bad] = np.inf
                use = ~failed & np.isfinite(v)
                cells.append({
                    "pct": expected_percentiles(v) if v.size else np.full(5, np.nan),
                    "mean": v[use].mean() if use.any() else np.nan,
                    "infinite": int(bad.sum()),
                    "failed": int(failed.sum()),
                    "flagged": int((st != 0).sum()),
                    "done": int(done[c].sum()),
                })
            out[name] = cells
    return out, n


def check_against_numpy(path, label):
    want, n = numpy_summary(path)
    with h5py.File(path, "r") as f:
        s = f["summary"]
        n_trials = f.attrs["n_trials"]
        for name, cells in want.items():
            pct = s[f"fields/{name}/percentiles"][()]
            mean = s[f"fields/{name}/mean"][()]
            inf = s[f"fields/{name}/infinite"][()]
            for c, w in enumerate(cells):
                same = np.array_equal(pct[c], w["pct"], equal_nan=True)
                check(same, f"{label}: {name} cell {c} percentiles {pct[c]} != numpy {w['pct']}")
                check(np.allclose(mean[c], w["mean"], rtol=1e-12, equal_nan=True),
                      f"{label}: {name} cell {c} mean {mean[c]} != {w['mean']}")
                check(inf[c] == w["infinite"], f"{label}: {name} cell {c} infinite")
        first = next(iter(want.values()))
        for c, w in enumerate(first):
            check(s["cells/done"][c] == w["done"], f"{label}: cell {c} done")
            check(s["cells/failed"][c] == w["failed"], f"{label}: cell {c} failed")
            check(s["cells/flagged"][c] == w["flagged"], f"{label}: cell {c} flagged")
            check(s["cells/completion"][c] == w["done"] / n_trials, f"{label}: cell {c} completion")
        # Slopes: np.polyfit of log percentile on log n over each curve's cells with done > 0.
        curve = s["cells/curve"][()]
        for name in s["slopes"]:
            slope = s[f"slopes/{name}/slope"][()]
            for k in range(slope.shape[0]):
                cells = [c for c in range(len(curve)) if curve[c] == k and want[name][c]["done"] > 0]
                x = np.log(n[cells])
                for q in range(5):
                    y = np.array([want[name][c]["pct"][q] for c in cells])
                    if np.all(np.isfinite(y)) and len(cells) >= 2:
                        fit = np.polyfit(x, np.log(y), 1)[0]
                        check(abs(slope[k, q] - fit) <= 1e-10 * max(1, abs(fit)),
                              f"{label}: slope {name} curve {k} p{LEVELS[q]} {slope[k, q]} != {fit}")
                    else:
                        check(np.isnan(slope[k, q]), f"{label}: slope with inf percentile not NaN")
            se = s[f"slopes/{name}/se"][()]
            check(np.all((se > 0) | np.isnan(slope)), f"{label}: {name} standard errors > 0")


def check_csv_json(h5, csv_path, json_path):
    with h5py.File(h5, "r") as f:
        pct = {name: f[f"summary/fields/{name}/percentiles"][()] for name in f["summary/fields"]}
        slope = {name: f[f"summary/slopes/{name}/slope"][()] for name in f["summary/slopes"]}
        se = {name: f[f"summary/slopes/{name}/se"][()] for name in f["summary/slopes"]}
    rows = list(csv.DictReader(open(csv_path)))
    cell_rows = [r for r in rows if r["kind"] == "cell"]
    check(len(cell_rows) == sum(len(v) for v in pct.values()), "csv: one row per cell and field")
    for r in cell_rows:
        got = np.array([float(r[f"p{q}"]) for q in LEVELS])
        check(np.array_equal(got, pct[r["field"]][int(r["cell"])], equal_nan=True),
              f"csv: cell {r['cell']} {r['field']}")
    for r in rows:
        if r["kind"] in ("slope", "slope_se"):
            src = slope if r["kind"] == "slope" else se
            got = np.array([float(r[f"p{q}"]) for q in LEVELS])
            check(np.array_equal(got, src[r["field"]][int(r["curve"])], equal_nan=True),
                  f"csv: {r['kind']} {r['field']} curve {r['curve']}")
    doc = json.load(open(json_path))
    for cell in doc["cells"]:
        for name, v in cell["fields"].items():
            got = np.array([np.inf if x == "inf" else (np.nan if x is None else x)
                            for x in v["percentiles"]], dtype=float)
            check(np.array_equal(got, pct[name][cell["cell"]], equal_nan=True),
                  f"json: cell {cell['cell']} {name}")
    for curve in doc["curves"]:
        for name, v in curve["slopes"].items():
            got = np.array([np.nan if x is None else x for x in v["slope"]], dtype=float)
            check(np.array_equal(got, slope[name][curve["curve"]], equal_nan=True),
                  f"json: slope curve {curve['curve']} {name}")


def records_digest(path):
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for name in sorted(f["records"]):
            h.update(name.encode())
            h.update(f["records"][name][()].tobytes())
        for name in sorted(f["cells"]):
            h.update(f["cells"][name][()].tobytes() if f["cells"][name].dtype.kind != "O"
                     else "|".join(x.decode() if isinstance(x, bytes) else x
                                   for x in f["cells"][name][()]).encode())
    return h.hexdigest()


def summary_snapshot(path):
    snap = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                snap[name] = obj[()].tobytes() if obj.dtype.kind != "O" else repr(list(obj[()]))
        f["summary"].visititems(visit)
        snap["attrs"] = {k: repr(v) for k, v in f["summary"].attrs.items() if k != "aggregated"}
    return snap


def main():
    tmp = tempfile.mkdtemp(prefix="scorefarm_crosscheck_")
    try:
        # --- complete file with failures
        full = os.path.join(tmp, "full.h5")
        synthetic_study.write_estimator(full, trials=300, seed=3, failures=True)
        before = records_digest(full)
        rc, out, err = run("aggregate", full, "--csv", os.path.join(tmp, "full.csv"),
                           "--json", os.path.join(tmp, "full.json"), "--bootstrap", "50")
        check(rc == 0, f"aggregate exit {rc}: {err}")
        check("log-log slopes" in out and "300/300" in out, "aggregate prints the table")
        check_against_numpy(full, "full")
        check_csv_json(full, os.path.join(tmp, "full.csv"), os.path.join(tmp, "full.json"))
        snap = summary_snapshot(full)
        rc, _, err = run("aggregate", full, "-q", "--bootstrap", "50")
        check(rc == 0, f"second aggregate exit {rc}: {err}")
        check(summary_snapshot(full) == snap, "rerun gives the same /summary")
        size = os.path.getsize(full)
        run("aggregate", full, "-q", "--bootstrap", "50")
        check(os.path.getsize(full) == size, "rerunning does not grow the file")
        check(records_digest(full) == before, "aggregate never changes /records or /cells")
        with h5py.File(full, "r") as f:
            check(sorted(f) == ["cells", "records", "runs", "summary"], f"top level groups {sorted(f)}")

        # --- partial file
        part = os.path.join(tmp, "partial.h5")
        synthetic_study.write_estimator(part, trials=30, seed=4, partial=True, failures=True)
        rc, out, err = run("aggregate", part, "--bootstrap", "20")
        check(rc == 0, f"aggregate partial exit {rc}: {err}")
        check("[PARTIAL]" in out and "20/30" in out, "partial file reported as such")
        check_against_numpy(part, "partial")
        with h5py.File(part, "r") as f:
            check(f["summary"].attrs["complete"] == 0, "summary says incomplete")
            check(np.allclose(f["summary/cells/completion"][()], 20 / 30), "completion 2/3")

        # --- --no-write and the lock file leave the file byte for byte
        fresh = os.path.join(tmp, "fresh.h5")
        synthetic_study.write_estimator(fresh, trials=20, seed=5)
        digest = sha(fresh)
        rc, _, err = run("aggregate", fresh, "--no-write", "-q")
        check(rc == 0 and sha(fresh) == digest, f"--no-write leaves the file ({rc} {err})")
        # A live writer holds an flock on FILE.lock (io::LockFile): the write is refused, the file
        # stays byte for byte, and --no-write still reads it.
        holder = open(fresh + ".lock", "w")
        holder.write("somehost 12345\n")
        holder.flush()
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        rc, _, err = run("aggregate", fresh, "-q")
        check(rc == 2 and "being written" in err and sha(fresh) == digest,
              f"locked file refused ({rc} {err})")
        rc, _, err = run("aggregate", fresh, "-q", "--no-write")
        check(rc == 0, f"locked file readable with --no-write ({rc} {err})")
        holder.close()  # the holder dies: its lock file stays behind, stale
        rc, _, err = run("aggregate", fresh, "-q")
        check(rc == 0 and "stale lock" in err, f"stale lock taken over ({rc} {err})")
        check(not os.path.exists(fresh + ".lock"), "lock released after the write")
        with h5py.File(fresh, "r") as f:
            check("summary" in f, "summary written after taking over a stale lock")

        # --- bad input
        rc, _, err = run("aggregate", os.path.join(tmp, "missing.h5"))
        check(rc == 2 and "missing.h5" in err, f"missing file: exit {rc} {err}")
        txt = os.path.join(tmp, "text.h5")
        open(txt, "w").write("not hdf5\n")
        rc, _, err = run("aggregate", txt)
        check(rc == 2 and "not an HDF5 file" in err, f"text file: exit {rc} {err}")
        digest = sha(fresh)
        rc, _, err = run("aggregate", fresh, "--csv", os.path.join(tmp, "no", "such", "dir.csv"))
        check(rc == 2 and sha(fresh) == digest, f"unwritable --csv: exit {rc}, file untouched")

        # --- compare
        a = os.path.join(tmp, "a.h5")
        b = os.path.join(tmp, "b.h5")
        synthetic_study.write_estimator(a, trials=20, seed=6)
        shutil.copy(a, b)
        rc, out, _ = run("compare", a, b)
        check(rc == 0 and "IDENTICAL" in out, f"compare identical: exit {rc}\n{out}")
        with h5py.File(b, "r+") as f:
            f["records/err_S4_F"][9, 13] = f["records/err_S4_F"][9, 13] + 0.5
        rc, out, _ = run("compare", a, b)
        check(rc == 1, f"compare different: exit {rc}")
        check("DIFFERENT: 1 trials in 1 cells differ" in out, f"one trial located:\n{out}")
        row = [line for line in out.splitlines() if line.strip().startswith("9 ")]
        check(len(row) == 1 and "err_S4_F (1, 0.5" in row[0], f"cell 9, err_S4_F, 0.5:\n{out}")
        rc, _, err = run("compare", a, os.path.join(tmp, "missing.h5"))
        check(rc == 2, f"compare missing: exit {rc} {err}")
        rc, _, err = run("compare", a, txt)
        check(rc == 2, f"compare text file: exit {rc} {err}")
    finally:
        shutil.rmtree(tmp)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    SCOREFARM = sys.argv[1]
    sys.exit(main())
