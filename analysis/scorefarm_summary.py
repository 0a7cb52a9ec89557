"""Reads the /summary group that `scorefarm aggregate` writes into a study file, plus the file's
attributes, into plain Python objects for plot.py and report.py. Also holds the reference numbers:
the paper's reported slopes (SPEC section 5) and the theoretical rates (SPEC section 3).

Runs under Debian's /usr/bin/python3 (h5py, numpy).
"""
import re
import sys

import h5py
import numpy as np

LEVELS = (5, 25, 50, 75, 95)
MEDIAN = LEVELS.index(50)

# SPEC section 5: the paper's reported log-log slopes (d = 2; Figure 1 Gaussian, Figure 2 mixture).
# The paper's S2 error is the spectral norm, its S4 error the Frobenius norm.
PAPER_SLOPES = {
    ("gaussian", "err_S2_sp"): -0.5143,
    ("gaussian", "err_S4_F"): -0.4984,
    ("mixture", "err_S2_sp"): -0.2587,
    ("mixture", "err_S4_F"): -0.1343,
}
PAPER_FIGURE = {"gaussian": "Figure 1", "mixture": "Figure 2"}

# Order m of the score whose error a field records.
FIELD_ORDER = {"err_S1": 1, "err_S2_sp": 2, "err_S2_F": 2, "err_S3_F": 3, "err_S4_F": 4, "err_S4_sp": 4}
FIELD_TITLE = {
    "err_S1": r"$\Vert\hat S_1 - S_1\Vert_2$",
    "err_S2_sp": r"$\Vert\hat S_2 - S_2\Vert_{sp}$",
    "err_S2_F": r"$\Vert\hat S_2 - S_2\Vert_F$",
    "err_S3_F": r"$\Vert\hat S_3 - S_3\Vert_F$",
    "err_S4_F": r"$\Vert\hat S_4 - S_4\Vert_F$",
    "err_S4_sp": r"$\Vert\hat S_4 - S_4\Vert_{sp}$",
}


class SummaryMissing(Exception):
    pass


def theory_exponent(m, p, d):
    """SPEC section 3 (paper Theorem 1, Remark 1): error ~ n^(-(p+1-m)/(2p+2+d)) for p >= m with the
    bandwidth h ~ n^(-1/(2p+2+d)). None when p < m (the theorem gives no rate; for the degree-2
    LLSFE the S4 estimate is not even consistent unless the input is Gaussian)."""
    if m is None or p < m:
        return None
    return -(p + 1.0 - m) / (2.0 * p + 2.0 + d)


