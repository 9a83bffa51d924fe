"""Reading a view_submission's `view["state"]["values"]`: one raw string per input block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

StateValues = Mapping[str, Mapping[str, Mapping[str, Any]]]  # block_id -> action_id -> element state


def submitted_value(values: StateValues, block_id: str) -> str | None:
    """The raw value of the one element in an input block, whatever its type (text, number, select,
    radio, datepicker, timepicker); None when empty or absent."""
    state = next(iter((values.get(block_id) or {}).values()), None)
    if not state:
        return None
    if "selected_option" in state:
        selected = state["selected_option"]
        return str(selected["value"]) if isinstance(selected, Mapping) else None
    for key in ("value", "selected_date", "selected_time"):
        if state.get(key) is not None:
            return str(state[key])
    return None
