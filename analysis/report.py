#!/usr/bin/python3
"""Markdown report of a study file that `scorefarm aggregate` has summarised: measured log-log
slopes against the paper's (SPEC section 5) with bootstrap standard errors, the theoretical rates
(SPEC section 3), failure counts, completeness, the figures (drawn by plot.py), and the config and
versions taken from the file's attributes.

    /usr/bin/python3 analysis/report.py out.h5 [-o report.md] [--figures DIR] [--no-figures]
                                              [--tolerance 0.02]

Figures go to DIR (default: <report dir>/figures) and are linked relative to the report.
Exit 2 on bad input.
"""
import argparse
import datetime
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot  # noqa: E402
import scorefarm_summary as sfs  # noqa: E402

fmt = sfs.fmt_num


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _fence(text, lang=""):
    text = text if text.endswith("\n") else text + "\n"
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{lang}\n{text}{ticks}"


def study_section(st):
    a = st.attrs
    rows = [
        ("file", f"`{st.path}`"),
        ("kind", a.get("kind", "")),
        ("config hash", f"`{a.get('config_hash', '')}`"),
        ("cells × trials", f"{st.n_cells} × {st.n_trials}"),
        ("seed", a.get("seed", "")),
        ("created", a.get("created", "")),
        ("scorefarm version (run)", f"{a.get('scorefarm_version', '')} (git {a.get('git_commit', '')})"),
        ("HDF5 / MPI", f"{a.get('hdf5_version', '')} / {a.get('mpi_version', '')}"),
        ("aggregated", f"{st.summary_attrs.get('aggregated', '')} by scorefarm "
                       f"{st.summary_attrs.get('aggregator_version', '')} "
                       f"(git {st.summary_attrs.get('aggregator_commit', '')})"),
    ]
    out = ["## Study", "", _table(["", ""], rows), ""]
    if st.runs:
        out += ["Runs (one per invocation of `scorefarm run`):", "",
                _table(["run", "started", "ended", "ranks", "trials completed", "outcome"],
                       [(r["run"], r.get("started", ""), r.get("ended", ""), r.get("ranks", ""),
                         r.get("trials_completed", ""), r.get("outcome", "")) for r in st.runs]), ""]
    return out


def completeness_section(st):
    done = int(st.summary_attrs.get("records_done", int(np.sum(st.done))))
    total = int(st.summary_attrs.get("records_total", st.n_cells * st.n_trials))
    pct = 100.0 * done / total if total else 100.0
    out = ["## Completeness", ""]
    if done == total:
        out.append(f"All {total} records are done.")
    else:
        out.append(f"**Partial file:** {done} of {total} records done ({pct:.1f}%). Rerun the same "
                   "`scorefarm run` command to complete it, then aggregate again. Percentiles and "
                   "slopes below use the done records only.")
        out += ["", _table(["cell", "axes", "done", "completion"],
                           [(c, st.cell_label(c, skip=()), f"{int(st.done[c])}/{st.n_trials}",
                             f"{100 * st.completion[c]:.1f}%") for c in range(st.n_cells)])]
    out.append("")
    return out


def slope_rows(st, tolerance):
    """Rows of the full slope table and of the headline (median) table."""
    full, headline = [], []
    for curve in st.curves:
        p, d, _ = st.degree_and_dim(curve["cells"][0])
        case = st.paper_case(curve)
        for field in st.error_fields():
            if field not in st.slopes:
                continue
            k = curve["index"]
            sl, se = st.slopes[field]["slope"][k], st.slopes[field]["se"][k]
            paper = sfs.PAPER_SLOPES.get((case, field)) if case else None
            theory = sfs.theory_exponent(sfs.FIELD_ORDER.get(field), p, d)
            for q, level in enumerate(sfs.LEVELS):
                diff = "—"
                if paper is not None and np.isfinite(sl[q]):
                    delta = sl[q] - paper
                    diff = (f"{delta / se[q]:+.2f}" if np.isfinite(se[q]) and se[q] > 0
                            else "—") + f" ({delta:+.4f})"
                full.append((curve["label"], field, f"p{level}", fmt(sl[q]), fmt(se[q]),
                             fmt(paper) if paper is not None else "—",
                             fmt(theory, 3) if theory is not None else "none (p < m)", diff))
            if paper is not None:
                q = sfs.MEDIAN
                delta = sl[q] - paper if np.isfinite(sl[q]) else float("nan")
                within = ("yes" if abs(delta) <= tolerance else "**no**") if np.isfinite(delta) else "—"
                headline.append((f"{sfs.PAPER_FIGURE[case]} ({case})", field, fmt(sl[q]), fmt(se[q]),
                                 fmt(paper), f"{delta:+.4f}" if np.isfinite(delta) else "—",
                                 f"{delta / se[q]:+.2f}" if np.isfinite(delta) and se[q] > 0 else "—",
                                 within, curve["label"]))
    return full, headline


