"""The work-order and visit lifecycle: one place that owns both state machines (states.py), the conditions
of every transition (gate.py), the only functions that change a status (service.py), and the domain events
they publish for the reactions (events.py). See docs/workflow.md.

Nothing here imports a reaction (SLA, follow-ups, KPI facts, notifications, maintenance bookkeeping): the
dependency graph runs entry points -> reactions -> lifecycle -> models.
"""
