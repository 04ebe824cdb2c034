"""What every container module provides, and the registry that sniffs bytes.

A container module knows bytes only: it walks its format's structure with bounded reads,
returns every label text it finds (with where it found it), and produces the byte pieces of
a new file that holds exactly one label. Pixels and samples are never decoded here.

Writers return a list of pieces (``bytes`` or ``memoryview`` slices of the input), so a
large input is streamed to the output without being copied into one buffer.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import CorruptFile, UnsupportedFormat
from ..label import MAX_LABEL_TEXT
from ..report import Finding, error, warning

if TYPE_CHECKING:
    from ..label import AIGCLabel

#: The input: ``bytes`` or a read-only ``mmap`` (both support slicing, find and struct).
Buffer = bytes | bytearray | memoryview | mmap.mmap
Piece = bytes | memoryview
#: One change to the input for :func:`splice`: (start, end, replacement)
Edit = tuple[int, int, bytes]


@dataclass(frozen=True)
class Limits:
    """Safety limits for parsing. Every read and allocation is bounded by these."""

    max_xmp_packet: int = 1 << 20  # 1 MiB: XMP never needs more for a label
    max_text_chunk: int = 1 << 20  # decompressed PNG zTXt/iTXt and similar
    max_segments: int = 200_000  # chunks / segments / IFD entries walked per file
    max_ifd_entries: int = 4096  # entries in one TIFF IFD
    max_text_document: int = 64 << 20  # a .txt/.md/.html file is decoded whole: 64 MiB at most
    max_front_matter: int = 64 << 10  # YAML front matter of a Markdown file
    max_zip_entries: int = 20_000  # entries in an OOXML zip
    max_part_size: int = 64 << 20  # decompressed size of one OOXML part aimark reads
    max_zip_ratio: int = 200  # decompressed/compressed ratio beyond which a part is a bomb
    max_pdf_tail: int = 1 << 20  # bytes from the end of a PDF searched for startxref/trailer
    max_pdf_sections: int = 256  # incremental-update sections followed through /Prev
    max_pdf_stream: int = 64 << 20  # one PDF stream (xref or object stream), raw or inflated
    max_pdf_depth: int = 32  # nesting of PDF arrays and dictionaries
    max_id3_tag: int = 64 << 20  # an ID3v2 tag (cover art included)
    max_comment_block: int = 64 << 20  # a FLAC/Ogg comment header or an MP4 moov box
    max_audio_file: int = 2 << 30  # a FLAC/Ogg file rewritten in memory by mutagen
    max_pixels: int = 120_000_000  # decoded image size (width x height) for explicit labels and watermarks
    max_audio_samples: int = 48000 * 3600 * 24  # decoded samples per channel (24 h at 48 kHz)
    max_audio_channels: int = 64
    max_label_text: int = MAX_LABEL_TEXT  # one label's text at one site, before parsing


DEFAULT_LIMITS = Limits()


@dataclass
class RawLabel:
    """A label text as found at one site, before parsing."""

    site: str
    text: str
    #: a known mirror site of the format's label (WAV: LIST/INFO beside the AIGC chunk): an
    #: identical copy here is the same label, not a second one
    mirror: bool = False


@dataclass
class ReadResult:
    """What a container reader found."""

    labels: list[RawLabel] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True  # False when the walk stopped early on a structural problem
    format: str | None = None  # a finer format name found on the way (docx/xlsx/pptx in one zip carrier)
    text: str | None = None  # the document's text, when the reader decoded it anyway (text formats)

    @classmethod
    def after_walk(cls, complete: bool, problem: str, what: str, site: str, fmt: str | None = None) -> ReadResult:
        """A result for a structure walk that stopped early (``complete`` False) or not."""
        res = cls(format=fmt)
        if not complete:
            res.complete = False
            res.findings.append(error("corrupt_container", f"{what} structure: {problem}", site))
        return res

    def nonstandard(self, site: str, text: str, standard: str) -> None:
        """A label found at a site products use but the standard does not name: read, with a
        ``label_nonstandard_site`` warning (relabeling moves it to ``standard``)."""
        self.labels.append(RawLabel(site, text))
        what = f"label stored at a non-standard site (the standard site is {standard}; relabeling moves it there)"
        self.findings.append(warning("label_nonstandard_site", what, site))

    def add(self, labels: Sequence[RawLabel], findings: Sequence[Finding], complete: bool = True) -> None:
        self.labels.extend(labels)
        self.findings.extend(findings)
        self.complete &= complete


@dataclass(frozen=True)
class Carrier:
    """A registered container format."""

    name: str  # short id used in reports: "jpeg", "png", ...
    mime: str
    extensions: tuple[str, ...]
    sniff: Callable[[bytes], int]  # score 0..100 from the first bytes of the file
    read: Callable[[Buffer, Limits], ReadResult]
    write: Callable[[Buffer, AIGCLabel, Limits], list[Piece]]
    media: str = "image"  # which media package handles explicit labels and watermarks
    #: the media of one file when the format holds several (an MP4 is video or audio): a
    #: bounded look at the structure, never a decode; None: always ``media``
    media_of: Callable[[Buffer, Limits], str] | None = None
    #: the format's text for explicit-label and watermark detection (text documents only)
    text: Callable[[Buffer, Limits], str] | None = None
    metadata: bool = True  # False: the format has no metadata site (plain text)
    ext_hint: bool = False  # content alone cannot tell it from a sibling: the extension decides ties

    def media_for(self, buf: Buffer, limits: Limits) -> str:
        """The media of the file in ``buf``: ``media``, or what ``media_of`` finds."""
        return self.media_of(buf, limits) if self.media_of is not None else self.media


_REGISTRY: dict[str, Carrier] = {}
SNIFF_BYTES = 512


def register(carrier: Carrier) -> Carrier:
    """Add (or replace) a carrier. Audio, video and document carriers plug in here."""
    _REGISTRY[carrier.name] = carrier
    return carrier


def unregister(name: str) -> None:
    """Remove a carrier (plug-ins and tests)."""
    _REGISTRY.pop(name, None)


def carriers() -> Sequence[Carrier]:
    return tuple(_REGISTRY.values())


def get_carrier(name: str) -> Carrier:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnsupportedFormat(f"no carrier named {name!r}") from None


def sniff_buffer(buf: Buffer, ext: str | None = None) -> Carrier:
    """The carrier of a whole file held in ``buf`` (only its first bytes are looked at).

    A leading ID3v2 tag is a wrapper that some writers put before formats other than MP3 (c2pa
    writes its manifest into one before a FLAC stream): when the bytes after the tag sniff as a
    format with a full score, that format wins; otherwise the file is sniffed as it starts.
    """
    skip = _id3_prefix(buf)
    if skip:
        after = bytes(buf[skip : skip + SNIFF_BYTES])
        scored = [(c.sniff(after), c) for c in _REGISTRY.values()] if after else []
        best = max(scored, key=lambda t: t[0], default=(0, None))
        if best[0] >= 100 and best[1] is not None:
            return best[1]
    return sniff(bytes(buf[:SNIFF_BYTES]), ext)


def _id3_prefix(buf: Buffer) -> int:
    """The size of an ID3v2 tag at the start of ``buf`` (0 when there is none or it is broken)."""
    head = bytes(buf[:10])
    if len(head) < 10 or head[:3] != b"ID3" or head[3] not in (2, 3, 4) or any(b & 0x80 for b in head[6:10]):
        return 0
    size = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
    if head[3] == 4 and head[5] & 0x10:
        size += 10
    return size if size < len(buf) else 0


#: What a matching extension adds to the score of an ``ext_hint`` carrier (text formats only).
EXT_BONUS = 40


def sniff(head: bytes, ext: str | None = None) -> Carrier:
    """The best carrier for a file starting with ``head``, by content.

    The highest score wins. The extension adds :data:`EXT_BONUS` only to ``ext_hint`` carriers
    (text formats that content cannot tell apart: .txt vs .md). Equal scores are decided by a
    fixed rule, never by registration order: a carrier that lists the file's extension first,
    then the carrier name in alphabetical order.
    """
    if not head:
        raise CorruptFile("empty file")
    ext = ext.lower() if ext else None
    ranked: list[tuple[int, bool, str, Carrier]] = []
    for carrier in _REGISTRY.values():
        score = carrier.sniff(head)
        if score <= 0:
            continue
        named = ext in carrier.extensions
        if carrier.ext_hint and named:
            score += EXT_BONUS
        ranked.append((-score, not named, carrier.name, carrier))
    if not ranked:
        raise UnsupportedFormat("not a format aimark knows (sniffed by content)")
    return min(ranked, key=lambda r: r[:3])[3]


# -- small byte helpers shared by the walkers -------------------------------------------------
def u16be(buf: Buffer, off: int) -> int:
    return int(struct.unpack_from(">H", buf, off)[0])


def u32be(buf: Buffer, off: int) -> int:
    return int(struct.unpack_from(">I", buf, off)[0])


def u32le(buf: Buffer, off: int) -> int:
    return int(struct.unpack_from("<I", buf, off)[0])


def need(buf: Buffer, off: int, size: int, what: str) -> None:
    """Raise CorruptFile unless ``size`` bytes exist at ``off``."""
    if off < 0 or size < 0 or off + size > len(buf):
        raise CorruptFile(f"truncated: {what} needs {size} bytes at offset {off}, file has {len(buf)}")


def decode_text(data: bytes) -> str:
    """UTF-8 if it is, else Latin-1 (never fails)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def splice(buf: Buffer, edits: Sequence[Edit]) -> list[Piece]:
    """Pieces of ``buf`` with each ``(start, end, replacement)`` applied.

    Edits must not overlap; an insertion is ``(pos, pos, data)``, a deletion ``(a, b, b"")``.
    Untouched ranges are zero-copy views of the input.
    """
    view = memoryview(buf)
    out: list[Piece] = []
    pos = 0
    for start, end, data in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos or end < start or end > len(buf):
            raise ValueError(f"bad edit {start}:{end}")
        if start > pos:
            out.append(view[pos:start])
        if data:
            out.append(data)
        pos = end
    if pos < len(buf):
        out.append(view[pos:])
    return out
