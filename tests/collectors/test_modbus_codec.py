"""Register decoding for every data type and word/byte order against hand-computed registers,
and encode/decode round trips. Expected registers are written out from the IEEE-754 / two's
complement bytes (e.g. float32 123.456 = 0x42F6E979), not computed by the code under test."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.client.mixin import ModbusClientMixin

from hearth.registermap import DATA_TYPES, RegisterSpec, decode, encode

ORDERS = {  # name: (word_order, byte_order)
    "ABCD": ("big", "big"), "CDAB": ("little", "big"),
    "BADC": ("big", "little"), "DCBA": ("little", "little"),
}

# (data_type, value, {order: registers in protocol order})
KNOWN = [
    ("uint16", 0x1234, {"ABCD": [0x1234], "CDAB": [0x1234], "BADC": [0x3412], "DCBA": [0x3412]}),
    ("int16", -2, {"ABCD": [0xFFFE], "CDAB": [0xFFFE], "BADC": [0xFEFF], "DCBA": [0xFEFF]}),
    ("uint32", 0x12345678, {"ABCD": [0x1234, 0x5678], "CDAB": [0x5678, 0x1234],
                            "BADC": [0x3412, 0x7856], "DCBA": [0x7856, 0x3412]}),
    # -123456789 = 0xF8A432EB
    ("int32", -123456789, {"ABCD": [0xF8A4, 0x32EB], "CDAB": [0x32EB, 0xF8A4],
                           "BADC": [0xA4F8, 0xEB32], "DCBA": [0xEB32, 0xA4F8]}),
    # 123.456 as float32 = 0x42F6E979 (decodes to 123.45600128173828)
    ("float32", 123.45600128173828, {"ABCD": [0x42F6, 0xE979], "CDAB": [0xE979, 0x42F6],
                                     "BADC": [0xF642, 0x79E9], "DCBA": [0x79E9, 0xF642]}),
    # values decode to float: 64-bit integers are exact up to 2**53, as this one
    ("uint64", 0x0001020304050607,
     {"ABCD": [0x0001, 0x0203, 0x0405, 0x0607], "CDAB": [0x0607, 0x0405, 0x0203, 0x0001],
      "BADC": [0x0100, 0x0302, 0x0504, 0x0706], "DCBA": [0x0706, 0x0504, 0x0302, 0x0100]}),
    ("int64", -2,
     {"ABCD": [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], "CDAB": [0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF],
      "BADC": [0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF], "DCBA": [0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF]}),
    # 123.456 as float64 = 0x405EDD2F1A9FBE77
    ("float64", 123.456,
     {"ABCD": [0x405E, 0xDD2F, 0x1A9F, 0xBE77], "CDAB": [0xBE77, 0x1A9F, 0xDD2F, 0x405E],
      "BADC": [0x5E40, 0x2FDD, 0x9F1A, 0x77BE], "DCBA": [0x77BE, 0x9F1A, 0x2FDD, 0x5E40]}),
]
CASES = [(dt, value, order, regs)
         for dt, value, by_order in KNOWN for order, regs in by_order.items()]


def spec(data_type: str, order: str = "ABCD", scale: float = 1.0, offset: float = 0.0):
    word, byte = ORDERS[order]
    return RegisterSpec(field="x", address=0, data_type=data_type, word_order=word,
                        byte_order=byte, scale=scale, offset=offset)


def test_known_values_cover_every_type():
    assert {dt for dt, _, _ in KNOWN} == set(DATA_TYPES)


@pytest.mark.parametrize(("data_type", "value", "order", "registers"), CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_decode_known_registers(data_type, value, order, registers):
    assert decode(registers, spec(data_type, order)) == value


@pytest.mark.parametrize(("data_type", "value", "order", "registers"), CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_encode_gives_known_registers(data_type, value, order, registers):
    assert encode(value, spec(data_type, order)) == registers


@pytest.mark.parametrize(("data_type", "value", "order", "registers"),
                         [c for c in CASES if ORDERS[c[2]][1] == "big"])
def test_agrees_with_pymodbus_for_word_orders(data_type, value, order, registers):
    """pymodbus converts word orders (not byte swaps): an independent check of ABCD/CDAB."""
    dt = getattr(ModbusClientMixin.DATATYPE, data_type.upper())
    word_order = ORDERS[order][0]
    assert ModbusClientMixin.convert_from_registers(registers, dt, word_order=word_order) == value


def test_scale_and_offset():
    # 0.1 V per count: 2399 -> 239.9 V; a temperature stored as (t + 40) x 10 in a uint16
    assert decode([2399], spec("uint16", scale=0.1)) == pytest.approx(239.9)
    assert decode([650], spec("uint16", scale=0.1, offset=-40.0)) == pytest.approx(25.0)
    assert encode(25.0, spec("uint16", scale=0.1, offset=-40.0)) == [650]
    # prepayment credit in pence as int32 BADC: -3.21 GBP = -321 = 0xFFFFFEBF
    assert encode(-3.21, spec("int32", "BADC", scale=0.01)) == [0xFFFF, 0xBFFE]


def test_integers_saturate_and_round():
    assert encode(70000, spec("uint16")) == [0xFFFF]
    assert encode(-5, spec("uint16")) == [0x0000]
    assert encode(-40000, spec("int16")) == [0x8000]
    assert encode(1.6, spec("uint16")) == [2]


def test_wrong_register_count_is_an_error():
    with pytest.raises(ValueError, match="needs 2 registers, got 1"):
        decode([1], spec("float32"))


ORDER_NAMES = st.sampled_from(sorted(ORDERS))


def _int_range(data_type: str) -> tuple[int, int]:
    fmt, _ = DATA_TYPES[data_type]
    bits = struct.calcsize(fmt) * 8
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if fmt.islower() else (0, (1 << bits) - 1)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), data_type=st.sampled_from(sorted(DATA_TYPES)), order=ORDER_NAMES)
def test_round_trip(data, data_type, order):
    s = spec(data_type, order)
    if data_type == "float32":
        value = data.draw(st.floats(width=32, allow_nan=False, allow_infinity=False))
    elif data_type == "float64":
        value = data.draw(st.floats(allow_nan=False, allow_infinity=False))
    else:
        lo, hi = _int_range(data_type)
        # decode gives a float: 64-bit integers round trip exactly within +-2**53
        value = data.draw(st.integers(max(lo, -(2**53)), min(hi, 2**53)))
    registers = encode(value, s)
    assert len(registers) == s.count
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode(registers, s) == value


@settings(max_examples=200, deadline=None)
@given(value=st.floats(-1e6, 1e6), order=ORDER_NAMES)
def test_scaled_round_trip_within_resolution(value, order):
    """A scaled int32 keeps the value to half its resolution (0.01 kWh here)."""
    s = spec("int32", order, scale=0.01)
    assert math.isclose(decode(encode(value, s), s), value, abs_tol=0.005 + 1e-9)
