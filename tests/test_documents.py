"""Document carriers (Markdown, HTML, DOCX/XLSX/PPTX, PDF) against their ecosystems' readers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx
import pypdf
import pytest
import yaml

import aimark
from aimark import AIGCLabel, ContentOptions, CorruptFile, LimitExceeded, UnsupportedFormat
from aimark.cli import main
from aimark.text import watermark

from .conftest import PRODUCER, ExifTool
from .corpus import english_text

EXPECTED = AIGCLabel(PRODUCER, "doc-0001")


def inner(label: AIGCLabel = EXPECTED) -> dict[str, str]:
    return json.loads(label.to_inner_json())


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise RuntimeError(f"{name} is required by the tests (see the README test command)")
    return exe


# -- documents made by the ecosystems' own writers -----------------------------------------------
def make_docx(path: Path, text: str = "First paragraph of the document.") -> Path:
    d = docx.Document()
    d.add_heading("A heading", 1)
    d.add_paragraph(text)
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "cell a", "cell b"
    d.core_properties.author = "tests"
    d.save(str(path))
    return path


def make_xlsx(path: Path, aigc: str | None = None) -> Path:
    from openpyxl.packaging.custom import StringProperty

    wb = openpyxl.Workbook()
    wb.active["A1"] = "value"
    wb.custom_doc_props.append(StringProperty(name="Department", value="QA"))
    if aigc is not None:
        wb.custom_doc_props.append(StringProperty(name="AIGC", value=aigc))
    wb.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    p = pptx.Presentation()
    s = p.slides.add_slide(p.slide_layouts[1])
    s.shapes.title.text = "Slide title"
    s.placeholders[1].text = "Slide body text"
    p.save(str(path))
    return path


def make_pdf(path: Path) -> Path:
    w = pypdf.PdfWriter()
    w.add_blank_page(300, 300)
    w.add_blank_page(300, 300)
    w.add_metadata({"/Title": "A (title)", "/Author": "tests"})
    w.write(str(path))
    return path


def zip_members(path: Path) -> dict[str, tuple[int, int, int]]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: (i.CRC, i.compress_size, i.file_size) for i in z.infolist()}


def custom_xml(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("docProps/custom.xml")


# -- OOXML ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_ooxml_label_seen_by_the_libraries_other_parts_identical(kind: str, tmp_path: Path) -> None:
    src = {"docx": make_docx, "xlsx": make_xlsx, "pptx": make_pptx}[kind](tmp_path / f"in.{kind}")
    before = src.read_bytes()
    out = tmp_path / f"out.{kind}"
    aimark.label_file(src, out, EXPECTED)
    assert src.read_bytes() == before
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
    old, new = zip_members(src), zip_members(out)
    changed = {n for n in old if old[n] != new.get(n)}
    assert changed <= {"[Content_Types].xml", "_rels/.rels", "docProps/custom.xml"}
    assert set(new) - set(old) <= {"docProps/custom.xml"}
    if kind == "docx":
        d = docx.Document(str(out))
        assert [p.text for p in d.paragraphs] == [p.text for p in docx.Document(str(src)).paragraphs]
        part = next(p for p in d.part.package.iter_parts() if str(p.partname) == "/docProps/custom.xml")
        assert b'name="AIGC"' in part.blob
    elif kind == "xlsx":
        wb = openpyxl.load_workbook(out)
        assert json.loads(wb.custom_doc_props["AIGC"].value) == inner()
        assert wb.custom_doc_props["Department"].value == "QA" and wb.active["A1"].value == "value"
    else:
        p = pptx.Presentation(str(out))
        assert p.slides[0].shapes.title.text == "Slide title"
        part = next(q for q in p.part.package.iter_parts() if str(q.partname) == "/docProps/custom.xml")
        assert b'name="AIGC"' in part.blob
    report = aimark.verify(out)
    assert report.verdict == "compliant" and report.format == kind and report.labels[0].aigc == inner()
    again = tmp_path / f"again.{kind}"
    aimark.label_file(out, again, AIGCLabel(PRODUCER, "doc-0002"))
    assert custom_xml(again).count(b'name="AIGC"') == 1
    assert aimark.verify(again).labels[0].aigc["ProduceID"] == "doc-0002"


def test_libreoffice_converts_labeled_documents(tmp_path: Path) -> None:
    outs = []
    for kind, make in (("docx", make_docx), ("xlsx", make_xlsx), ("pptx", make_pptx)):
        dst = tmp_path / f"labeled.{kind}"
        aimark.label_file(make(tmp_path / f"in.{kind}"), dst, EXPECTED, content=None)
        outs.append(dst)
    pdfdir = tmp_path / "pdf"
    r = subprocess.run(
        [tool("soffice"), "--headless", "--convert-to", "pdf", "--outdir", str(pdfdir), *map(str, outs)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    for o in outs:
        pdf = pdfdir / (o.stem + ".pdf")
        assert pdf.read_bytes().startswith(b"%PDF-") and len(pypdf.PdfReader(pdf).pages) >= 1, r.stdout


def test_reads_labels_written_by_openpyxl_and_libreoffice(tmp_path: Path) -> None:
    x = make_xlsx(tmp_path / "foreign.xlsx", aigc=EXPECTED.to_inner_json())
    assert aimark.verify(x).labels[0].aigc == inner()
    fodt = tmp_path / "foreign.fodt"
    value = EXPECTED.to_inner_json().replace("&", "&amp;").replace('"', "&quot;")
    fodt.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3" '
        'office:mimetype="application/vnd.oasis.opendocument.text">'
        f'<office:meta><meta:user-defined meta:name="AIGC">{value}</meta:user-defined></office:meta>'
        "<office:body><office:text><text:p>Written by LibreOffice.</text:p></office:text></office:body></office:document>",
        encoding="utf-8",
    )
    r = subprocess.run(
        [tool("soffice"), "--headless", "--convert-to", "docx", "--outdir", str(tmp_path), str(fodt)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    report = aimark.verify(tmp_path / "foreign.docx")
    assert report.verdict == "compliant" and report.labels[0].aigc == inner()


def test_docx_explicit_label_and_watermark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_docx(tmp_path / "in.docx", english_text()[:1500].replace("\n", " "))
    out = tmp_path / "out.docx"
    args = ["label", str(src), "-o", str(out), "--producer", PRODUCER, "--produce-id", "doc-0001"]
    code = main([*args, "--explicit", "--at", "start,end", "--watermark"])
    assert code == 0
    paras = [p.text for p in docx.Document(str(out)).paragraphs]
    assert paras[0] == paras[-1] == "本内容由人工智能生成"
    report = aimark.verify(out)
    assert report.verdict == "compliant" and report.explicit is not None and report.explicit.positions == ["start", "end"]
    assert report.watermark is not None and report.watermark.found and report.watermark.matches_label is True
    capsys.readouterr()
    assert main(["verify", "--json", str(out)]) == 0
    shape = json.loads(capsys.readouterr().out)
    assert shape["watermark"]["found"] and shape["explicit"]["found"] and shape["format"] == "docx"


def test_watermark_survives_html_docx_and_libreoffice_round_trips(tmp_path: Path) -> None:
    payload = bytes.fromhex("00112233445566ff")
    marked = watermark.embed(english_text()[:3000], payload)
    page = tmp_path / "page.html"
    paras = "".join(f"<p>{p}</p>\n" for p in marked.split("\n\n"))
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{paras}</body></html>", "utf-8")
    assert aimark.verify(page).watermark.payload == payload.hex()  # type: ignore[union-attr]
    d = docx.Document()
    for p in marked.split("\n\n"):
        d.add_paragraph(p)
    d.save(str(tmp_path / "wm.docx"))
    back = "\n".join(p.text for p in docx.Document(str(tmp_path / "wm.docx")).paragraphs)
    assert watermark.detect(back).payload == payload.hex()
    assert aimark.verify(tmp_path / "wm.docx").watermark.payload == payload.hex()  # type: ignore[union-attr]
    r = subprocess.run(
        [
            tool("soffice"),
            "--headless",
            "--convert-to",
            "txt:Text",
            "--outdir",
            str(tmp_path / "lo"),
            str(page),
            str(tmp_path / "wm.docx"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    for name in ("page.txt", "wm.txt"):
        assert watermark.detect((tmp_path / "lo" / name).read_text("utf-8-sig")).payload == payload.hex()


# -- PDF -----------------------------------------------------------------------------------------
def test_pdf_incremental_update_read_by_pypdf_and_exiftool(tmp_path: Path, exiftool: ExifTool) -> None:
    src = make_pdf(tmp_path / "in.pdf")
    out = tmp_path / "out.pdf"
    aimark.label_file(src, out, EXPECTED)
    original = src.read_bytes()
    assert out.read_bytes().startswith(original)  # every original byte (and any signature's ByteRange) intact
    reader = pypdf.PdfReader(out)
    assert json.loads(reader.metadata["/AIGC"]) == inner() and reader.metadata["/Title"] == "A (title)"
    assert len(reader.pages) == 2
    assert json.loads(exiftool.run("-b", "-PDF:AIGC", str(out))) == inner()
    assert "OK" in exiftool.run("-validate", "-warning", str(out))
    again = tmp_path / "again.pdf"
    aimark.label_file(out, again, AIGCLabel(PRODUCER, "doc-0002"))
    assert json.loads(pypdf.PdfReader(again).metadata["/AIGC"])["ProduceID"] == "doc-0002"
    report = aimark.verify(again)
    assert report.verdict == "compliant" and len(report.labels) == 1


def test_pdf_with_xref_and_object_streams(tmp_path: Path) -> None:
    src = make_pdf(tmp_path / "plain.pdf")
    packed = tmp_path / "packed.pdf"
    subprocess.run([tool("qpdf"), "--object-streams=generate", str(src), str(packed)], check=True)
    assert b"/XRef" in packed.read_bytes()
    out = tmp_path / "out.pdf"
    aimark.label_file(packed, out, EXPECTED)
    assert subprocess.run([tool("qpdf"), "--check", str(out)], capture_output=True).returncode == 0
    assert json.loads(pypdf.PdfReader(out).metadata["/AIGC"]) == inner()
    assert aimark.verify(out).verdict == "compliant"


def test_reads_pdf_labels_written_by_pypdf_and_exiftool(tmp_path: Path, exiftool: ExifTool) -> None:
    w = pypdf.PdfWriter(clone_from=str(make_pdf(tmp_path / "a.pdf")))
    w.add_metadata({"/AIGC": EXPECTED.to_inner_json()})
    w.write(str(tmp_path / "pypdf.pdf"))
    assert aimark.verify(tmp_path / "pypdf.pdf").labels[0].aigc == inner()
    exiftool.run(f"-PDF:AIGC={EXPECTED.to_inner_json()}", "-o", str(tmp_path / "et.pdf"), str(tmp_path / "a.pdf"))
    report = aimark.verify(tmp_path / "et.pdf")
    assert report.verdict == "compliant" and report.labels[0].aigc == inner()


def test_encrypted_pdf_is_refused_for_writing_and_reported(tmp_path: Path) -> None:
    w = pypdf.PdfWriter(clone_from=str(make_pdf(tmp_path / "a.pdf")))
    w.encrypt("secret", algorithm="RC4-128")  # pypdf does RC4 without extra packages
    w.write(str(tmp_path / "enc.pdf"))
    before = (tmp_path / "enc.pdf").read_bytes()
    with pytest.raises(UnsupportedFormat, match="encrypted"):
        aimark.label_file(tmp_path / "enc.pdf", tmp_path / "out.pdf", EXPECTED)
    assert not (tmp_path / "out.pdf").exists() and (tmp_path / "enc.pdf").read_bytes() == before
    report = aimark.verify(tmp_path / "enc.pdf")
    assert report.verdict == "inconclusive" and any(f.code == "encrypted_pdf" for f in report.findings)


# -- Markdown and HTML ---------------------------------------------------------------------------
FRONT = '---\n# a comment on top\ntitle: "Notes"\ndate: 2026-11-22\ntags:\n  - a\n  - b\n---\n# Body\n\nText.\n'


def test_markdown_front_matter_read_by_yaml_and_kept(tmp_path: Path) -> None:
    src = tmp_path / "notes.md"
    src.write_text(FRONT, "utf-8")
    out = tmp_path / "out.md"
    aimark.label_file(src, out, EXPECTED)
    text = out.read_text("utf-8")
    fm = yaml.safe_load(text.split("---\n")[1])
    assert fm["AIGC"] == inner() and fm["title"] == "Notes" and fm["tags"] == ["a", "b"]
    assert text.startswith(FRONT.split("---\n# Body")[0]) and text.endswith("---\n# Body\n\nText.\n")
    assert list(fm) == ["title", "date", "tags", "AIGC"]
    again = tmp_path / "again.md"
    aimark.label_file(out, again, AIGCLabel(PRODUCER, "doc-0002"))
    assert again.read_text("utf-8").count("AIGC:") == 1
    bare = tmp_path / "bare.md"
    bare.write_text("# No front matter\n", "utf-8")
    aimark.label_file(bare, tmp_path / "bare-out.md", EXPECTED)
    assert yaml.safe_load((tmp_path / "bare-out.md").read_text("utf-8").split("---\n")[1])["AIGC"] == inner()


@pytest.mark.parametrize("style", ["block", "flow", "json-string", "json-flow"])
def test_markdown_reads_front_matter_written_by_yaml(style: str, tmp_path: Path) -> None:
    value: object = EXPECTED.to_inner_json() if style == "json-string" else inner()
    if style == "json-flow":
        dumped = "AIGC: " + EXPECTED.to_inner_json() + "\n"
    else:
        dumped = yaml.safe_dump({"title": "x", "AIGC": value}, default_flow_style=style == "flow", width=60)
    p = tmp_path / "f.md"
    p.write_text("---\n" + dumped + "---\nbody\n", "utf-8")
    report = aimark.verify(p)
    assert report.verdict == "compliant" and report.labels[0].aigc == inner(), dumped


def test_markdown_numeric_label_is_flagged(tmp_path: Path) -> None:
    p = tmp_path / "n.md"
    p.write_text("---\n" + yaml.safe_dump({"AIGC": {**inner(), "Label": 1}}) + "---\n", "utf-8")
    report = aimark.verify(p)
    assert report.verdict == "noncompliant" and any(f.code == "label_not_string" for f in report.labels[0].findings)


def test_html_meta_written_once_and_read_back(tmp_path: Path) -> None:
    src = tmp_path / "p.html"
    src.write_text(
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>x</title>\n</head>\n<body><p>Hi</p></body></html>\n'
    )
    out = tmp_path / "out.html"
    aimark.label_file(src, out, EXPECTED)
    text = out.read_text("utf-8")
    import html.parser

    metas: list[dict[str, str | None]] = []

    class P(html.parser.HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "meta":
                metas.append(dict(attrs))

    P().feed(text)
    assert [json.loads(m["content"] or "") for m in metas if m.get("name") == "AIGC"] == [inner()]
    assert text.replace(aimark.containers.textdoc.meta_tag(EXPECTED), "") == src.read_text("utf-8")
    foreign = tmp_path / "f.html"
    foreign.write_text(f"<html><head><meta content='{EXPECTED.to_inner_json()}' name='AIGC'></head><body>x</body></html>")
    aimark.label_file(foreign, tmp_path / "f2.html", AIGCLabel(PRODUCER, "doc-0002"))
    report = aimark.verify(tmp_path / "f2.html")
    assert len(report.labels) == 1 and report.labels[0].aigc["ProduceID"] == "doc-0002"


def test_text_formats_explicit_and_watermark_through_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, body in (("a.md", "# T\n\n" + english_text()[:800]), ("a.txt", english_text()[:800]), ("a.html", None)):
        src = tmp_path / name
        src.write_text(body if body is not None else f"<html><body><p>{english_text()[:800]}</p></body></html>", "utf-8")
        out = tmp_path / ("out-" + name)
        args = ["label", str(src), "-o", str(out), "--producer", PRODUCER, "--produce-id", "doc-0001", "--explicit"]
        assert main([*args, "--at", "end", "--watermark"]) == 0
        report = aimark.verify(out)
        assert report.verdict == "compliant", report.to_dict()
        assert report.explicit is not None and report.explicit.positions == ["end"]
        assert report.watermark is not None and report.watermark.found
        assert report.watermark.matches_label is (None if name.endswith(".txt") else True)
    capsys.readouterr()
    assert main(["verify", "--no-watermark", "--json", str(tmp_path / "out-a.md")]) == 0
    assert "watermark" not in json.loads(capsys.readouterr().out)


# -- bad input -----------------------------------------------------------------------------------
def _untouched(tmp_path: Path, src: Path, exc: type[Exception], data: bytes | None = None) -> None:
    before = src.read_bytes()
    with pytest.raises(exc):
        aimark.label_file(src, tmp_path / ("out" + src.suffix), EXPECTED)
    assert src.read_bytes() == before
    assert not (tmp_path / ("out" + src.suffix)).exists() and not list(tmp_path.glob(".aimark-*"))


def test_malformed_and_truncated_zip(tmp_path: Path) -> None:
    good = make_docx(tmp_path / "g.docx").read_bytes()
    for i, cut in enumerate((10, len(good) // 2, len(good) - 10)):
        p = tmp_path / f"t{i}.docx"
        p.write_bytes(good[:cut])
        _untouched(tmp_path, p, CorruptFile)
        assert aimark.verify(p).verdict in ("inconclusive", "error")
    not_office = tmp_path / "n.docx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "just a zip")
    not_office.write_bytes(buf.getvalue())
    _untouched(tmp_path, not_office, UnsupportedFormat)


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    src = make_docx(tmp_path / "b.docx")
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr("docProps/custom.xml", b"<" + b" " * (200 << 20))  # 200 MB of blanks, ~200 KB compressed
        ct = zin.read("[Content_Types].xml")
    assert ct
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(buf.getvalue())
    assert bomb.stat().st_size < 2 << 20
    _untouched(tmp_path, bomb, LimitExceeded)
    report = aimark.verify(bomb)
    assert report.verdict == "inconclusive" and report.findings[0].code == "corrupt_container"


def test_huge_front_matter_and_bad_encodings(tmp_path: Path) -> None:
    huge = tmp_path / "h.md"
    huge.write_text("---\n" + "k: v\n" * 50_000 + "---\nbody\n", "utf-8")
    _untouched(tmp_path, huge, LimitExceeded)
    assert aimark.verify(huge).verdict == "inconclusive"
    gb = tmp_path / "gb.md"
    gb.write_bytes("# 标题\n\n中文内容。\n".encode("gb18030"))
    aimark.label_file(gb, tmp_path / "gb-out.md", EXPECTED)
    out = (tmp_path / "gb-out.md").read_bytes()
    assert (
        out.decode("gb18030").endswith("# 标题\n\n中文内容。\n") and aimark.verify(tmp_path / "gb-out.md").verdict == "compliant"
    )
    u16 = tmp_path / "u16.md"
    u16.write_bytes(b"\xff\xfe" + "# Title\n\ntext\n".encode("utf-16-le"))
    aimark.label_file(u16, tmp_path / "u16-out.md", EXPECTED)
    assert (tmp_path / "u16-out.md").read_bytes().startswith(b"\xff\xfe" + "---\nAIGC:".encode("utf-16-le"))
    assert aimark.verify(tmp_path / "u16-out.md").verdict == "compliant"
    bad = tmp_path / "bad.md"
    junk = bytes([0x81, 0x20, 0xFF, 0xFE, 0x80]) * 10
    bad.write_bytes(b"---\ntitle: x\n---\n" + b"prose " * 200 + junk)  # sniffs as text, fails to decode later
    _untouched(tmp_path, bad, CorruptFile)
    assert aimark.verify(bad).verdict == "inconclusive"
    bad.write_bytes(junk)  # not text from the first byte
    _untouched(tmp_path, bad, UnsupportedFormat)
    content = ContentOptions(explicit=True)
    with pytest.raises(UnsupportedFormat):
        aimark.label_bytes(make_pdf(tmp_path / "x.pdf").read_bytes(), EXPECTED, content=content)


def test_fuzzed_documents_give_typed_errors_only(tmp_path: Path) -> None:
    import random

    seeds = {
        "docx": make_docx(tmp_path / "f.docx").read_bytes(),
        "pdf": aimark.label_bytes(make_pdf(tmp_path / "f.pdf").read_bytes(), EXPECTED),
        "md": FRONT.encode() + english_text()[:400].encode(),
        "html": aimark.label_bytes(b"<!DOCTYPE html><html><head></head><body><p>x</p></body></html>", EXPECTED),
    }
    rng = random.Random(5)
    for ext, seed in seeds.items():
        for _ in range(250):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 8)):
                k = rng.randrange(len(data))
                op = rng.random()
                if op < 0.5:
                    data[k] = rng.randrange(256)
                elif op < 0.75:
                    del data[k : k + rng.randint(1, 64)]
                else:
                    data[k:k] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            blob = bytes(data)
            if not blob:
                continue
            with contextlib.suppress(aimark.AimarkError):
                aimark.verify_bytes(blob, path=f"x.{ext}")
            with contextlib.suppress(aimark.AimarkError):
                aimark.label_bytes(blob, EXPECTED, filename=f"x.{ext}")
