#!/usr/bin/python3
"""Figures from a study file that `scorefarm aggregate` has summarised.

Estimator studies: one PNG per curve (cells that differ only in n), one panel per recorded error:
percentile bands (5-95 light, 25-75 dark) and the median against n, log-log, the least-squares fit
of the median with its slope and bootstrap standard error, the theoretical rate of SPEC section 3
and the pure-variance n^(-1/2) line, and with --paper the paper's reported slopes (SPEC section 5).
Training studies: one PNG per series (e_A, loss, ...): the median and percentile bands across seeds
against the iteration, one line per loss, one panel per remaining setting.

    /usr/bin/python3 analysis/plot.py out.h5 [-o DIR] [--paper] [--degree P] [--dim D]
                                            [--series e_A,loss] [--compare AXIS,...]

--compare degree,kernel draws, besides the per-curve figures, one figure per group of curves that
differ only in the named axes: each curve's median and 25-75% band on the same axes, one panel per
error (e.g. the degree-2 S4 floor beside the degree-4 estimator).

Prints one line per PNG: `wrote PATH panels=[...]`. Exit 2 on bad input (no /summary, ...).
"""
import argparse
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scorefarm_summary as sfs  # noqa: E402

PAPER_N_RANGE = (100, 10000)
BAND_COLOR = "tab:blue"


def _anchor_line(ax, n, y_at, exponent, n0, **kw):
    """Draws c n^exponent through (n0, y_at)."""
    xs = np.array([n[0], n[-1]], dtype=float)
    ax.plot(xs, y_at * (xs / n0) ** exponent, **kw)


def _save(fig, outdir, name):
    """Lays out, writes and closes `fig` as outdir/name; returns the path."""
    fig.tight_layout()
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps legends placed outside the axes
    plt.close(fig)
    return path


def estimator_figure(study, curve, outdir, stem, paper=False, degree=None, dim=None):
    fields = [f for f in study.error_fields() if f in study.slopes]
    if not fields:
        fields = study.error_fields()
    cells = [c for c in curve["cells"] if study.done[c] > 0]
    if not cells or not fields:
        return None
    n = np.array([study.axes["n"][c] for c in cells], dtype=float)
    p, d, source = study.degree_and_dim(cells[0])
    if degree is not None:
        p = degree
    if dim is not None:
        d = dim
    case = study.paper_case(curve) if paper else None

    fig, axes = plt.subplots(1, len(fields), figsize=(5.2 * len(fields), 4.4), squeeze=False)
    titles = []
    for ax, field in zip(axes[0], fields):
        pct = study.fields[field]["percentiles"][cells]  # (cells, 5)
        shown = np.where(np.isfinite(pct) & (pct > 0), pct, np.nan)
        ax.fill_between(n, shown[:, 0], shown[:, 4], color=BAND_COLOR, alpha=0.15, lw=0,
                        label="5–95%")
        ax.fill_between(n, shown[:, 1], shown[:, 3], color=BAND_COLOR, alpha=0.35, lw=0,
                        label="25–75%")
        ax.plot(n, shown[:, sfs.MEDIAN], "o-", color=BAND_COLOR, ms=4, label="median")
        for q, style in ((0, ":"), (4, ":")):
            ax.plot(n, shown[:, q], style, color=BAND_COLOR, lw=0.8)
        notes = []
        inf_at = [f"{int(n[i])}" for i in range(len(n)) if np.isinf(pct[i, 4])]
        if inf_at:
            notes.append("p95 = inf (failures) at n = " + ", ".join(inf_at))
        failed = int(sum(study.failed[c] for c in cells))
        total = int(sum(study.done[c] for c in cells))
        notes.append(f"failed {failed} of {total} trials")

        # Fit of the median.
        slope_line = "slope: —"
        med_y0 = shown[0, sfs.MEDIAN]
        n_mid = float(np.sqrt(n[0] * n[-1]))
        y_mid = None
        if field in study.slopes:
            k = curve["index"]
            sl = study.slopes[field]["slope"][k]
            ic = study.slopes[field]["intercept"][k]
            se = study.slopes[field]["se"][k]
            if np.isfinite(sl[sfs.MEDIAN]):
                fit = np.exp(ic[sfs.MEDIAN] + sl[sfs.MEDIAN] * np.log(n))
                ax.plot(n, fit, "--", color="black", lw=1.2,
                        label=f"fit: slope {sl[sfs.MEDIAN]:.4f} ± {sfs.fmt_num(se[sfs.MEDIAN])}")
                y_mid = float(np.exp(ic[sfs.MEDIAN] + sl[sfs.MEDIAN] * np.log(n_mid)))
                slope_line = "slopes p5/p50/p95: " + " / ".join(sfs.fmt_num(sl[q], 3)
                                                                for q in (0, 2, 4))
        if y_mid is None and np.isfinite(med_y0):
            y_mid, n_mid = float(med_y0), float(n[0])
        notes.insert(0, slope_line)

        # Reference lines through the middle of the fit.
        if y_mid is not None:
            m = sfs.FIELD_ORDER.get(field)
            th = sfs.theory_exponent(m, p, d)
            if th is not None:
                _anchor_line(ax, n, y_mid, th, n_mid, color="tab:red", lw=1.2, ls="-.",
                             label=f"theory $n^{{-(p+1-m)/(2p+2+d)}}$ = $n^{{{th:.3f}}}$ (p={p}, m={m}, d={d})")
            elif m is not None:
                notes.append(f"theory: none for p={p} < m={m}")
            _anchor_line(ax, n, y_mid, sfs.PURE_VARIANCE_EXPONENT, n_mid, color="tab:gray",
                         lw=1.0, ls=":", label="$n^{-1/2}$ (constant h, pure variance)")
            if case is not None and (case, field) in sfs.PAPER_SLOPES:
                ps = sfs.PAPER_SLOPES[(case, field)]
                _anchor_line(ax, n, y_mid, ps, n_mid, color="tab:green", lw=1.4, ls="--",
                             label=f"paper ({sfs.PAPER_FIGURE[case]}): slope {ps}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo, hi = PAPER_N_RANGE
        if n.min() >= lo and n.max() <= hi:
            ax.set_xlim(lo / 1.25, hi * 1.25)  # the paper's axes: n from 100 to 10^4
        ax.set_xlabel("n (samples)")
        ax.set_ylabel("error")
        title = sfs.FIELD_TITLE.get(field, field)
        ax.set_title(title)
        titles.append(field)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="lower left")
        ax.text(0.98, 0.98, "\n".join(notes), transform=ax.transAxes, ha="right", va="top",
                fontsize=7, bbox=dict(boxstyle="round", fc="white", alpha=0.8, lw=0.3))
    label = curve["label"]
    fig.suptitle(f"{os.path.basename(study.path)} — {label}  "
                 f"({study.n_trials} trials per n; p={p}, d={d})", fontsize=10)
    return _save(fig, outdir, f"{stem}_curve{curve['index']}.png"), titles


