"""Reports, cases and the safeguarding team's channel (intake, case cards and their buttons, the staff form,
reminders, the outbox delivery worker, alerts, the safety net); it may import bot.edge and the layers below bot/,
never another room."""
