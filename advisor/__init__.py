"""Advisor: flags households at risk (bills, prepayment credit, cold home, damp and mould, fuel
poverty, faults), keeps officers' cases and texts tenants useful tips."""
