"""Device bindings: a real MQTT device, by the id it reports itself by, bound to a household.

Table `device_bindings` (migration 0007): (profile, device_ref, kind) -> household, Hearth
device id, room, time zone. One physical device may give several kinds (a Glow CAD reads the
electricity and the gas meter): one row per kind, each with its own Hearth device id.
"""

from __future__ import annotations

from collections.abc import Iterable

from hearth.registry.store import Registry, RegistryError, utc_now_iso

# The order of collectors.profile_parse.Binding's fields.
BINDING_COLUMNS = ("profile", "device_ref", "household_id", "device_id", "kind", "room",
                   "time_zone")


def bindings(reg: Registry, profile: str | None = None,
             household_id: str | None = None) -> list[tuple]:
    """Rows of BINDING_COLUMNS, ordered by profile and device ref."""
    where, args = [], []
    for col, value in (("profile", profile), ("household_id", household_id)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    sql = f"SELECT {', '.join(BINDING_COLUMNS)} FROM device_bindings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return reg.query(sql + " ORDER BY profile, device_ref, kind", args).fetchall()


def bind(reg: Registry, rows: Iterable[tuple], actor: str = "cli") -> int:
    """Add bindings (tuples in BINDING_COLUMNS order), all or none; audited."""
    import sqlite3

    rows = list(rows)
    with reg.transaction() as conn:
        for row in rows:
            profile, ref, hid, did, kind, _room, _zone = row
            if conn.execute("SELECT 1 FROM households WHERE household_id = ?",
                            (hid,)).fetchone() is None:
                raise RegistryError(f"no household {hid!r} in the registry")
            clash = conn.execute("SELECT 1 FROM devices WHERE device_id = ?", (did,)).fetchone()
            if clash:
                raise RegistryError(f"device id {did!r} is already a registry device; choose"
                                    " another Hearth device id for the binding")
            if kind in METER_KINDS:
                _one_meter_per_fuel(conn, hid, kind)
            try:
                conn.execute(f"INSERT INTO device_bindings ({', '.join(BINDING_COLUMNS)},"
                             " bound_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (*row, utc_now_iso()))
            except sqlite3.IntegrityError as exc:
                text = str(exc)
                if "UNIQUE" in text and "device_id" in text:
                    why = f"device id {did!r} is already bound"
                elif "UNIQUE" in text or "PRIMARY" in text:
                    why = f"{profile} device {ref!r} already has a {kind} binding"
                elif "room" in text or "thermostat" in text.lower() or "CHECK" in text:
                    why = (f"check failed ({text}): a thermostat needs a room (living_room,"
                           " bedroom, kitchen, bathroom, hall); device ids are 1-64 letters,"
                           " digits, '_', '.' or '-'")
                else:
                    why = text
                raise RegistryError(f"cannot bind {profile} device {ref!r}: {why}") from None
            reg.audit(actor, "bind_device", did, {"profile": profile, "device_ref": ref,
                                                  "kind": kind, "household_id": hid})
    return len(rows)


METER_KINDS = ("electricity_meter", "gas_meter")


def _one_meter_per_fuel(conn, household_id: str, kind: str) -> None:
    """Refuse a second supply meter of one fuel for a household: the usage rollup sums every
    meter series of a household and fuel, so two devices reading one supply (a Glow CAD on
    top of the Modbus meter it reads, one CAD bound twice) would count each kWh twice."""
    held = conn.execute("SELECT device_id, protocol FROM devices WHERE household_id = ? AND"
                        " kind = ?", (household_id, kind)).fetchone()
    if held is None:
        held = conn.execute("SELECT device_id, profile || ' ' || device_ref FROM"
                            " device_bindings WHERE household_id = ? AND kind = ?",
                            (household_id, kind)).fetchone()
    if held is not None:
        fuel = kind.removesuffix("_meter")
        article = "an" if fuel == "electricity" else "a"
        raise RegistryError(
            f"household {household_id} already has {article} {fuel} meter ({held[0]},"
            f" {held[1]}): its usage would be counted twice. Unbind or remove that device"
            " first if this one replaces it")


def unbind(reg: Registry, profile: str, device_ref: str, actor: str = "cli") -> int:
    """Remove every binding of one device; returns how many rows went."""
    with reg.transaction() as conn:
        n = conn.execute("DELETE FROM device_bindings WHERE profile = ? AND device_ref = ?",
                         (profile, device_ref)).rowcount
        if n:
            reg.audit(actor, "unbind_device", f"{profile}/{device_ref}", {"bindings": n})
    return n
