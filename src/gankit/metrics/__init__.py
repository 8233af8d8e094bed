"""Sample-quality metrics; one small module each, with the protocol named in its docstring."""

from gankit.metrics.toy import mixture_metrics, sequence_metrics, sliced_w1, univariate_metrics

__all__ = ["mixture_metrics", "sequence_metrics", "sliced_w1", "univariate_metrics"]
