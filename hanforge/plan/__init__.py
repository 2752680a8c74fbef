"""``hanforge plan``: time and cost of a training recipe from measured throughput
(:mod:`~hanforge.plan.estimate`), the measured table (:mod:`~hanforge.plan.throughput`) and
calibration on the user's own hardware (:mod:`~hanforge.plan.calibrate`)."""

from hanforge.plan.estimate import Plan, estimate, format_plan
from hanforge.plan.throughput import Measurement, load_table

__all__ = ["Measurement", "Plan", "estimate", "format_plan", "load_table"]
