"""The shared XMP module: edits touch only the AIGC property and are always re-checked."""

from __future__ import annotations

import pytest

from aimark import CorruptFile, UnsafeContent
from aimark.containers import xmp

RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'


def wrap(desc: str) -> bytes:
    return f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {RDF}>{desc}</rdf:RDF></x:xmpmeta>'.encode()


def test_namespace_prefix_named_aigc_is_not_a_label() -> None:
    packet = wrap('<rdf:Description rdf:about="" xmlns:AIGC="http://example.com/a/" AIGC:Label="1"/>')
    assert xmp.read_aigc(packet, "s")[0] == []
    out = xmp.set_aigc(packet, '{"Label":"1"}')
    assert b'xmlns:AIGC="http://example.com/a/" AIGC:Label="1"' in out
    assert [r.text for r in xmp.read_aigc(out, "s")[0]] == ['{"Label":"1"}']


def test_nested_value_and_other_prefix_are_replaced_by_one_tc260_property() -> None:
    packet = wrap(
        f'<rdf:Description rdf:about="" xmlns:T="{xmp.TC260_NS}" xmlns:o="http://o/">'
        "<T:AIGC><rdf:Alt><rdf:li>old</rdf:li></rdf:Alt></T:AIGC><o:AIGC>other</o:AIGC><o:keep>k</o:keep>"
        "</rdf:Description>"
    )
    assert len(xmp.read_aigc(packet, "s")[0]) == 2
    out = xmp.set_aigc(packet, "new")
    labels = xmp.read_aigc(out, "s")[0]
    assert [(r.site, r.text) for r in labels] == [("s:TC260:AIGC", "new")]
    assert b"<o:keep>k</o:keep>" in out
    assert xmp.read_aigc(xmp.remove_aigc(out), "s")[0] == []


def test_single_quoted_attribute_form() -> None:
    packet = wrap(f"<rdf:Description rdf:about='' xmlns:TC260='{xmp.TC260_NS}' TC260:AIGC='old'/>")
    out = xmp.set_aigc(packet, 'it\'s "new"')
    assert [r.text for r in xmp.read_aigc(out, "s")[0]] == ['it\'s "new"']


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (b"<x:xmpmeta><unclosed>", CorruptFile),
        (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>', CorruptFile),  # no rdf:RDF to add to
        (b"\xff\xfe<\x00x\x00", CorruptFile),  # not UTF-8
        (b'<!DOCTYPE x [<!ENTITY e "e">]><x/>', UnsafeContent),
    ],
)
def test_packets_that_cannot_be_edited_safely_are_refused(packet: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        xmp.set_aigc(packet, "v")


def test_malformed_packet_is_still_scanned_for_reading() -> None:
    packet = b'<x:xmpmeta><rdf:Description TC260:AIGC="{&quot;Label&quot;:&quot;1&quot;}"><broken'
    labels, findings, complete = xmp.read_aigc(packet, "s")
    assert [r.text for r in labels] == ['{"Label":"1"}']
    assert [f.code for f in findings] == ["xmp_malformed"] and complete
