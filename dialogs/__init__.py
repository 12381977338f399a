"""Conversation flows. Dialog plumbing may use botbuilder-dialogs; nothing here touches Teams or HTTP."""
