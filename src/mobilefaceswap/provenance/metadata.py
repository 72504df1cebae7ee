"""Provenance metadata inside files: PNG iTXt chunks, XMP in JPEG / PNG / WebP (with the IPTC
digital source type), and a tag of the video container; written and read back."""

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import av
import numpy as np
from PIL import Image, PngImagePlugin

from mobilefaceswap.provenance.record import TOOL

PNG_KEY = "mobilefaceswap:provenance"
CONTAINER_KEY = "comment"  # one of the few tags every muxer (MP4 included) writes without extra flags
_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "mfs": "urn:mobilefaceswap:provenance:1",
}
# Pillow's encoder per suffix, at the quality OpenCV writes by default.
_FORMATS = {".png": ("PNG", {}), ".jpg": ("JPEG", {"quality": 95}), ".jpeg": ("JPEG", {"quality": 95}),
            ".webp": ("WEBP", {"quality": 95}), ".bmp": ("BMP", {})}


def xmp_packet(record: dict) -> bytes:
    namespaces = " ".join(f'xmlns:{k}="{v}"' for k, v in _NS.items() if k not in ("x", "rdf"))
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{_NS["x"]}"><rdf:RDF xmlns:rdf="{_NS["rdf"]}">'
        f'<rdf:Description rdf:about="" {namespaces}>'
        f'<Iptc4xmpExt:DigitalSourceType>{escape(record["digital_source_type"])}</Iptc4xmpExt:DigitalSourceType>'
        f'<xmp:CreatorTool>{escape(record["tool"])} {escape(record["tool_version"])}</xmp:CreatorTool>'
        f"<mfs:record>{escape(json.dumps(record))}</mfs:record>"
        '</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>'
    ).encode()


def _record_from_xmp(xmp: bytes | str) -> dict | None:
    try:
        root = ET.fromstring(xmp.decode() if isinstance(xmp, bytes) else xmp)
    except (ET.ParseError, UnicodeDecodeError):
        return None
    found = root.find(".//mfs:record", _NS)
    if found is not None and found.text:
        return json.loads(found.text)
    source_type = root.find(".//Iptc4xmpExt:DigitalSourceType", _NS)
    return None if source_type is None else {"digital_source_type": source_type.text}


def encode_image(rgb: np.ndarray, suffix: str, record: dict) -> bytes:
    """The image file's bytes with the record inside (BMP has no place for it: pixels only)."""
    fmt, options = _FORMATS[suffix.lower()]
    image, buffer = Image.fromarray(rgb), io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt(PNG_KEY, json.dumps(record))
        info.add_itxt("XML:com.adobe.xmp", xmp_packet(record).decode())
        options = {"pnginfo": info}
    elif fmt in ("JPEG", "WEBP"):
        options = {**options, "xmp": xmp_packet(record)}
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def read_image_metadata(path: str | Path) -> dict:
    """{"record": ..., "where": [...]} of an image file; record None when it carries none."""
    with Image.open(path) as image:
        info = dict(image.info)
        text = getattr(image, "text", {}) if image.format == "PNG" else {}
    where, record = [], None
    if PNG_KEY in text:
        record = json.loads(text[PNG_KEY])
        where.append("PNG iTXt")
    xmp = info.get("xmp") or text.get("XML:com.adobe.xmp")
    if xmp and (from_xmp := _record_from_xmp(xmp)) is not None:
        record = record or from_xmp
        where.append("XMP")
    return {"record": record, "where": where}


def container_tags(record: dict) -> dict[str, str]:
    return {CONTAINER_KEY: json.dumps(record)}


def read_video_metadata(container: av.container.InputContainer) -> dict:
    text = container.metadata.get(CONTAINER_KEY, "")
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict) or record.get("tool") != TOOL:
        return {"record": None, "where": []}
    return {"record": record, "where": [f"container tag '{CONTAINER_KEY}'"]}
