"""Shared parts of jobs/submit and jobs/local: run folders, the scorefarm executable, time estimates.

A run folder holds everything about one study run:

    runs/<study>-<YYYYmmdd-HHMMSS>/
        <study>.yaml    verbatim copy of the config (what `scorefarm run` reads; never overwritten)
        <study>.h5      the output file (resumed in place by every restart)
        job.log         everything the job printed, appended to by every restart
        job.sbatch      the job script (jobs/submit) or job.sh (jobs/local): rerun it to resume
        run.json        the settings, so `--run-dir` can resume without repeating them

Standard library only: this runs on login nodes with whatever /usr/bin/python3 they have.
"""

import datetime
import filecmp
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "jobs" / "sweep.sbatch"
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 75


class UserError(Exception):
    """A mistake in the command line or the run folder: message to stderr, exit code 2."""


def note(message):
    print(message, file=sys.stderr, flush=True)


# ---- the scorefarm executable ---------------------------------------------------------------------

def find_scorefarm(explicit=None):
    """--scorefarm PATH, else build/drivers/scorefarm in this checkout, else `scorefarm` on PATH."""
    if explicit:
        path = shutil.which(explicit) if os.sep not in explicit else explicit
        if not path or not os.access(path, os.X_OK) or os.path.isdir(path):
            raise UserError(f"--scorefarm {explicit}: not an executable file")
        return str(Path(path).resolve())
    built = REPO / "build" / "drivers" / "scorefarm"
    if os.access(built, os.X_OK):
        return str(built)
    on_path = shutil.which("scorefarm")
    if on_path:
        return str(Path(on_path).resolve())
    raise UserError(f"no scorefarm executable: build it (cmake --build build) so that {built} exists, "
                    "put scorefarm on PATH, or pass --scorefarm PATH")


# ---- times ----------------------------------------------------------------------------------------

_TIME_FORMS = [  # sbatch --time formats
    (re.compile(r"^(\d+)$"), lambda m: int(m[1]) * 60),
    (re.compile(r"^(\d+):(\d+)$"), lambda m: int(m[1]) * 60 + int(m[2])),
    (re.compile(r"^(\d+):(\d+):(\d+)$"), lambda m: int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])),
    (re.compile(r"^(\d+)-(\d+)$"), lambda m: int(m[1]) * 86400 + int(m[2]) * 3600),
    (re.compile(r"^(\d+)-(\d+):(\d+)$"),
     lambda m: int(m[1]) * 86400 + int(m[2]) * 3600 + int(m[3]) * 60),
    (re.compile(r"^(\d+)-(\d+):(\d+):(\d+)$"),
     lambda m: int(m[1]) * 86400 + int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4])),
]


def parse_slurm_time(text):
    """Seconds in an sbatch --time value ("02:00:00", "90", "1-12"...)."""
    for pattern, seconds in _TIME_FORMS:
        match = pattern.match(text.strip())
        if match:
            value = seconds(match)
            if value <= 0:
                break
            return value
    raise UserError(f"--time {text}: expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS "
                    "(a positive duration)")


def format_duration(seconds):
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{text}" if days else text


