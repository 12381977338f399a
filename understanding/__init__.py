"""Reading what people write: the lexicon, the sentence encoder, the risk classifier and the question matcher.

Plain Python over numpy, tokenizers and onnxruntime: nothing here imports botbuilder, aiohttp or the case store,
so it can be trained, evaluated and tested on its own. It may import `content` (data files and their checks).
"""
