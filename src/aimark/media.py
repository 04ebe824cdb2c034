"""The one media interface: what the journeys ask of a media package, and the registry of them.

Every media package (``aimark.text``, ``aimark.image``, ``aimark.audio``; ``aimark.video``
next) offers the same two verbs with the same signature::

    apply(carrier, buf, step: ContentStep, limits) -> bytes
        the content with the explicit label and/or the watermark (the metadata label is
        written afterwards, byte-level, by the container writers)
    inspect(carrier, buf, probe: Probe, limits) -> (ExplicitReport | None, WatermarkReport | None)
        what is in the content: the explicit label and/or the watermark, as asked

A package is registered here by media name with :func:`register` and imported only when a
file of that media needs it, so metadata-only use never loads Pillow, NumPy or PyAV. Before it
is imported, the modules its extra brings are looked for: a missing one is a
:class:`~aimark.errors.MissingDependency` that names the extra to install.

What every media shares is one :class:`ContentOptions`: explicit on/off, placement (``at``),
wording, watermark on/off, key and payload. What only one media takes (an image's ``position``
and ``font``, audio's ``prompt`` and ``voice``) goes in ``ContentOptions.options``; the
registry refuses an option a media does not declare, and the package validates the values.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from .errors import InvalidArgument, MissingDependency, UnsupportedFormat
from .watermark import Key, derive_payload, normalize_key, normalize_payload

if TYPE_CHECKING:
    from .containers import Buffer, Carrier, Limits, ReadResult
    from .label import AIGCLabel
    from .report import ExplicitReport, WatermarkReport

#: placements on a time or reading axis, shared by text, audio and video
AXIS_PLACES: tuple[str, ...] = ("start", "end", "middle")

# -- the two label elements (SPEC section 1) ---------------------------------------------------
AI_ELEMENT = r"(?:人工智能|(?<![A-Za-z])(?:AI|ＡＩ)(?![A-Za-z]))"
GEN_ELEMENT = r"(?:生成|合成)"
_AI_ONLY = re.compile(AI_ELEMENT)
_GEN_ONLY = re.compile(GEN_ELEMENT)
MAX_WORDING = 200


def missing_elements(wording: str) -> list[str]:
    """Which of the two required elements ``wording`` lacks: "AI" and/or "generation"."""
    out = []
    if not _AI_ONLY.search(wording):
        out.append('AI element ("人工智能" or "AI")')
    if not _GEN_ONLY.search(wording):
        out.append('generation element ("生成" or "合成")')
    return out


def check_wording(wording: str) -> str:
    """``wording`` stripped, if it is one line holding both label elements; else
    :class:`~aimark.errors.InvalidArgument`. The same rule for every media."""
    if not isinstance(wording, str) or not wording.strip():
        raise InvalidArgument("an explicit label text cannot be empty")
    if "\n" in wording.strip() or len(wording) > MAX_WORDING:
        raise InvalidArgument(f"an explicit label text is one line of at most {MAX_WORDING} characters")
    missing = missing_elements(wording)
    if missing:
        raise InvalidArgument(f"explicit label text {wording!r} lacks the {' and the '.join(missing)} (SPEC section 1)")
    return wording.strip()


def parse_places(at: str | Sequence[str], allowed: Sequence[str] = AXIS_PLACES) -> list[str]:
    """The placements in ``at`` ("start", "end,start", or a list), each once, in order;
    :class:`~aimark.errors.InvalidArgument` for an empty list or a placement not in ``allowed``."""
    items = [a.strip() for a in at.split(",") if a.strip()] if isinstance(at, str) else [str(a).strip() for a in at]
    bad = [a for a in items if a not in allowed]
    if not items or bad:
        raise InvalidArgument(f"the explicit label goes at {', '.join(allowed)} or a comma list of them, not {at!r}")
    return list(dict.fromkeys(items))


def first_missing(modules: Sequence[str]) -> str | None:
    """The first of ``modules`` (top-level names) that is not installed, or None; nothing is
    imported."""
    for mod in modules:
        try:
            if importlib.util.find_spec(mod) is None:
                return mod
        except (ImportError, ValueError):
            return mod
    return None


# -- options ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentOptions:
    """What to do to the content itself before the metadata label is written.

    ``explicit``: add the visible/audible label, at ``at`` (``None``: the media's default;
    "start", "end", "middle" or a comma list for text, audio and video) with ``wording``
    (``None``: the media's default text; any wording needs both label elements).
    ``watermark``: embed the invisible watermark with ``key`` (``None``: the public key)
    carrying ``payload`` (``None``: the keyed hash of ContentProducer + ProduceID,
    :func:`aimark.watermark.derive_payload`). ``options``: what only one media takes, by name
    (image: ``position``, ``font``, ``style``; audio: ``prompt``, ``voice``).
    """

    explicit: bool = False
    at: str | None = None
    wording: str | None = None
    watermark: bool = False
    key: Key = None
    payload: bytes | int | str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def wanted(self) -> bool:
        return self.explicit or self.watermark


@dataclass(frozen=True)
class ContentStep:
    """:class:`ContentOptions` resolved for one media: defaults filled in, the wording checked,
    the payload derived once. This is what a package's ``apply`` receives."""

    explicit: bool
    at: str | None  # the placement on the media's axis (None for media without one, e.g. images)
    wording: str | None  # None for media whose label is not a text (audio)
    payload: bytes | None  # None: no watermark
    key: Key
    options: Mapping[str, Any]  # the media's own options, defaults filled in

    @property
    def placement(self) -> str | None:
        """Where the explicit label goes, in the media's own terms (an image's position)."""
        return self.at if self.at is not None else self.options.get("position")


@dataclass(frozen=True)
class Probe:
    """What a package's ``inspect`` is asked to look for. ``expected``: the payload a watermark
    must carry to belong to the file's metadata label (None without a usable label); ``read``:
    what the container reader found (its decoded ``text`` saves text media a second decode)."""

    explicit: bool = True
    watermark: bool = True
    key: Key = None
    expected: bytes | None = None
    read: ReadResult | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # VerifyOptions.settings (e.g. video sampling)


class MediaPackage(Protocol):
    """The module a :class:`Media` names."""

    def apply(self, carrier: Carrier, buf: Buffer, step: ContentStep, limits: Limits) -> bytes: ...

    def inspect(
        self, carrier: Carrier, buf: Buffer, probe: Probe, limits: Limits
    ) -> tuple[ExplicitReport | None, WatermarkReport | None]: ...


@dataclass(frozen=True)
class Media:
    """One registered media package.

    ``module``: imported on first use. ``extra``/``requires``: the pip extra its content work
    needs and the top-level modules that extra installs (looked for before the import).
    ``wording``: the default explicit label text (``None``: the label is not a text, e.g. an
    audible prompt, and a wording is refused). ``at``: the default placement (``None``: the
    media has no placement axis and ``at`` is refused). ``options``: the media's own option
    names with their defaults. ``unreadable``: how a verify finding names content that could
    not be decoded.
    """

    name: str
    module: str
    wording: str | None = None
    extra: str | None = None
    requires: tuple[str, ...] = ()
    at: str | None = "start"
    places: tuple[str, ...] = AXIS_PLACES
    options: Mapping[str, Any] = field(default_factory=dict)
    unreadable: str = "the content could not be decoded"
    #: when inspect returns no explicit result though one was asked for: what reading it needs
    #: (verify says so in an ``explicit_not_checked`` info finding)
    explicit_needs: str | None = None

    def missing(self) -> str | None:
        """The first required module that is not installed, or None."""
        return first_missing(self.requires)

    def install_hint(self) -> str:
        return f"pip install 'aimark[{self.extra}]'" if self.extra else "pip install aimark"

    def load(self, what: str = "explicit labels and watermarks") -> MediaPackage:
        """The package module; :class:`~aimark.errors.MissingDependency` naming the extra when
        a module it needs is not installed."""
        gone = self.missing()
        if gone is None:
            try:
                return importlib.import_module(self.module)  # type: ignore[return-value]
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.split(".")[0] == "aimark":
                    raise
                gone = exc.name or "a module"
        raise MissingDependency(
            f"{what} for {self.name} need the {self.extra} extra ({gone} is not installed): {self.install_hint()}",
            extra=self.extra,
        )

    def resolve(self, content: ContentOptions, label: AIGCLabel) -> ContentStep:
        """Check ``content`` against this media and fill in its defaults (no import needed)."""
        unknown = sorted(set(content.options) - set(self.options))
        if unknown:
            takes = ", ".join(sorted(self.options)) or "none"
            raise InvalidArgument(f"{self.name} does not take the option {', '.join(map(repr, unknown))} (it takes: {takes})")
        at = content.at
        if at is not None and self.at is None:
            hint = " (use position=)" if "position" in self.options else ""
            raise InvalidArgument(f"a {self.name} label has no start/end placement{hint}; got at={at!r}")
        at = self.at if at is None else ",".join(parse_places(at, self.places))
        if content.wording is not None and self.wording is None:
            raise InvalidArgument(f"a {self.name} label is not a text: it takes no wording")
        wording = check_wording(content.wording) if content.wording is not None else self.wording
        payload = None
        if content.watermark:
            normalize_key(content.key)
            payload = normalize_payload(content.payload) if content.payload is not None else derive_payload(label, content.key)
        elif content.payload is not None:
            raise InvalidArgument("a payload is given but no watermark is asked for")
        options = MappingProxyType({**self.options, **content.options})
        return ContentStep(content.explicit, at, wording, payload, content.key, options)


_MEDIA: dict[str, Media] = {}
#: visible labels in pictures and frames are read by text recognition
OCR_NEEDS = "text recognition (the ocr extra: pip install 'aimark[ocr]')"


def register(media: Media) -> Media:
    """Add (or replace) a media package. A carrier's ``media`` names one of these."""
    _MEDIA[media.name] = media
    return media


def get(name: str) -> Media | None:
    return _MEDIA.get(name)


def require(name: str) -> Media:
    """The media package for ``name``; :class:`~aimark.errors.UnsupportedFormat` when none is
    registered (the format's metadata label still works)."""
    media = _MEDIA.get(name)
    if media is None:
        raise UnsupportedFormat(f"explicit labels and watermarks for {name} are not implemented yet (metadata only)")
    return media


def registered() -> tuple[Media, ...]:
    return tuple(_MEDIA.values())


def unregister(name: str) -> None:
    _MEDIA.pop(name, None)


# -- the built-in packages ---------------------------------------------------------------------
register(
    Media(
        "text",
        "aimark.text",
        wording="本内容由人工智能生成",
        unreadable="the document's text could not be read",
    )
)
register(
    Media(
        "image",
        "aimark.image",
        wording="AI生成",
        extra="image",
        requires=("PIL", "numpy", "cv2", "fontTools"),
        at=None,
        places=(),
        options={"position": "bottom-right", "font": None, "style": "plate"},
        unreadable="the pixels could not be decoded",
        explicit_needs=OCR_NEEDS,
    )
)
register(
    Media(
        "audio",
        "aimark.audio",
        extra="audio",
        requires=("numpy", "av"),
        options={"prompt": "rhythm", "voice": None},
        unreadable="the audio could not be decoded",
    )
)
register(
    Media(
        "video",
        "aimark.video",
        wording="AI生成",
        extra="video",
        requires=("av", "numpy", "cv2", "PIL", "fontTools"),
        places=("start", "end"),
        options={
            "position": "bottom-right",
            "font": None,
            "style": "plate",
            "badge": False,
            "seconds": 2.0,
            "preset": "veryfast",
            "crf": 20,
        },
        unreadable="the video could not be decoded",
        explicit_needs=OCR_NEEDS,
    )
)

__all__ = [
    "AI_ELEMENT",
    "AXIS_PLACES",
    "GEN_ELEMENT",
    "ContentOptions",
    "ContentStep",
    "Media",
    "MediaPackage",
    "Probe",
    "check_wording",
    "first_missing",
    "get",
    "missing_elements",
    "parse_places",
    "register",
    "registered",
    "require",
    "unregister",
]
