"""Risk rules: pure vectorised functions on (households, steps) arrays, one module per risk."""

from advisor.rules.base import SEVERITIES, RuleResult
from advisor.rules.bill_shock import bill_shock
from advisor.rules.cold_home import cold_home
from advisor.rules.credit import credit_runout
from advisor.rules.damp_mould import damp_mould
from advisor.rules.excess_heat import excess_heat
from advisor.rules.faults import device_faults
from advisor.rules.fuel_poverty import fuel_poverty
from advisor.rules.self_disconnection import self_disconnection
from advisor.rules.self_rationing import self_rationing

KINDS = ("bill_shock", "credit_runout", "self_disconnection", "self_rationing", "cold_home",
         "damp_mould", "fuel_poverty", "device_fault", "excess_heat")

__all__ = ["KINDS", "SEVERITIES", "RuleResult", "bill_shock", "cold_home", "credit_runout",
           "damp_mould", "device_faults", "excess_heat", "fuel_poverty", "self_disconnection",
           "self_rationing"]