def comparison_figures(study, compare, outdir, stem):
    """One PNG per group of curves that differ only in the axes `compare` (and n)."""
    fields = [f for f in study.error_fields() if f in study.slopes] or study.error_fields()
    groups = {}
    for curve in study.curves:
        cells = [c for c in curve["cells"] if study.done[c] > 0]
        if not cells:
            continue
        key = tuple((a, str(study.axes[a][cells[0]])) for a in study.axes
                    if a not in compare and a != "n")
        groups.setdefault(key, []).append((curve, cells))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    out = []
    for g, (key, members) in enumerate(groups.items()):
        if len(members) < 2:
            continue
        fig, axes = plt.subplots(1, len(fields), figsize=(5.2 * len(fields), 4.4), squeeze=False)
        for ax, field in zip(axes[0], fields):
            for j, (curve, cells) in enumerate(members):
                n = np.array([study.axes["n"][c] for c in cells], dtype=float)
                pct = study.fields[field]["percentiles"][cells]
                shown = np.where(np.isfinite(pct) & (pct > 0), pct, np.nan)
                color = colors[j % len(colors)]
                label = " / ".join(f"{study.axes[a][cells[0]]}" for a in compare)
                if field in study.slopes:
                    sl = study.slopes[field]["slope"][curve["index"]][sfs.MEDIAN]
                    if np.isfinite(sl):
                        label += f": slope {sl:.3f}"
                ax.fill_between(n, shown[:, 1], shown[:, 3], color=color, alpha=0.25, lw=0)
                ax.plot(n, shown[:, sfs.MEDIAN], "o-", color=color, ms=3, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("n (samples)")
            ax.set_ylabel("error (median, 25–75% band)")
            ax.set_title(sfs.FIELD_TITLE.get(field, field))
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=6.5, title=" / ".join(compare), title_fontsize=6.5)
        fixed = "  ".join(f"{a}={v}" for a, v in key)
        fig.suptitle(f"{os.path.basename(study.path)} — {fixed}", fontsize=9)
        out.append((_save(fig, outdir, f"{stem}_compare{g}.png"), fields))
    return out


# Axes that define a training cell's data (what a panel holds fixed); the rest define the loss.
TRAINING_DATA_AXES = {"distribution", "d", "k", "n", "n_test", "activation", "condition", "noise"}


