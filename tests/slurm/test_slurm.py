#!/usr/bin/python3
"""End-to-end tests of jobs/submit, jobs/sweep.sbatch and jobs/local with the real scorefarm.

  test_slurm.py TEST --scorefarm PATH --work DIR

TEST is one of:
  reference  direct `mpirun -np 2 scorefarm run` of study.yaml: the records every other test must equal
  dry_run    jobs/submit --dry-run prints a complete job script and writes/submits nothing; bad options
  local      jobs/local, stopped with SIGINT mid-run (exit 75) and resumed by the run folder's job.sh
  submit     a 4-task jobs/sweep.sbatch job (srun --mpi=pmix) on the test cluster
  requeue    SIGUSR1 to the batch shell mid-run: exit 75, `scontrol requeue`, resume, same records;
             a job depending on it (afterok) starts only after the last piece
  array      a 2-element job array (one task per study), --chain and --dependency

The SLURM tests need the cluster of slurm_cluster.py (SLURM_CONF set by ctest). Every failure prints
the job's log, `scontrol show job` and the daemons' logs. Exit code 0 = pass.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SUBMIT = REPO / "jobs" / "submit"
LOCAL = REPO / "jobs" / "local"
STUDY = HERE / "study.yaml"     # ~10-20 s at 2 ranks on a 2-core machine
TINY = HERE / "tiny.yaml"       # a few seconds
PYTHON = "/usr/bin/python3"
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


class Failure(Exception):
    pass


def log(message):
    print(f"[test] {time.strftime('%H:%M:%S')} {message}", flush=True)


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(cmd, timeout=120, check_rc=True, **kwargs):
    """Runs cmd, prints it and its output; returns the CompletedProcess."""
    cmd = [str(c) for c in cmd]
    log("$ " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        raise Failure(f"timed out after {timeout} s: {' '.join(cmd)}\n{error.stdout}\n{error.stderr}")
    if proc.stdout.strip():
        print(proc.stdout.rstrip(), flush=True)
    if proc.stderr.strip():
        print(proc.stderr.rstrip(), flush=True)
    if check_rc and proc.returncode != 0:
        raise Failure(f"exit code {proc.returncode}: {' '.join(cmd)}")
    return proc


# ---- HDF5 ------------------------------------------------------------------------------------------

def read_study(path):
    """{'records': {name: (dtype, shape, bytes)}, 'cells': {...}, 'runs': [attrs...], 'attrs': {...}}"""
    import h5py  # Debian's python3-h5py

    out = {"records": {}, "cells": {}, "runs": [], "attrs": {}}
    with h5py.File(path, "r") as f:
        for group in ("records", "cells"):
            for name, dataset in f[group].items():
                data = dataset[()]
                # Variable-length strings come back as an object array: its bytes are pointers,
                # so compare the values themselves.
                if getattr(data, "dtype", None) is not None and data.dtype.kind == "O":
                    value = repr(data.tolist())
                else:
                    value = data.tobytes() if hasattr(data, "tobytes") else repr(data)
                out[group][name] = (str(dataset.dtype), dataset.shape, value)
        runs = f.get("runs", {})
        for k in sorted(runs, key=int):
            out["runs"].append({key: _plain(value) for key, value in runs[k].attrs.items()})
        out["attrs"] = {key: _plain(value) for key, value in f.attrs.items()}
    return out


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "item"):
        return value.item()
    return value


def assert_same_records(path, reference_path):
    """/records and /cells byte for byte (dtype, shape and bytes of every dataset)."""
    got, want = read_study(path), read_study(reference_path)
    for group in ("records", "cells"):
        check(sorted(got[group]) == sorted(want[group]),
              f"{path}: /{group} has {sorted(got[group])}, the reference {sorted(want[group])}")
        for name in want[group]:
            g, w = got[group][name], want[group][name]
            check(g[0] == w[0] and g[1] == w[1],
                  f"{path}: /{group}/{name} is {g[0]}{g[1]}, the reference {w[0]}{w[1]}")
            check(g[2] == w[2], f"{path}: /{group}/{name} differs from {reference_path}")
    log(f"records equal: {path} == {reference_path} ({len(want['records'])} record datasets)")
    return got


def assert_complete(study, path):
    import numpy

    done = numpy.frombuffer(study["records"]["done"][2], dtype=numpy.uint8)
    check(done.size > 0 and bool(numpy.all(done == 1)), f"{path}: not every record is done")
    check(study["runs"] and study["runs"][-1].get("outcome") == "complete",
          f"{path}: last /runs entry is {study['runs'][-1] if study['runs'] else None}, not complete")


# ---- SLURM -----------------------------------------------------------------------------------------

def job_info(job_id):
    proc = subprocess.run(["scontrol", "-o", "show", "job", str(job_id)], capture_output=True, text=True,
                          timeout=30)
    if proc.returncode != 0:
        return {}
    jobs = []
    for line in proc.stdout.strip().splitlines():
        info = {}
        for item in re.split(r" (?=[A-Za-z:/]+=)", line.strip()):
            key, _, value = item.partition("=")
            info[key] = value
        jobs.append(info)
    if len(jobs) == 1:
        return jobs[0]
    return {"array": jobs, "JobState": ",".join(j.get("JobState", "?") for j in jobs)}


def wait_jobs(job_ids, timeout, seen=None):
    """Waits until every job (array tasks included) reached a final state; returns {id: info}.
    `seen` collects every state observed per job (to see REQUEUED / PENDING after RUNNING)."""
    deadline = time.time() + timeout
    seen = {} if seen is None else seen
    while True:
        infos, pending = {}, False
        for job_id in job_ids:
            info = job_info(job_id)
            infos[job_id] = info
            for task in info.get("array", [info]):
                state = task.get("JobState", "?")
                key = task.get("JobId", job_id)
                if not seen.get(key) or seen[key][-1] != state:
                    seen.setdefault(key, []).append(state)
                if state not in FINAL_STATES:
                    pending = True
        if not pending:
            return infos
        if time.time() > deadline:
            raise Failure(f"jobs {job_ids} not finished after {timeout} s; states seen: {seen}")
        time.sleep(1)


def cluster_ready():
    conf = os.environ.get("SLURM_CONF", "")
    check(conf and Path(conf).is_file(), f"SLURM_CONF={conf!r}: the test cluster is not up "
          "(run through ctest, which starts it in the slurm_cluster_up fixture)")


def submit(args, *extra, timeout=300):
    proc = run([SUBMIT, *extra, "--scorefarm", args.scorefarm, "--parsable"], timeout=timeout)
    ids = proc.stdout.split()
    check(ids and all(i.isdigit() for i in ids), f"jobs/submit printed {proc.stdout!r}, not job ids")
    return ids


def show_failure_context(work):
    for path in sorted(Path(work).rglob("job.log")):
        print(f"----- {path}")
        print(path.read_text(errors="replace")[-6000:])
    subprocess.run(["squeue"], timeout=30)
    subprocess.run(["scontrol", "show", "job"], timeout=30)
    cluster = os.environ.get("SCOREFARM_SLURM_CLUSTER")
    if cluster:
        subprocess.run([PYTHON, str(HERE / "slurm_cluster.py"), "logs", cluster], timeout=60)


def fresh(work, name):
    path = Path(work) / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def reference_file(work):
    path = Path(work) / "reference" / "study.h5"
    check(path.is_file(), f"{path} missing: the slurm_reference fixture did not run or failed")
    return path


def only_run_dir(runs):
    dirs = [d for d in Path(runs).iterdir() if d.is_dir()]
    check(len(dirs) == 1, f"{runs}: expected one run folder, found {[d.name for d in dirs]}")
    return dirs[0]


def wait_for_progress(log_path, process_alive, timeout):
    """Waits until the log shows scorefarm working (a progress line with done > 0)."""
    deadline = time.time() + timeout
    pattern = re.compile(r"(\d+)\s*/\s*(\d+)")
    while time.time() < deadline:
        if log_path.is_file():
            for line in log_path.read_text(errors="replace").splitlines():
                if line.startswith("["):
                    continue  # our own lines ([sweep], [local])
                match = pattern.search(line)
                if match and 0 < int(match[1]) < int(match[2]):
                    return line
        check(process_alive(), f"the run ended before showing progress in {log_path}")
        time.sleep(0.2)
    raise Failure(f"no progress line in {log_path} after {timeout} s")


# ---- tests -----------------------------------------------------------------------------------------

def test_reference(args):
    out = fresh(args.work, "reference")
    shutil.copyfile(STUDY, out / "study.yaml")
    start = time.time()
    run(["mpirun", "-np", "2", "--oversubscribe", args.scorefarm, "run", out / "study.yaml",
         "-o", out / "study.h5"], timeout=280)
    seconds = time.time() - start
    (out / "seconds").write_text(f"{seconds:.1f}\n")
    study = read_study(out / "study.h5")
    assert_complete(study, out / "study.h5")
    log(f"reference run: {seconds:.1f} s, {len(study['records'])} record datasets")


def test_dry_run(args):
    runs = fresh(args.work, "dry_run")
    proc = run([SUBMIT, STUDY, "--ranks", "3", "--time", "00:10:00", "--partition", "debug",
                "--sbatch-arg=--mem-per-cpu=100M", "--set", "trials=7", "--runs-dir", runs,
                "--scorefarm", args.scorefarm, "--dry-run"])
    script = proc.stdout
    for expected in ["#!/bin/bash", "#SBATCH --ntasks=3", "#SBATCH --time=00:10:00",
                     "#SBATCH --requeue", "#SBATCH --open-mode=append", "#SBATCH --signal=B:USR1@60",
                     "#SBATCH --partition=debug", "#SBATCH --mem-per-cpu=100M", "#SBATCH --job-name=study",
                     f"SCOREFARM={args.scorefarm}", "RUN_ARGS=(--set trials=7)", "srun --mpi=pmix",
                     "scontrol requeue", "would run: sbatch --parsable"]:
        check(expected in script, f"--dry-run output lacks {expected!r}")
    check(re.search(r"^CONFIG=\S*/runs?/?\S*study-\d{8}-\d{6}/study\.yaml$|^CONFIG=.*/study\.yaml$",
                    script, re.M), "--dry-run: no CONFIG= line naming the run folder's copy")
    check(re.search(r"^#SBATCH --output=.*/study-\d{8}-\d{6}/job\.log$", script, re.M),
          "--dry-run: the log is not <run folder>/job.log")
    check(list(runs.iterdir()) == [], f"--dry-run wrote into {runs}: {list(runs.iterdir())}")
    # The generated script is valid bash.
    body = "\n".join(line for line in script.splitlines() if not line.startswith("# ----"))
    syntax = subprocess.run(["bash", "-n"], input=body, text=True, capture_output=True)
    check(syntax.returncode == 0, f"generated script is not valid bash: {syntax.stderr}")

    # Array and chain dry runs.
    proc = run([SUBMIT, STUDY, TINY, "--array", "--throttle", "1", "--runs-dir", runs, "--no-estimate",
                "--scorefarm", args.scorefarm, "--dry-run"])
    check("#SBATCH --array=0-1%1" in proc.stdout, "--array --throttle 1: no #SBATCH --array=0-1%1")
    check(re.search(r"^#SBATCH --output=.*/array-\d{8}-\d{6}/%a/job\.log$", proc.stdout, re.M),
          "--array: per-task log is not <array folder>/%a/job.log")
    proc = run([SUBMIT, STUDY, TINY, "--chain", "--dependency", "42", "--runs-dir", runs, "--no-estimate",
                "--scorefarm", args.scorefarm, "--dry-run"])
    check("would run: sbatch --parsable --dependency=afterok:42 " in proc.stdout,
          "--dependency 42 is not passed as afterok:42")
    check("--dependency=afterok:<previous job>" in proc.stdout, "--chain does not chain the second job")
    check(list(runs.iterdir()) == [], f"--dry-run wrote into {runs}")

    # The estimate: a huge override must warn that the job will requeue itself.
    proc = run([SUBMIT, STUDY, "--ranks", "2", "--time", "1", "--set", "trials=100000000",
                "--runs-dir", runs, "--scorefarm", args.scorefarm, "--dry-run"])
    check("exceeds the time limit" in proc.stderr, "no warning when the estimate exceeds --time")

    # Bad input: exit 2, clear message, nothing written.
    bad = [([runs / "missing.yaml"], "no such config file"),
           ([STUDY, "--time", "soon"], "--time soon"),
           ([STUDY, "--ranks", "0"], "--ranks 0"),
           ([STUDY, "--throttle", "2"], "--throttle N needs --array"),
           ([STUDY, TINY, "--array", "--chain"], "do not mix"),
           ([STUDY, "--time", "00:01:00", "--signal-lead", "60"], "--signal-lead 60"),
           ([STUDY, "--scorefarm", runs / "nothing"], "not an executable"),
           ([STUDY, "--set", "trials=-3"], "trials")]
    for extra, message in bad:
        cmd = [SUBMIT, *extra, "--runs-dir", runs, "--dry-run"]
        if "--scorefarm" not in extra:
            cmd += ["--scorefarm", args.scorefarm]
        proc = run(cmd, check_rc=False)
        check(proc.returncode == 2, f"{extra}: exit code {proc.returncode}, expected 2")
        check(message in proc.stderr, f"{extra}: message lacks {message!r}: {proc.stderr!r}")
    check(list(runs.iterdir()) == [], f"a refused command wrote into {runs}")

    # A run folder holding another study is refused and left untouched.
    other = runs / "other"
    other.mkdir()
    (other / "study.yaml").write_text("# another study\n")
    proc = run([SUBMIT, STUDY, "--run-dir", other, "--no-estimate", "--scorefarm", args.scorefarm],
               check_rc=False)
    check(proc.returncode == 2 and "differs" in proc.stderr, "a foreign run folder was not refused")
    check(sorted(p.name for p in other.iterdir()) == ["study.yaml"] and
          (other / "study.yaml").read_text() == "# another study\n", "the foreign run folder was touched")


def test_local(args):
    reference = reference_file(args.work)
    runs = fresh(args.work, "local")
    cmd = [LOCAL, STUDY, "--ranks", "2", "--runs-dir", runs, "--scorefarm", args.scorefarm, "--no-estimate"]
    log("$ " + " ".join(map(str, cmd)))
    with open(runs / "first.out", "w") as out:
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while not list(runs.glob("*/job.log")) and time.time() < deadline:
            time.sleep(0.1)
        run_dir = only_run_dir(runs)
        line = wait_for_progress(run_dir / "job.log", lambda: proc.poll() is None, 120)
        log(f"progress seen ({line.strip()}); SIGINT to jobs/local")
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        print((runs / "first.out").read_text(errors="replace"))
    check(rc == 75, f"jobs/local after SIGINT exited with {rc}, expected 75 (incomplete, resumable)")
    names = sorted(p.name for p in run_dir.iterdir())
    for expected in ["job.log", "job.sh", "run.json", "study.h5", "study.yaml"]:
        check(expected in names, f"run folder {run_dir} lacks {expected} (has {names})")
    check((run_dir / "study.yaml").read_bytes() == STUDY.read_bytes(), "the config copy differs")
    first = read_study(run_dir / "study.h5")
    check(first["runs"] and first["runs"][0].get("outcome") == "incomplete",
          f"first piece: /runs/0 is {first['runs']}, expected outcome incomplete")

    run([run_dir / "job.sh"], timeout=240)  # resume
    study = assert_same_records(run_dir / "study.h5", reference)
    assert_complete(study, run_dir / "study.h5")
    check(len(study["runs"]) == 2, f"expected 2 runs (stopped + resumed), found {study['runs']}")
    check(study["attrs"].get("config_text") == STUDY.read_text(), "config_text is not the study file")
    text = (run_dir / "job.log").read_text()
    check(text.count("[local]") >= 4, "job.log does not hold both runs")

    run([run_dir / "job.sh"], timeout=120)  # a complete study: nothing to do, still exit 0
    again = read_study(run_dir / "study.h5")
    check(again["records"] == study["records"], "rerunning a complete study changed its records")


def test_submit(args):
    cluster_ready()
    reference = reference_file(args.work)
    runs = fresh(args.work, "submit")
    (job_id,) = submit(args, STUDY, "--ranks", "4", "--time", "00:10:00", "--runs-dir", runs)
    infos = wait_jobs([job_id], 240)
    info = infos[job_id]
    check(info.get("JobState") == "COMPLETED" and info.get("ExitCode") == "0:0",
          f"job {job_id}: {info.get('JobState')} exit {info.get('ExitCode')}")
    check(info.get("NumTasks") == "4", f"job {job_id} had NumTasks={info.get('NumTasks')}, expected 4")
    run_dir = only_run_dir(runs)
    names = sorted(p.name for p in run_dir.iterdir())
    for expected in ["job.log", "job.sbatch", "run.json", "study.h5", "study.yaml", "submissions.log"]:
        check(expected in names, f"run folder {run_dir} lacks {expected} (has {names})")
    study = assert_same_records(run_dir / "study.h5", reference)
    assert_complete(study, run_dir / "study.h5")
    check(len(study["runs"]) == 1 and study["runs"][0].get("ranks") == 4,
          f"/runs should show one run on 4 ranks: {study['runs']}")
    text = (run_dir / "job.log").read_text()
    check("srun --mpi=pmix" in text and "study complete" in text, "job.log lacks the srun line or the end")

    # Human output: the job id and how to follow it.
    runs2 = fresh(args.work, "submit_human")
    proc = run([SUBMIT, TINY, "--ranks", "2", "--time", "5", "--runs-dir", runs2, "--scorefarm",
                args.scorefarm])
    match = re.search(r"^submitted job (\d+)", proc.stdout, re.M)
    check(match, "jobs/submit did not print 'submitted job <id>'")
    check("tail -f " in proc.stdout and f"squeue -j {match[1]}" in proc.stdout,
          "jobs/submit did not print how to follow the job")
    check("about" in proc.stderr, "jobs/submit printed no estimate from scorefarm plan")
    wait_jobs([match[1]], 120)
    tiny = read_study(only_run_dir(runs2) / "tiny.h5")
    assert_complete(tiny, "tiny.h5")


def test_requeue(args):
    cluster_ready()
    reference = reference_file(args.work)
    runs = fresh(args.work, "requeue")
    (job_id,) = submit(args, STUDY, "--ranks", "2", "--time", "00:10:00", "--runs-dir", runs,
                       "--no-estimate")
    run_dir = only_run_dir(runs)
    # A job that must wait for the whole study, not just its first piece.
    dependent_runs = fresh(args.work, "requeue_dependent")
    (dependent,) = submit(args, TINY, "--ranks", "1", "--time", "5", "--runs-dir", dependent_runs,
                          "--dependency", f"afterok:{job_id}", "--no-estimate")

    def running():
        state = job_info(job_id).get("JobState")
        return state in ("RUNNING", "PENDING", "CONFIGURING")

    line = wait_for_progress(run_dir / "job.log", running, 120)
    log(f"progress seen ({line.strip()}); SIGUSR1 to the batch shell of job {job_id}")
    run(["scancel", "--batch", "--signal=USR1", job_id])
    seen = {}
    infos = wait_jobs([job_id, dependent], 240, seen)
    info = infos[job_id]
    check(info.get("JobState") == "COMPLETED" and info.get("ExitCode") == "0:0",
          f"job {job_id}: {info.get('JobState')} exit {info.get('ExitCode')}")
    check(int(info.get("Restarts", "0")) >= 1, f"job {job_id} was not requeued (Restarts={info.get('Restarts')})")
    text = (run_dir / "job.log").read_text()
    for expected in ["got SIGUSR1", "scorefarm exited with 75", "requeueing job", "start 1 ",
                     "study complete"]:
        check(expected in text, f"job.log lacks {expected!r}")
    study = assert_same_records(run_dir / "study.h5", reference)
    assert_complete(study, run_dir / "study.h5")
    runs_attrs = study["runs"]
    check(len(runs_attrs) >= 2 and runs_attrs[0].get("outcome") == "incomplete",
          f"/runs should show an incomplete first piece: {runs_attrs}")
    total = sum(int(r.get("trials_completed", 0)) for r in runs_attrs)
    first = int(runs_attrs[0].get("trials_completed", 0))
    check(0 < first, f"the first piece completed no trial: {runs_attrs}")
    expected_total = int(study["attrs"]["n_cells"]) * int(study["attrs"]["n_trials"])
    check(total == expected_total, f"pieces completed {total} trials in all, the study has {expected_total}")

    dep = infos[dependent]
    check(dep.get("JobState") == "COMPLETED", f"dependent job {dependent}: {dep.get('JobState')}")
    check(dep.get("StartTime", "") >= info.get("EndTime", "~"),
          f"dependent job started {dep.get('StartTime')} before the requeued job's last piece ended "
          f"({info.get('EndTime')})")


def test_array(args):
    cluster_ready()
    reference = reference_file(args.work)
    runs = fresh(args.work, "array")
    (array_id,) = submit(args, STUDY, TINY, "--array", "--throttle", "2", "--ranks", "2", "--time", "10",
                         "--runs-dir", runs, "--no-estimate")
    # Waits for the whole array.
    (after_array,) = submit(args, TINY, "--ranks", "1", "--time", "5", "--runs-dir", runs,
                            "--name", "after_array", "--dependency", array_id, "--no-estimate")
    chain = submit(args, TINY, TINY, "--chain", "--ranks", "1", "--time", "5", "--runs-dir", runs,
                   "--no-estimate")
    check(len(chain) == 2, f"--chain of two studies printed {chain}")
    infos = wait_jobs([array_id, after_array, *chain], 280)

    tasks = infos[array_id].get("array", [infos[array_id]])
    check(len(tasks) == 2, f"array {array_id} has {len(tasks)} tasks, expected 2")
    for task in tasks:
        check(task.get("JobState") == "COMPLETED" and task.get("ExitCode") == "0:0",
              f"array task {task.get('JobId')}_{task.get('ArrayTaskId')}: {task.get('JobState')}")
    array_dir = next(d for d in runs.iterdir() if d.name.startswith("array-"))
    study = assert_same_records(array_dir / "0" / "study.h5", reference)
    assert_complete(study, array_dir / "0" / "study.h5")
    tiny = read_study(array_dir / "1" / "tiny.h5")
    assert_complete(tiny, array_dir / "1" / "tiny.h5")
    check(tiny["attrs"].get("config_text") == TINY.read_text(), "array task 1 did not run tiny.yaml")
    for i in (0, 1):
        check((array_dir / str(i) / "job.log").is_file(), f"array task {i}: no job.log in its folder")

    last_end = max(task.get("EndTime", "") for task in tasks)
    after = infos[after_array]
    check(after.get("JobState") == "COMPLETED", f"job {after_array}: {after.get('JobState')}")
    check(after.get("StartTime", "") >= last_end,
          f"--dependency: job {after_array} started {after.get('StartTime')} before the array ended {last_end}")
    chain_dirs = sorted(d for d in runs.iterdir() if d.name.startswith("tiny-"))
    check(len(chain_dirs) == 2, f"--chain of two studies made folders {[d.name for d in chain_dirs]}")
    for d in chain_dirs:
        assert_complete(read_study(d / "tiny.h5"), d / "tiny.h5")
    first, second = infos[chain[0]], infos[chain[1]]
    check(first.get("JobState") == "COMPLETED" and second.get("JobState") == "COMPLETED",
          f"chain: {first.get('JobState')}, {second.get('JobState')}")
    check(second.get("StartTime", "") >= first.get("EndTime", "~"),
          f"--chain: job {chain[1]} started {second.get('StartTime')} before job {chain[0]} ended "
          f"{first.get('EndTime')}")


TESTS = {"reference": test_reference, "dry_run": test_dry_run, "local": test_local, "submit": test_submit,
         "requeue": test_requeue, "array": test_array}


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("test", choices=sorted(TESTS))
    parser.add_argument("--scorefarm", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args(argv)
    args.work = str(Path(args.work).resolve())
    Path(args.work).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    start = time.time()
    try:
        TESTS[args.test](args)
    except (Failure, subprocess.TimeoutExpired, OSError) as error:
        log(f"FAIL {args.test}: {error}")
        if args.test in ("submit", "requeue", "array", "local"):
            show_failure_context(args.work)
        return 1
    log(f"PASS {args.test} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
