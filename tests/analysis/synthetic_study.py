#!/usr/bin/python3
"""Writes small study files in the documented HDF5 schema with h5py (a writer independent of the C++
code), for the aggregate / plot / report tests.

    synthetic_study.py estimator OUT.h5 [--trials N] [--seed S] [--partial] [--failures]
    synthetic_study.py training OUT.h5 [--trials N]

Estimator: two curves (distribution = gaussian | mixture) over n in {100, 200, 500, 1000, 2000,
5000, 10000}; err_S2_sp ~ n^-0.5 (gaussian) or n^-0.26 (mixture) and err_S4_F ~ n^-0.5 or n^-0.13,
each times a log-normal factor, so the fitted slopes are near the paper's (SPEC section 5).
--failures marks a few trials failed (+inf errors) and a few low_ess; --partial leaves the last
third of the trials of every cell unwritten (done = 0, NaN fill), as a killed run would.
Training: cells loss = L | G | l2, series iteration/loss/e_A over 12 logged iterations.
"""
import argparse

import h5py
import numpy as np

FAILED = 1 << 0
LOW_ESS = 1 << 1
DIVERGED = 1 << 6
NS = [100, 200, 500, 1000, 2000, 5000, 10000]
STR = h5py.string_dtype(encoding="utf-8")

CONFIG = """# synthetic study (tests/analysis/synthetic_study.py)
kind: {kind}
seed: {seed}
trials: {trials}
"""


def _root(f, kind, n_cells, trials, seed):
    f.attrs["scorefarm_schema"] = np.int64(1)
    f.attrs["kind"] = kind
    text = CONFIG.format(kind=kind, seed=seed, trials=trials)
    f.attrs["config_text"] = text
    f.attrs["config_overrides"] = ""
    f.attrs["config_effective"] = text
    f.attrs["config_hash"] = "00112233445566%02x" % (seed % 256)
    f.attrs["scorefarm_version"] = "0.1.0"
    f.attrs["git_commit"] = "synthetic"
    f.attrs["hdf5_version"] = h5py.version.hdf5_version
    f.attrs["mpi_version"] = "none"
    f.attrs["created"] = "2026-01-01T00:00:00Z"
    f.attrs["n_cells"] = np.int64(n_cells)
    f.attrs["n_trials"] = np.int64(trials)
    f.attrs["seed"] = np.uint64(seed)
    run = f.create_group("runs/0")
    run.attrs["started"] = "2026-01-01T00:00:00Z"
    run.attrs["ended"] = "2026-01-01T00:01:00Z"
    run.attrs["ranks"] = np.int64(1)
    run.attrs["trials_completed"] = np.int64(n_cells * trials)
    run.attrs["outcome"] = "complete"


def _cells(f, columns):
    g = f.create_group("cells")
    for name, values in columns.items():
        if isinstance(values[0], str):
            g.create_dataset(name, data=np.array(values, dtype=object), dtype=STR)
        else:
            g.create_dataset(name, data=np.asarray(values, dtype=np.float64))
    g.attrs["axes"] = np.array(list(columns), dtype=object)


