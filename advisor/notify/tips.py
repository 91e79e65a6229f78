"""Tips for tenants: short, plain English, neutral service wording, specific to the risk and the
household's own numbers. Templates use GOV.UK Notify's ((placeholder)) syntax; the texts live in
config ([notifier.templates]) and, for Notify, in the Notify templates with the same wording.
"""

from __future__ import annotations

import re

# Built-in texts (also in config/hearth.toml). Each ends with how to stop the messages.
DEFAULT_TEMPLATES: dict[str, str] = {
    "credit_runout": (
        "((service)): your ((fuel)) meter has ((credit_left)), enough for"
        " ((days_left)). If it runs out you can ((emergency_credit_hint)). For help with"
        " energy costs, ((fuel_voucher_hint)) on ((help_phone)). Reply STOP to stop these texts."),
    "self_disconnection": (
        "((service)): your meter shows no energy used for ((hours)) hours while your home was"
        " cold. If your credit has run out you can ((emergency_credit_hint)), and"
        " ((fuel_voucher_hint)) on ((help_phone)). Reply STOP to stop these texts."),
    # Support first (DESIGN.md: under-heating is support, never blame): help with the cost
    # before anything else, and no advice to use less.
    "cold_home": (
        "((service)): your home has been below ((bar_c)) C for ((cold_hours)) of the last"
        " ((window_hours)) hours. Help with heating costs is available: the Warm Home Discount,"
        " and the Priority Services Register with your energy supplier. Call us on"
        " ((help_phone)) and we will help. Keeping the room you use most at 18 C or more"
        " protects your health. Reply STOP to stop these texts."),
    "self_rationing": (
        "((service)): your home has been cold (below 18 C for ((cold_hours)) hours) and your"
        " heating use is low. If cost is the reason, help is available: ((fuel_voucher_hint))"
        " on ((help_phone)). Reply STOP to stop these texts."),
    "damp_mould": (
        "((service)): the air in your home has been very damp (up to ((max_rh_pct))%). To cut"
        " condensation: use the extractor fan or open a window a little when cooking or"
        " showering, dry clothes outdoors or in a ventilated room, and wipe windows dry in the"
        " morning. We will contact you about it. If you see mould call ((help_phone)). Reply"
        " STOP to stop these texts."),
    # ((comparison)) names only the bar that fired, with its number; ((saving_hint)) the pounds
    # turning the heating down 1 C would save at the tenant's own tariff (empty if unknown).
    "bill_shock": (
        "((service)): your energy for the next 30 days may cost about £((cost_gbp)),"
        " ((comparison)). For help with bills call ((help_phone)).((saving_hint)) Reply STOP"
        " to stop these texts."),
    "fuel_poverty": (
        "((service)): you may be able to get help with energy bills, for example the Warm Home"
        " Discount or home insulation grants. To find out call ((help_phone)). Reply STOP to"
        " stop these texts."),
    "excess_heat": (
        "((service)): your home has been very warm (up to ((max_c)) C). In hot weather keep"
        " curtains or blinds closed on sunny windows, open windows when it is cooler outside"
        " and drink plenty of water. We will contact you about it; call ((help_phone)), or"
        " NHS 111 if anyone feels unwell. Reply STOP to stop these texts."),
}

# Case kinds with a tip: each template's kind, and the money case (advisor/grouping.py), whose
# tip is the template of its most urgent risk that fired.
TIP_KINDS = (*DEFAULT_TEMPLATES, "money")
# When a household has several new cases, the most urgent tip goes first.
PRIORITY = ("self_disconnection", "money", "credit_runout", "damp_mould", "cold_home",
            "excess_heat", "self_rationing", "bill_shock", "fuel_poverty")


def tip_case_kinds(tip_kinds) -> list[str]:
    """The case kinds that may get a tip, given the risks configured to (`tip_kinds`)."""
    from advisor.grouping import MONEY_KINDS

    kinds = [k for k in DEFAULT_TEMPLATES if k in tip_kinds]
    if any(k in tip_kinds for k in MONEY_KINDS):
        kinds.append("money")
    return kinds


def tip_for_case(kind: str, evidence: dict, tip_kinds) -> tuple[str, dict]:
    """(template kind, its numbers) for a case: a money case's most urgent risk that fired
    and is configured for tips, with that risk's own numbers; any other case as it is."""
    if kind != "money":
        return kind, evidence
    from advisor.grouping import fired, sub_evidence

    risks = [k for k in fired(evidence) if k in tip_kinds] or fired(evidence)
    if not risks:
        raise TemplateError("a money case with no risk that fired has no tip")
    return risks[0], sub_evidence(evidence, risks[0])

