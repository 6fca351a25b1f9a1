"""The sandbox CA and server certificate: generated once, naming localhost and 127.0.0.1."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from spectra.sandbox.tls import ensure_tls


def test_certificate_names_localhost_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    cert.verify_directly_issued_by(ca)
    assert oct(files.server_key.stat().st_mode & 0o777) == "0o600"


def test_second_call_reuses_the_same_files(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    before = first.ca_cert.read_bytes()
    second = ensure_tls(tmp_path)
    assert second == first and second.ca_cert.read_bytes() == before