# For a constant bandwidth and Gaussian input the LLSFE is unbiased (SPEC section 3): the error is
# pure variance and falls as n^(-1/2), the regime the paper's Figure 1 slopes show.
PURE_VARIANCE_EXPONENT = -0.5


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _attr(obj, name, default=""):
    if name not in obj.attrs:
        return default
    v = obj.attrs[name]
    if isinstance(v, (bytes, str)):
        return _text(v)
    if isinstance(v, np.ndarray) and v.dtype.kind in "OSU":
        return [_text(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


class Study:
    """One study file: attributes, cell table, runs and the /summary group."""

    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            if "summary" not in f:
                raise SummaryMissing(
                    f"{path}: no /summary group; run `scorefarm aggregate {path}` first")
            self.attrs = {k: _attr(f, k) for k in f.attrs}
            self.kind = self.attrs.get("kind", "")
            self.n_cells = int(self.attrs.get("n_cells", 0))
            self.n_trials = int(self.attrs.get("n_trials", 0))
            cells = f["cells"]
            names = _attr(cells, "axes", None) or list(cells)
            if isinstance(names, str):
                names = [names]
            self.axes = {}
            for name in names:
                ds = cells[name]
                if ds.dtype.kind in "OSU":
                    self.axes[name] = [_text(x) for x in ds[()]]
                else:
                    self.axes[name] = [float(x) for x in ds[()]]
            self.runs = []
            if "runs" in f:
                for k in sorted(f["runs"], key=lambda s: int(s) if s.isdigit() else s):
                    g = f["runs"][k]
                    self.runs.append({"run": k, **{a: _attr(g, a) for a in g.attrs}})
            s = f["summary"]
            self.summary_attrs = {k: _attr(s, k) for k in s.attrs}
            c = s["cells"]
            self.done = c["done"][()]
            self.completion = c["completion"][()]
            self.failed = c["failed"][()]
            self.flagged = c["flagged"][()]
            self.curve_of = c["curve"][()]
            self.status_bits = c["status_bits"][()]
            self.bit_names = _attr(c["status_bits"], "bit_names", [])
            self.fields = {}
            for name, g in s["fields"].items():
                self.fields[name] = {
                    "percentiles": g["percentiles"][()],
                    "mean": g["mean"][()],
                    "count": g["count"][()],
                    "infinite": g["infinite"][()],
                    "finite": g["finite"][()],
                    "failed_as_inf": bool(_attr(g, "failed_as_inf", 1)),
                }
            self.curves = []
            if "curves" in s:
                labels = [_text(x) for x in s["curves/label"][()]]
                points = s["curves/points"][()]
                axes = {}
                for name, ds in s["curves/axes"].items():
                    v = ds[()]
                    axes[name] = [_text(x) for x in v] if v.dtype.kind in "OSU" else list(v)
                for k, label in enumerate(labels):
                    cells_k = [i for i in range(self.n_cells) if self.curve_of[i] == k]
                    cells_k.sort(key=lambda i: self.axes["n"][i])
                    self.curves.append({
                        "index": k, "label": label, "points": int(points[k]), "cells": cells_k,
                        "axes": {a: v[k] for a, v in axes.items()}})
            self.slopes = {}
            if "slopes" in s:
                for name, g in s["slopes"].items():
                    self.slopes[name] = {key: g[key][()] for key in
                                         ("slope", "intercept", "se", "bootstrap_finite")}
            self.series = {}
            if "series" in s:
                for name, g in s["series"].items():
                    self.series[name] = {"iteration": g["iteration"][()],
                                         "percentiles": g["percentiles"][()],
                                         "infinite": g["infinite"][()]}

    # ---- helpers
    def error_fields(self):
        order = list(FIELD_ORDER)
        names = [n for n in self.fields if n.startswith("err_")]
        return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))

    def applies(self, name, cell):
        """False for a value that means nothing in this cell: an unset one (''), or the teacher's
        condition number when the teacher matrix is not 'conditioned' (the record keeps the
        default there, and a label showing it would describe a teacher that was never built)."""
        if fmt_value(self.axes[name][cell]) == "":
            return False
        if name == "condition" and "teacher" in self.axes:
            return self.axes["teacher"][cell] == "conditioned"
        return True

    def cell_label(self, cell, skip=("n",)):
        """The axes that vary between cells (except those in skip), as 'name=value, ...'."""
        parts = []
        for name, values in self.axes.items():
            if name in skip or len(set(values)) <= 1 or not self.applies(name, cell):
                continue
            parts.append(f"{name}={fmt_value(values[cell])}")
        return ", ".join(parts) if parts else "all cells"

    def constant_axes(self, skip=("n",)):
        """The axes that are the same in every cell, as 'name=value, ...'."""
        return ", ".join(f"{name}={fmt_value(v[0])}" for name, v in self.axes.items()
                         if name not in skip and v and len(set(v)) == 1 and self.applies(name, 0))

    def axis_value(self, names, cell=0, default=None):
        for name in names:
            if name in self.axes:
                return self.axes[name][cell]
        return default

    def config_value(self, keys, default=None):
        """First numeric `key: value` found in the effective config text for any of `keys`."""
        text = self.attrs.get("config_effective", "") or self.attrs.get("config_text", "")
        for key in keys:
            m = re.search(r"(?m)^\s*%s\s*:\s*([-+0-9.eE]+)\s*$" % re.escape(key), text)
            if m:
                try:
                    return float(m.group(1))
                except ValueError:
                    pass
        return default

    def degree_and_dim(self, cell=0):
        """(p, d, source): the LLSFE degree and the dimension of a cell, from the cell table, else
        the config text, else the paper's setting p = 2, d = 2; `source` says which."""
        found = []
        p = self.axis_value(("degree", "p", "estimator_degree", "estimator.degree"), cell)
        where_p = "cell table"
        if p is None:
            p, where_p = self.config_value(("degree",)), "config"
        if p is None:
            p, where_p = 2, "default"
        d = self.axis_value(("d", "dim", "dimension"), cell)
        where_d = "cell table"
        if d is None:
            d, where_d = self.config_value(("d", "dim", "dimension")), "config"
        if d is None:
            d, where_d = 2, "default"
        found.append(f"p from {where_p}")
        found.append(f"d from {where_d}")
        return int(p), int(d), ", ".join(found)

    def paper_case(self, curve):
        """'gaussian' or 'mixture' when the curve is one of the paper's d = 2 settings, else None.
        Looks at the curve's `distribution` axis (other text axes, e.g. kernel = gaussian, say
        nothing about the input), else at the config text."""
        axes = curve["axes"]
        if "d" in axes and float(axes["d"]) != 2.0:
            return None
        if "distribution" in axes:
            text = str(axes["distribution"]).lower()
        else:
            m = re.search(r"(?m)^\s*distribution\s*:\s*(.*)$",
                          str(self.attrs.get("config_effective", "")))
            text = m.group(1).lower() if m else ""
        if "mix" in text:  # "gaussian_mixture", "paper_mixture"
            return "mixture"
        if "gauss" in text or "normal" in text:
            return "gaussian"
        return None


def fmt_value(v):
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def fmt_num(v, digits=4):
    if v is None:
        return "—"
    v = float(v)
    if np.isnan(v):
        return "—"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.{digits}g}"


def load(path):
    try:
        return Study(path)
    except SummaryMissing as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (OSError, KeyError) as e:
        print(f"error: {path}: not a readable scorefarm study file with a /summary ({e})",
              file=sys.stderr)
        sys.exit(2)
