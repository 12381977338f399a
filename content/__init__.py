"""Safe Space content: data files (YAML) and the code that loads and validates them.

Nothing here imports the Bot Framework SDK: content is plain data.
"""
