"""The household registry: SQLite with numbered migrations (see docs/registry.md)."""

from hearth.registry.models import Device, Household, Tariff, Tenant
from hearth.registry.store import NotFoundError, Registry, RegistryError

__all__ = ["Device", "Household", "NotFoundError", "Registry", "RegistryError", "Tariff", "Tenant"]
