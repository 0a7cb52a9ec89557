#!/usr/bin/python3
"""`scorefarm run` end to end: the real binary under real mpirun processes, a real HDF5 file.

usage: test_run.py SCOREFARM WORKDIR      (files go to WORKDIR/<pid>, removed when every check holds)

Studies: configs/quickstart.yaml made small with --set (the same trial function as the paper runs).
  small  3 n x 2 distributions x 300 trials      (ranks sweep, a second or so per run)
  long   2 n x 2 distributions x 4000 trials     (a few seconds with 3 ranks: room to stop it)

Checks
  ranks     the /records datasets are byte-identical for no mpirun (singleton), mpirun -np 1, 2, 3,
            5 (oversubscribed), each with another --chunk-seconds: `scorefarm compare` exit 0 and
            an h5py byte comparison of every /records dataset and /cells column.
  sigterm   SIGTERM to the ranks mid-run (as a batch system or `kill` of the job's processes does):
            mpirun exits 75, some but not all records are done, every done record equals the
            reference; the lock file is gone. The rerun (with another rank count) resumes from the
            done records, exits 0 and equals the uninterrupted run.
  config    a resume with a changed config (another --set) is refused with exit 2, before any
            work, naming both config hashes; the file is byte-for-byte untouched.
  kill9     kill -9 of the whole job mid-run (mpirun in its own session; killpg of mpirun's group
            plus SIGKILL of every process of the session: Open MPI 4 puts each rank in a process
            group of its own, so killpg alone leaves the ranks running for about a second). Some but
            not all records done, every done one equals the reference, the stale lock file is left
            naming the killed rank 0; the rerun takes the stale lock over, exits 0 and equals the
            uninterrupted run; the killed run is marked "killed" in /runs.
  h5py      records/err_S4_F[cell][done] is one float64 array per cell, as the README shows.
  training  mid-trial checkpoints: a training study of 4 trials of ~1 s (2 ranks: one worker).
            SIGTERM to the ranks mid-trial exits 75 and leaves the trial's state in
            <out>.checkpoints/; kill -9 of the whole job with --checkpoint-seconds 0.1 leaves the
            last state saved. Each rerun says "resumes from its checkpoint", exits 0, equals the
            uninterrupted run byte for byte and removes the checkpoints folder.

The kill and the SIGTERM land at about 35% of the reference run's farm time (measured from the
"created" line); when a machine under load makes one land before the first or after the last
record, that attempt is repeated with a shorter or longer delay (up to 3 attempts).
Exit 0 when every check holds, 1 otherwise.
"""
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np

SCOREFARM = os.path.abspath(sys.argv[1])
# One folder per invocation: two test runs sharing a build tree must not clobber each other.
WORK = os.path.join(os.path.abspath(sys.argv[2]), str(os.getpid()))
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(SOURCE, "configs", "quickstart.yaml")
SMALL = ["--set", "trials=300", "--set", "axes.n=[100,500,2000]"]
LONG = ["--set", "trials=4000", "--set", "axes.n=[2000,5000]"]
LONG_TOTAL = 2 * 2 * 4000
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
HOST = os.uname().nodename

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def note(text):
    print(text, flush=True)


# ---------------------------------------------------------------- processes
def session_pids(sid):
    """Live (non-zombie) processes of session `sid`: mpirun and the ranks it started."""
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append((int(stat.split("/")[2]), text[text.find("(") + 1:text.rfind(")")]))
    return pids


def rank_pids(sid):
    return [pid for pid, name in session_pids(sid) if name == "scorefarm"]


