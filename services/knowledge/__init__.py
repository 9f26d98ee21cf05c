"""Knowledge (知识库、案例库、应答手册): what the desk has learned, for staff and the public.

``entries`` are Q&A answers drafted by chief helpers and published after review, with the Chinese
search used everywhere (console, chat command 查, suggestions on the new-request form); ``cases``
writes closed orders up as cases, the anonymised 典型案例 published on ``/cases``; ``handbook`` keeps
《高频事项应答手册》 current from the last 90 days of real tickets (``/faq``, print, xlsx).
"""
