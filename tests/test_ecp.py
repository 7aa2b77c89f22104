"""ЭЦҚ verification (kiosk/domain/ecp.py) against a test CA in the НУЦ format made at test time.

Each refusal the issue lists has its test; each can fail: remove the check in verify_cms and the
test that names it goes green-to-red.
"""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from asn1crypto import cms as asn1_cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.domain import ecp
from kiosk.portal_sim.testca import CRL_URL, OCSP_URL, CaFetcher, DemoCa

NOW = dt.datetime(2026, 5, 4, 6, 0, tzinfo=dt.UTC)
PARENT = "880412412349"
OTHER = "851103300023"
DATA = b'{"service":"grade1","answers":{"child_iin":"190301600017"}}'


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def signer(ca: DemoCa):
    return ca.person(PARENT, usage="sign")


@pytest.fixture(scope="module")
def auth(ca: DemoCa):
    return ca.person(PARENT, usage="auth", key=None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fetcher(ca: DemoCa, clock: Clock) -> CaFetcher:
    return CaFetcher(ca, clock)


def verify(
    ca: DemoCa,
    revocation: ecp.Revocation,
    cms: bytes,
    *,
    expected: bytes = DATA,
    purpose=ecp.Purpose.SIGN,
    iin=PARENT,
    now=NOW,
    gost=None,
):
    """verify_cms as the kiosk asks it: the parent's application, signed, trusting the test CA's root."""
    trust = ecp.Trust((ca.root,))
    return ecp.verify_cms(
        cms, expected=expected, purpose=purpose, iin=iin, now=now, trust=trust, revocation=revocation, gost=gost
    )


@pytest.fixture
def check(ca: DemoCa, fetcher: CaFetcher):
    return functools.partial(verify, ca, ecp.Revocation(fetcher, cache_s=300))


def refused(run, *args, **kwargs) -> ecp.Problem:
    with pytest.raises(ecp.Refused) as caught:
        run(*args, **kwargs)
    return caught.value.problem


def test_a_parents_signature_on_the_application_is_accepted(check, ca: DemoCa, signer, fetcher) -> None:
    verified = check(ca.sign(signer, DATA))
    assert verified.signer.iin == PARENT
    assert verified.signer.name == "ТЕСТОВА АЙГЕРІМ"
    assert verified.signer.algorithm == "rsa"
    assert verified.checked_by == "kiosk"
    assert verified.revocation == "ocsp"
    assert fetcher.calls == [f"POST {OCSP_URL}"]


def test_a_detached_signature_is_checked_against_the_bytes_asked_for(check, ca: DemoCa, signer) -> None:
    assert check(ca.sign(signer, DATA, detached=True)).signer.iin == PARENT
    assert refused(check, ca.sign(signer, DATA, detached=True), expected=DATA + b" ") is ecp.Problem.OTHER_CONTENT


def test_identify_with_the_auth_key_on_a_challenge(check, ca: DemoCa, auth) -> None:
    challenge = ecp.challenge_bytes("kiosk-1", "ab" * 16, NOW)
    verified = check(ca.sign(auth, challenge), expected=challenge, purpose=ecp.Purpose.IDENTIFY)
    assert verified.signer.iin == PARENT


def test_another_persons_certificate(check, ca: DemoCa, signer) -> None:
    assert refused(check, ca.sign(signer, DATA), iin=OTHER) is ecp.Problem.OTHER_PERSON


def test_an_expired_certificate(check, ca: DemoCa) -> None:
    old = ca.person(
        PARENT, not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), not_after=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )
    assert refused(check, ca.sign(old, DATA)) is ecp.Problem.EXPIRED


