"""Scene-LLM data: questions and answers generated from ground truth, their English, dataset files.

- :mod:`.questions`: question generators per type (scene frame), frame captions
- :mod:`.egocentric`: left/right questions asked from a frame of the capture
- :mod:`.wording`: phrasing families per question kind, the held-out family
- :mod:`.language`: plurals, articles, verbs, lists; the one answer normaliser of training and evaluation
- :mod:`.balance`: answer distribution and majority share per type
- :mod:`.dataset`: QA records, JSONL files, scene splits, dataset generation
"""
