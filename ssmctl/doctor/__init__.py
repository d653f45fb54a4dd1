"""`ssmctl doctor`: is everything in place to start a session? (docs/doctor.md)

`run_doctor(context)` runs the checks of `checks.CHECKS` (concurrently where they do not
depend on each other, each with a timeout) and returns one `CheckResult` per check, in
a fixed order.
"""

from ssmctl.doctor.model import FAIL, OK, SKIP, WARN, CheckResult, DoctorContext
from ssmctl.doctor.runner import run_doctor

__all__ = ["FAIL", "OK", "SKIP", "WARN", "CheckResult", "DoctorContext", "run_doctor"]
