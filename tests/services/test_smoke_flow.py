from models import Role
from services.orders import operations as wo
from services.orders.lifecycle import State


def test_level2_flow(factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF)
    dept = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=dept)
    order = factory.order(staff, now, level=2, department_id=dept.id, content="企业急需招聘 30 名技术工人，请协助对接招聘会")
    assert order.state == State.DISPATCHED
    wo.sign(factory.ctx(helper, now), order)
    assert order.state == State.PROCESSING
