"""The `python -m bot <command>` admin tasks other than serving (migrate, package, verify-restore); they may import
bot.config and the layers below bot/, nothing that talks to Teams."""
