"""Schemathesis against the API's own OpenAPI document (/api/v1/openapi.json), in process (WSGI).

Every check schemathesis has runs: no server error, only documented status codes and content types,
responses that match their schemas, schema-valid requests accepted, schema-violating requests
rejected, unsupported methods answered 405 with ``Allow``, missing or wrong tokens refused. The
examples, coverage and fuzzing phases run with a bounded number of examples and a fixed seed; the
token is a real one from ``services.admin.api_tokens.issue_token`` (what ``flask api-token`` issues).
"""

from __future__ import annotations

import collections

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.transport.wsgi import WSGITransport

from models import Role
from services.admin.api_tokens import issue_token

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 15
# Rules the document states in words but JSON Schema cannot: statistics' from/to go together and not
# with a preset, and lie within three years before today (400); a work order needs an enterprise that
# exists and content the screening accepts (422). Such schema-valid requests may be refused with these.
DOMAIN_REFUSALS = {"getStatistics": ["400"], "createWorkOrder": ["422"], "transitionWorkOrder": ["422"]}


@pytest.fixture
def wsgi_probe_fix(monkeypatch):
    # schemathesis 4.32's ``ignored_auth`` check sends its no-token probe without a session, and its WSGI
    # transport then hands ``max_redirects``/``verify``/``cert`` to Werkzeug, which refuses them.
    original = WSGITransport.send

    def send(self, case, *, session=None, **kwargs):
        if session is None:
            for name in ("max_redirects", "verify", "cert", "proxies"):
                kwargs.pop(name, None)
        return original(self, case, session=session, **kwargs)

    monkeypatch.setattr(WSGITransport, "send", send)


def _config(token: str) -> schemathesis.Config:
    operations = [
        {"include-operation-id": operation, "checks": {"positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "429", *statuses]}}}
        for operation, statuses in DOMAIN_REFUSALS.items()
    ]
    return schemathesis.Config.from_dict({
        "seed": 20260302,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {"enabled": True},
        "phases": {"stateful": {"enabled": False}},
        "operations": operations,
    })


def run_schemathesis(app, token: str) -> tuple[int, dict]:
    """Run every phase once; the number of checks made and the failures by (check, operation, title)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=_config(token))
    checks, failures, errors = 0, collections.defaultdict(list), []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for case_id, results in event.recorder.checks.items():
                for result in results:
                    checks += 1
                    if result.status == Status.FAILURE:
                        case = event.recorder.cases[case_id].value
                        failure = result.failure_info.failure
                        key = (result.name, f"{case.method} {case.operation.path}", failure.title)
                        failures[key].append(f"path={case.path_parameters} query={case.query} "
                                             f"body={str(case.body)[:160]} → {failure.message[:300]}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(f"{getattr(event, 'label', '')}: {event.value!r}"[:400])
    assert not errors, errors
    return checks, failures


def test_the_api_keeps_its_openapi_contract(app, client, factory, session, now, wsgi_probe_fix):
    rsj = factory.department("rsj")
    staff = factory.person(Role.SERVICE_STAFF, name="张为企")
    factory.order(staff, now, level=2, department_id=rsj.id)
    token = issue_token(session, factory.person(Role.DISPATCHER, name="王调度"), "schemathesis", now)
    session.commit()
    checks, failures = run_schemathesis(app, token)
    report = "\n".join(f"{count}× {key}\n    {examples[0]}"
                       for key, examples in failures.items() for count in [len(examples)])
    assert not failures, f"{sum(map(len, failures.values()))} failures in {checks} checks:\n{report}"
    assert checks > 1000
