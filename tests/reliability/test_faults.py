#!/usr/bin/python3
"""Fault injection with real processes: `scorefarm run` under mpirun, killed, starved and refused.

usage: test_faults.py SCOREFARM WORKDIR GROUP     (GROUP: kills, worker, damaged, lock, disk,
                                                   readonly, hostile; ctest runs one test per group)

kills     kill -9 of the whole job (every process of mpirun's session) at named points of the io and
          parallel code (SCOREFARM_FAULT_AT, src/io/fault.cpp: the process raises SIGKILL on itself,
          mpirun kills the rest) and at times spread over an uninterrupted run's duration. After
          each kill: every record flagged done equals the reference bit for bit, the half-done ones
          are flagged 0; the rerun exits 0 and `scorefarm compare` and an h5py byte comparison of
          every /records dataset equal the uninterrupted reference; no .journal/.creating/.lock left.
worker    kill -9 of one worker rank only: the job ends, non-zero, within a timeout (no hang); the
          rerun completes it identically.
damaged   truncated and corrupted output files (and a sweep of byte flips over the HDF5 metadata):
          a clear one-line error that names the file, the problem and what to do, exit 2, never a
          crash, and the file's bytes unchanged; a corrupted done flag is recomputed.
lock      a second run (and an aggregate) on an output being written is refused naming host and
          PID; stale locks (a killed job's, a forged one from another host) do not block a resume.
disk      (root) a tmpfs too small for the study file: clear error, nothing left behind; remounted
          larger, the run completes. A disk that fills up during a run: every record is kept, the
          error is clear, the rerun completes. A full disk at resume: refused before any work.
readonly  (root) an output folder on a read-only mount, an immutable folder, a folder the user
          cannot write (run as nobody), an immutable output file: exit 2 before any work.
hostile   tests/reliability/hostile/*.yaml: extreme h, n = 1, n = d, d = 32, far query points run
          to the end under mpirun, each trial with its status; aggregate reports the failure
          shares; d = 64 is refused with exit 2.
Exit 0 when every check holds, 1 otherwise, 77 (skipped) when a root-only group runs as non-root.
"""
import glob
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

SCOREFARM = os.path.abspath(sys.argv[1])
WORK = os.path.abspath(sys.argv[2])
GROUP = sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
STUDY = os.path.join(HERE, "study.yaml")
CHUNK = ["--chunk-seconds", "0.02"]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("SCOREFARM_FAULT_AT", None)
HOST = os.uname().nodename
# tests/run-sanitized --ci: fewer kills and flips (ASan makes every run several times slower).
QUICK = bool(os.environ.get("SCOREFARM_RELIABILITY_QUICK"))

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
    """Live (non-zombie) processes of session `sid`: mpirun and every rank it started."""
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.split("/")[2]))
    return pids


