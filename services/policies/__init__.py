"""The policy library and precise push (政策库与精准推送).

``library`` holds policies and their items (review, publication, attachments, xlsx import);
``matching`` finds the enterprises an item fits, set-based in SQL and explained per row; ``push`` runs
campaigns through the service staff members (once per item, weekly caps, quiet hours, resumable);
``page`` is what an enterprise sees behind its ``/p/<token>`` link; ``uptake`` follows pushed → opened
→ applied → granted; ``training`` plans training and consultation events (invitations, sign-up,
attendance, Q&A).
"""
