"""Every output of ``mfs swap`` says it is synthetic: watermark, metadata, ``mfs verify``, and
the watermark benchmark."""

import datetime
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from mobilefaceswap.data.media import read_image
from mobilefaceswap.inference.swap import write_image
from mobilefaceswap.provenance import watermark
from mobilefaceswap.provenance.record import DIGITAL_SOURCE_TYPE
from mobilefaceswap.provenance.verify import exit_code, verify_paths

from helpers import write_bundled_photos

MFS = str(Path(sys.executable).parent / "mfs")


def mfs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MFS, *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return write_bundled_photos(tmp_path_factory.mktemp("inputs"), clip_frames=10)


def swap(inputs, swapper, target, output, *extra) -> dict:
    result = mfs("swap", "--source", str(inputs["astronaut"]), "--target", str(target), "--output", str(output),
                 "--checkpoint", str(swapper), "--quiet", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def verify(path) -> tuple[int, list[dict]]:
    result = mfs("verify", str(path), "--json")
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.slow
def test_image_outputs_are_watermarked_and_carry_provenance(inputs, tiny_swapper, tmp_path):
    targets = tmp_path / "targets"
    targets.mkdir()
    write_image(targets / "group.png", read_image(inputs["group"]))
    write_image(targets / "group.jpg", read_image(inputs["group"]))
    summary = swap(inputs, tiny_swapper, targets, tmp_path / "out")
    plain = swap(inputs, tiny_swapper, targets / "group.png", tmp_path / "plain" / "group.png", "--no-watermark")
    assert plain["warnings"] and "--no-watermark" in plain["warnings"][0] and not plain["watermarks"]
    marked, unmarked = read_image(tmp_path / "out" / "group.png"), read_image(tmp_path / "plain" / "group.png")
    assert cv2.PSNR(marked, unmarked) >= 40  # invisible: the mark's whole cost
    # a copy someone re-saved as JPEG 75 at half size has lost the metadata but not the mark
    small = cv2.resize(marked, (marked.shape[1] // 2, marked.shape[0] // 2), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "out" / "copy.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
    (tmp_path / "plain" / "group.png").rename(tmp_path / "out" / "plain.png")

    code, reports = verify(tmp_path / "out")
    assert code == 0 and all(r["marked"] for r in reports)
    by_name = {Path(r["path"]).name: r for r in reports}
    ids = {name: summary["watermarks"][str(tmp_path / "out" / name)] for name in ("group.png", "group.jpg")}
    for name in ("group.png", "group.jpg"):
        report = by_name[name]
        assert report["watermark"]["found"] and report["watermark"]["id"] == ids[name]
        record = report["metadata"]["record"]
        assert record["tool"] == "mobilefaceswap" and record["digital_source_type"] == DIGITAL_SOURCE_TYPE
        assert record["model_sha256"] == hashlib.sha256(tiny_swapper.read_bytes()).hexdigest()
        assert record["watermark"]["id"] == ids[name]
    assert set(by_name["group.png"]["metadata"]["where"]) == {"PNG iTXt", "XMP"}
    assert by_name["group.jpg"]["metadata"]["where"] == ["XMP"]
    assert b"compositeWithTrainedAlgorithmicMedia" in (tmp_path / "out" / "group.jpg").read_bytes()
    assert by_name["copy.jpg"]["watermark"]["id"] == ids["group.png"] and by_name["copy.jpg"]["metadata"]["record"] is None
    plain_report = by_name["plain.png"]  # --no-watermark: metadata only, still marked
    assert not plain_report["watermark"]["found"] and plain_report["metadata"]["record"]["watermark"] is None


@pytest.mark.slow
def test_video_output_is_watermarked_and_tagged(inputs, tiny_swapper, tmp_path):
    summary = swap(inputs, tiny_swapper, inputs["clip"], tmp_path / "out.mp4")
    code, [report] = verify(tmp_path / "out.mp4")
    assert code == 0 and report["kind"] == "video"
    assert report["watermark"]["found"] and report["watermark"]["id"] == summary["watermarks"][str(tmp_path / "out.mp4")]
    assert report["watermark"]["frames_read"] == 10
    assert report["metadata"]["record"]["tool"] == "mobilefaceswap"


@pytest.mark.slow
def test_verify_exit_codes_unmarked_and_unreadable(inputs, tmp_path):
    [report] = verify_paths(inputs["group"])
    assert exit_code([report]) == 1 and not report["marked"] and not report["watermark"]["found"]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    [report] = verify_paths(tmp_path / "broken.png")
    assert exit_code([report]) == 2 and "cannot read image" in report["error"]
    assert exit_code(verify_paths(tmp_path / "empty_folder_is_missing")) == 2
    result = mfs("verify", str(inputs["group"]))
    assert result.returncode == 1 and "NOT marked" in result.stdout


def test_verify_searches_subfolders_and_leaves_out_other_files(inputs, tmp_path):
    (tmp_path / "sub" / ".thumbnails").mkdir(parents=True)
    (tmp_path / "sub" / "group.jpg").write_bytes(inputs["group"].read_bytes())
    (tmp_path / "sub" / ".thumbnails" / "broken.jpg").write_bytes(b"hidden")
    (tmp_path / "readme.txt").write_text("notes")
    reports = verify_paths(tmp_path)
    assert [r["path"] for r in reports] == [str(tmp_path / "sub" / "group.jpg")]
    assert exit_code(reports) == 1  # unmarked, not unreadable


def test_watermark_reads_back_through_jpeg_and_resize_and_not_where_absent():
    photo = skimage.data.coffee()
    marked = watermark.embed(photo, 0xC0FFEE42)
    _, jpeg = cv2.imencode(".jpg", marked, [cv2.IMWRITE_JPEG_QUALITY, 75])
    for attacked in (cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED), cv2.resize(marked, (300, 200), interpolation=cv2.INTER_AREA)):
        found = watermark.detect(attacked)
        assert found is not None and found.id == 0xC0FFEE42 and found.version == watermark.FORMAT_VERSION
    assert all(watermark.detect(np.ascontiguousarray(p)) is None for p in (photo, skimage.data.chelsea(), skimage.data.rocket()))


@pytest.mark.slow
def test_bench_watermark_writes_its_report(tmp_path):
    result = mfs("bench-watermark", "--per-photo", "1", "--clips", "1", "--out", str(tmp_path / "bench.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert set(report["detection_rate"]) >= {"jpeg75", "jpeg50", "half_size", "crop10", "brighter30"}
    assert report["detection_rate"]["none"]["rate"] == 1.0 and report["false_positive_rate"]["n"] > 0
    assert report["h264_crf28"]["per_video"]["n"] == 1 and report["psnr_db"]["min"] >= 40


def self_made_certificate(folder: Path) -> tuple[Path, Path]:
    """A test CA and a signing certificate it issued (P-256), as C2PA wants them: PEM chain, PEM key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: x509.Name, issuer_key, ca: bool) -> x509.Certificate:
        usage = {name: False for name in ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                                          "encipher_only", "decipher_only")}
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                                            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mobilefaceswap tests")]))
                   .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, **usage), critical=True))
        if not ca:
            builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
                       .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "test CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mobilefaceswap tests"),
        ]
    )
    ca = certificate("test CA", ca_key, ca_name, ca_key, True)
    leaf = certificate("test signer", key, ca.subject, ca_key, False)
    chain, private = folder / "chain.pem", folder / "key.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return chain, private


@pytest.mark.slow
def test_c2pa_manifest_signed_with_a_test_certificate_validates(inputs, tiny_swapper, tmp_path):
    chain, key = self_made_certificate(tmp_path)
    swap(inputs, tiny_swapper, inputs["group"], tmp_path / "out.jpg", "--c2pa-cert", str(chain), "--c2pa-key", str(key))
    [report] = verify_paths(tmp_path / "out.jpg")
    assert report["marked"] and report["watermark"]["found"] and report["metadata"]["record"] is not None
    c2pa = report["c2pa"]
    assert c2pa["present"] and c2pa["validates"] and c2pa["validation_state"] == "Valid"
    assert c2pa["failures"] == ["signingCredential.untrusted"]  # our test CA is in no trust list
    data = bytearray((tmp_path / "out.jpg").read_bytes())
    data[-100] ^= 0xFF  # one changed byte of the picture breaks the signed hash
    (tmp_path / "tampered.jpg").write_bytes(bytes(data))
    [tampered] = verify_paths(tmp_path / "tampered.jpg")
    assert tampered["c2pa"]["present"] and not tampered["c2pa"]["validates"]
    assert verify_paths(inputs["group"])[0]["c2pa"] == {"checked": True, "present": False}
