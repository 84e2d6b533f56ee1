"""One exception type for mistakes a user can fix (bad input, bad options).

The command line turns it into one line on stderr and exit code 2; library callers
get an ordinary ``ValueError`` subclass they can catch.
"""


class RegbenchError(ValueError):
    """A user-fixable error: the message says what is wrong and how to fix it."""
