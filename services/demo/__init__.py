"""Reference data and the demo: the district as data, and a believable Beichen to try the desk on.

``reference_data`` is the district's reference data as pure data (17 zones, departments and units,
service stages and lead departments, request domains, "2+3" industries, SLA policies, screening
rules); ``reference`` upserts it idempotently (``flask seed``). ``seed`` plays a demo district
(``flask seed --demo``) through the real operations and jobs, ``policies`` its policy desk, ``data``
the names, firms and requests they use.
"""
