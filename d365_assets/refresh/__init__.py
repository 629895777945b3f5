"""One entity refresh: export from F&O, read the package, load DuckDB; or one recurring job's message.

No Dagster here.
"""

from d365_assets.refresh.entity import RefreshOutcome, refresh_entity
from d365_assets.refresh.recurring import AckError, MessageOutcome, consume_message, ledger_id

__all__ = ["AckError", "MessageOutcome", "RefreshOutcome", "consume_message", "ledger_id", "refresh_entity"]