PLACEHOLDER = re.compile(r"\(\(([a-z_][a-z0-9_]*)\)\)")


class TemplateError(ValueError):
    """A template names a placeholder the tip does not provide."""


def render(template: str, personalisation: dict[str, str]) -> str:
    """Fill ((placeholders)) as GOV.UK Notify does; a missing value is an error."""
    missing = [m for m in PLACEHOLDER.findall(template) if m not in personalisation]
    if missing:
        raise TemplateError(f"template needs {', '.join(sorted(set(missing)))}")
    return PLACEHOLDER.sub(lambda m: str(personalisation[m.group(1)]), template)


def _num(value, digits: int = 0) -> str:
    if value is None:
        return "?"
    return f"{value:.{digits}f}"


def personalisation(kind: str, evidence: dict, settings) -> dict[str, str]:
    """The ((placeholders)) of a tip from a case's evidence numbers and the notifier settings."""
    common = {"service": settings.service_name, "help_phone": settings.help_phone,
              "emergency_credit_hint": settings.emergency_credit_hint,
              "fuel_voucher_hint": settings.fuel_voucher_hint}
    e = evidence
    if kind == "credit_runout":
        days = e.get("days_left")
        if days is None:
            left = "a few days"
        elif days < 1:
            left = "less than a day"
        else:
            left = f"about {days:.0f} day" + ("" if round(days) == 1 else "s")
        credit = e.get("credit_gbp")
        # A negative balance is emergency credit in use: never "£-0.08 credit left".
        credit_left = ("some credit left" if credit is None
                       else f"£{credit:.2f} credit left" if credit >= 0
                       else f"used £{-credit:.2f} of its emergency credit")
        common |= {"fuel": e.get("fuel") or "energy", "credit_gbp": _num(credit, 2),
                   "credit_left": credit_left, "days_left": left}
    elif kind == "self_disconnection":
        common |= {"hours": _num(max(e.get("off_h") or 0, e.get("no_use_cold_h") or 0))}
    elif kind == "cold_home":
        common |= {"bar_c": _num(e.get("bar_c")), "cold_hours": _num(e.get("cold_h")),
                   "window_hours": _num(e.get("window_h"))}
    elif kind == "self_rationing":
        common |= {"cold_hours": _num(e.get("cold_h"))}
    elif kind == "damp_mould":
        common |= {"max_rh_pct": _num(e.get("max_rh_pct"))}
    elif kind == "bill_shock":
        common |= {"cost_gbp": _num(e.get("p50_gbp")), "comparison": bill_comparison(e),
                   "saving_hint": saving_hint(e.get("heating_saving_gbp"))}
    elif kind == "excess_heat":
        common |= {"max_c": _num(max(e.get("living_max_c") or -99,
                                     e.get("bedroom_max_c") or -99))}
    return common


def bill_comparison(e: dict) -> str:
    """What the forecast is more than: only the bar that fired, with the number it compared."""
    own = e.get("own_fired") and e.get("recent_gbp")
    typical = e.get("typical_fired") and e.get("typical_gbp")
    if own and typical:
        return (f"more than the £{e['recent_gbp']:.0f} your home usually uses in 30 days and"
                f" more than a typical home's £{e['typical_gbp']:.0f}")
    if own:
        return f"more than the £{e['recent_gbp']:.0f} your home usually uses in 30 days"
    if typical:
        return f"more than a typical home's £{e['typical_gbp']:.0f} for the same days"
    if e.get("own90_fired") and e.get("recent_gbp"):
        return (f"and could be up to £{e['p90_gbp']:.0f}, more than the"
                f" £{e['recent_gbp']:.0f} your home usually uses in 30 days")
    return "a forecast, not a bill"


def saving_hint(saving_gbp) -> str:
    """The pounds turning the heating down 1 C would save; nothing under £1 or unknown."""
    if saving_gbp is None or saving_gbp < 1:
        return ""
    return (f" If your home stays warm enough (18 C or more), turning the heating down 1 C"
            f" would save about £{saving_gbp:.0f} over 30 days at your tariff.")


def template_text(kind: str, settings) -> str:
    return settings.templates.get(kind) or DEFAULT_TEMPLATES[kind]