def kill_session(sid):
    """kill -9 of the whole job: every process of the session, until none is left."""
    for _ in range(200):
        pids = session_pids(sid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def describe(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        return f"{pid} [{state}] {cmd}"
    except OSError:
        return f"{pid} (gone)"


def sanitizer_report(output):
    """A sanitizer report of scorefarm's own (not one of the HDF5 library crashing in the child
    process that verifies a corrupted file: that crash is the refusal's reason, reported as such)."""
    if "Sanitizer" not in output and "runtime error:" not in output:
        return False
    isolated = "crashed the HDF5 library" in output and "libhdf5" in output and "run_isolated" in output
    return not isolated


def rank_pid(sid, rank):
    for pid in session_pids(sid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return pid
    return None


class Job:
    """`scorefarm run` under mpirun (ranks >= 1) or alone (ranks = 0), in its own session."""

    def __init__(self, out, ranks=2, config=STUDY, extra=(), fault=None, env=None, user=None):
        cmd = [SCOREFARM, "run", config, "-o", out, *CHUNK, *extra]
        if ranks:
            cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", *cmd]
        if user:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]  # numeric ids
        e = dict(env or ENV)
        if fault:
            e["SCOREFARM_FAULT_AT"] = fault
        self.log = tempfile.TemporaryFile(mode="w+")
        self.start = time.monotonic()
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=e,
                                  start_new_session=True, cwd=WORK)
        self.rc = None
        self.seconds = None
        self.hung = False

    def wait(self, timeout=120):
        try:
            self.rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.hung = True
            kill_session(self.p.pid)
            self.rc = self.p.wait()
        self.seconds = time.monotonic() - self.start
        # Every rank ends with mpirun (a rank being torn down may take a moment to go).
        wait_for(lambda: not session_pids(self.p.pid), 5)
        leftovers = [describe(pid) for pid in session_pids(self.p.pid)]
        kill_session(self.p.pid)
        check(not leftovers, f"processes left 5 s after the job ended (exit {self.rc}): {leftovers}")
        # Whatever the fault, scorefarm itself never crashes: no SIGSEGV/SIGABRT/SIGBUS/SIGFPE (as a
        # signal, or as mpirun's 128 + signal), no sanitizer report.
        crashed = self.rc in (-11, -6, -7, -8, 139, 134, 135, 136) or (
            "Segmentation fault" in self.output and "crashed the HDF5 library" not in self.output)
        check(not crashed and not sanitizer_report(self.output),
              f"scorefarm crashed (exit {self.rc}): {self.output[-2500:]}")
        return self

    def kill_after(self, seconds):
        """kill -9 of the whole job after `seconds` (if it still runs); True if it was killed."""
        try:
            self.p.wait(timeout=seconds)
            return False
        except subprocess.TimeoutExpired:
            kill_session(self.p.pid)
            return True

    @property
    def output(self):
        self.log.seek(0)
        return self.log.read()


def run(out, ranks=2, timeout=120, **kw):
    return Job(out, ranks, **kw).wait(timeout)


def scorefarm(*args, timeout=120):
    p = subprocess.run([SCOREFARM, *args], capture_output=True, text=True, env=ENV, timeout=timeout,
                       cwd=WORK)
    return p.returncode, p.stdout + p.stderr


# ---------------------------------------------------------------- files
def records(path):
    """{dataset: (dtype, shape, bytes)} of /records."""
    with h5py.File(path, "r") as f:
        return {name: (str(d.dtype), d.shape, d[()].tobytes()) for name, d in f["records"].items()}


def same_records(path, ref, what):
    rc, text = scorefarm("compare", ref, path)
    ok = check(rc == 0 and "IDENTICAL" in text, f"{what}: scorefarm compare exit {rc}: {text[-400:]}")
    a, b = records(path), records(ref)
    return check(a == b, f"{what}: /records bytes differ ({[k for k in b if a.get(k) != b[k]]})") and ok


def done_records_match(path, ref, what):
    """After a kill: every record flagged done equals the reference; flags are 0 or 1 only.
    Returns the number of done records (None when the file is absent or mid-journal)."""
    if not os.path.exists(path) or os.path.exists(path + ".journal"):
        return None
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        check(False, f"{what}: the killed run left an unreadable {path}: {e}")
        return None
    with f, h5py.File(ref, "r") as r:
        done = f["records/done"][()]
        check(set(np.unique(done).tolist()) <= {0, 1}, f"{what}: done flags other than 0/1")
        mask = done == 1
        for name, d in f["records"].items():
            a, b = d[()], r["records"][name][()]
            check(a[mask].tobytes() == b[mask].tobytes(),
                  f"{what}: a record flagged done differs from the reference in /records/{name}")
        return int(mask.sum())


def ref_records(ref):
    with h5py.File(ref, "r") as f:
        return int(f["records/done"].size)


def leftovers(path):
    return [p for p in (path + ".lock", path + ".journal", path + ".creating") if os.path.exists(p)]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fresh(name):
    path = os.path.join(WORK, name)
    for p in glob.glob(path + "*"):
        os.remove(p)
    return path


REF = None


def reference():
    """The uninterrupted run (2 ranks) every other run is compared with, and its wall time."""
    global REF
    if REF is None:
        path = fresh("reference.h5")
        job = run(path, 2)
        check(job.rc == 0, f"reference run exit {job.rc}: {job.output[-2000:]}")
        REF = (path, job.seconds)
        note(f"reference: {job.seconds:.2f} s")
    return REF


def finish(path, what, ranks=2, expect_takeover=None):
    """The rerun after a fault: exit 0, records identical to the reference, nothing left over."""
    ref, _ = reference()
    job = run(path, ranks)
    check(job.rc == 0, f"{what}: rerun exit {job.rc}: {job.output[-1500:]}")
    if expect_takeover:
        check("took over the stale lock" in job.output, f"{what}: rerun did not report the stale lock:"
              f" {job.output[-800:]}")
    same_records(path, ref, what)
    check(not leftovers(path), f"{what}: left behind {leftovers(path)}")
    return job


# ---------------------------------------------------------------- kills
# (fault spec, ranks, what the point is). Counts are per process; rank 1 is a worker, rank 0 the
# master (which also computes short trials).
KILL_POINTS = [
    ("run:locked:1:0", 2, "lock taken, nothing else done"),
    ("create:attributes:1:0", 2, "file creation: root attributes of <out>.creating written"),
    ("create:datasets:1:0", 2, "file creation: every dataset laid out, not yet closed"),
    ("create:closed:1:0", 2, "file creation: <out>.creating complete and synced, not renamed"),
    ("create:renamed:1:0", 2, "file created, /runs/0 not yet written"),
    ("journal:partial:1:0", 2, "begin_run: journal half written"),
    ("journal:written:1:0", 2, "begin_run: journal complete, file untouched"),
    ("journal:apply-partial:1:0", 2, "begin_run: journal half applied to the file"),
    ("journal:applied:1:0", 2, "begin_run: applied, journal not removed"),
    ("run:opened:1:0", 2, "record store open on every rank, farm not started"),
    ("farm:chunk-sent:4:0", 2, "master: just handed a chunk to a worker"),
    ("records:field:3:1", 2, "worker: first data field of its 3rd chunk written"),
    ("records:status:5:1", 2, "worker: data and status of its 5th chunk written, before fdatasync"),
    ("records:synced:2:1", 2, "worker: fdatasync done, done flags of its 2nd chunk not written"),
    ("records:done:7:1", 2, "worker: done flags of its 7th chunk written"),
    ("records:synced:4:0", 1, "single rank: fdatasync done, done flags not written"),
    ("records:status:6:2", 3, "3 ranks, worker 2: data written, not synced"),
    ("store:close:1:0", 2, "every record written, before the study file's collective close"),
    ("run:before-end:1:0", 2, "just before the end: farm over, /runs/<k> not ended"),
    ("journal:written:2:0", 2, "end_run: journal complete, file untouched"),
    ("journal:applied:2:0", 2, "end_run: applied, journal not removed"),
    ("run:after-end:1:0", 2, "run complete, lock file not yet released"),
]


def group_kills():
    ref, ref_seconds = reference()
    ref_done = int(h5py.File(ref, "r")["records/done"][()].sum())
    kills = 0
    mid_records = 0
    note(f"{'fault point':28} {'ranks':5} {'done after kill':>16}  left behind")
    for fault, ranks, what in (KILL_POINTS[::2] if QUICK else KILL_POINTS):
        path = fresh("kill.h5")
        job = run(path, ranks, fault=fault)
        reached = "fault injection: SIGKILL at " + fault.split(":")[0] + ":" + fault.split(":")[1]
        if not check(reached in job.output and job.rc != 0,
                     f"{fault}: the fault was not reached (exit {job.rc}): {job.output[-1500:]}"):
            continue
        kills += 1
        done = done_records_match(path, ref, fault)
        if done is not None and 0 < done < ref_done:
            mid_records += 1
        note(f"{fault:28} {ranks:5} {str(done):>16}  {[os.path.basename(p) for p in leftovers(path)]}"
             f"  ({what})")
        finish(path, fault, expect_takeover=os.path.exists(path + ".lock"))
        with h5py.File(path, "r") as f:
            outcomes = [f["runs"][k].attrs["outcome"] for k in sorted(f["runs"], key=int)]
        # A run killed after its last record but before end_run is "killed" (marked by the rerun,
        # which has nothing to compute); a killed end_run journal is replayed: "complete".
        if fault in ("store:close:1:0", "run:before-end:1:0"):
            check(outcomes == ["killed"], f"{fault}: /runs outcomes {outcomes}")
        elif fault in ("journal:written:2:0", "journal:applied:2:0", "run:after-end:1:0"):
            check(outcomes == ["complete"], f"{fault}: /runs outcomes {outcomes}")
        elif done == ref_done:
            # A worker killed late: the master wrote the rest before mpirun took it down too.
            check(outcomes == ["killed"], f"{fault}: /runs outcomes {outcomes}")
        else:
            check(outcomes[-1] == "complete", f"{fault}: /runs outcomes {outcomes}")

    # A kill during the resume of a killed run, with another rank count each time. The master is the
    # one killed (a killed worker may leave the master time to finish everything before mpirun
    # takes it down, and the next fault would never be reached).
    path = fresh("chain.h5")
    for fault, ranks in (("records:done:4:0", 2), ("records:synced:3:0", 3), ("records:field:2:0", 2)):
        job = run(path, ranks, fault=fault)
        if check("fault injection" in job.output and job.rc != 0, f"chain {fault}: not reached"):
            kills += 1
            done_records_match(path, ref, f"chain {fault}")
    job = finish(path, "chain of three killed resumes", ranks=1)
    with h5py.File(path, "r") as f:
        outcomes = [f["runs"][k].attrs["outcome"] for k in sorted(f["runs"], key=int)]
    check(outcomes == ["killed", "killed", "killed", "complete"], f"chain: /runs outcomes {outcomes}")

    # Plain kill -9 of the whole job at times spread over an uninterrupted run.
    rng = random.Random(20261204)
    fractions = [0.25, 0.4, 0.55, 0.7, 0.85] + [rng.uniform(0.3, 0.9) for _ in range(2)]
    if QUICK:
        fractions = [0.4, 0.6, 0.8]
    timed = 0
    for i, fraction in enumerate(fractions):
        path = fresh("timed.h5")
        delay = fraction * ref_seconds
        job = Job(path, 2)
        killed = job.kill_after(delay)
        job.wait()
        done = done_records_match(path, ref, f"kill at {delay:.2f} s")
        note(f"kill -9 at {delay:.2f} s ({fraction:.2f} of the reference run): "
             f"{'killed' if killed else 'had finished'}, done after kill {done}, left {leftovers(path)}")
        if killed:
            timed += 1
            kills += 1
            if done is not None and 0 < done < ref_done:
                mid_records += 1
        finish(path, f"kill at {delay:.2f} s")
    # One file killed over and over at random times until it is complete.
    path = fresh("repeated.h5")
    for attempt in range(3 if QUICK else 5):
        job = Job(path, 2)
        killed = job.kill_after(rng.uniform(0.35, 0.8) * ref_seconds)
        job.wait()
        if not killed:
            break
        kills += 1
        done_records_match(path, ref, f"repeated kill {attempt}")
    finish(path, "repeated kills")
    note(f"kills survived: {kills} ({len(KILL_POINTS)} named points, {timed} timed, "
         f"{mid_records} with records half done)")
    check(timed >= (2 if QUICK else 5), f"only {timed} timed kills hit a running job")
    check(mid_records >= (3 if QUICK else 5), f"only {mid_records} kills left a partly done file")


# ---------------------------------------------------------------- worker
def group_worker():
    ref, ref_seconds = reference()
    # An external kill -9 of worker rank 1 only, in the middle of the run.
    for ranks, victim in ((2, 1), (3, 2)):
        path = fresh(f"worker{ranks}.h5")
        job = Job(path, ranks)
        deadline = time.monotonic() + 30
        pid = None
        while time.monotonic() < deadline and job.p.poll() is None:
            done = 0
            if os.path.exists(path) and not os.path.exists(path + ".journal"):
                try:
                    with h5py.File(path, "r") as f:
                        done = int(f["records/done"][()].sum())
                except OSError:
                    pass
            if done > 0:
                pid = rank_pid(job.p.pid, victim)
                break
            time.sleep(0.02)
        check(pid is not None, f"{ranks} ranks: rank {victim} not found mid-run")
        if pid:
            os.kill(pid, signal.SIGKILL)
        job.wait(timeout=60)
        note(f"{ranks} ranks, kill -9 of rank {victim} (pid {pid}): job exit {job.rc} after "
             f"{job.seconds:.1f} s; mpirun: {[l for l in job.output.splitlines() if 'signal' in l][:1]}")
        check(not job.hung, f"{ranks} ranks: the job hung after rank {victim} was killed")
        check(job.rc != 0, f"{ranks} ranks: the job exited 0 after rank {victim} was killed")
        done_records_match(path, ref, f"worker kill, {ranks} ranks")
        finish(path, f"worker kill, {ranks} ranks", expect_takeover=True)
    # The worker kills itself at an exact point (between its data and its done flags).
    path = fresh("worker_fault.h5")
    job = run(path, 3, fault="records:synced:3:1", timeout=60)
    check(not job.hung and job.rc != 0 and "fault injection" in job.output,
          f"worker fault: exit {job.rc}, hung {job.hung}")
    done_records_match(path, ref, "worker fault")
    finish(path, "worker fault")


# ---------------------------------------------------------------- damaged
def error_line(text):
    lines = [l for l in text.splitlines() if l.startswith("scorefarm: error:")]
    return lines[0] if lines else ""


def refused(path, what, needles, ranks=0):
    """A run on a damaged `path`: exit 2, one clear error line naming it, the file unchanged."""
    before = sha(path)
    job = run(path, ranks, timeout=60)
    line = error_line(job.output)
    ok = check(job.rc == 2, f"{what}: exit {job.rc} (want 2): {job.output[-800:]}")
    ok &= check(path in line and all(n in line for n in needles),
                f"{what}: message lacks {needles}: {line!r}")
    ok &= check(not sanitizer_report(job.output) and "Segmentation" not in job.output,
                f"{what}: crash: {job.output[-1500:]}")
    ok &= check(sha(path) == before, f"{what}: the refused run modified the file")
    check(not leftovers(path), f"{what}: left behind {leftovers(path)}")
    note(f"{what}: exit {job.rc}: {line[:220]}")
    return ok


def group_damaged():
    ref, _ = reference()
    with h5py.File(ref, "r") as f:
        data_start = min(d.id.get_offset() for d in f["records"].values())
    base = fresh("partial.h5")
    run(base, 0, fault="records:done:3:0")  # a killed single-rank run: records partly done
    check(0 < (done_records_match(base, ref, "partial base") or 0) < int(h5py.File(ref, "r")["records/done"].size),
          "the base file is not partial")
    os.remove(base + ".lock")

    def size(p):
        return os.path.getsize(p)
    cases = [
        ("empty (0 bytes)", lambda p: os.truncate(p, 0), ["not an HDF5 file"]),
        ("truncated to 100 bytes", lambda p: os.truncate(p, 100), ["damaged"]),
        ("truncated to half", lambda p: os.truncate(p, size(p) // 2), ["truncated", "restore"]),
        ("last byte cut off", lambda p: os.truncate(p, size(p) - 1), ["truncated"]),
        ("superblock signature overwritten", lambda p: poke(p, 0, b"JUNKJUNK"), ["not an HDF5 file"]),
        ("metadata overwritten with zeros", lambda p: poke(p, 512, bytes(data_start - 1024)),
         ["damaged"]),
        ("metadata overwritten with random bytes",
         lambda p: poke(p, 96, random.Random(1).randbytes(data_start - 200)), ["damaged"]),
        ("appended garbage", lambda p: open(p, "ab").write(b"x" * 4096), ["damaged"]),
    ]
    for source in (ref, base):
        for what, damage, needles in cases:
            path = fresh("damaged.h5")
            shutil.copyfile(source, path)
            damage(path)
            label = f"{'complete' if source == ref else 'partial'} file, {what}"
            if what == "appended garbage":
                # HDF5 ignores bytes past its end of file: the run resumes, records are intact.
                job = run(path, 0)
                check(job.rc == 0, f"{label}: exit {job.rc}: {job.output[-600:]}")
                same_records(path, ref, label)
                continue
            refused(path, label, needles)
    # aggregate on a damaged file: refused, clear, unchanged.
    path = fresh("damaged.h5")
    shutil.copyfile(ref, path)
    os.truncate(path, size(path) // 2)
    before = sha(path)
    rc, text = scorefarm("aggregate", path)
    check(rc in (1, 2) and "error" in text and sha(path) == before and "Sanitizer" not in text,
          f"aggregate of a truncated file: exit {rc}, {text[-400:]}")
    note(f"aggregate, truncated file: exit {rc}: {text.strip().splitlines()[-1][:200]}")
    # A done flag corrupted to 7 (raw data has no checksum): counted as not done, recomputed.
    path = fresh("doneflag.h5")
    shutil.copyfile(ref, path)
    with h5py.File(path, "r+") as f:
        f["records/done"][1, 17] = 7
    job = run(path, 0)
    check(job.rc == 0, f"done flag 7: exit {job.rc}: {job.output[-600:]}")
    same_records(path, ref, "done flag 7 recomputed")
    # Byte flips over the HDF5 metadata (everything before the first record dataset's data):
    # whatever a flip breaks, the run never crashes, and a refused run leaves the file unchanged.
    rng = random.Random(7)
    offsets = sorted(rng.sample(range(0, data_start), 16 if QUICK else 40))
    outcomes, aggregate_outcomes = {}, {}
    for i, offset in enumerate(offsets):
        path = fresh("flip.h5")
        shutil.copyfile(base if i % 6 == 0 else ref, path)  # a sixth on the partial file (it resumes)
        with open(path, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)[0]
            f.seek(offset)
            f.write(bytes([byte ^ 0xFF]))
        before = sha(path)
        # scorefarm aggregate reads it first (read-only): an error or a table, never a crash.
        rc, text = scorefarm("aggregate", path, "--no-write", "-q", timeout=60)
        aggregate_outcomes[rc] = aggregate_outcomes.get(rc, 0) + 1
        check(rc in (0, 1, 2) and not sanitizer_report(text), f"aggregate, flip at {offset}: exit {rc}: "
              f"{text[-1500:]}")
        check(sha(path) == before, f"aggregate --no-write, flip at {offset}: the file changed")
        job = run(path, 0, timeout=60)
        outcomes[job.rc] = outcomes.get(job.rc, 0) + 1
        crashed = job.rc < 0 or job.rc > 2 or sanitizer_report(job.output) or job.hung
        check(not crashed, f"flip at {offset}: crash or hang (exit {job.rc}): {job.output[-1500:]}")
        if job.rc == 0:
            same_records(path, ref, f"flip at {offset} (accepted)")
        else:
            line = error_line(job.output)
            check(sha(path) == before or job.rc == 1, f"flip at {offset}: refused run modified the file")
            check(path in line, f"flip at {offset}: unclear message {job.output[-600:]!r}")
    note(f"metadata byte flips: {len(offsets)} offsets in [0, {data_start}), run exit codes {outcomes}, "
         f"aggregate --no-write exit codes {aggregate_outcomes}")


def poke(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


# ---------------------------------------------------------------- lock
def injected_pid(output):
    for line in output.splitlines():
        if "fault injection" in line and "pid " in line:
            return int(line.rsplit("pid ", 1)[1].rstrip(")"))
    return None


def wait_for(cond, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def stopped(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
        return text[text.rfind(")") + 2] == "T"
    except OSError:
        return False


def group_lock():
    ref, _ = reference()
    # A live holder: rank 0 frozen (SIGSTOP) after opening the store, holding the lock.
    path = fresh("live.h5")
    holder = Job(path, 2, fault="run:opened:1:0:stop")
    check(wait_for(lambda: injected_pid(holder.output) is not None), "holder did not reach run:opened")
    pid = injected_pid(holder.output)
    if pid:
        check(wait_for(lambda: stopped(pid)), "holder's rank 0 did not stop")
        time.sleep(0.3)
        before = sha(path)
        second = run(path, 0, timeout=60)
        line = error_line(second.output)
        check(second.rc == 2, f"second run: exit {second.rc}: {second.output[-600:]}")
        check(f"host {HOST}, pid {pid}" in line and "being written" in line,
              f"second run: message does not name host {HOST} and pid {pid}: {line!r}")
        note(f"second run while held: exit {second.rc}: {line}")
        second = run(path, 2, timeout=60)
        check(second.rc != 0 and f"pid {pid}" in second.output,
              f"second mpirun run: exit {second.rc}: {second.output[-600:]}")
        rc, text = scorefarm("aggregate", path)
        check(rc == 2 and f"host {HOST}, pid {pid}" in text, f"aggregate while held: {rc} {text[-400:]}")
        note(f"aggregate while held: exit {rc}: {error_line(text)[:200]}")
        check(sha(path) == before, "the refused runs modified the file being written")
        os.kill(pid, signal.SIGCONT)
    holder.wait(60)
    check(holder.rc == 0, f"holder, continued: exit {holder.rc}: {holder.output[-800:]}")
    same_records(path, ref, "holder continued after refusing others")
    check(not leftovers(path), f"holder left {leftovers(path)}")
    # A stale lock of a killed job (the lock file names a dead rank 0): taken over, with a note.
    path = fresh("stale.h5")
    job = run(path, 2, fault="records:done:2:1")
    with open(path + ".lock") as f:
        content = f.read().split()
    check(len(content) == 2 and content[0] == HOST, f"lock file content {content}")
    rerun = finish(path, "stale lock of a killed job", expect_takeover=True)
    takeover = [l for l in rerun.output.splitlines() if "stale lock" in l]
    check(takeover and f"pid {content[1]}" in takeover[0], f"takeover note {takeover}")
    note(f"stale lock: {takeover[:1]}")
    # A forged lock file from another host, with nobody holding its flock: not a live holder.
    path = fresh("forged.h5")
    run(path, 2, fault="records:done:2:1")
    with open(path + ".lock", "w") as f:
        f.write("node-that-died 4242\n")
    rerun = finish(path, "forged stale lock", expect_takeover=True)
    check("node-that-died, pid 4242" in rerun.output, f"forged lock note: {rerun.output[-600:]}")


# ---------------------------------------------------------------- disk
def require_root():
    if os.geteuid() != 0:
        note("SKIP: needs root (mount, chattr)")
        sys.exit(77)


class Tmpfs:
    def __init__(self, name, size):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        subprocess.run(["umount", "-l", self.dir], capture_output=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", self.dir],
                           capture_output=True, text=True)
        if r.returncode != 0:
            note(f"SKIP: cannot mount a tmpfs: {r.stderr}")
            sys.exit(77)

    def remount(self, options):
        r = subprocess.run(["mount", "-o", f"remount,{options}", self.dir], capture_output=True, text=True)
        check(r.returncode == 0, f"remount {options}: {r.stderr}")

    def close(self):
        subprocess.run(["umount", self.dir], capture_output=True)
        if os.path.ismount(self.dir):
            subprocess.run(["umount", "-l", self.dir], capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fill(directory):
    """Fills the file system of `directory` to the last byte; returns the filler's path."""
    filler = os.path.join(directory, "filler")
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            block = b"\1" * size
            try:
                while True:
                    f.write(block)
            except OSError:
                pass
    return filler


def group_disk():
    require_root()
    ref, _ = reference()
    need = os.path.getsize(ref)
    with Tmpfs("tmpfs_small", "300k") as fs:
        path = os.path.join(fs.dir, "study.h5")
        job = run(path, 2, timeout=60)
        line = error_line(job.output)
        note(f"study file of {need} bytes on a 300 KiB tmpfs: exit {job.rc}: {line}")
        check(job.rc == 1 and "no space left on device" in line.lower() and path in line,
              f"too small: exit {job.rc}, message {line!r}: {job.output[-1000:]}")
        check(not sanitizer_report(job.output), "too small: sanitizer report")
        check(not os.path.exists(path) and not leftovers(path),
              f"too small: left {os.listdir(fs.dir)}")
        fs.remount("size=4m")
        finish(path, "remounted larger")

    with Tmpfs("tmpfs_race", "4m") as fs:
        # The space was there when checked, and is gone when the file is built (another writer):
        # HDF5 fails with ENOSPC half-way through the file; the run still ends with a clear error
        # (the file is built in a child process: HDF5's broken state cannot crash the run).
        path = os.path.join(fs.dir, "study.h5")
        job = Job(path, 2, fault="create:checked:1:0:stop")
        check(wait_for(lambda: injected_pid(job.output) is not None), "race: did not reach create:checked")
        pid = injected_pid(job.output)
        filler = None
        if pid:
            check(wait_for(lambda: stopped(pid)), "race: run did not stop")
            filler = fill(fs.dir)
            os.kill(pid, signal.SIGCONT)
        job.wait(60)
        line = error_line(job.output)
        note(f"disk filled between the space check and the creation: exit {job.rc}: {line[:300]}")
        check(job.rc == 1 and "no space left on device" in line.lower() and path in line,
              f"race: exit {job.rc}: {job.output[-1500:]}")
        check(not os.path.exists(path) and not leftovers(path), f"race: left {os.listdir(fs.dir)}")
        if filler:
            os.remove(filler)
        finish(path, "space freed after the creation failed")

    with Tmpfs("tmpfs_fills", "4m") as fs:
        path = os.path.join(fs.dir, "study.h5")
        # A killed run left a partly done file; then the disk filled up. The resume is refused before
        # any work (the lock file or the /runs entry cannot be written), the file is unchanged.
        run(path, 2, fault="records:done:3:0")
        done_before = done_records_match(path, ref, "partial on tmpfs")
        check(0 < (done_before or 0) < ref_records(ref), f"partial on tmpfs: {done_before} done")
        filler = fill(fs.dir)
        before = sha(path)
        job = run(path, 2, timeout=60)
        line = error_line(job.output)
        note(f"resume of a partly done file on a full disk: exit {job.rc}: {line}")
        check(job.rc == 1 and "no space left on device" in job.output.lower(),
              f"full resume: exit {job.rc}: {job.output[-800:]}")
        check(sha(path) == before, "full resume modified the study file")
        os.remove(filler)
        # The disk fills up while the resumed run is frozen after its 2nd chunk: the records go on
        # into the space reserved at creation; only the end-of-run /runs entry finds the disk full.
        job = Job(path, 0, fault="records:done:2:0:stop")
        check(wait_for(lambda: injected_pid(job.output) is not None), "fill: did not reach records:done")
        pid = injected_pid(job.output)
        if pid:
            check(wait_for(lambda: stopped(pid)), "fill: run did not stop")
            filler = fill(fs.dir)
            os.kill(pid, signal.SIGCONT)
        job.wait(120)
        line = error_line(job.output)
        done = done_records_match(path, ref, "disk filled mid-run")
        note(f"disk filled mid-run: exit {job.rc}, records done {done_before} before, {done} after, all "
             f"kept: {line}")
        check(job.rc == 1 and "No space left on device" in line and "every finished record is written"
              in job.output, f"filled mid-run: exit {job.rc}: {job.output[-1000:]}")
        check(done is not None and done > (done_before or 0), "filled mid-run: records lost")
        # Space freed (here: the filler removed; or the file copied to a bigger disk): complete.
        os.remove(filler)
        finish(path, "disk freed")
        # Moved to a bigger place after a kill: resumes there.
        path2 = os.path.join(fs.dir, "moved.h5")
        run(path2, 2, fault="records:done:3:1")
        bigger = fresh("moved.h5")
        shutil.copyfile(path2, bigger)
        shutil.copyfile(path2 + ".lock", bigger + ".lock")
        finish(bigger, "copied to a bigger place", expect_takeover=True)


# ---------------------------------------------------------------- readonly
def no_work(path, job, what, needle):
    line = error_line(job.output)
    note(f"{what}: exit {job.rc} after {job.seconds:.2f} s: {line}")
    check(job.rc == 2, f"{what}: exit {job.rc}: {job.output[-800:]}")
    check(needle in line and "not writable" in line, f"{what}: message {line!r}")
    check("created" not in job.output and "trials/s" not in job.output, f"{what}: work was started")


def group_readonly():
    require_root()
    with Tmpfs("tmpfs_ro", "4m") as fs:
        fs.remount("ro")
        path = os.path.join(fs.dir, "study.h5")
        no_work(path, run(path, 2, timeout=60), "read-only mount", "Read-only file system")
        check(not os.listdir(fs.dir), "read-only mount: something was created")
    # An immutable folder on the main file system (chattr +i stops root too).
    folder = os.path.join(WORK, "immutable")
    os.makedirs(folder, exist_ok=True)
    if subprocess.run(["chattr", "+i", folder], capture_output=True).returncode == 0:
        try:
            path = os.path.join(folder, "study.h5")
            no_work(path, run(path, 0, timeout=60), "immutable folder", "Operation not permitted")
        finally:
            subprocess.run(["chattr", "-i", folder])
        check(not os.listdir(folder), "immutable folder: something was created")
    else:
        note("chattr +i unsupported here: immutable folder case skipped")
    # A folder the user may not write: the run as `nobody` in a root-owned 0755 folder.
    folder = os.path.join(WORK, "rootonly")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    config = os.path.join(WORK, "study_for_nobody.yaml")
    shutil.copyfile(STUDY, config)
    os.chmod(config, 0o644)
    path = os.path.join(folder, "study.h5")
    env = dict(ENV, HOME="/tmp", TMPDIR="/tmp")
    job = Job(path, 0, config=config, user=65534, env=env).wait(60)  # nobody:nogroup
    no_work(path, job, "folder not writable by the user (nobody)", "Permission denied")
    # An existing output file that cannot be written (immutable): refused, unchanged.
    ref, _ = reference()
    path = fresh("immutable.h5")
    run(path, 2, fault="records:done:2:1")
    os.remove(path + ".lock")
    if subprocess.run(["chattr", "+i", path], capture_output=True).returncode == 0:
        try:
            before = sha(path)
            job = run(path, 2, timeout=60)
            line = error_line(job.output)
            note(f"immutable output file: exit {job.rc}: {line}")
            check(job.rc == 2 and "not writable" in line and path in line, f"immutable file: {line!r}")
            check(sha(path) == before, "immutable file changed")
        finally:
            subprocess.run(["chattr", "-i", path])
        finish(path, "immutable file made writable again")


# ---------------------------------------------------------------- hostile
FAILURE_MASK = 1 | 16 | 64


def group_hostile():
    configs = sorted(glob.glob(os.path.join(HERE, "hostile", "*.yaml")))
    if QUICK:  # the slow Newton case (seconds per trial under ASan) only in the full run
        configs = [c for c in configs if not c.endswith("_newton.yaml")]
    check(len(configs) >= (4 if QUICK else 5), f"hostile configs: {configs}")
    for config in configs:
        name = os.path.basename(config)[:-5]
        path = fresh(f"hostile_{name}.h5")
        job = run(path, 2, config=config, timeout=300)
        if name == "d64":
            line = error_line(job.output)
            note(f"{name}: exit {job.rc}: {line}")
            check(job.rc == 2 and "axes.d[0]" in line and "32" in line, f"d64: {job.output[-600:]}")
            check(not os.path.exists(path) and not leftovers(path), "d64: a file was touched")
            continue
        check(job.rc == 0 and not job.hung, f"{name}: exit {job.rc}: {job.output[-1500:]}")
        if job.rc != 0:
            continue
        with h5py.File(path, "r") as f:
            done = f["records/done"][()]
            status = f["records/status"][()]
            errs = {k: f["records"][k][()] for k in f["records"] if k.startswith("err_")}
        failed = (status & FAILURE_MASK) != 0
        check(bool(np.all(done == 1)), f"{name}: not every record is done")
        for k, e in errs.items():
            check(not np.isnan(e).any(), f"{name}: NaN in {k}")
            check(bool(np.all(np.isinf(e[failed]))), f"{name}: a failed trial has a finite {k}")
            check(bool(np.all(np.isfinite(e[~failed]))), f"{name}: a trial without failure bits has "
                  f"a non-finite {k}")
        csv = os.path.join(WORK, f"hostile_{name}.csv")
        rc, text = scorefarm("aggregate", path, "--csv", csv)
        check(rc == 0, f"{name}: aggregate exit {rc}: {text[-800:]}")
        import csv as csvmod
        with open(csv) as f:
            rows = [r for r in csvmod.DictReader(f) if r["kind"] == "cell"]
        first_err = sorted(errs)[0]
        per_cell = {int(r["cell"]): int(r["failed"]) for r in rows if r["field"] == first_err}
        expected = {c: int(failed[c].sum()) for c in range(failed.shape[0])}
        check(per_cell == expected, f"{name}: aggregate failure counts differ from the status bits")
        note(f"{name}: {done.size} trials in {job.seconds:.1f} s, {int(failed.sum())} failed "
             f"({100.0 * failed.mean():.0f} %), {int((status != 0).sum())} flagged; aggregate "
             f"reports the same per-cell failure counts")
        if name == "extremes":
            with h5py.File(path, "r") as f:
                h = f["records/h"][()]
                n = f["cells/n"][()]
            tiny = np.isclose(h[:, 0], 1e-300, rtol=0, atol=0) | (h[:, 0] == 1e-300)
            check(bool(np.all(failed[tiny])), "extremes: a trial with h = 1e-300 did not fail")
            check(bool(np.all(status[n == 1] != 0)), "extremes: an n = 1 trial carries no status bit")


GROUPS = {"kills": group_kills, "worker": group_worker, "damaged": group_damaged, "lock": group_lock,
          "disk": group_disk, "readonly": group_readonly, "hostile": group_hostile}

if __name__ == "__main__":
    os.makedirs(WORK, exist_ok=True)
    WORK = os.path.join(WORK, GROUP)
    os.makedirs(WORK, exist_ok=True)
    start = time.monotonic()
    GROUPS[GROUP]()
    note(f"{GROUP}: {checks} checks, {len(failures)} failed, {time.monotonic() - start:.1f} s")
    sys.exit(1 if failures else 0)