def training_figures(study, outdir, stem, series=None):
    names = [s for s in (series or ["e_A", "loss"]) if s in study.series]
    if series is None:
        names += [s for s in study.series if s not in names and s.startswith("e_")]
    out = []
    # One panel per data setting (input, teacher, sizes), one line per loss setting: the loss and
    # every loss or optimiser parameter that varies within the panel (bandwidth, lambda, lr, ...).
    data_axes = [a for a in study.axes if a in TRAINING_DATA_AXES or a.startswith("teacher")]
    line_axes = [a for a in study.axes if a not in data_axes]
    groups = {}
    for c in range(study.n_cells):
        groups.setdefault(study.cell_label(c, skip=line_axes), []).append(c)
    skip = tuple(line_axes)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for name in names:
        data = study.series[name]
        fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.2), squeeze=False)
        titles = []
        for ax, (group, cells) in zip(axes[0], groups.items()):
            for j, c in enumerate(cells):
                if study.done[c] == 0:
                    continue
                it = data["iteration"][c]
                pct = np.where(np.isfinite(data["percentiles"][c]), data["percentiles"][c], np.nan)
                color = colors[j % len(colors)]
                # Only what varies within the panel and applies to this cell (no unset label).
                lab = ", ".join(f"{a}={sfs.fmt_value(study.axes[a][c])}" for a in line_axes
                                if len({study.axes[a][x] for x in cells}) > 1
                                and study.applies(a, c)) or study.cell_label(c)
                ax.fill_between(it, pct[:, 0], pct[:, 4], color=color, alpha=0.12, lw=0)
                ax.fill_between(it, pct[:, 1], pct[:, 3], color=color, alpha=0.3, lw=0)
                failed = int(study.failed[c])
                ax.plot(it, pct[:, sfs.MEDIAN], "-", color=color,
                        label=f"{lab} (median; {int(study.done[c])} seeds"
                              + (f", {failed} failed" if failed else "") + ")")
            ax.set_xscale("symlog", linthresh=1.0)
            finite = data["percentiles"][cells]
            finite = finite[np.isfinite(finite)]
            if name == "loss" or (finite.size and finite.min() > 0 and finite.max() / finite.min() > 1e3):
                if finite.size and finite.min() > 0:
                    ax.set_yscale("log")
            ax.set_xlabel("iteration")
            ax.set_ylabel(name)
            title = group if group != "all cells" else (study.constant_axes(skip) or group)
            ax.set_title(textwrap.fill(title, 80), fontsize=8)
            titles.append(group)
            ax.grid(True, which="both", alpha=0.25)
            # Below the axes: with many seeds failing late, the curves fill every corner.
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25))
        fig.suptitle(f"{os.path.basename(study.path)} — {name} across seeds "
                     "(bands 5–95% and 25–75%)", fontsize=10)
        out.append((_save(fig, outdir, f"{stem}_{name}.png"), titles))
    return out


def make_figures(study, outdir, stem=None, paper=False, degree=None, dim=None, series=None,
                 compare=None):
    """Writes every figure of `study` into outdir; returns [(path, panel titles)]."""
    os.makedirs(outdir, exist_ok=True)
    stem = stem or os.path.splitext(os.path.basename(study.path))[0]
    written = []
    for curve in study.curves:
        r = estimator_figure(study, curve, outdir, stem, paper, degree, dim)
        if r:
            written.append(r)
    if compare:
        written += comparison_figures(study, compare, outdir, stem)
    if study.series:
        written += training_figures(study, outdir, stem, series)
    return written


def main():
    ap = argparse.ArgumentParser(description="Percentile-band figures of a summarised study file.")
    ap.add_argument("file", help="study file (run `scorefarm aggregate FILE` first)")
    ap.add_argument("-o", "--outdir", default=".", help="directory for the PNGs (default .)")
    ap.add_argument("--stem", default=None, help="file name prefix (default: the file's stem)")
    ap.add_argument("--paper", action="store_true",
                    help="overlay the paper's reported slopes (SPEC section 5)")
    ap.add_argument("--degree", type=int, default=None, help="LLSFE degree p for the theory rate")
    ap.add_argument("--dim", type=int, default=None, help="dimension d for the theory rate")
    ap.add_argument("--series", default=None,
                    help="training series to draw, comma separated (default e_A,loss and e_*)")
    ap.add_argument("--compare", default=None,
                    help="also overlay curves that differ only in these axes, comma separated "
                         "(e.g. degree,kernel)")
    a = ap.parse_args()
    study = sfs.load(a.file)
    series = a.series.split(",") if a.series else None
    compare = a.compare.split(",") if a.compare else None
    if compare:
        unknown = [x for x in compare if x not in study.axes]
        if unknown:
            print(f"error: {a.file}: --compare: no axis {', '.join(unknown)} "
                  f"(axes: {', '.join(study.axes)})", file=sys.stderr)
            return 2
    written = make_figures(study, a.outdir, a.stem, a.paper, a.degree, a.dim, series, compare)
    if not written:
        print(f"error: {a.file}: nothing to plot (no curve with an n axis, no series)",
              file=sys.stderr)
        return 2
    for path, titles in written:
        print(f"wrote {path} panels={titles}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
