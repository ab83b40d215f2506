"""The one exception type for problems a user can fix.

Every check of user input (paths, corpora, hyperparameters, primes,
checkpoints) raises :class:`ScriptgenError` with a single sentence that names
the problem and what to do.  The command line prints that sentence on one line
and exits non-zero; library users can catch it.
"""


class ScriptgenError(Exception):
    """Bad input: the message says what is wrong and how to fix it."""
