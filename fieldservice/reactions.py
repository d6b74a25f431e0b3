"""Connect every reaction to the lifecycle's domain events (fieldservice/lifecycle/events.py).

`create_app` imports this module, so the web workers, the CLI and the scheduler process all react the same
way. The lifecycle core never imports these modules (tests/unit/test_import_graph.py checks it).
"""
from __future__ import annotations

REACTION_MODULES = (
    "fieldservice.sla.reactions",          # R-SLA-1 clocks
    "fieldservice.followups.reactions",    # R-FUP-1 follow-up calls
    "fieldservice.kpi.reactions",          # R-KPI-1 facts on the work order
    "fieldservice.maintenance.reactions",  # R-MNT-4 occurrence bookkeeping
)


def connect_reactions() -> None:
    import importlib

    for name in REACTION_MODULES:
        importlib.import_module(name)
