"""Staff and associate Prevent and safeguarding training (policy 4.2 and 5.1): recording completions, status and
compliance, reminders before and at expiry, and the Single Central Register's rows; it may import bot.edge,
bot.safeguarding.delivery (the outbox it posts through) and the layers below bot/."""
