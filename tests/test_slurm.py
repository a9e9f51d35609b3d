"""The demo workflow on a real one-node SLURM cluster started by the test (marked slow; CI runs it).

It installs Debian's slurmctld/slurmd/munge when missing, starts munged, slurmctld and slurmd as
plain daemons with their own pid files, runs the workflow through snakemake's SLURM executor,
kills one training job with scancel while it runs, checks that the retry completes the workflow
with the same outputs and no partial files, and stops exactly the daemons it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import uproot
import yaml

from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
SMALL = {"layers": 2, "units": 32, "epochs": 3, "batch_size": 256, "patience": 2}

SLURM_CONF = """\
ClusterName=hepml
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=600
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName={host} CPUs=2 RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def _install() -> str | None:
    """Install the SLURM daemons if missing; a reason to skip when that is impossible."""
    if all(shutil.which(p) for p in ("slurmctld", "slurmd", "sinfo", "munged")):
        return None
    if os.environ.get("HEPML_TEST_INSTALL_SLURM") != "1":  # a plain pytest never installs system packages
        return ("SLURM is not installed; set HEPML_TEST_INSTALL_SLURM=1 to let this test apt-get it (.ci/run does), "
                "or install slurmctld slurmd slurm-client munge")
    if shutil.which("apt-get") is None:
        return "apt-get is unavailable, so SLURM cannot be installed"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    if _run(install, env=env).returncode != 0:
        _run(["apt-get", "update"], env=env)
        done = _run(install, env=env)
        if done.returncode != 0:
            return f"apt-get could not install SLURM: {done.stderr.strip().splitlines()[-1:]}"
    return None


def _stop(pid_file: Path) -> None:
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() != 0:
        pytest.skip("needs root to install and start the SLURM daemons")
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="snakemake-executor-plugin-slurm is not installed")
    reason = _install()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    host = socket.gethostname().split(".")[0]
    # job steps (srun inside sbatch) look for the default path, so the config goes there; a config
    # already present is put back afterwards
    conf = Path("/etc/slurm/slurm.conf")
    conf.parent.mkdir(parents=True, exist_ok=True)
    backup = conf.read_text() if conf.exists() else None
    conf.write_text(SLURM_CONF.format(host=host, dir=folder))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    started: list[Path] = []
    try:
        if _run(["munge", "-n"]).returncode != 0:  # start munged unless one already answers
            key = Path("/etc/munge/munge.key")
            if not key.exists():
                _run(["mungekey", "--create", "--keyfile", str(key)], check=True)
                shutil.chown(key, "munge", "munge")
                key.chmod(0o400)
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            munge_pid = Path("/run/munge/hepml-test-munged.pid")
            _run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", f"--pid-file={munge_pid}"], check=True)
            started.append(munge_pid)
        _run(["slurmctld", "-f", str(conf)], env=env, check=True)
        started.append(folder / "slurmctld.pid")
        _run(["slurmd", "-f", str(conf)], env=env, check=True)
        started.append(folder / "slurmd.pid")
        for _ in range(120):
            state = _run(["sinfo", "-h", "-o", "%T"], env=env).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the SLURM node never became idle (state {state!r}); see {folder}/slurmd.log")
        yield env
    finally:
        for pid_file in reversed(started):
            _stop(pid_file)
        if backup is None:
            conf.unlink()
        else:
            conf.write_text(backup)


def _workdir(path: Path, events: int) -> Path:
    shutil.copy(REPO / "Snakefile", path / "Snakefile")
    shutil.copytree(REPO / "workflows", path / "workflows")
    config = yaml.safe_load((path / "workflows/config/default.yaml").read_text())
    config["tasks"] = ["higgs"]
    config["higgs"].update(featuresets=["high", "all"], kfold=2, dnn=SMALL, bdt={"max_iter": 30},
                           xgboost_when_installed=False)
    config["higgs"]["generate"]["events_per_class"] = events
    (path / "small.yaml").write_text(yaml.safe_dump(config))
    return path


