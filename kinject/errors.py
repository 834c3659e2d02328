"""The one exception for problems a user can fix (bad recipe, bad seed file, unknown revision).

The CLI turns it into a message on stderr and exit code 2; bugs raise plain exceptions and keep their traceback.
"""


class KinjectUserError(Exception):
    """A problem the user can fix; the message names the file or ``repo@revision`` and the field."""


class RunInterrupted(Exception):
    """Ctrl-C during a run: what finished is kept for the rerun; the CLI prints the message and exits 130."""
