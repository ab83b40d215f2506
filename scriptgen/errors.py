"""The one exception type for problems a user can fix.

Every check of user input (paths, corpora, hyperparameters, primes,
checkpoints) raises :class:`ScriptgenError` with a single sentence that names
the problem and what to do.  The command line prints that sentence on one line
and exits non-zero; library users can catch it.
"""

import importlib


class ScriptgenError(Exception):
    """Bad input: the message says what is wrong and how to fix it."""


def optional_library(module: str, needed_for: str, install: str):
    """The optional library ``module``, imported; if it is missing, one error line: what needs it, how to install it.

    One home for the optional dependencies (screenplain, defusedxml, pypdf, ipywidgets, ...), so every missing one
    reads the same: "reading Fountain needs the screenplain library, which is not installed here: pip install ...".
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        library = module.split(".")[0]
        raise ScriptgenError(
            f"{needed_for} needs the {library} library, which is not installed here: {install}"
        ) from None
