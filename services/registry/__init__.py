"""The enterprise registry (企业名录), kept current from the market-supervision exports.

``importer`` turns a 市场监管局 export into an upsert (never an append) with field and status history;
``import_jobs`` runs imports in the jobs process (upload → dry run → confirm), ``excel_io`` reads and
writes the spreadsheets people exchange (xlsx, xls, ods, csv), ``enterprises`` is the registry as the
console sees it (list, census 底数, profile and audited edits). Pure rules: ``uscc`` (统一社会信用代码
check digit and entity type) and ``size_band`` (大/中/小/微 by the 2017 statistical rules).
"""