def test_a_certificate_not_valid_yet(check, ca: DemoCa) -> None:
    early = ca.person(PARENT, not_before=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert refused(check, ca.sign(early, DATA)) is ecp.Problem.NOT_YET_VALID


def test_a_certificate_ocsp_says_is_revoked(check, ca: DemoCa, fetcher) -> None:
    stolen = ca.person(PARENT)
    ca.revoke(stolen.cert, NOW - dt.timedelta(days=1))
    assert refused(check, ca.sign(stolen, DATA)) is ecp.Problem.REVOKED
    assert fetcher.calls == [f"POST {OCSP_URL}"]  # OCSP answered: the CRL was not needed


def test_ocsp_down_then_the_crl_answers(check, ca: DemoCa, signer, fetcher) -> None:
    fetcher.ocsp_down = True
    assert check(ca.sign(signer, DATA)).revocation == "crl"
    stolen = ca.person(PARENT)
    ca.revoke(stolen.cert, NOW - dt.timedelta(hours=1))
    fresh = ecp.Revocation(fetcher)
    assert refused(verify, ca, fresh, ca.sign(stolen, DATA)) is ecp.Problem.REVOKED
    assert f"GET {CRL_URL}" in fetcher.calls


def test_neither_ocsp_nor_crl_answers_refuses(check, ca: DemoCa, signer, fetcher) -> None:
    fetcher.ocsp_down = fetcher.crl_down = True
    assert refused(check, ca.sign(signer, DATA)) is ecp.Problem.STATUS_UNKNOWN


def test_answers_are_cached_for_the_configured_time(ca: DemoCa, signer, fetcher, clock: Clock) -> None:
    revocation = ecp.Revocation(fetcher, cache_s=120)
    cms = ca.sign(signer, DATA)

    verify(ca, revocation, cms, now=NOW)
    fetcher.ocsp_down = True  # a cached "good" still holds while fresh
    verify(ca, revocation, cms, now=NOW + dt.timedelta(seconds=119))
    assert fetcher.calls == [f"POST {OCSP_URL}"]
    clock.now = NOW + dt.timedelta(seconds=121)
    verify(ca, revocation, cms, now=NOW + dt.timedelta(seconds=121))  # stale: asked again, OCSP down, the CRL answers
    assert fetcher.calls[1:] == [f"POST {OCSP_URL}", f"GET {CRL_URL}"]


def test_an_ocsp_answer_signed_by_someone_else_is_no_answer(ca: DemoCa, signer, clock: Clock) -> None:
    impostor = DemoCa(name="FAKE")

    class Forged(CaFetcher):
        def post(self, url: str, body: bytes, content_type: str) -> bytes:
            self.calls.append(f"POST {url}")
            # the impostor answers "good" about our CA's certificate, under its own key
            answer = impostor.ocsp_answer(body, clock())
            return answer

    fetcher = Forged(ca, clock)
    revocation = ecp.Revocation(fetcher)
    stolen = ca.person(PARENT)
    ca.revoke(stolen.cert, NOW - dt.timedelta(hours=1))
    # the CRL was asked, and it knows
    assert refused(verify, ca, revocation, ca.sign(stolen, DATA)) is ecp.Problem.REVOKED
    assert fetcher.calls == [f"POST {OCSP_URL}", f"GET {CRL_URL}"]


def test_an_auth_key_never_signs_an_application(check, ca: DemoCa, auth) -> None:
    assert refused(check, ca.sign(auth, DATA)) is ecp.Problem.WRONG_KEY


def test_the_signing_key_does_not_identify(check, ca: DemoCa, signer) -> None:
    challenge = ecp.challenge_bytes("kiosk-1", "cd" * 16, NOW)
    assert refused(check, ca.sign(signer, challenge), expected=challenge, purpose=ecp.Purpose.IDENTIFY) is (
        ecp.Problem.WRONG_KEY
    )


def test_a_key_that_is_not_an_individuals(check, ca: DemoCa) -> None:
    company = ca.person(PARENT, individual=False)
    assert refused(check, ca.sign(company, DATA)) is ecp.Problem.WRONG_KEY


def test_a_signature_over_other_bytes(check, ca: DemoCa, signer) -> None:
    assert refused(check, ca.sign(signer, DATA + b"!")) is ecp.Problem.OTHER_CONTENT


def test_an_unknown_root(check, ca: DemoCa) -> None:
    stranger = DemoCa(name="OTHER")
    own = stranger.person(PARENT)
    assert refused(check, stranger.sign(own, DATA)) is ecp.Problem.UNKNOWN_ROOT


def test_a_root_carried_in_the_cms_is_not_trusted(check, ca: DemoCa) -> None:
    """The CMS may carry certificates to fill the path; a root it carries is never the end."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    stranger = DemoCa(name="OTHER")
    own = stranger.person(PARENT)
    cms = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(DATA)
        .add_signer(own.cert, own.key, hashes.SHA256())
        .add_certificate(stranger.intermediate)
        .add_certificate(stranger.root)
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    assert refused(check, cms) is ecp.Problem.UNKNOWN_ROOT


def test_a_tampered_signature(check, ca: DemoCa, signer) -> None:
    info = asn1_cms.ContentInfo.load(ca.sign(signer, DATA))
    signer_info = info["content"]["signer_infos"][0]
    signature = bytearray(signer_info["signature"].native)
    signature[10] ^= 0x01
    signer_info["signature"] = bytes(signature)
    assert refused(check, info.dump(force=True)) is ecp.Problem.BAD_SIGNATURE


def _as_gost(cms: bytes) -> bytes:
    """The same CMS, its signature algorithm relabelled GOST 2015 256-bit: the kiosk cannot check it."""
    info = asn1_cms.ContentInfo.load(cms)
    signer_info = info["content"]["signer_infos"][0]
    signer_info["signature_algorithm"] = {"algorithm": "1.2.398.3.10.1.1.2.3.1"}
    return info.dump(force=True)


def test_gost_without_a_verifier_goes_on_marked_not_verified_here(check, ca: DemoCa, signer) -> None:
    verified = check(_as_gost(ca.sign(signer, DATA)))
    assert (verified.checked_by, verified.revocation, verified.signer.algorithm) == (
        "not_verified_here",
        "none",
        "gost",
    )
    # the checks the kiosk can make still hold: whose key, which usage, which bytes
    assert refused(check, _as_gost(ca.sign(signer, DATA)), iin=OTHER) is ecp.Problem.OTHER_PERSON
    assert refused(check, _as_gost(ca.sign(signer, DATA + b"!"))) is ecp.Problem.OTHER_CONTENT


def test_gost_never_identifies_without_a_verifier(check, ca: DemoCa, auth) -> None:
    challenge = ecp.challenge_bytes("kiosk-1", "ef" * 16, NOW)
    cms = _as_gost(ca.sign(auth, challenge))
    assert refused(check, cms, expected=challenge, purpose=ecp.Purpose.IDENTIFY) is ecp.Problem.GOST_UNCHECKED


def test_gost_through_the_sites_verifier(check, ca: DemoCa, signer) -> None:
    class Verifier:
        def __init__(self, answer) -> None:
            self.answer = answer
            self.seen: list[tuple[bytes, bytes]] = []

        def verify(self, cms: bytes, data: bytes) -> bool:
            self.seen.append((cms, data))
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    cms = _as_gost(ca.sign(signer, DATA))
    yes = Verifier(True)
    assert check(cms, gost=yes).checked_by == "verifier"
    assert yes.seen == [(cms, DATA)]
    assert refused(check, cms, gost=Verifier(False)) is ecp.Problem.BAD_SIGNATURE
    assert refused(check, cms, gost=Verifier(ecp.Unreachable("down"))) is ecp.Problem.STATUS_UNKNOWN


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"garbage",
        b"\x30\x80" + b"\x00" * 10,
        b"\x30\x82\xff\xff",
        b"not base64 but text",
        b"\x30" + b"\x84\xff\xff\xff\xff",
        bytes(range(64)),
    ],
)
def test_malformed_cms_is_refused_not_raised(check, data: bytes) -> None:
    assert refused(check, data) is ecp.Problem.MALFORMED


def test_a_cms_of_something_else_is_malformed(check, ca: DemoCa) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    certs_only = pkcs7.serialize_certificates([ca.root], Encoding.DER)  # SignedData without a signer
    assert refused(check, certs_only) is ecp.Problem.MALFORMED
    assert refused(check, b"\x30" * (ecp.MAX_CMS_BYTES + 1)) is ecp.Problem.MALFORMED


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_cms_bytes_only_ever_refuse(check, ca: DemoCa, signer, data) -> None:
    """Flip, cut or splice the bytes of a good CMS: verify_cms answers or refuses, nothing else."""
    cms = bytearray(_GOOD.setdefault("cms", ca.sign(signer, DATA)))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(cms) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip":
            cms[where] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del cms[where : where + data.draw(st.integers(1, 64))]
        else:
            cms[where:where] = data.draw(st.binary(min_size=1, max_size=16))
        if not cms:
            break
    try:
        check(bytes(cms))
    except ecp.Refused:
        pass


_GOOD: dict[str, bytes] = {}


def test_trust_from_a_folder(tmp_path, ca: DemoCa) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "root.pem").write_bytes(ca.pem_roots())
    (tmp_path / "nca.cer").write_bytes(ca.intermediate.public_bytes(Encoding.DER))
    (tmp_path / "readme.txt").write_text("not a certificate")
    trust = ecp.Trust.from_dir(tmp_path)
    assert trust.roots == (ca.root,)
    assert trust.intermediates == (ca.intermediate,)
    assert not ecp.Trust.from_dir(tmp_path / "missing")


def test_base64_from_ncalayer() -> None:
    assert ecp.decode_b64("TUlJ\nQg==") == b"MIIB"
    assert ecp.decode_b64("not base64!") is None
