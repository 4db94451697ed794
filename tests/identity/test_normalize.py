from hypothesis import given
from hypothesis import strategies as st

from empatia.identity.normalize import normalize_email, normalize_id, normalize_phone

local = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
    min_size=1,
    max_size=20,
)
domain = st.from_regex(r"[a-zA-Z0-9-]{1,12}\.[a-zA-Z]{2,6}", fullmatch=True)
emails = st.builds(lambda a, b: f"{a}@{b}", local, domain)
pad = st.text(alphabet=" \t", max_size=3)


@given(emails, pad, pad)
def test_email_is_case_and_space_insensitive(email: str, left: str, right: str) -> None:
    assert normalize_email(left + email.upper() + right) == normalize_email(email)
    assert normalize_email(email) == email.lower()


@given(st.text(max_size=40))
def test_email_normalisation_is_idempotent(raw: str) -> None:
    once = normalize_email(raw)
    if once is not None:
        assert normalize_email(once) == once
        assert "@" in once and once == once.strip().lower()


def test_email_rejects_non_addresses() -> None:
    assert normalize_email("") is None
    assert normalize_email("no-at-sign") is None
    assert normalize_email("a b@c.d") is None
    assert normalize_email("x+tag@y.com", strip_plus=True) == "x@y.com"


@given(st.integers(min_value=200_000_000, max_value=899_999_999))
def test_phone_formats_agree(n: int) -> None:
    digits = str(n)
    spaced = f"{digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}"
    e164 = normalize_phone(f"+48{digits}", "US")
    assert e164 == f"+48{digits}"
    assert normalize_phone(spaced, "PL") == e164
    assert normalize_phone(f"0048 {spaced}", "PL") == e164
    assert normalize_phone(f"(+48) {digits[:3]}-{digits[3:6]}-{digits[6:]}", None) == e164


@given(st.text(max_size=20))
def test_phone_is_e164_or_none(raw: str) -> None:
    out = normalize_phone(raw, "DE")
    assert out is None or (out.startswith("+") and out[1:].isdigit())
    if out is not None:
        assert normalize_phone(out, "US") == out


@given(st.text(max_size=20))
def test_other_ids_are_trimmed(raw: str) -> None:
    out = normalize_id(raw)
    assert out is None or (out == out.strip() and out)
