"""Render one page of a PDF to a PNG, for pictures in the docs (a docs tool, not a scriptgen dependency).

It uses pypdfium2 (PDFium's Python bindings) and Pillow; install it beside
scriptgen with ``pip install pypdfium2`` (Pillow comes with matplotlib)::

    scriptgen generate --checkpoint checkpoints/seinfeld --lines 30 --format pdf --out scene.pdf
    python bench/pdf_page_png.py scene.pdf bench/scene.png --page 2 --dpi 110

``--page`` counts from 1 (page 1 of a scriptgen PDF is its title page).
Errors are one line, ``pdf_page_png: error: ...``; the PNG is written atomically.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # scriptgen from this checkout when not installed

from scriptgen.errors import ScriptgenError  # noqa: E402
from scriptgen.files.fsutil import write_bytes  # noqa: E402


def render_page(pdf: Path, page: int = 1, dpi: float = 110) -> bytes:
    """The PNG bytes of page ``page`` (from 1) of ``pdf`` at ``dpi`` dots per inch, on white."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ScriptgenError("rendering a PDF page needs pypdfium2: pip install pypdfium2") from None
    try:
        document = pdfium.PdfDocument(str(pdf))
    except (OSError, pdfium.PdfiumError) as exc:
        raise ScriptgenError(f"cannot read {str(pdf)!r} as a PDF ({exc}); give the path of a PDF file") from None
    try:
        if not 1 <= page <= len(document):
            raise ScriptgenError(
                f"{str(pdf)!r} has {len(document)} page(s), so there is no page {page}; choose --page 1 to "
                f"{len(document)}"
            )
        image = document[page - 1].render(scale=dpi / 72, fill_color=(255, 255, 255, 255)).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        document.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pdf_page_png", description=__doc__.split("\n")[0])
    parser.add_argument("pdf", type=Path, help="the PDF to read")
    parser.add_argument("png", type=Path, help="the PNG to write")
    parser.add_argument("--page", type=int, default=1, help="page number, from 1 (default 1)")
    parser.add_argument(
        "--dpi",
        type=float,
        default=110,
        help="resolution in dots per inch (default 110: a letter page is 935 x 1210 pixels)",
    )
    args = parser.parse_args(argv)
    try:
        if args.dpi <= 0 or args.dpi > 600:
            raise ScriptgenError(f"--dpi {args.dpi} is out of range; choose a resolution above 0 and at most 600")
        write_bytes(args.png, render_page(args.pdf, args.page, args.dpi), advice="choose another PNG path")
    except ScriptgenError as exc:
        print(f"pdf_page_png: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
