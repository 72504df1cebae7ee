"""Marks on every output that say it is synthetic: invisible watermark, provenance metadata,
and their verification (``mfs verify``)."""
