"""The outside systems an ЭЦҚ check talks to: OCSP responders and CRL servers, and the site's
GOST verifier service (NCANode). One small client each, over httpx with short timeouts; every
failure to get an answer is ``ecp.Unreachable``, which the revocation policy handles."""

from __future__ import annotations

import base64

import httpx

from kiosk.domain.ecp import Unreachable

MAX_ANSWER = 20 * 1024 * 1024  # НУЦ's full CRL is a few MB; anything far larger is not a CRL


class HttpFetcher:
    def __init__(self, timeout: float) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)), follow_redirects=False)

    def _read(self, response: httpx.Response, url: str) -> bytes:
        if response.status_code != 200:
            raise Unreachable(f"{url} answered {response.status_code}")
        if len(response.content) > MAX_ANSWER:
            raise Unreachable(f"{url} answered {len(response.content)} bytes")
        return response.content

    def post(self, url: str, body: bytes, content_type: str) -> bytes:
        try:
            return self._read(self._client.post(url, content=body, headers={"Content-Type": content_type}), url)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{url}: {type(exc).__name__}") from None

    def get(self, url: str) -> bytes:
        try:
            return self._read(self._client.get(url), url)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{url}: {type(exc).__name__}") from None


class NcaNodeVerifier:
    """NCANode 3's ``POST /cms/verify`` (``cms``, ``data`` in base64, ``revocationCheck``): the
    answer's ``valid`` is the verdict. The request and answer shapes are NCANode 3's documented
    ones as this code's author read them; check them against the site's NCANode version before
    relying on this (README, "Signing with ЭЦҚ")."""

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url.rstrip("/")
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))

    def verify(self, cms: bytes, data: bytes) -> bool:
        body = {
            "cms": base64.b64encode(cms).decode(),
            "data": base64.b64encode(data).decode(),
            "revocationCheck": ["OCSP", "CRL"],
        }
        try:
            response = self._client.post(f"{self._url}/cms/verify", json=body)
        except httpx.HTTPError as exc:
            raise Unreachable(f"verifier: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise Unreachable(f"verifier answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise Unreachable("verifier answered no JSON") from None
        return isinstance(answer, dict) and answer.get("valid") is True