def write_estimator(path, trials=200, seed=7, partial=False, failures=False):
    rng = np.random.default_rng(seed)
    dists = ["gaussian"] * len(NS) + ["mixture"] * len(NS)
    ns = NS + NS
    n_cells = len(ns)
    exps = {"gaussian": (0.5, 0.5), "mixture": (0.26, 0.13)}
    s2 = np.empty((n_cells, trials))
    s4 = np.empty((n_cells, trials))
    for c, (d, n) in enumerate(zip(dists, ns)):
        a, b = exps[d]
        s2[c] = 2.0 * n ** -a * rng.lognormal(0.0, 0.4, trials)
        s4[c] = 20.0 * n ** -b * rng.lognormal(0.0, 0.6, trials)
    status = np.zeros((n_cells, trials), dtype=np.uint32)
    done = np.ones((n_cells, trials), dtype=np.uint8)
    if failures:
        for c in range(0, n_cells, 3):
            t = (7 * c + 3) % trials
            status[c, t] = FAILED
            s2[c, t] = np.inf
            s4[c, t] = np.inf
            status[c, (t + 1) % trials] |= LOW_ESS
    h = np.full((n_cells, trials), 0.63)
    ess = rng.uniform(20, 60, (n_cells, trials))
    if partial:
        cut = (2 * trials) // 3
        done[:, cut:] = 0
        status[:, cut:] = 0
        for arr in (s2, s4, h, ess):
            arr[:, cut:] = np.nan
    with h5py.File(path, "w") as f:
        _root(f, "estimator", n_cells, trials, seed)
        _cells(f, {"distribution": dists, "n": ns, "bandwidth_h": [0.63] * n_cells, "d": [2] * n_cells})
        r = f.create_group("records")
        for name, data, desc in (("h", h, "bandwidth"), ("ess", ess, "effective sample size"),
                                 ("err_S2_sp", s2, "spectral norm error of S2"),
                                 ("err_S4_F", s4, "Frobenius norm error of S4")):
            r.create_dataset(name, data=data).attrs["description"] = desc
        r.create_dataset("status", data=status).attrs["bits"] = "failed=1 low_ess=2 ..."
        r.create_dataset("done", data=done)
        if partial:
            f["runs/0"].attrs["outcome"] = "incomplete"


def write_training(path, trials=8, seed=11):
    rng = np.random.default_rng(seed)
    losses = ["L", "G", "l2"]
    n_cells = len(losses)
    its = np.unique(np.concatenate([[0], np.geomspace(1, 1000, 11).round()])).astype(float)
    L = len(its)
    iteration = np.broadcast_to(its, (n_cells, trials, L)).copy()
    e_a = np.empty((n_cells, trials, L))
    loss = np.empty((n_cells, trials, L))
    floors = {"L": 0.001, "G": 0.2, "l2": 0.68}
    for c, name in enumerate(losses):
        for t in range(trials):
            rate = rng.uniform(0.005, 0.02)
            e_a[c, t] = floors[name] + (0.9 - floors[name]) * np.exp(-rate * its) * rng.uniform(0.9, 1.1)
            loss[c, t] = 10.0 * np.exp(-rate * its) + rng.uniform(0, 0.1)
    status = np.zeros((n_cells, trials), dtype=np.uint32)
    status[1, 0] = DIVERGED
    e_a[1, 0, L // 2:] = np.nan
    loss[1, 0, L // 2:] = np.nan
    with h5py.File(path, "w") as f:
        _root(f, "training", n_cells, trials, seed)
        # As the engine writes them: every cell carries a condition number and a bandwidth, which
        # mean something only for a conditioned teacher and for L-hat respectively.
        _cells(f, {"distribution": ["laplace"] * n_cells, "loss": losses, "d": [4] * n_cells,
                   "teacher": ["identity", "identity", "conditioned"],
                   "condition": [10.0, 10.0, 100.0], "bandwidth": ["", "", "constant(h=0.5)"]})
        r = f.create_group("records")
        r.create_dataset("iteration", data=iteration)
        r.create_dataset("loss", data=loss)
        r.create_dataset("e_A", data=e_a)
        final = e_a[:, :, -1].copy()
        final[status != 0] = np.inf
        r.create_dataset("e_A_final", data=final)
        r.create_dataset("e_match_final", data=final)  # L ends near 0.001, G near 0.2, l2 near 0.68
        r.create_dataset("iterations_done", data=np.full((n_cells, trials), 1000.0))
        r.create_dataset("status", data=status)
        r.create_dataset("done", data=np.ones((n_cells, trials), dtype=np.uint8))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=["estimator", "training"])
    p.add_argument("out")
    p.add_argument("--trials", type=int, default=None)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--partial", action="store_true")
    p.add_argument("--failures", action="store_true")
    a = p.parse_args()
    if a.kind == "estimator":
        write_estimator(a.out, a.trials or 200, a.seed, a.partial, a.failures)
    else:
        write_training(a.out, a.trials or 8, a.seed)


if __name__ == "__main__":
    main()
