"""Explanations and statements: the events behind a viewer's coins and a creator's diamonds,
with the rates and cash values they carry, read from each service's own event_history.

`register(app)` adds `coinlog explain` and `coinlog statement viewer|creator`.
"""

from ops.explain.commands import register
from ops.explain.creator import CreatorExplanation, explain_creator
from ops.explain.reads import (
    creator_statement_from_db,
    explain_creator_from_db,
    explain_viewer_from_db,
    viewer_statement_from_db,
)
from ops.explain.statements import (
    CREATOR_COLUMNS,
    VIEWER_COLUMNS,
    CreatorStatement,
    creator_csv_rows,
    creator_statement,
    csv_text,
    viewer_csv_rows,
)
from ops.explain.viewer import ViewerExplanation, ViewerStatement, explain_viewer, viewer_statement

__all__ = [
    "CREATOR_COLUMNS", "VIEWER_COLUMNS", "CreatorExplanation", "CreatorStatement",
    "ViewerExplanation", "ViewerStatement", "creator_csv_rows", "creator_statement",
    "creator_statement_from_db", "csv_text", "explain_creator", "explain_creator_from_db",
    "explain_viewer", "explain_viewer_from_db", "register", "viewer_csv_rows",
    "viewer_statement", "viewer_statement_from_db",
]