def kill_job(sid):
    """kill -9 of the whole job: mpirun's process group, then every process of its session."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(500):
        pids = session_pids(sid)
        if not pids:
            return
        for pid, _ in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


class Job:
    """`scorefarm run CONFIG -o OUT ...` under mpirun -np RANKS (RANKS = 0: no mpirun), in a
    session of its own. Output (stdout + stderr) is collected line by line with timestamps."""

    def __init__(self, out, ranks, extra, chunk_seconds=None, config=CONFIG):
        cmd = [SCOREFARM, "run", config, "-o", out, *extra]
        if chunk_seconds:
            cmd += ["--chunk-seconds", str(chunk_seconds)]
        if ranks:
            cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", *cmd]
        self.cmd = cmd
        self.start = time.monotonic()
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV,
                                  start_new_session=True, cwd=WORK, text=True)
        self.lines = []
        self.farm_started = threading.Event()  # rank 0 printed "<out> created" or "resumed"
        self.farm_start_time = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.rc = None
        self.end = None

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)
            if not self.farm_started.is_set() and (" created: " in line or " resumed: " in line):
                self.farm_start_time = time.monotonic()
                self.farm_started.set()

    def wait(self, timeout=120):
        try:
            self.rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            check(False, f"{' '.join(self.cmd)}: still running after {timeout} s (killed)")
            kill_job(self.p.pid)
            self.rc = self.p.wait()
        self.end = time.monotonic()
        self.reader.join(timeout=10)
        left = session_pids(self.p.pid)
        kill_job(self.p.pid)
        check(not left, f"processes left after the job ended: {left}")
        return self

    @property
    def output(self):
        return "".join(self.lines)

    @property
    def farm_seconds(self):
        return (self.end or time.monotonic()) - (self.farm_start_time or self.start)


def run(out, ranks, extra, chunk_seconds=None, timeout=120, config=CONFIG):
    return Job(out, ranks, extra, chunk_seconds, config).wait(timeout)


def scorefarm(*args):
    p = subprocess.run([SCOREFARM, *args], capture_output=True, text=True, env=ENV, timeout=120,
                       cwd=WORK)
    return p.returncode, p.stdout + p.stderr


# ---------------------------------------------------------------- files
def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def datasets(path):
    """{"/records/<name>" and "/cells/<axis>": (dtype, shape, bytes)}."""
    out = {}
    with h5py.File(path, "r") as f:
        for group in ("records", "cells"):
            for name, d in f[group].items():
                data = d[()]
                if data.dtype.kind == "O":  # variable-length strings: compare values, not pointers
                    data = np.array([x.decode() if isinstance(x, bytes) else x for x in data])
                out[f"/{group}/{name}"] = (str(data.dtype), data.shape, data.tobytes())
    return out


def same_records(path, ref, what):
    rc, text = scorefarm("compare", ref, path)
    ok = check(rc == 0 and "IDENTICAL" in text, f"{what}: scorefarm compare exit {rc}: {text[-600:]}")
    a, b = datasets(path), datasets(ref)
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return check(not differ, f"{what}: h5py bytes differ in {differ}") and ok


def done_count(path):
    with h5py.File(path, "r") as f:
        return int((f["records/done"][()] == 1).sum())


def done_records_match(path, ref, what):
    """After a stop or a kill: flags are 0/1, every done record equals the reference bit for bit,
    every record not done still holds the fill value. Returns the number of done records."""
    with h5py.File(path, "r") as f, h5py.File(ref, "r") as r:
        done = f["records/done"][()]
        check(set(np.unique(done).tolist()) <= {0, 1}, f"{what}: done flags other than 0 and 1")
        mask = done == 1
        for name, d in f["records"].items():
            if name == "done":
                continue
            a, b = d[()], r["records"][name][()]
            check(a[mask].tobytes() == b[mask].tobytes(),
                  f"{what}: a record flagged done differs from the reference in /records/{name}")
        return int(mask.sum())


def fresh(name):
    path = os.path.join(WORK, name)
    for p in glob.glob(path + "*"):
        os.remove(p)
    return path


def leftovers(path):
    return [p for p in (path + ".lock", path + ".journal", path + ".creating") if os.path.exists(p)]


def runs_outcomes(path):
    with h5py.File(path, "r") as f:
        return [f["runs"][k].attrs["outcome"] for k in sorted(f["runs"], key=int)]


# ---------------------------------------------------------------- checks
def test_ranks():
    """Byte-identical records for every rank count (and chunk size)."""
    variants = [(0, 0.5), (1, 1.0), (2, 0.01), (3, 0.05), (5, 0.2)]
    ref = None
    for ranks, chunk in variants:
        what = f"small study, {'no mpirun' if ranks == 0 else f'mpirun -np {ranks}'}"
        path = fresh(f"small_np{ranks}.h5")
        job = run(path, ranks, SMALL, chunk)
        check(job.rc == 0, f"{what}: exit {job.rc}: {job.output[-1500:]}")
        check("complete: " in job.output, f"{what}: no 'complete' line: {job.output[-800:]}")
        check(not leftovers(path), f"{what}: left behind {leftovers(path)}")
        note(f"{what}: exit {job.rc}, {job.end - job.start:.2f} s")
        if ref is None:
            ref = path
            check(done_count(path) == 6 * 300, f"{what}: {done_count(path)} records done, not 1800")
        else:
            same_records(path, ref, f"{what} vs no mpirun")
    # A complete file: the rerun does nothing, exits 0 and leaves the records as they were.
    before = datasets(ref)
    job = run(ref, 2, SMALL)
    check(job.rc == 0 and "nothing to do" in job.output,
          f"rerun of a complete file: exit {job.rc}: {job.output[-600:]}")
    check(datasets(ref) == before, "rerun of a complete file changed its records")


def reference_long():
    path = fresh("long_reference.h5")
    job = run(path, 3, LONG)
    check(job.rc == 0, f"long reference (-np 3): exit {job.rc}: {job.output[-1500:]}")
    check(done_count(path) == LONG_TOTAL, "long reference: not every record done")
    note(f"long reference, mpirun -np 3: {job.end - job.start:.2f} s, farm {job.farm_seconds:.2f} s")
    return path, job.farm_seconds


def interrupted(name, ref, farm_seconds, interrupt, expect_rc, what):
    """Starts the long study on 3 ranks and interrupts it at ~35% of the farm time; retries with
    another delay when the interruption missed the middle of the run. Returns (path, job, done)."""
    delay = 0.35 * farm_seconds
    for attempt in range(3):
        path = fresh(name)
        job = Job(path, 3, LONG)
        if not job.farm_started.wait(timeout=60):
            check(False, f"{what}: the run never started: {job.output[-1000:]}")
            kill_job(job.p.pid)
            job.wait()
            return path, job, None
        time.sleep(max(0.0, delay - (time.monotonic() - job.farm_start_time)))
        interrupt(job)
        job.wait(timeout=60)
        done = done_count(path) if os.path.exists(path) else 0
        note(f"{what}: attempt {attempt + 1}, interrupted {delay:.2f} s into the farm: exit {job.rc}, "
             f"{done}/{LONG_TOTAL} records done")
        if 0 < done < LONG_TOTAL:
            check(job.rc == expect_rc, f"{what}: exit {job.rc}, expected {expect_rc}: "
                  f"{job.output[-1500:]}")
            check(done_records_match(path, ref, what) == done, f"{what}: done count changed")
            return path, job, done
        delay = delay * 0.4 if done == LONG_TOTAL else delay * 2.0 + 0.2
    check(False, f"{what}: three attempts never interrupted the run mid-way (last: {done} done)")
    return path, job, None


def test_sigterm(ref, farm_seconds):
    what = "SIGTERM to the ranks"

    def sigterm(job):
        pids = rank_pids(job.p.pid)
        check(len(pids) == 3, f"{what}: found {len(pids)} scorefarm ranks, expected 3")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    path, job, done = interrupted("sigterm.h5", ref, farm_seconds, sigterm, 75, what)
    if done is None:
        return None
    check("stopped by SIGTERM" in job.output and "rerun the same command to resume" in job.output,
          f"{what}: no 'stopped by SIGTERM' line: {job.output[-800:]}")
    check(not leftovers(path), f"{what}: left behind {leftovers(path)}")
    check(runs_outcomes(path) == ["incomplete"], f"{what}: /runs outcomes {runs_outcomes(path)}")
    return path, done


def test_changed_config(path):
    """A resume with another --set: exit 2, nothing computed, the file byte-for-byte untouched."""
    what = "resume with a changed config"
    before = sha(path)
    mtime = os.stat(path).st_mtime_ns
    job = run(path, 2, LONG + ["--set", "seed=2"])
    check(job.rc == 2, f"{what}: exit {job.rc}, expected 2: {job.output[-1500:]}")
    check("different study config" in job.output and "not modified" in job.output,
          f"{what}: the message does not say why: {job.output[-800:]}")
    check(sha(path) == before and os.stat(path).st_mtime_ns == mtime, f"{what}: the file changed")
    check(not leftovers(path), f"{what}: left behind {leftovers(path)}")
    # Another trial count (a different layout) likewise.
    job = run(path, 1, ["--set", "trials=3999", "--set", "axes.n=[2000,5000]"])
    check(job.rc == 2 and sha(path) == before, f"{what} (trials): exit {job.rc}, file "
          f"{'unchanged' if sha(path) == before else 'CHANGED'}: {job.output[-600:]}")


def resume(path, ref, done_before, ranks, what, expect_takeover=False):
    job = run(path, ranks, LONG)
    check(job.rc == 0, f"{what}: rerun exit {job.rc}: {job.output[-1500:]}")
    check(f"resumed: 4 cells x 4000 trials, {done_before} done before" in job.output,
          f"{what}: the rerun did not resume from {done_before} records: {job.output[-800:]}")
    if expect_takeover:
        check("took over the stale lock" in job.output,
              f"{what}: the rerun did not report the stale lock: {job.output[-800:]}")
    same_records(path, ref, what)
    check(not leftovers(path), f"{what}: left behind {leftovers(path)}")
    note(f"{what}: resumed on {ranks} ranks, exit {job.rc}, {job.end - job.start:.2f} s")


def test_kill9(ref, farm_seconds):
    what = "kill -9 of the whole job"
    path, job, done = interrupted("kill9.h5", ref, farm_seconds, lambda j: kill_job(j.p.pid),
                                  -signal.SIGKILL, what)
    if done is None:
        return
    lock = path + ".lock"
    if check(os.path.exists(lock), f"{what}: no stale lock file left"):
        with open(lock) as f:
            holder = f.read().split()
        check(len(holder) == 2 and holder[0] == HOST, f"{what}: lock file holds {holder}")
    # A live-looking lock file must not block the resume: its holder is dead (flock released).
    resume(path, ref, done, 3, what, expect_takeover=True)
    outcomes = runs_outcomes(path)
    check(outcomes == ["killed", "complete"], f"{what}: /runs outcomes {outcomes}")


def test_h5py_cell(path):
    """README: one cell's errors come back as one array."""
    with h5py.File(path, "r") as f:
        n_cells, n_trials = f.attrs["n_cells"], f.attrs["n_trials"]
        check(f["records/err_S4_F"].shape == (n_cells, n_trials), "err_S4_F shape")
        for cell in range(n_cells):
            done = f["records/done"][cell] == 1
            err = f["records/err_S4_F"][cell][done]
            status = f["records/status"][cell][done]
            check(isinstance(err, np.ndarray) and err.dtype == np.float64 and err.ndim == 1 and
                  err.size == n_trials, f"cell {cell}: err_S4_F[cell][done] is {type(err)} "
                  f"{getattr(err, 'dtype', '')} {getattr(err, 'shape', '')}")
            ok = status == 0
            check(np.all(np.isfinite(err[ok])) and np.all(err[ok] >= 0),
                  f"cell {cell}: non-finite or negative S4 errors among ok trials")
            check(np.all(np.isinf(err[(status & 1) != 0])), f"cell {cell}: a failed trial is not +inf")
        n = f["cells/n"][()]
        check(list(n) == [2000, 5000, 2000, 5000], f"/cells/n = {list(n)}")


