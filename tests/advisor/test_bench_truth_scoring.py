"""Scoring of the ground-truth benchmark (benchmarks/bench_advisor_truth.py): which fault
episodes count, and the --explain listing."""

from benchmarks.bench_advisor_truth import explain_faults, observed_kinds, score

H = 3_600_000_000_000


def _truth():
    homes = [{"household_id": h, "cold_home": False} for h in ("H1", "H2", "H3", "H4")]
    devices = [
        # H1: a stuck spell that changed no reading (nothing to see) and a slow Modbus answer.
        {"device_id": "H1-GM1", "fault_kinds": ["slow", "stuck"], "episodes": [
            {"kind": "stuck", "start_ns": 0, "end_ns": 6 * H, "changed_readings": False},
            {"kind": "slow", "start_ns": H, "end_ns": 2 * H, "changed_readings": False}]},
        # H2: a Modbus exception that dropped readings, like a silence.
        {"device_id": "H2-EM1", "fault_kinds": ["exception"], "episodes": [
            {"kind": "exception", "start_ns": 2 * H, "end_ns": 3 * H, "changed_readings": True}]},
        # H3: an older truth file without episodes: its kinds count.
        {"device_id": "H3-TH1", "fault_kinds": ["silent"]},
    ]
    return {"period": {"start_ns": 0, "end_ns": 10 * H}, "households": homes, "devices": devices,
            "device_households": {"H1-GM1": "H1", "H2-EM1": "H2", "H3-TH1": "H3"}}


def test_only_episodes_that_changed_readings_count():
    truth = _truth()
    assert observed_kinds(truth["devices"][0]) == set()
    assert observed_kinds(truth["devices"][1]) == {"exception"}
    assert observed_kinds(truth["devices"][2]) == {"silent"}
    row = {r["risk"]: r for r in score(truth, {"device_fault": {"H2", "H4"}})}["device_fault"]
    assert (row["truth"], row["flagged"], row["hits"]) == (2, 2, 1)
    assert row["recall"] == 0.5 and row["precision"] == 0.5


def test_explain_lists_misses_with_episodes_and_false_alarms_with_reasons():
    truth = _truth()
    truth["devices"][1]["episodes"][0]["changed_readings"] = True
    lines = explain_faults(truth, {"device_fault": {"H4"}},
                           {("H4", "device_fault"): "1 device(s) silent"})
    text = "\n".join(lines)
    assert "1 missed, 1 false alarms" in text
    assert "missed H2: exception H2-EM1 8.0 h before the end for 1.00 h" in text
    assert "false alarm H4: 1 device(s) silent" in text
    assert "misses by fault kinds: exception 1" in text
