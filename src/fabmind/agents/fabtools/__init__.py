"""The fab tools the agents (LLM or built-in analyst) call, registered in one place.

A plant adds its own tools by passing extra :class:`~fabmind.agents.tools.ToolSpec` objects to
:func:`fab_toolbox`; built-ins are registered the same way.
"""

from __future__ import annotations

from fabmind.agents.fabtools.actions import change_recipe_setpoint, draft_work_order, shelve_alarm
from fabmind.agents.fabtools.defect_maps import defect_map_patterns
from fabmind.agents.fabtools.fdc import (
    explain_alarm,
    get_chamber_health,
    get_sensor_trend,
    list_alarms,
    rank_chambers,
)
from fabmind.agents.fabtools.knowledge import failure_modes_for, search_documents, similar_incidents
from fabmind.agents.fabtools.production import (
    commonality_analysis,
    energy_breakdown,
    get_yield_summary,
    get_yield_trend,
    predict_failure_risk,
    recommend_setpoints,
    work_order_history,
    yield_excursions,
)
from fabmind.agents.tools import Toolbox, ToolSpec

BUILTIN_TOOLS: list[ToolSpec] = [
    list_alarms, explain_alarm, get_chamber_health, rank_chambers, get_sensor_trend,
    failure_modes_for, similar_incidents, search_documents, work_order_history, predict_failure_risk,
    yield_excursions, commonality_analysis, get_yield_summary, get_yield_trend, recommend_setpoints, energy_breakdown,
    defect_map_patterns,
    draft_work_order, shelve_alarm, change_recipe_setpoint,
]


def fab_toolbox(extra: list[ToolSpec] | None = None) -> Toolbox:
    """All built-in fab tools plus ``extra`` ones."""
    return Toolbox(BUILTIN_TOOLS + list(extra or []))


__all__ = ["BUILTIN_TOOLS", "fab_toolbox"]
