"""Small pieces the pages share: the signed-in user, the patch filter, errors in plain words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import streamlit as st

from dashboard.auth import current_user
from dashboard.users import User

HOUSEHOLD_PAGE = "app_pages/household.py"


def require_user() -> User:
    """The signed-in user; the app only shows pages after sign-in, so this stops a stray run."""
    user = current_user()
    if user is None:
        st.warning("Please sign in.")
        st.stop()
    return user


def scope_picker(user: User, key: str, all_patches: list[str]) -> tuple[str, ...] | None:
    """A patch filter limited to the user's own patches. Returns the scope for queries:
    None (every patch) only for managers and admins who did not narrow it."""
    allowed = list(user.patches) if not user.sees_all_patches else all_patches
    if len(allowed) <= 1 and not user.sees_all_patches:
        return tuple(allowed)
    picked = st.multiselect("Patches", allowed, default=st.session_state.get("patch_filter", []),
                            key=key, placeholder="All your patches",
                            help="Leave empty to see every patch you look after.")
    st.session_state["patch_filter"] = picked
    if picked:
        return tuple(sorted(set(picked) & set(allowed)))
    return None if user.sees_all_patches else tuple(allowed)


def open_household(household_id: str) -> None:
    st.session_state["household_id"] = household_id
    st.switch_page(HOUSEHOLD_PAGE)


def as_of_caption() -> None:
    now = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    st.caption(f"Figures as of {now:%H:%M} (UK time), {now.day} {now:%b %Y}. "
               "They refresh within a minute.")


def guarded(what: str, fn: Callable, *args, **kwargs):
    """Run a data call; on a database problem, say in plain words what could not be shown and
    what to do, and return None (the rest of the page still shows)."""
    from hearth.errors import HearthError

    try:
        return fn(*args, **kwargs)
    except HearthError as exc:
        st.warning(f"{what} could not be loaded: {str(exc).splitlines()[0][:200]}. Try again in a "
                   "minute; if it keeps happening, tell IT (the readings database may be down).")
    except OSError as exc:
        st.warning(f"{what} could not be loaded ({exc.__class__.__name__}). Try again in a minute; "
                   "if it keeps happening, tell IT.")
    return None
