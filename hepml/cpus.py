"""The CPU budget of this job: what Snakemake (a rule's ``threads``), a dask worker or a batch
job's script gave it through ``OMP_NUM_THREADS``, else the cores the process may run on (SLURM and
HTCondor confine a job to its cores by affinity)."""

from __future__ import annotations

import os

__all__ = ["thread_budget", "usable_cores"]


def thread_budget() -> int | None:
    """The job's CPU threads as ``OMP_NUM_THREADS`` gives them (its first level), or None if unset."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def usable_cores() -> int:
    """The threads this job may keep busy: its :func:`thread_budget`, else its cores."""
    budget = thread_budget()
    if budget is not None:
        return budget
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1
