"""Messaging: everything that leaves or reaches the desk through a chat platform, platform-neutral.

Outbound: operations compose messages with ``notify`` (whistle @ the chief helpers, notices, cards,
reminders, answers) which writes rows to the transactional ``outbox`` in the operation's own
transaction; the ``deliver_outbox`` job (``delivery``) hands each row to its platform adapter in
``integrations`` and records the outcome (retries, dead letters, shared rate limits). ``groups``
says which platform group chats a department's group messages go to.

Inbound: a platform callback stores the verified body in the ``inbox``; the ``process_inbound`` job
asks the platform's parser (``integrations``) what it is and runs the one flow in ``inbound`` —
sender → person, group binding, then ``chat`` (de-duplicate, run the command, queue the answer),
whose commands live in the registry in ``commands`` (words, aliases, syntax, roles, help).

What happens when a chief helper types 报到: ``inbound.handle_event`` → ``chat.handle_text`` →
``commands`` (the 报到 command) → ``services.orders.operations.sign``.
"""
