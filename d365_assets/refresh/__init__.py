"""One entity refresh: export from F&O, read the package, load DuckDB. No Dagster here."""

from d365_assets.refresh.entity import RefreshOutcome, refresh_entity

__all__ = ["RefreshOutcome", "refresh_entity"]
