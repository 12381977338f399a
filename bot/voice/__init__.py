"""Learner voice (policy 3.1.1 and 3.1.2): pulse surveys in learners' 1:1 chats and debate polls in session chats.
It may import bot.edge, bot.safeguarding.delivery (the outbox it posts through) and the layers below bot/; the
safety net reaches it as a callable from the composition root."""
