"""Scene-LLM data: questions and answers generated from ground truth, their English, dataset files.

- :mod:`.questions`: question templates per type, frame captions
- :mod:`.language`: plurals, articles, lists; the one answer normaliser of training and evaluation
- :mod:`.dataset`: QA records, JSONL files, scene splits, dataset generation
"""
