"""The quizzes (a live round's rules in quiz_round, the Teams service around it in live_quiz, self-paced results)
and signposting; it may import bot.edge, bot.safeguarding.delivery (the outbox it posts through) and the layers
below bot/."""
