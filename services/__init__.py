"""The domain: operations and pure rules, grouped by domain. Nothing in this package imports Flask.

Domains (each folder's ``__init__`` says what it is and names its modules): ``orders`` (the work-order
loop), ``messaging`` (outbox, delivery, inbound flow, chat commands), ``registry`` (enterprise
registry and its imports), ``grid`` (zones, staff, rosters, public contact), ``policies`` (library,
matching, push, training), ``knowledge`` (answers, cases, handbook), ``statistics`` (KPIs), ``admin``
(run-time administration), ``studio`` (the low-code configuration: forms, dispatch catalogue,
templates, aliases — versioned) and ``demo`` (reference data and the demo district).

Shared by several domains, directly here: ``errors`` (domain errors with a Chinese message),
``permissions`` (who may do what to which order), ``paging``, ``lookup`` (a row by a typed id),
``audit`` (the audit trail), ``kvstore`` (the key-value store shared by processes: platform tokens),
``ratelimit`` (shared rate limits), ``xlsx_export`` (the Excel exports) and ``inputs`` (the one way integers,
ids, pages, dates and JSON are read: bounded, ASCII digits only).
"""
