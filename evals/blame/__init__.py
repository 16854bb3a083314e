"""The fault-injection suite for attribution: scripted runs with one known faulty step each.

``world`` holds a small ERP, glossary and pipeline world with its tools, ``policies`` the
scripted agents (deterministic functions of their prompt, so a corrected input gives a
corrected output), ``chain`` the supervisor-shaped graph the scenarios run on, and
``scenarios`` loads ``evals/datasets/blame_scenarios.yaml``. ``evals/blame_eval.py`` runs it.
"""
