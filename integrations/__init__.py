"""Chat platforms behind one adapter interface: the sandbox now, WeCom and DingTalk next.

Platform types stop here; services talk to this package only through the outbox.
"""
