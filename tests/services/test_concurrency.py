"""Two chief helpers press 报到 at the same instant: exactly one takes the order."""

from __future__ import annotations

import threading

from models import Role
from services.errors import Conflict
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders.lifecycle import State


def test_simultaneous_sign_has_one_winner(factory, session, session_factory, now):
    staff = factory.person(Role.SERVICE_STAFF)
    rsj = factory.department("rsj")
    helpers = [factory.person(Role.CHIEF_HELPER, department=rsj, name=n) for n in ("甲帮办", "乙帮办")]
    order = factory.order(staff, now, level=2, department_id=rsj.id, content="企业急需招聘技术工人，请协助对接")
    session.commit()
    number, helper_ids = order.number, [h.id for h in helpers]

    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def press(person_id: int) -> None:
        s = session_factory()
        try:
            barrier.wait()
            actor = s.get(wo.Person, person_id)
            ctx = wo.OpContext(s, actor, now, "sandbox", Channels(sandbox=True))
            try:
                wo.sign(ctx, wo.get_order(s, number))
                s.commit()
                outcomes[person_id] = "won"
            except Conflict as error:
                s.rollback()
                outcomes[person_id] = error.message
        finally:
            s.close()

    threads = [threading.Thread(target=press, args=(pid,)) for pid in helper_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(outcomes) == sorted(helper_ids)
    winners = [pid for pid, result in outcomes.items() if result == "won"]
    assert len(winners) == 1
    loser = next(pid for pid in helper_ids if pid != winners[0])
    winner_name = next(h.name for h in helpers if h.id == winners[0])
    assert winner_name in outcomes[loser] and "已由" in outcomes[loser]

    check = session_factory()
    fresh = wo.get_order(check, number)
    assert fresh.state == State.PROCESSING and fresh.assigned_person_id == winners[0]
    assert [e.action for e in fresh.events].count("sign") == 1
    check.close()