def slopes_section(st, tolerance):
    if not st.curves or not st.slopes:
        return []
    full, headline = slope_rows(st, tolerance)
    B = st.summary_attrs.get("bootstrap_replicates", "")
    out = ["## Convergence slopes", "",
           "Least-squares slope of log(percentile) against log(n) over the cells of each curve "
           f"(cells that differ only in n). Standard error: bootstrap over trials (B = {B}, "
           f"seed {st.summary_attrs.get('bootstrap_seed', '')}), resampling the trials within "
           "each cell. The paper (SPEC §5) reports one slope per error; it is compared with the "
           "median's slope. \"diff / SE\" is (measured − paper) / SE.", ""]
    if headline:
        out += [f"### Against the paper (median; tolerance {tolerance})", "",
                _table(["paper", "error", "measured slope", "SE", "paper slope", "difference",
                        "diff / SE", f"within {tolerance}", "curve"], headline), ""]
    p, d, src = st.degree_and_dim(st.curves[0]["cells"][0])
    out += ["### Every percentile", "",
            f"Theory (SPEC §3, paper Theorem 1 / Remark 1): n^(−(p+1−m)/(2p+2+d)) for p ≥ m with "
            f"h ∝ n^(−1/(2p+2+d)); here p = {p}, d = {d} ({src}). With a constant bandwidth and "
            "Gaussian input the error is pure variance and falls as n^(−1/2) instead.", "",
            _table(["curve", "error", "percentile", "slope", "SE", "paper", "theory",
                    "diff / SE (diff)"], full), ""]
    return out


def failures_section(st):
    mask = st.summary_attrs.get("failure_mask", "")
    out = ["## Failures and flags", "",
           f"A trial *failed* when its status has a bit of the failure mask ({mask}: "
           "failed | nonfinite | diverged); failed trials count as +inf in every percentile, so "
           "they can only raise a curve. *Flagged* = any status bit (failed included).", ""]
    rows = []
    names = st.bit_names
    for c in range(st.n_cells):
        done = int(st.done[c])
        bits = ", ".join(f"{names[b] if b < len(names) else b}: {int(st.status_bits[c][b])}"
                         for b in range(st.status_bits.shape[1]) if st.status_bits[c][b])
        rows.append((c, st.cell_label(c, skip=()), done, int(st.failed[c]),
                     f"{100 * st.failed[c] / done:.2f}%" if done else "—", int(st.flagged[c]),
                     f"{100 * st.flagged[c] / done:.2f}%" if done else "—", bits or "—"))
    out += [_table(["cell", "axes", "done", "failed", "failed share", "flagged", "flagged share",
                    "status bits"], rows), ""]
    total_failed = int(np.sum(st.failed))
    total_done = int(np.sum(st.done))
    out += [f"Total: {total_failed} failed and {int(np.sum(st.flagged))} flagged of "
            f"{total_done} done trials.", ""]
    return out


def percentiles_section(st):
    fields = st.error_fields()
    if not fields:
        return []
    out = ["## Percentiles per cell", ""]
    for field in fields:
        f = st.fields[field]
        rows = [(c, st.cell_label(c, skip=()), int(f["count"][c]), int(f["infinite"][c]),
                 *(fmt(v, 4) for v in f["percentiles"][c]), fmt(f["mean"][c]))
                for c in range(st.n_cells)]
        out += [f"### {field}", "",
                _table(["cell", "axes", "trials", "+inf", "p5", "p25", "p50", "p75", "p95", "mean"],
                       rows), ""]
    return out


SUCCESS_E_MATCH = 0.05


