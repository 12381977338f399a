"""Microsoft Graph: the client, alert e-mail, people's names and roles from Entra groups; it may import bot.edge,
bot.safeguarding.notifier (the alerts it e-mails) and the layers below bot/."""
