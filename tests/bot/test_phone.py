"""Phone numbers from every Heard country, in the shapes providers and people send them."""

from __future__ import annotations

import pytest

from bot.phone import InvalidNumber, mask_number, normalise_number


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+254712345678", None, "+254712345678"),  # Kenya, Safaricom
        ("0712 345 678", "KE", "+254712345678"),
        ("254712345678", "KE", "+254712345678"),  # AT-style without the plus
        ("+265991234567", None, "+265991234567"),  # Malawi, Airtel
        ("0991234567", "MW", "+265991234567"),
        ("+2348031234567", None, "+2348031234567"),  # Nigeria, MTN
        ("0803 123 4567", "NG", "+2348031234567"),
        ("+8801712345678", None, "+8801712345678"),  # Bangladesh, Grameenphone
        ("01712-345678", "BD", "+8801712345678"),
        ("+91 98765 43210", None, "+919876543210"),  # India
        ("09876543210", "IN", "+919876543210"),
        ("+9779841234567", None, "+9779841234567"),  # Nepal, Ncell
        ("9841234567", "NP", "+9779841234567"),
        ("+84912345678", None, "+84912345678"),  # Vietnam, Vinaphone
        ("0912 345 678", "VN", "+84912345678"),
        ("+970599123456", None, "+970599123456"),  # Palestine, Jawwal
        ("0599123456", "PS", "+970599123456"),
        ("whatsapp:+254712345678", None, "+254712345678"),
        ("tel:+254712345678", None, "+254712345678"),
        ("  +254 712 345 678  ", "ke", "+254712345678"),
        ("+254712345678", "MW", "+254712345678"),  # an explicit country wins over the region
    ],
)
def test_normalise(raw: str, region: str | None, expected: str) -> None:
    assert normalise_number(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "KE", "empty"),
        ("whatsapp:", None, "empty"),
        ("0712345678", None, "country code"),  # local format, no region to read it in
        ("hello", "KE", "not a phone number"),
        ("+2547123", None, "too short"),
        ("+25471234567890", None, "too long"),
        ("+999123456789", None, "country code"),
        ("+254 000 000 000", None, "not a number in use"),
    ],
)
def test_invalid_numbers_say_why(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalise_number(raw, region)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+254712345123", "+2547•••••123"),
        ("+2348031234567", "+2348••••••567"),
        ("+919876543210", "+919••••••210"),
        ("+9779841234567", "+9779••••••567"),
    ],
)
def test_mask(e164: str, masked: str) -> None:
    assert mask_number(e164) == masked


def test_mask_never_reveals_the_middle_digits() -> None:
    masked = mask_number("+254712345678")
    assert "2345" not in masked
    assert masked.startswith("+2547") and masked.endswith("678")
