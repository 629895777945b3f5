"""The entity catalog: which F&O data entities are exported, how, and into which tables.

::

    from d365_assets.catalog import load_catalog

    catalog = load_catalog()              # the shipped catalog.yaml, or a path
    entity = catalog.entity("CustomersV3")

The file is read strictly (:mod:`.strict_yaml`), validated against its declared shape
(:mod:`.model`, pydantic; :mod:`.refusals` words the first problem) with crons checked as Dagster's
schedules will need them (:mod:`.cron`), and turned into the frozen dataclasses of :mod:`.load`.
"""

from .load import SHIPPED_CATALOG, Catalog, CatalogError, EntityConfig, load_catalog

__all__ = ["SHIPPED_CATALOG", "Catalog", "CatalogError", "EntityConfig", "load_catalog"]
