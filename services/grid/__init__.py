"""The grid (网格): zones, service staff and the people behind the desk's addresses.

``rules`` places each enterprise in its zone (address rules, the 未分配 queue) and gives it exactly one
service staff member (rules or balanced by load, hand-over when someone leaves); ``people_roster``
imports and exports the people roster; ``public_contact`` is what the public may learn and do
without signing in (find their staff member, file a request). Platform address books: ``wecom_roster``
and ``dingtalk_roster`` bind people by mobile number and follow members who leave; ``leavers`` flags
the orders such a person still handles for reassignment.
"""
