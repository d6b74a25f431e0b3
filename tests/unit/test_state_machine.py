"""The work-order state machine (pure model rules)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fieldservice.errors import InvalidTransition
from fieldservice.workorders.models import TRANSITIONS, WorkOrder, WorkOrderStatus

S = WorkOrderStatus
AT = datetime(2026, 1, 1, tzinfo=UTC)


def order_in(status: WorkOrderStatus) -> WorkOrder:
    return WorkOrder(number="WO-T", status=status)


@pytest.mark.parametrize("start", list(S))
@pytest.mark.parametrize("target", list(S))
def test_transition_allowed_exactly_when_listed(start: WorkOrderStatus, target: WorkOrderStatus) -> None:
    order = order_in(start)
    if target in TRANSITIONS[start]:
        assert order.transition(target, at=AT) is start
        assert order.status is target
        assert order.status_changed_at == AT
    else:
        with pytest.raises(InvalidTransition) as err:
            order.transition(target, at=AT)
        assert order.status is start
        assert err.value.extra["allowed_transitions"] == sorted(s.value for s in TRANSITIONS[start])
        assert err.value.status == 409


def test_happy_path_reaches_closed() -> None:
    order = order_in(S.NEW)
    for step in (S.SCHEDULED, S.DISPATCHED, S.IN_PROGRESS, S.WORK_COMPLETE, S.SIGNED, S.CLOSED):
        order.transition(step, at=AT)
    assert order.status is S.CLOSED
    assert order.allowed_transitions == []


def test_final_states_have_no_exit() -> None:
    assert TRANSITIONS[S.CLOSED] == frozenset()
    assert TRANSITIONS[S.CANCELLED] == frozenset()


def test_signing_only_after_work_complete() -> None:
    """R-SIG-2: only a work order whose work is complete can become signed."""
    assert [s for s in S if S.SIGNED in TRANSITIONS[s]] == [S.WORK_COMPLETE]


def test_rework_only_from_customer_review() -> None:
    """R-REP-7: the customer refuses acceptance of finished work -> rework."""
    assert {s for s in S if S.REWORK in TRANSITIONS[s]} == {S.WORK_COMPLETE}


def test_every_open_state_can_reach_closed() -> None:
    reachable = {S.CLOSED}
    changed = True
    while changed:
        changed = False
        for state, targets in TRANSITIONS.items():
            if state not in reachable and targets & reachable:
                reachable.add(state)
                changed = True
    assert reachable == set(S) - {S.CANCELLED}
