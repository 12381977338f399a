"""The ground floor every feature room stands on: /api/messages, the adapter and the Bot Connector, turn context
helpers, proactive sends, the card-action router, botbuilder's state storage, the conversation log and background
jobs; it may import bot.config and the layers below bot/ (storage, content, cards, dialogs), never a feature room."""
