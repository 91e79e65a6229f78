"""Request planning (merging, gaps, the 125-register limit) and decoding a device's fields."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.modbus_plan import (
    DecodeError,
    ReadRequest,
    decode_fields,
    plan_reads,
    registers_by_request,
    wanted_specs,
)
from hearth.registermap import (
    DEFAULT_MAPS_DIR,
    RegisterMap,
    RegisterSpec,
    encode,
    load_register_maps,
)

MAPS = load_register_maps(DEFAULT_MAPS_DIR)


def reg(field, address, data_type="uint16", type_="holding"):
    return RegisterSpec(field=field, address=address, data_type=data_type, type=type_)


def spans(requests):
    return [(r.register_type, r.address, r.count) for r in requests]


def test_adjacent_registers_make_one_request():
    specs = [reg("a", 0, "uint32"), reg("b", 2, "float32"), reg("c", 4)]
    assert spans(plan_reads(specs)) == [("holding", 0, 5)]


def test_gap_within_max_gap_is_read_across():
    specs = [reg("a", 0), reg("b", 9)]  # gap of 8 registers (1..8)
    assert spans(plan_reads(specs, max_gap=8)) == [("holding", 0, 10)]
    assert spans(plan_reads(specs, max_gap=7)) == [("holding", 0, 1), ("holding", 9, 1)]


def test_zero_gap_merges_only_touching_registers():
    specs = [reg("a", 0, "uint32"), reg("b", 2), reg("c", 4)]
    assert spans(plan_reads(specs, max_gap=0)) == [("holding", 0, 3), ("holding", 4, 1)]


def test_register_types_are_never_merged():
    specs = [reg("a", 0), reg("b", 1, type_="input"), reg("c", 2)]
    assert spans(plan_reads(specs)) == [("holding", 0, 3), ("input", 1, 1)]


def test_unordered_specs_are_sorted():
    specs = [reg("c", 20), reg("a", 0), reg("b", 10)]
    assert spans(plan_reads(specs, max_gap=9)) == [("holding", 0, 21)]


def test_125_register_limit_splits():
    # 64 float32 registers back to back = 128 registers: must split at 125 without cutting a field
    specs = [reg(f"f{i}", 2 * i, "float32") for i in range(64)]
    requests = plan_reads(specs)
    assert spans(requests) == [("holding", 0, 124), ("holding", 124, 4)]
    assert all(r.count <= 125 for r in requests)
    # a smaller limit some meters impose
    assert max(r.count for r in plan_reads(specs, max_count=10)) <= 10


def test_limit_counts_the_gap():
    specs = [reg("a", 0), reg("b", 120, "uint64")]  # 0..123 with a gap: 124 registers
    assert spans(plan_reads(specs, max_gap=120)) == [("holding", 0, 124)]
    specs = [reg("a", 0), reg("b", 122, "uint64")]  # would be 126
    assert spans(plan_reads(specs, max_gap=125)) == [("holding", 0, 1), ("holding", 122, 4)]


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="max_count"):
        plan_reads([reg("a", 0)], max_count=126)
    with pytest.raises(ValueError, match="max_gap"):
        plan_reads([reg("a", 0)], max_gap=-1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.sampled_from(["uint16", "float32", "float64"]),
                          st.sampled_from(["holding", "input"])), min_size=1, max_size=40),
       st.integers(0, 20), st.integers(4, 125))
def test_plan_properties(raw, max_gap, max_count):
    """Every field is read exactly once, inside one request, within the limits."""
    specs, used = [], set()
    for i, (address, data_type, type_) in enumerate(raw):
        count = {"uint16": 1, "float32": 2, "float64": 4}[data_type]
        cells = {(type_, a) for a in range(address, address + count)}
        if cells & used:
            continue
        used |= cells
        specs.append(reg(f"f{i}", address, data_type, type_))
    requests = plan_reads(specs, max_gap=max_gap, max_count=max_count)
    covered = [s.field for r in requests for s in r.specs]
    assert sorted(covered) == sorted(s.field for s in specs)
    for r in requests:
        assert 1 <= r.count <= max_count
        for s in r.specs:
            assert s.type == r.register_type
            assert r.address <= s.address and s.address + s.count <= r.address + r.count
    # no two requests of one type could have been merged under the rules
    by_type = {}
    for r in requests:
        by_type.setdefault(r.register_type, []).append(r)
    for rs in by_type.values():
        for a, b in itertools.pairwise(rs):
            gap = b.address - (a.address + a.count)
            assert gap > max_gap or b.address + b.count - a.address > max_count


def test_shipped_maps_need_one_request_each():
    em1 = plan_reads(wanted_specs(MAPS["hearth-sim-em1"], "electricity"))
    # energy..supply_on (0-7) and the clock (12-13), across the unread Wh counter (8-11)
    assert spans(em1) == [("holding", 0, 14)]
    assert spans(plan_reads(wanted_specs(MAPS["hearth-sim-em1"], "electricity"), max_gap=3)) == [
        ("holding", 0, 8), ("holding", 12, 2)]
    gas = plan_reads(wanted_specs(MAPS["hearth-sim-gas"], "gas"))
    assert spans(gas) == [("input", 0, 10)]
    no_clock = plan_reads(wanted_specs(MAPS["hearth-sim-gas"], "gas", device_clock=False))
    assert spans(no_clock) == [("input", 0, 6)]


def test_credit_meter_does_not_read_prepayment_fields():
    specs = wanted_specs(MAPS["hearth-sim-em1"], "electricity", prepayment=False)
    assert {s.field for s in specs} == {"energy_kwh", "power_w", "voltage_v", "device_time_s"}


def test_map_without_fuel_fields_is_refused():
    rmap = RegisterMap(name="x", registers=[reg("temp_c", 0)])
    with pytest.raises(ValueError, match="none of the electricity fields"):
        wanted_specs(rmap, "electricity")
    with pytest.raises(ValueError, match="fuel must be"):
        wanted_specs(MAPS["hearth-sim-gas"], "water")


def _registers(rmap, requests, values):
    """Registers the requests return for `values` (built with encode, read back by slices)."""
    out = []
    for r in requests:
        regs = [0] * r.count
        for s in r.specs:
            first = s.address - r.address
            regs[first:first + s.count] = encode(values.get(s.field, 0.0), s)
        out.append(regs)
    return out


def test_decode_electricity_fields():
    rmap = MAPS["hearth-sim-em1"]
    requests = plan_reads(wanted_specs(rmap, "electricity"))
    values = {"energy_kwh": 12345.67, "power_w": 812.5, "voltage_v": 241.3, "credit_gbp": -4.56,
              "supply_on": 1, "device_time_s": 1_767_225_600}
    fields = decode_fields(requests, _registers(rmap, requests, values), fuel="electricity")
    assert fields == {"energy_kwh": pytest.approx(12345.67), "power_w": 812.5,
                      "voltage_v": pytest.approx(241.3), "credit_gbp": pytest.approx(-4.56),
                      "supply_on": True, "device_time_s": 1_767_225_600}
    assert fields["supply_on"] is True


def test_decode_gas_derives_energy_when_map_has_only_volume():
    rmap = RegisterMap(name="vol-only", registers=[
        RegisterSpec(field="volume_m3", address=0, data_type="float64", type="input")])
    requests = plan_reads(wanted_specs(rmap, "gas"))
    regs = _registers(rmap, requests, {"volume_m3": 100.0})
    fields = decode_fields(requests, regs, fuel="gas", calorific_value_mj_per_m3=39.5)
    # DESIGN.md: kWh = m3 x 1.02264 x CV / 3.6
    assert fields == {"volume_m3": 100.0, "energy_kwh": pytest.approx(100 * 1.02264 * 39.5 / 3.6)}


def test_decode_errors_name_the_problem():
    rmap = MAPS["hearth-sim-em1"]
    requests = plan_reads(wanted_specs(rmap, "electricity"))
    good = {"energy_kwh": 1.0, "power_w": 1.0, "voltage_v": 230.0, "credit_gbp": 1.0,
            "supply_on": 1}
    regs = _registers(rmap, requests, {**good, "power_w": math.nan})
    with pytest.raises(DecodeError, match="power_w is nan"):
        decode_fields(requests, regs, fuel="electricity")
    regs = _registers(rmap, requests, {**good, "supply_on": 7})
    with pytest.raises(DecodeError, match="supply_on is 7"):
        decode_fields(requests, regs, fuel="electricity")
    regs = _registers(rmap, requests, good)
    with pytest.raises(DecodeError, match="returned 7 registers, expected 14"):
        decode_fields(requests, [regs[0][:7]], fuel="electricity")


def test_dead_letter_description_is_json():
    r = ReadRequest("input", 4, 2, ())
    assert json.loads(json.dumps(registers_by_request([r], [[1, 2]]))) == [
        {"type": "input", "address": 4, "count": 2, "registers": [1, 2]}]
