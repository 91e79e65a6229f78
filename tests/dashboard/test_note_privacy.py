"""Notes keep no phone numbers, emails or tenants' names (issue 15)."""

import pytest

from dashboard.note_privacy import mask_note


@pytest.mark.parametrize("number", ["07700 900123", "07700900123", "+44 7700 900123",
                                    "+447700900123", "0161 496 0000", "(0161) 496 0000",
                                    "020 7946 0000"])
def test_phone_numbers_are_masked(number):
    m = mask_note(f"Rang her on {number} today.")
    assert number not in m.text and "[phone number removed]" in m.text
    assert m.removed == {"phone number": 1}


def test_emails_and_names_are_masked_and_counted():
    m = mask_note("Spoke to Mrs Jane Doe (jane.doe@example.org); Jane will call back. Doe ok.",
                  ["Jane Doe"])
    assert "Jane" not in m.text and "Doe" not in m.text and "example.org" not in m.text
    assert m.removed == {"email address": 1, "tenant's name": 3}
    assert "1 email address," in m.warning() and "3 mentions of the tenants' names" in m.warning()


def test_a_plain_note_is_untouched():
    note = "Heating engineer booked for Thursday 10:00; boiler pressure 1.2 bar; case 1234."
    m = mask_note(note, ["Jane Doe"])
    assert m.text == note and m.removed == {} and m.warning() is None
