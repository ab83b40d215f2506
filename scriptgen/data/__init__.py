"""Data: text -> prepared token ids -> batches.

    from scriptgen.data import prepare, load_run_data
    prepared = prepare("my_scripts/", level="word")        # cached under data/; rebuilt only when the text changes
    split = prepared.split(val_fraction=0.1, seed=0)        # by document, seeded

``python -m scriptgen prepare --data PATH`` runs the same from the shell.  The
modules, in the order the text flows through them:

- ``corpus.py``: a file or folder of ``.txt`` (and screenplay) files (or the default corpus,
  ``seinfeld.py``) -> documents;
- ``text.py``: one file's text, opened through :mod:`scriptgen.files.safeload`,
  decoded and streamed in blocks cut at a blank;
- ``screenplay/``: screenplays (Fountain, Final Draft, PDF, plain screenplay
  text) read into one element list and written as one canonical training text;
  ``screenplay/formats.py`` says which reader a file gets;
- ``script.py``: what a line of a script is (dialogue with its speaker cue,
  action, text) and the corpus's cast;
- ``roles.py``: a screenplay's characters as role tokens by importance (``ROLE1`` speaks most), and back
  (``--roles``);
- ``tokens.py``: text <-> ids at word or char level (:class:`Vocab`);
- ``labels.py``: genre labels, one special token per label;
- ``conditions.py``: what a labelled stream feeds the model: lead tokens at restarts, label weights per step;
- ``prepare.py``: tokenize once, streaming; ``fixedvocab.py``: with a fixed vocabulary, for
  fine-tuning; ``cache.py``: the cache's files and how they are read back;
  ``spool.py``: the screenplays' text on disk between prepare's two passes;
- ``cutoffs.py``: the adaptive softmax's cluster edges from token counts;
- ``batches.py``: ids -> (input, target) batches (:class:`StreamBatches`, and
  the course's :func:`batch_data`);
- ``rundata.py``: all of the above for one training run (:func:`load_run_data`).

Imports only :mod:`scriptgen.files` and the root modules (config, errors).
"""

from .batches import StreamBatches, batch_data
from .cache import Prepared, Split, split_documents
from .corpus import DEFAULT_SOURCE, load_documents
from .cutoffs import choose_cutoffs
from .fixedvocab import FixedVocab, prepare_with_vocab
from .labels import label_id, label_token
from .prepare import prepare, prepare_for
from .roles import assign_roles, replace_roles, restore_roles
from .rundata import RunData, load_run_data
from .script import Cast, parse_line, parse_script
from .tokens import Vocab, create_lookup_tables, token_lookup

__all__ = [
    "DEFAULT_SOURCE",
    "Cast",
    "FixedVocab",
    "Prepared",
    "RunData",
    "Split",
    "StreamBatches",
    "Vocab",
    "assign_roles",
    "batch_data",
    "choose_cutoffs",
    "create_lookup_tables",
    "label_id",
    "label_token",
    "load_documents",
    "load_run_data",
    "parse_line",
    "parse_script",
    "prepare",
    "prepare_for",
    "prepare_with_vocab",
    "replace_roles",
    "restore_roles",
    "split_documents",
    "token_lookup",
]
