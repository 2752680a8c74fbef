"""Evaluation: bits per character of any causal LM, Korean benchmarks through
lm-evaluation-harness, token efficiency, and the data-ablation loop (``hanforge ablate``).

- :mod:`hanforge.eval.texts`: held-out text (text shards or plain files), cut to a character budget.
- :mod:`hanforge.eval.bits`: tokenizer-independent bits per character / per UTF-8 byte.
- :mod:`hanforge.eval.models`: load a causal LM (Hugging Face folder or GGUF) for evaluation.
- :mod:`hanforge.eval.harness`: lm-evaluation-harness tasks online by name, offline over local files.
- :mod:`hanforge.eval.report`: one report (bits/char + harness + token efficiency) as JSON and a table.
- :mod:`hanforge.eval.ablate`: variants → shared tokenizer → same proxy model → bits/char table.
"""
