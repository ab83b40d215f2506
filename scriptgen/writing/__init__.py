"""Writing: a trained model writes new text; decoding and formatting are separate steps.

    from scriptgen.writing import generate, write_script
    ids = generate(model, vocab.encode("jerry:"), length=200, seed=1)          # token ids
    script = write_script(model, vocab, vocab.encode("jerry:"), lines=30, cast=["jerry", "elaine"], seed=1)

``scriptgen generate --checkpoint checkpoints/NAME`` is the command line.  The modules:

- ``draw.py``: one draw (the settings' bounds and checks, temperature, top-k,
  top-p, a seeded generator), shared by every path below;
- ``sampler.py``: :class:`Sampler`, the fast one-step machinery (the hidden
  state carried, fused per-layer steps);
- ``products.py``: the weights of one step as maps built once, and their fp32
  or int8 products;
- ``generate.py``: :func:`generate` (exactly ``length`` new ids) and the plain
  reference it is tested against;
- ``cues.py``, ``line.py`` and ``writer.py``: a script, not a token stream (whole lines, who
  may speak, turns, repetition penalty): :func:`write_script`;
- ``outline.py``: step outlines (headings and beats), :class:`ScenePlan`, the tokens each scene opens with;
- ``scenes.py``: scenes as units, :class:`SceneWriter` (``--scenes``, ``--scene``, ``--outline``: a scene
  ends where the model would write the next heading);
- ``draft.py``: :func:`write_draft`, one draft from a fresh start (lines, or scenes by a plan): what
  ``scriptgen generate`` and the notebook's panel both call;
- ``pages.py``: pages counted by the PDF export's layout, :func:`script_pages`, :class:`PageLimit` (``--pages``);
- ``roles.py``: who plays ROLE1, ROLE2, ... of a model trained with roles (``--cast`` names, or drawn from its
  corpus), and those names written into its text;
- ``interactive.py``: the read-eval loop of ``generate --interactive``;
- ``fountain.py``: a transcript's lines or a screenplay's elements written as Fountain, under a :class:`TitlePage`;
- ``screenplay.py``: the export formats: that Fountain, and HTML/PDF/FDX rendered by screenplain.

Imports :mod:`scriptgen.model`, :mod:`scriptgen.data` and below.
"""

from .draft import write_draft
from .draw import make_generator, sample_next
from .fountain import TitlePage, to_fountain
from .generate import generate, generate_reference
from .pages import PageLimit, script_pages
from .roles import RoleCast, role_cast
from .sampler import Sampler
from .scenes import OutlineScene, ScenePlan, SceneWriter, parse_outline, read_outline
from .screenplay import FORMATS, export
from .writer import ScriptWriter, WriteOptions, write_script

__all__ = [
    "FORMATS",
    "OutlineScene",
    "PageLimit",
    "RoleCast",
    "Sampler",
    "ScenePlan",
    "SceneWriter",
    "ScriptWriter",
    "TitlePage",
    "WriteOptions",
    "export",
    "generate",
    "generate_reference",
    "make_generator",
    "parse_outline",
    "read_outline",
    "role_cast",
    "sample_next",
    "script_pages",
    "to_fountain",
    "write_draft",
    "write_script",
]
