"""The base of every error lmvsmt raises for the user to act on.

Its message is one line that names the file, line or config key and the problem.
A rule script run under `lmvsmt.io.rule_log` ends with that line (in its log and as
the job's exit message) instead of a traceback; anything else keeps its traceback.
Stage errors also derive from the builtin they replace (ValueError for bad input,
RuntimeError for a failed step), so callers catching those keep working.
"""


class LmvsmtError(Exception):
    """A problem the user can fix, described in one line."""
