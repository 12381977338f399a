"""Safe Space service: everything that touches the Bot Framework SDK lives in this package.

At the top: the composition root (app.py), the entry point (__main__.py), the configuration and the activity handler
(teams_bot.py, with answers.py). The rooms: edge/ (Teams and the Bot Framework, the floor the others stand on),
safeguarding/, learning/, graph/ and commands/.
"""

__version__ = "0.1.0"
