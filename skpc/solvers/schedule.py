"""How the estimator drives a mini-batch solver: the step size of each update, and which
of the schedule and accumulation options mean something for which solver."""

import math

#: The options with their neutral values (a value that changes nothing).
OPTIONS = {"final_step_size": None, "schedule_warmup": 0.0, "batches_per_update": 1, "momentum": 0.0}

#: ``final_step_size=None``: the cosine ends at this fraction of ``step_size``
#: (chosen on validation data, benchmarks/RESULTS_learning.md).
FINAL_FRACTION = 0.1


def step_size_at(step_size, schedule, progress, final_step_size=None, warmup=0.0):
    """Step size after a fraction ``progress`` in [0, 1] of the training budget's updates.

    ``"constant"`` keeps ``step_size``. ``"cosine"`` holds ``step_size`` while
    ``progress <= warmup``, then decays it along a half cosine to ``final_step_size``
    (None: ``FINAL_FRACTION * step_size``) at ``progress = 1``::

        a(p) = low + (step_size - low) * (1 + cos(pi * (p - warmup) / (1 - warmup))) / 2

    The anemone authors' schedule (0.4 held for 1,000 of 20,000 updates, cosine to 0.1)
    is ``step_size=0.4, final_step_size=0.1, warmup=0.05``.
    """
    if schedule == "constant":
        return step_size
    low = FINAL_FRACTION * step_size if final_step_size is None else final_step_size
    progress = min(max(progress, 0.0), 1.0)
    if progress <= warmup:
        return step_size
    phase = (progress - warmup) / (1.0 - warmup)
    return low + 0.5 * (step_size - low) * (1.0 + math.cos(math.pi * phase))


def check_options(solver, schedule, step_size, **values):
    """Raise ValueError for an option (of ``OPTIONS``) set where it means nothing.

    ``solver`` is a solver class; ``values`` maps option names to the estimator's values.
    """
    for name, value in values.items():
        neutral = OPTIONS[name]
        if value is neutral or value == neutral:
            continue
        if name not in solver.options:
            reason = ("it makes one exact M-step per pass over the data" if solver.full_batch
                      else "Adam keeps its own moving averages of the gradient")
            raise ValueError(f"{name}={value!r} means nothing for solver={solver.name!r} ({reason}); "
                             f"leave it at {neutral!r}.")
        if name in ("final_step_size", "schedule_warmup") and schedule != "cosine":
            raise ValueError(f"{name}={value!r} shapes schedule='cosine' only, got schedule={schedule!r}.")
    final = values.get("final_step_size")
    if final is not None and final > step_size:
        raise ValueError(f"final_step_size={final!r} is above step_size={step_size!r}: the cosine "
                         f"schedule decays (solver={solver.name!r}).")
