"""The low-code studio (配置中心): how the desk works, as data an administrator edits.

What a district changes every few months is one versioned document, edited in the console or moved
between test and production as YAML (``flask config export`` / ``flask config import``):

* ``forms`` — the request form's custom fields per domain (``forms``: types, validation, values);
* ``dispatch_rules`` — the 派单目录: ordered rules, first match wins (``dispatch``);
* ``templates`` — the text of every message the bot sends, sandboxed Jinja (``templates``);
* ``command_aliases`` — extra words for the chat commands;
* table-backed lists: ``industries`` (incl. "2+3"), ``stage_leads``, ``domain_keywords``,
  ``screening_rules`` and ``sla_policies`` (reminder thresholds and the 督办 chain).

``document`` validates and diffs a document (pure, with Chinese messages naming the entry);
``store`` keeps the revisions (who, when, why; restore any), applies imports atomically and gives
every process the current configuration within seconds (``runtime``).
"""
