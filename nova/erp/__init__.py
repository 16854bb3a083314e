"""Nova's ERP: the parts shop's database, skills, model-free resolvers and approved writes.

Modules: ``models`` (SQLAlchemy schema), ``db`` (engines, read-only access),
``migrate`` (Alembic), ``seed`` (the sample business), ``skills`` (one function per
question or write), ``resolve`` (names, numbers and periods without a model),
``approval`` (human approval and exactly-once writes), ``render`` (answers and tables).
"""

from datetime import date

DEFAULT_ANCHOR = date(2025, 6, 30)
"""Last day of the default sample: fixed, so every install (and the eval) sees the same shop."""
