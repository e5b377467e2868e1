"""Action tools. Calling one never executes anything: it records a proposal for a person to approve."""

from __future__ import annotations

from fabmind.agents.tools import ToolDeps, tool


@tool(action=True, required_role="engineer",
      summary=lambda a: f"Corrective work order on {a['chamber_id']}: {a['failure_mode']} - {a['action']}")
def draft_work_order(deps: ToolDeps, chamber_id: str, failure_mode: str, action: str, description: str = "",
                     kind: str = "cm") -> dict:
    """Draft a maintenance work order for a chamber (becomes a proposal an engineer approves).

    Parameters:
        chamber_id: chamber id, e.g. ETCH-03/B
        failure_mode: the diagnosed failure mode
        action: the repair to do
        description: symptoms and evidence
        kind: cm (corrective), pm (preventive) or inspect
    """
    raise AssertionError("action tools are never executed directly")  # pragma: no cover


@tool(action=True, required_role="engineer",
      summary=lambda a: f"Shelve alarm {a['alarm_id']} for {a.get('hours', 8)} h: {a['reason']}")
def shelve_alarm(deps: ToolDeps, alarm_id: str, reason: str, hours: float = 8.0) -> dict:
    """Shelve an alarm for some hours (becomes a proposal an engineer approves).

    Parameters:
        alarm_id: the alarm's id
        reason: why it may be shelved
        hours: how long
    """
    raise AssertionError("action tools are never executed directly")  # pragma: no cover


@tool(action=True, required_role="admin",
      summary=lambda a: f"Change {a['parameter']} of recipe {a['recipe_id']} to {a['value']}: {a['reason']}")
def change_recipe_setpoint(deps: ToolDeps, recipe_id: str, parameter: str, value: float, reason: str) -> dict:
    """Change one recipe setpoint within its limits (becomes a proposal an admin approves).

    Parameters:
        recipe_id: recipe id
        parameter: recipe parameter name
        value: new setpoint
        reason: evidence for the change
    """
    raise AssertionError("action tools are never executed directly")  # pragma: no cover
