"""Images: the visible label (:mod:`.explicit`), the blind watermark (:mod:`.watermark`), and the
two verbs of the media interface (:mod:`aimark.media`): :func:`apply` when labeling,
:func:`inspect` when verifying.

Image options (``ContentOptions.options``): ``position`` (a corner, an edge or ``center``;
default ``bottom-right``), ``font`` (a font file for texts the bundled font cannot draw) and
``style`` (``plate`` or ``outline``). An image has no start/end: ``at`` is refused.

Changing pixels means re-encoding. :func:`apply` keeps the input's format and carries over what
the file held besides pixels:

==========  ============================================================================
format      how it is written back
==========  ============================================================================
JPEG        the input's own quantization tables and chroma subsampling (so its quality),
            progressive flag, EXIF, ICC profile and XMP packet
PNG         mode and bit depth, EXIF, ICC, XMP, text chunks, transparency, gamma, dpi
WebP        lossless if the input was lossless, else quality 90; EXIF, ICC, XMP
TIFF        the input's compression and ICC, and its descriptive tags (description, make,
            model, orientation, resolution, software, date, artist, copyright, XMP);
            not an Exif sub-IFD
GIF         one frame only: the label is drawn and the picture re-quantised (no watermark:
            a 256-colour palette cannot hold it)
==========  ============================================================================

Animated images and multi-page TIFFs are refused (metadata labels only). The metadata label is
written afterwards, byte-level, by the container writers, as for any other file.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from ..containers import Buffer, Carrier, Limits, riff
from ..errors import CorruptFile, EncodeError, InvalidArgument, LimitExceeded, UnsupportedFormat
from ..media import ContentStep, Probe
from ..report import ExplicitReport, WatermarkReport
from ..watermark import Key
from . import explicit, ocr, watermark

_DEFAULT_TEXT, _DEFAULT_HEIGHT = explicit.DEFAULT_TEXT, explicit.DEFAULT_HEIGHT
# TIFF tags carried over when a TIFF is re-encoded: description, make, model, orientation,
# resolution, software, date, artist, host, copyright, XMP (the label goes into it afterwards)
_TIFF_KEEP = (269, 270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 316, 33432, 700)
FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "gif": "GIF"}


@dataclass(frozen=True)
class ImageStep:
    """What to do to the pixels of an image when labeling it."""

    explicit: bool = False
    text: str = _DEFAULT_TEXT
    position: str = "bottom-right"
    height: float = _DEFAULT_HEIGHT
    font: str | None = None
    style: str = "plate"
    payload: bytes | None = None  # None: no watermark
    key: Key = None


def open_image(buf: Buffer, limits: Limits) -> Any:
    """Decode the (first) image of ``buf`` with Pillow, bounded by ``limits.max_pixels``."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(bytes(buf)))
    except Exception as exc:
        raise CorruptFile(f"the image cannot be decoded: {exc}") from None
    w, h = im.size
    if w * h > limits.max_pixels:
        raise LimitExceeded(f"{w}x{h} pixels exceeds the limit of {limits.max_pixels:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except Exception as exc:
        raise CorruptFile(f"the image cannot be decoded: {exc}") from None
    return im


def image_step(step: ContentStep) -> ImageStep:
    """The media interface's step for an image, its options checked."""
    opts = step.options
    position, style, font = opts.get("position"), opts.get("style"), opts.get("font")
    if position not in explicit.POSITIONS:
        raise InvalidArgument(f"position is one of {', '.join(explicit.POSITIONS)}; got {position!r}")
    if style not in explicit.STYLES:
        raise InvalidArgument(f"style is one of {', '.join(explicit.STYLES)}; got {style!r}")
    if font is not None and not isinstance(font, str):
        raise InvalidArgument("font is the path of a TrueType/OpenType file")
    return ImageStep(
        explicit=step.explicit,
        text=step.wording or _DEFAULT_TEXT,
        position=position,
        font=font,
        style=style,
        payload=step.payload,
        key=step.key,
    )


def apply(carrier: Carrier, buf: Buffer, content: ContentStep, limits: Limits) -> bytes:
    """The image with the visible label and/or watermark, re-encoded in its own format."""
    step = image_step(content)
    if carrier.name not in FORMATS:
        raise UnsupportedFormat(f"explicit labels and watermarks are not implemented for {carrier.name}")
    im = open_image(buf, limits)
    if getattr(im, "n_frames", 1) > 1:
        raise UnsupportedFormat("animated or multi-page images get the metadata label only (no --explicit/--watermark)")
    out = im
    if step.payload is not None:
        if im.mode in ("P", "PA", "1"):
            raise UnsupportedFormat(f"a {im.mode!r} (palette/bilevel) image cannot hold the watermark; convert it to RGB or L")
        if im.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "I;16L", "I;16B"):
            raise UnsupportedFormat(f"watermarking a {im.mode!r} image is not supported")
        out = watermark.embed(out, step.payload, step.key)
    if step.explicit:
        # drawn after the watermark: the label's pixels stay exactly as drawn
        out = explicit.add_label(out, step.text, position=step.position, height=step.height, font=step.font, style=step.style)
    return encode_like(im, out, FORMATS[carrier.name], lossless=carrier.name == "webp" and _webp_lossless(buf, limits))