TRAINING_YAML = """kind: training
description: checkpoint test (Figure 4 Gaussian setting, longer)
seed: 20190417
trials: 4
log_points: 12
axes:
  distribution: [gaussian]
  d: [3]
  k: [3]
  n: [2000]
  activation: [relu]
  teacher: [{matrix: identity, weights: ones}]
  loss:
    - {kind: G, mu: 30, lambda: 10000, sign: auto}
  optimiser: [{kind: gd, lr: 5.0e-5, iterations: 20000}]
"""


def checkpoint_files(path):
    return sorted(glob.glob(path + ".checkpoints/*.ckpt"))


def test_training_checkpoints():
    config = os.path.join(WORK, "training.yaml")
    with open(config, "w") as f:
        f.write(TRAINING_YAML)
    ref = fresh("training_reference.h5")
    job = run(ref, 2, [], config=config)
    check(job.rc == 0, f"training reference: exit {job.rc}: {job.output[-1500:]}")
    check(not os.path.exists(ref + ".checkpoints"), "training reference: checkpoints folder left")
    trial_seconds = job.farm_seconds / 4
    note(f"training reference, mpirun -np 2: farm {job.farm_seconds:.2f} s, ~{trial_seconds:.2f} s a trial")

    def sigterm(job):
        for pid in rank_pids(job.p.pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    for what, interrupt, rc, extra in (
            ("training: SIGTERM mid-trial", sigterm, 75, []),
            ("training: kill -9 mid-trial", lambda j: kill_job(j.p.pid), -signal.SIGKILL,
             ["--checkpoint-seconds", "0.1"])):
        # Half-way through the second trial: the worker holds a state worth keeping.
        for attempt, fraction in enumerate((1.5, 1.3, 1.7)):
            path = fresh("training.h5")
            shutil.rmtree(path + ".checkpoints", ignore_errors=True)
            job = Job(path, 2, extra, config=config)
            if not job.farm_started.wait(timeout=60):
                check(False, f"{what}: the run never started: {job.output[-1000:]}")
                kill_job(job.p.pid)
                job.wait()
                return
            time.sleep(max(0.0, fraction * trial_seconds - (time.monotonic() - job.farm_start_time)))
            interrupt(job)
            job.wait(timeout=60)
            saved = checkpoint_files(path)
            done = done_count(path)
            note(f"{what}: attempt {attempt + 1}: exit {job.rc}, {done}/4 done, checkpoints {saved}")
            if saved and done < 4:
                break
        else:
            check(False, f"{what}: three attempts left no checkpoint mid-trial")
            continue
        check(job.rc == rc, f"{what}: exit {job.rc}, expected {rc}: {job.output[-1500:]}")
        check(done_records_match(path, ref, what) == done, f"{what}: done records differ")
        again = run(path, 2, [], config=config)
        check(again.rc == 0, f"{what}: rerun exit {again.rc}: {again.output[-1500:]}")
        check("resumes from its checkpoint" in again.output,
              f"{what}: the rerun did not resume mid-trial: {again.output[-1500:]}")
        same_records(path, ref, what)
        check(not os.path.exists(path + ".checkpoints"), f"{what}: checkpoints folder left after completion")


def main():
    if os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    t0 = time.monotonic()
    test_ranks()
    ref, farm_seconds = reference_long()
    test_h5py_cell(ref)
    stopped = test_sigterm(ref, farm_seconds)
    if stopped:
        path, done = stopped
        test_changed_config(path)
        resume(path, ref, done, 2, "SIGTERM to the ranks")
        check(runs_outcomes(path) == ["incomplete", "complete"], f"/runs: {runs_outcomes(path)}")
    test_kill9(ref, farm_seconds)
    test_training_checkpoints()
    note(f"{checks} checks, {len(failures)} failed, {time.monotonic() - t0:.1f} s")
    if not failures:
        shutil.rmtree(WORK, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
