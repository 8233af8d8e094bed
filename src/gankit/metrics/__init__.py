"""Sample-quality metrics; one small module each, with the protocol named in its docstring."""

from gankit.metrics.toy import (
    column_w1,
    mixture_metrics,
    sequence_metrics,
    sliced_w1,
    univariate_metrics,
)

__all__ = ["column_w1", "mixture_metrics", "sequence_metrics", "sliced_w1", "univariate_metrics"]