def _webp_lossless(buf: Buffer, limits: Limits) -> bool:
    """Whether a WebP file's image chunk is VP8L (lossless)."""
    return any(c.fourcc == b"VP8L" for c in riff.walk(buf, limits).chunks)


def encode_like(src: Any, im: Any, fmt: str, *, lossless: bool = False) -> bytes:
    """Encode ``im`` in ``fmt`` with the encoding parameters and metadata of ``src``."""
    from PIL import Image, JpegImagePlugin, PngImagePlugin

    info = src.info
    kw: dict[str, Any] = {}
    for k in ("icc_profile", "exif", "dpi"):
        if info.get(k):
            kw[k] = info[k]
    if fmt == "JPEG":
        kw["qtables"] = src.quantization
        kw["subsampling"] = JpegImagePlugin.get_sampling(src) if src.mode == "RGB" else 0
        kw["progressive"] = bool(info.get("progressive") or info.get("progression"))
        if info.get("xmp"):
            kw["xmp"] = info["xmp"]
        if im.mode not in ("RGB", "L", "CMYK"):
            im = im.convert("RGB")
    elif fmt == "PNG":
        pnginfo = PngImagePlugin.PngInfo()
        for k, v in getattr(src, "text", {}).items():
            if not isinstance(v, str) or k == "XML:com.adobe.xmp":
                continue
            if v.isascii():
                pnginfo.add_text(k, v)
            else:
                pnginfo.add_itxt(k, v)
        if info.get("xmp"):
            x = info["xmp"]
            pnginfo.add_itxt("XML:com.adobe.xmp", x.decode("utf-8", "replace") if isinstance(x, bytes) else x)
        kw["pnginfo"] = pnginfo
        for k in ("transparency", "gamma"):
            if k in info:
                kw[k] = info[k]
        if src.mode == "P" and im.mode == "P" and "transparency" in kw and not isinstance(kw["transparency"], int):
            kw.pop("transparency")
    elif fmt == "WEBP":
        kw["lossless"] = lossless
        kw["quality"] = 100 if lossless else 90
        if info.get("xmp"):
            kw["xmp"] = info["xmp"]
    elif fmt == "TIFF":
        comp = info.get("compression")
        if comp and comp != "raw":
            kw["compression"] = comp
        kw.pop("dpi", None)
        kw.pop("exif", None)
        tags = getattr(src, "tag_v2", {})
        kw["tiffinfo"] = {t: tags[t] for t in _TIFF_KEEP if t in tags}
    elif fmt == "GIF" and im.mode not in ("P", "L"):
        im = im.convert("RGB").quantize(256, dither=Image.Dither.NONE)
    out = io.BytesIO()
    try:
        im.save(out, fmt, **kw)
    except (OSError, ValueError) as exc:
        raise EncodeError(f"cannot encode the labeled image as {fmt}: {exc}") from None
    return out.getvalue()


def inspect(carrier: Carrier, buf: Buffer, probe: Probe, limits: Limits) -> tuple[ExplicitReport | None, WatermarkReport | None]:
    """The visible label (read by :mod:`.ocr` when the ``ocr`` extra is installed, else
    ``None``) and the watermark of an image file (first frame)."""
    read = probe.explicit and ocr.available()
    if not (read or probe.watermark):
        return None, None
    im = open_image(buf, limits)  # decoded once for both
    found = _visible_label(im) if read else None
    wm = _watermark_of(im, key=probe.key, expected=probe.expected) if probe.watermark else None
    return found, wm


def read_visible_label(buf: Buffer, limits: Limits) -> ExplicitReport:
    """The visible label of an image file's first frame as displayed (EXIF orientation applied)."""
    return _visible_label(open_image(buf, limits))


def _visible_label(im: Any) -> ExplicitReport:
    import numpy as np
    from PIL import Image, ImageOps

    with contextlib.suppress(Exception):  # a broken EXIF block: read the pixels as stored
        im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16L", "I;16B", "I"):
        im = im.point(lambda v: v / 257).convert("L")
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        im = im.convert("RGBA")
        base = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(base, im)
    return ocr.find_label(np.asarray(im.convert("RGB")))


def detect_watermark(buf: Buffer, limits: Limits, *, key: Key = None, expected: bytes | None = None) -> WatermarkReport:
    """Detect the watermark in the first frame of an image file."""
    return _watermark_of(open_image(buf, limits), key=key, expected=expected)


def _watermark_of(im: Any, *, key: Key = None, expected: bytes | None = None) -> WatermarkReport:
    if im.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "I;16L", "I;16B"):
        im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
    return watermark.detect(im, key, expected=expected)


__all__ = [
    "FORMATS",
    "ImageStep",
    "apply",
    "detect_watermark",
    "encode_like",
    "explicit",
    "image_step",
    "inspect",
    "ocr",
    "open_image",
    "read_visible_label",
    "watermark",
]
