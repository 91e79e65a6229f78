"""Masking against a table of UK telephone numbers as people write them (issue 15).

The numbers are Ofcom's ranges set aside for drama and examples ("Telephone numbers for use in
TV and radio drama programmes", Ofcom; so they are no one's), in the number lengths of Ofcom's
National Telephone Numbering Plan: a national number is 0 followed by 9 or 10 digits; 01 and 02
are geographic (020 London, 0113 Leeds, 0161 Manchester, 01632 the drama area code), 03 is
non-geographic at geographic rates, 07 mobile, 080 freephone (10 or 11 digits), 09 premium; an
international caller replaces the 0 with +44 (or 00 44 from most countries), often written
"+44 (0)". The ways of writing them (spaces, hyphens, dots, brackets, one digit at a time) are
how notes and contact cards actually carry them.
"""

import pytest

from dashboard.note_privacy import mask_note

NUMBERS = [
    # mobile 07700 900000-900999
    "07700 900123", "07700900123", "07700-900-123", "07700.900.123", "077 009 00123",
    "0 7 7 0 0 9 0 0 1 2 3", "0-7-7-0-0-9-0-0-1-2-3", "+44 7700 900123", "+447700900123",
    "+44 (0)7700 900123", "+44(0)7700900123", "0044 7700 900123", "00 44 7700 900123",
    "+44-7700-900-123",
    # geographic: London 020 7946 0000-0999, Manchester 0161 496 0000-0999, Leeds 0113 496 0xxx
    "020 7946 0123", "(020) 7946 0123", "02079460123", "+44 20 7946 0123", "0161 496 0456",
    "(0161) 4960456", "0113 496 0789", "+44 113 496 0789",
    # the drama area code 01632 960000-960999 (five-digit area code, six-digit local number)
    "01632 960123", "(01632) 960 123",
    # non-geographic 03069 990000-990999, freephone 0808 157 0000-0999, premium 0909 879 0xxx
    "03069 990123", "0808 157 0123", "0909 879 0123",
]


@pytest.mark.parametrize("number", NUMBERS)
def test_uk_numbers_in_every_written_form_are_masked(number):
    m = mask_note(f"Tenant asked to be called on {number} after 5pm.")
    assert m.text == "Tenant asked to be called on [phone number removed] after 5pm.", m.text
    assert m.removed == {"phone number": 1}


@pytest.mark.parametrize("number", ["07700 900123", "0 7 7 0 0 9 0 0 1 2 3"])
def test_a_number_at_the_start_or_end_or_in_brackets(number):
    assert mask_note(number).text == "[phone number removed]"
    assert mask_note(f"(mob: {number})").text == "(mob: [phone number removed])"
    assert mask_note(f"Call {number}.").text == "Call [phone number removed]."


KEPT = [
    "Visited 03.12.2026 at 09:40; boiler pressure 1.2 bar.",
    "Emergency credit £10.50 added; balance now -£3.20.",
    "Case 1234 linked to case 1235.",
    "MPAN 1200023456789 and meter serial 012345678901 checked.",   # 13 and 12 digits
    "Reading 012345 kWh on the register; 0 7 7 0 kWh last week.",  # too few digits
    "Humidity 85% for 14 hours; 3 rooms.",
    "Ref 00123456789",                                             # 0 then 0: not a UK number
]


@pytest.mark.parametrize("note", KEPT)
def test_dates_money_ids_and_readings_are_kept(note):
    m = mask_note(note)
    assert m.text == note and m.removed == {}


def test_several_numbers_and_an_email_are_all_counted():
    m = mask_note("Mob 07700 900123, home 0161 496 0456, email j.doe+x@example.co.uk.")
    assert m.text == ("Mob [phone number removed], home [phone number removed], email "
                      "[email removed].")
    assert m.removed == {"email address": 1, "phone number": 2}
