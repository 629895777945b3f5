"""The load contract's request and result, as the warehouse's modules import them (:mod:`..loading`)."""

from d365_assets.loading.request import LoadRequest, LoadResult, RowCounts, check_request

__all__ = ["LoadRequest", "LoadResult", "RowCounts", "check_request"]