def training_success(path, mask):
    """[(done, succeeded, failed)] per cell from /records (e_match_final < SUCCESS_E_MATCH among
    done trials whose status has no bit of `mask`), or [] when the file has no e_match_final."""
    import h5py
    with h5py.File(path, "r") as f:
        if "records/e_match_final" not in f:
            return []
        done = f["records/done"][()] == 1
        e = f["records/e_match_final"][()]
        status = f["records/status"][()]
    failed = (status & mask) != 0
    return [(int(done[c].sum()), int((done[c] & ~failed[c] & (e[c] < SUCCESS_E_MATCH)).sum()),
             int((done[c] & failed[c]).sum())) for c in range(done.shape[0])]


def training_section(st):
    if not st.series:
        return []
    out = ["## Training: final values across seeds", "",
           "At the last logged iteration of each cell: median and the 5–95% band across seeds "
           "(trials). Non-finite values (diverged runs) count as +inf.", ""]
    success = training_success(st.path, int(st.summary_attrs["failure_mask"]))
    if success:
        rows = [(c, st.cell_label(c, skip=()), done, ok, failed) for c, (done, ok, failed) in
                enumerate(success) if done]
        out += [f"### Success: final matching error e_match < {SUCCESS_E_MATCH}", "",
                "e_match is the collapse-proof error (best signed permutation of the rows, max "
                "1 − |cos|); the lenient e_A of the paper reads ≈ 0 when rows collapse onto one teacher "
                "row.", "",
                _table(["cell", "axes", "seeds", "succeeded", "failed (diverged)"], rows), ""]
    for name, data in st.series.items():
        rows = []
        for c in range(st.n_cells):
            if st.done[c] == 0:
                continue
            pct = data["percentiles"][c][-1]
            rows.append((c, st.cell_label(c, skip=()), fmt(data["iteration"][c][-1], 0),
                         int(st.done[c]), int(st.failed[c]), fmt(pct[2]),
                         f"[{fmt(pct[0])}, {fmt(pct[4])}]", f"[{fmt(pct[1])}, {fmt(pct[3])}]"))
        out += [f"### {name}", "",
                _table(["cell", "axes", "iteration", "seeds", "failed", "median", "5–95%",
                        "25–75%"], rows), ""]
    return out


def config_section(st):
    a = st.attrs
    out = ["## Config", "", "As given (`config_text`):", "", _fence(a.get("config_text", ""), "yaml"), ""]
    overrides = a.get("config_overrides", "")
    out += ["Command-line overrides (`--set`): " + (f"`{overrides}`" if overrides else "none"), ""]
    eff = a.get("config_effective", "")
    if eff and eff != a.get("config_text", ""):
        out += ["Effective config after overrides (`config_effective`):", "", _fence(eff, "yaml"), ""]
    return out


def build_report(path, out_path, figures_dir=None, no_figures=False, tolerance=0.02, paper=True):
    st = sfs.load(path)
    out_dir = os.path.dirname(os.path.abspath(out_path))
    lines = [f"# scorefarm report: {os.path.basename(path)}", "",
             f"Generated {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')} "
             f"by `analysis/report.py` from `{path}`.", ""]
    lines += study_section(st)
    lines += completeness_section(st)
    lines += slopes_section(st, tolerance)
    if not no_figures:
        fig_dir = figures_dir or os.path.join(out_dir, "figures")
        written = plot.make_figures(st, fig_dir, paper=paper)
        if written:
            lines += ["## Figures", ""]
            for png, titles in written:
                rel = os.path.relpath(png, out_dir)
                lines += [f"![{', '.join(titles)}]({rel})", ""]
    lines += failures_section(st)
    lines += percentiles_section(st)
    lines += training_section(st)
    lines += config_section(st)
    lines += ["## Method", "", f"Percentiles: {st.summary_attrs.get('percentile_method', '')}.", ""]
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return out_path


def main():
    ap = argparse.ArgumentParser(description="Markdown report of a summarised study file.")
    ap.add_argument("file", help="study file (run `scorefarm aggregate FILE` first)")
    ap.add_argument("-o", "--output", default="report.md", help="Markdown file (default report.md)")
    ap.add_argument("--figures", default=None, help="figure directory (default <report dir>/figures)")
    ap.add_argument("--no-figures", action="store_true", help="do not draw figures")
    ap.add_argument("--no-paper", action="store_true", help="no paper slopes in the figures")
    ap.add_argument("--tolerance", type=float, default=0.02,
                    help="allowed |measured - paper| for the median slope (default 0.02)")
    a = ap.parse_args()
    out = build_report(a.file, a.output, a.figures, a.no_figures, a.tolerance, not a.no_paper)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
