"""Signed C2PA manifests (c2pa-python, ``pip install '.[c2pa]'``): the output's hash, signed
with the user's certificate, with a "created" action of the IPTC digital source type."""

import io
import mimetypes
from pathlib import Path

from PIL import Image

from mobilefaceswap.files import write_atomic

MIME_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".mp4": "video/mp4",
              ".mov": "video/quicktime", ".m4v": "video/mp4"}


_CHECK_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _manifest(title: str, record: dict) -> dict:
    """A "created" action of the record's source type, with the model hash and watermark when given."""
    action = {"action": "c2pa.created", "digitalSourceType": record["digital_source_type"]}
    if "model_sha256" in record:
        action["parameters"] = {"model_sha256": record["model_sha256"], "watermark": record["watermark"]}
    return {
        "claim_generator_info": [{"name": record["tool"], "version": record["tool_version"]}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def _c2pa():
    try:
        import c2pa
    except ImportError:
        raise RuntimeError("C2PA manifests need c2pa-python: pip install '.[c2pa]'") from None
    return c2pa


class C2paSigner:
    """Signs written outputs in place with a certificate chain (PEM, leaf first) and its private key."""

    def __init__(self, cert_chain: str | Path, private_key: str | Path, algorithm: str = "es256"):
        self.c2pa = _c2pa()
        try:
            chain, key = Path(cert_chain).read_bytes(), Path(private_key).read_bytes()
        except OSError as err:
            raise RuntimeError(f"cannot read the C2PA certificate or key: {err}") from None
        self.info = self.c2pa.C2paSignerInfo(algorithm.encode(), chain, key, None)
        self._check()

    def _check(self) -> None:
        """Sign a tiny image in memory, so that a bad certificate or key fails before any work."""
        image = io.BytesIO()
        Image.new("RGB", (16, 16)).save(image, "JPEG")
        image.seek(0)
        record = {"tool": "mobilefaceswap", "tool_version": "certificate check", "digital_source_type": _CHECK_SOURCE_TYPE}
        self._sign(_manifest("check.jpg", record), "image/jpeg", image, io.BytesIO(), "C2PA certificate or key refused")

    def _sign(self, manifest: dict, mime: str, source, destination, failure: str) -> None:
        try:
            with self.c2pa.Signer.from_info(self.info) as signer, self.c2pa.Builder(manifest) as builder:
                builder.sign(signer, mime, source, destination)
        except self.c2pa.C2paError as err:
            raise RuntimeError(f"{failure}: {err}") from None

    def sign(self, path: str | Path, record: dict) -> None:
        """Replace ``path`` (atomically) by the same file with a signed manifest of ``record``."""
        path = Path(path)
        mime = MIME_TYPES.get(path.suffix.lower())
        if mime is None:
            raise RuntimeError(f"C2PA manifests are not written into {path.suffix} files")
        manifest = _manifest(path.name, record)

        def write(tmp: str) -> None:
            with open(path, "rb") as source, open(tmp, "w+b") as destination:
                self._sign(manifest, mime, source, destination, f"C2PA signing of {path.name} failed")

        write_atomic(path, write)


def read_manifest(path: str | Path) -> dict:
    """{"present", "validation_state", "failures"}; "checked": False when c2pa-python is absent."""
    try:
        c2pa = _c2pa()
    except RuntimeError as err:
        return {"checked": False, "reason": str(err)}
    mime = MIME_TYPES.get(Path(path).suffix.lower()) or mimetypes.guess_type(str(path))[0]
    try:
        with open(path, "rb") as stream, c2pa.Reader(mime, stream) as reader:
            state, results = reader.get_validation_state(), reader.get_validation_results() or {}
    except c2pa.C2paError as err:
        return {"checked": True, "present": False, **({} if "ManifestNotFound" in type(err).__name__ else {"error": str(err)})}
    failures = [item["code"] for item in results.get("activeManifest", {}).get("failure", [])]
    return {"checked": True, "present": True, "validation_state": state, "validates": state in ("Valid", "Trusted"),
            "failures": failures}
