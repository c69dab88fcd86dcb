"""The data layer: what each column of the user's table is, and the codes the engine sees.

Fitted once from the training data (:class:`Columns`), it encodes any input (numpy,
pandas, dask blocks, device arrays copied to the host) into the engine's codes and
decodes outputs back into the user's types. Every message about a column is written here.
"""

from skpc.columns.checks import column_label
from skpc.columns.table import (
    AUTO_MAX_LEVELS,
    Columns,
    as_table,
    is_frame,
    missing_mask,
    row_chunks,
    summarise,
)

__all__ = ["AUTO_MAX_LEVELS", "Columns", "as_table", "column_label", "is_frame", "missing_mask", "row_chunks",
           "summarise"]
