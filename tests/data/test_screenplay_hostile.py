"""Hostile screenplay files: each is one clear line (a ScriptgenError) or a bounded, correct result -- never a hang."""

import io
import time

import pytest

from scriptgen.data.corpus import read_screenplay_file
from scriptgen.data.screenplay.formats import MAX_LINE
from scriptgen.errors import ScriptgenError


def _read(tmp_path, name, data: bytes, fmt):
    path = tmp_path / name
    path.write_bytes(data)
    return read_screenplay_file(path, fmt)


def test_fdx_with_entity_expansion_is_refused(tmp_path):
    laughs = (
        b'<?xml version="1.0"?>\n<!DOCTYPE FinalDraft [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n'
        b'<FinalDraft><Content><Paragraph Type="Action"><Text>&c;</Text></Paragraph></Content></FinalDraft>'
    )
    with pytest.raises(ScriptgenError, match="refused"):
        _read(tmp_path, "laughs.fdx", laughs, "fdx")


def test_fdx_with_an_external_entity_is_refused(tmp_path):
    external = (
        b'<?xml version="1.0"?>\n<!DOCTYPE FinalDraft [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<FinalDraft><Content><Paragraph Type="Action"><Text>&x;</Text></Paragraph></Content></FinalDraft>'
    )
    with pytest.raises(ScriptgenError, match="refused"):
        _read(tmp_path, "external.fdx", external, "fdx")


@pytest.mark.parametrize("name, fmt", [("junk.fdx", "fdx"), ("junk.pdf", "pdf")])
def test_binary_junk_is_one_line(tmp_path, name, fmt):
    junk = bytes(range(256)) * 40
    with pytest.raises(ScriptgenError) as err:
        _read(tmp_path, name, junk, fmt)
    assert "\n" not in str(err.value) and name in str(err.value)


def _pdf_with_stream(content: bytes, pages: int = 1) -> bytes:
    """A PDF written by hand: ``pages`` pages sharing one content stream ``content`` (already Flate-compressed)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages)).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(pages).encode() + b" >>")
    objects.append(
        b"<< /Length " + str(len(content)).encode() + b" /Filter /FlateDecode >>\nstream\n" + content + b"\nendstream"
    )
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"] * pages
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets))
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


@pytest.mark.slow
def test_a_pdf_of_100000_pages_is_refused(tmp_path):
    import zlib

    data = _pdf_with_stream(zlib.compress(b"BT ET"), pages=100_000)
    start = time.monotonic()
    with pytest.raises(ScriptgenError, match="100,000 pages"):
        _read(tmp_path, "long.pdf", data, "pdf")
    assert time.monotonic() - start < 60


@pytest.mark.slow
def test_a_pdf_that_decompresses_to_gigabytes_is_bounded(tmp_path):
    import zlib

    squeezer = zlib.compressobj(9)
    bomb = b"".join(squeezer.compress(b"\0" * (1 << 20)) for _ in range(2048)) + squeezer.flush()  # 2 GiB of zeros
    data = _pdf_with_stream(bomb)
    assert len(data) < 4 << 20  # small on disk
    start = time.monotonic()
    with pytest.raises(ScriptgenError) as err:
        _read(tmp_path, "bomb.pdf", data, "pdf")
    assert "\n" not in str(err.value) and "bomb.pdf" in str(err.value) and time.monotonic() - start < 60


def test_a_fountain_file_with_a_50_mb_line_is_one_line(tmp_path):
    data = b"Title: Long\n\nINT. ROOM - DAY\n\n" + b"a" * (50 << 20) + b"\n"
    with pytest.raises(ScriptgenError, match=f"more than {MAX_LINE:,}"):
        _read(tmp_path, "long.fountain", data, "fountain")


def test_text_with_no_structure_is_action_and_reported_unrecognised(tmp_path):
    play = _read(
        tmp_path, "prose.txt", b"It was a dark night.\nNothing happened.\n\nThe end came slowly.\n", "screenplay"
    )
    assert {e.kind for e in play.elements} == {"action"}