def _snakemake(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--configfile", "small.yaml", *args]


def test_workflow_under_slurm_survives_a_killed_job(slurm: dict[str, str], tmp_path: Path) -> None:
    work = _workdir(tmp_path / "slurm", 3000) if (tmp_path / "slurm").mkdir() is None else None
    env = {**slurm, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = _snakemake("--workflow-profile", "workflows/profiles/slurm", "--slurm-status-command", "squeue",
                     "--slurm-keep-successful-logs", "--slurm-init-seconds-before-status-checks", "1",
                     "--jobs", "4", "--latency-wait", "10",
                     "--set-resources", "higgs_train_fold:gpu=0", "higgs_train_fold:request_gpus=0")
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    deadline = time.time() + 600
    while proc.poll() is None and killed is None and time.time() < deadline:
        queue = _run(["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"], env=slurm).stdout.split("\n")
        for line in queue:
            if "higgs_train_fold" in line and "bdt" in line:
                job_id, comment = line.split(maxsplit=1)
                time.sleep(1.0)  # let it start working, then kill it mid-way
                _run(["scancel", job_id], env=slurm, check=True)
                killed = (job_id, comment)
                break
        time.sleep(0.2)
    output, _ = proc.communicate(timeout=max(1, deadline - time.time()))
    assert proc.returncode == 0, output[-4000:]
    assert killed is not None, "no bdt training job was seen running to kill"

    # the outputs exist and come from SLURM jobs
    metrics = json.loads((work / "results/higgs/metrics.json").read_text())
    assert 0.6 < metrics["auc"]["dnn"]["all"] < 1 and 0.6 < metrics["auc"]["bdt"]["all"] < 1
    for process in ("signal", "background"):
        assert uproot.open(work / f"results/higgs/scores/{process}/{process}.root")["scores"].num_entries == 3000
    assert "SLURM" in output and "jobid" in output.lower()
    job_logs = list((work / ".snakemake/slurm_logs").rglob("*.log"))
    assert len(job_logs) >= 10
    assert not [log for log in job_logs if "CONDOR_CONFIG" in log.read_text()], "HTCondor's warning in a SLURM job log"
    assert not list((work / "results").rglob(".*tmp-*")), "a partial file was left behind"

    # the killed job was retried, and its output is what the same job gives when nothing kills it
    assert "Trying to restart" in output or "retry" in output.lower(), output[-3000:]
    featureset, fold = killed[1].split("bdt_")[1].split("_")[:2]
    fold_dir = work / f"results/higgs/folds/bdt_{featureset}/fold{fold}"
    redo = tmp_path / "redo"
    _run([sys.executable, "-m", "hepml.cli", "train-fold", "results/higgs/features/signal.root",
          "results/higgs/features/background.root", "--spec", "workflows/config/higgs_features.yaml",
          "--group", featureset, "--model", "bdt", "--k", "2", "--fold", fold, "--seed", "42",
          "--model-config", '{"max_iter": 30}', "--out", str(redo)], cwd=work, check=True)
    with np.load(fold_dir / "scores.npz") as a, np.load(redo / "scores.npz") as b:
        np.testing.assert_array_equal(a["raw"], b["raw"])
        np.testing.assert_array_equal(a["event"], b["event"])


def test_htcondor_profile_plans_jobs_with_resources(tmp_path: Path) -> None:
    pytest.importorskip("snakemake_executor_plugin_htcondor",
                        reason="snakemake-executor-plugin-htcondor is not installed")
    work = _workdir(tmp_path, 1000)
    out = _run(_snakemake("-n", "--workflow-profile", "workflows/profiles/htcondor"), cwd=work)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    dnn = text[text.index("wildcards: model=dnn, featureset=all, fold=0") :]
    assert "request_gpus=1" in dnn.splitlines()[1] and "mem_mb=6000" in dnn.splitlines()[1]
    bdt = text[text.index("wildcards: model=bdt, featureset=all, fold=0") :]
    assert "request_gpus=0" in bdt.splitlines()[1]
