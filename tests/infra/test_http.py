"""helpers.infra.http: only loopback hosts are accepted, and every client shares one TLS context."""

from __future__ import annotations

import pytest

from helpers.infra import http


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000", "http://example.com", "https://8.8.8.8",
                                 "http://localhost.example.com", "http://127.0.0.1.nip.io:80", "ftp://127.0.0.1",
                                 "127.0.0.1:8000", "http://[2001:db8::1]:80", "http://"])
def test_refuses_anything_but_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        http.require_loopback(url)


@pytest.mark.parametrize(("url", "host"), [("http://127.0.0.1:8000", "127.0.0.1"), ("http://127.3.2.1", "127.3.2.1"),
                                           ("http://localhost:1", "localhost"), ("http://LOCALHOST", "localhost"),
                                           ("http://[::1]:80", "::1"), ("https://127.0.0.1/x", "127.0.0.1")])
def test_accepts_loopback_and_returns_the_host(url: str, host: str) -> None:
    assert http.require_loopback(url) == host


def test_one_shared_verifying_tls_context() -> None:
    import ssl

    context = http.shared_ssl_context()
    assert context is http.shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
