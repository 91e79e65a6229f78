"""Red team: UK numbers written with the international 00 prefix (as dialled from abroad, and
as many people copy them from a phone's contact card) were kept in a note. The formats are
Ofcom's UK numbering (+44 or 0044 then the national number without its leading 0; Ofcom sets
07700 900000-900999 aside for drama, so these are no one's)."""

import pytest

from dashboard.note_privacy import mask_note


@pytest.mark.parametrize("number", ["0044 7700 900123", "00447700900123", "0044 (0)7700 900123",
                                    "0044 161 496 0000"])
def test_numbers_with_the_00_44_prefix_are_masked(number):
    m = mask_note(f"Rang her on {number} today.")
    assert "7700" not in m.text and "496" not in m.text, m.text
    assert m.text == "Rang her on [phone number removed] today."
    assert m.removed == {"phone number": 1}


def test_other_long_numbers_stay():
    note = "Meter serial 00441234 read 004412.5 kWh; case 0044."
    assert mask_note(note).text == note