def default_signal_lead(time_limit):
    """Seconds before the time limit at which the job is asked to stop. Slurm may send the signal up
    to a minute early, and scorefarm needs a few seconds to stop, so: a tenth of the limit, at least
    60 s, at most 300 s, and never more than half the limit."""
    return int(min(max(60, time_limit // 10), 300, max(1, time_limit // 2)))


# ---- scorefarm plan -------------------------------------------------------------------------------

def plan(scorefarm, config, ranks, sets):
    """`scorefarm plan CONFIG --ranks N --json`: {"cells", "trials", "sample_evaluations",
    "estimated_seconds"}. A bad config raises UserError with scorefarm's message; any other failure
    returns None with a note (the estimate is advice, not a requirement)."""
    cmd = [scorefarm, "plan", str(config), "--ranks", str(ranks), "--json"]
    for item in sets:
        cmd += ["--set", item]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        note(f"warning: no time estimate ({' '.join(map(shlex.quote, cmd))}: {error})")
        return None
    if proc.returncode == EXIT_BAD_INPUT:
        raise UserError(proc.stderr.strip() or f"{config}: scorefarm plan refused the config")
    if proc.returncode != 0:
        note(f"warning: no time estimate (scorefarm plan exited with {proc.returncode}: "
             f"{proc.stderr.strip()})")
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        note(f"warning: no time estimate (scorefarm plan printed no JSON: {proc.stdout[:200]!r})")
        return None


def describe_plan(study, estimate, ranks, time_limit=None):
    """One line about the estimate; a warning when it exceeds the time limit."""
    if not estimate:
        return
    seconds = estimate.get("estimated_seconds")
    if not isinstance(seconds, (int, float)):
        note(f"{study}: {estimate.get('cells')} cells, {estimate.get('trials')} trials "
             "(scorefarm plan gave no time estimate)")
        return
    note(f"{study}: {estimate.get('cells')} cells, {estimate.get('trials')} trials, "
         f"about {format_duration(seconds)} on {ranks} ranks (scorefarm plan)")
    if time_limit is not None and seconds > time_limit:
        pieces = math.ceil(seconds / time_limit)
        note(f"warning: {study}: the estimate {format_duration(seconds)} exceeds the time limit "
             f"{format_duration(time_limit)}; the job will stop and requeue itself about "
             f"{pieces - 1} time(s), waiting in the queue each time. Raise --time or --ranks to avoid that.")


# ---- run folders ----------------------------------------------------------------------------------

def study_name(config):
    return Path(config).stem


def timestamp():
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


_reserved = set()


def new_run_dir(runs_dir, name):
    """runs_dir/<name>-<timestamp>, with a -2, -3... suffix if that exists already (or was handed out
    earlier in this process: two studies of one submission never share a folder)."""
    base = Path(runs_dir) / f"{name}-{timestamp()}"
    candidate, k = base, 1
    while candidate.exists() or candidate in _reserved:
        k += 1
        candidate = Path(f"{base}-{k}")
    _reserved.add(candidate)
    return candidate


def check_config(config):
    path = Path(config)
    if not path.is_file():
        raise UserError(f"{config}: no such config file")
    return path.resolve()


def install_config(run_dir, config):
    """Copy the config into the run folder. An existing copy must be identical: a run folder belongs
    to one study, and its output file to that config."""
    target = Path(run_dir) / Path(config).name
    if target.exists():
        if not filecmp.cmp(target, config, shallow=False):
            raise UserError(f"{target} exists and differs from {config}: this run folder holds another "
                            "study. Use a new run folder (leave out --run-dir) or the original config.")
        return target
    shutil.copyfile(config, target)
    return target


def write_new(path, text, mode=0o644):
    """Write a generated file. An existing different version is kept as <name>.<n> (nothing written
    before is ever lost)."""
    path = Path(path)
    if path.exists():
        if path.read_text() == text:
            return
        k = 1
        while Path(f"{path}.{k}").exists():
            k += 1
        path.rename(f"{path}.{k}")
    path.write_text(text)
    path.chmod(mode)


def load_run_json(run_dir):
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise UserError(f"{run_dir}: not a run folder (no run.json); give the config too")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise UserError(f"{path}: unreadable ({error})")


def save_run_json(run_dir, settings):
    path = Path(run_dir) / "run.json"
    path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")


def output_state(output):
    """'new', 'resume' or 'locked' (a run is writing it, or died without removing its lock)."""
    output = Path(output)
    if Path(f"{output}.lock").exists():
        return "locked"
    return "resume" if output.exists() else "new"


# ---- job scripts ----------------------------------------------------------------------------------

SETTINGS_BEGIN = "# >>> settings"
SETTINGS_END = "# <<< settings"


def bash_word(value):
    return shlex.quote(str(value))


def bash_array(values):
    return "(" + " ".join(bash_word(v) for v in values) + ")"


def render_job_script(sbatch_options, settings_lines, template=TEMPLATE):
    """The template with its #SBATCH lines replaced by `sbatch_options` (["--ntasks=4", ...]) and its
    settings block replaced by `settings_lines`."""
    text = Path(template).read_text()
    lines = text.splitlines()
    sbatch_at = [i for i, line in enumerate(lines) if line.startswith("#SBATCH")]
    begin = next(i for i, line in enumerate(lines) if line.startswith(SETTINGS_BEGIN))
    end = next(i for i, line in enumerate(lines) if line.startswith(SETTINGS_END))
    if not sbatch_at or not sbatch_at[0] < begin < end:
        raise RuntimeError(f"{template}: #SBATCH lines and the settings block are not where expected")
    out = lines[:sbatch_at[0]]
    out += [f"#SBATCH {option}" for option in sbatch_options]
    out += lines[sbatch_at[-1] + 1:begin]
    out += [f"{SETTINGS_BEGIN} (written by jobs/submit)"]
    out += settings_lines
    out += lines[end:]
    return "\n".join(out) + "\n"
