"""Work orders (工单): the 有需必应 loop from a request to the return visit.

Pure rules, each taking ``now`` as an argument and testable without a clock or a database:
``lifecycle`` (states, actions and the one transition table), ``ladder`` (the four-level response
ladder and the green channel), ``sla`` (working-day calendar, deadlines, pause/resume, the alerts a
deadline raises) and ``screening`` (甄别: out-of-scope requests and the right channel for them).

Operations on the database, taking the session and the actor and never committing:
``operations`` (every step: submit, dispatch, 报到, reply, 办结, return, transfer, escalate, 督办,
feedback, visit — the public face of the domain, ``OpContext`` included), ``deadlines`` (the SLA rules
over stored policies and holidays), ``alerts`` (the watchdog job: reminders and the 督办 chain),
``surveys`` (satisfaction return visits), ``attachments`` (uploads by content hash).

Read side: ``queries`` (lists, queues, dashboard counts, pickers) and ``serializers`` (JSON for the API).
"""
