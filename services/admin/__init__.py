"""Administration: how the district runs the desk at run time, audited.

``operations`` edits the organisation (zones, departments, units and their group robots), people and
console logins, SLA policies, holidays, screening rules and system settings, and reads the delivery,
callback and audit logs; ``api_tokens`` issues bearer tokens for ``/api/v1``; ``mobile_auth`` signs
people in on the H5 pages inside WeCom and DingTalk; ``housekeeping`` prunes rows that only matter
for a while.
"""
