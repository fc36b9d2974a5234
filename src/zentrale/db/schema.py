"""Every model module, imported: `Base.metadata` then holds zentrale's whole schema.

Alembic's comparison and anything that needs every table import this module; the model
modules themselves stay where their feature lives.
"""

from __future__ import annotations

import zentrale.api.models
import zentrale.customers.models
import zentrale.privacy.models
import zentrale.stats.indexes
import zentrale.surveys.models
from zentrale.db.models import Base

__all__ = ["MODEL_MODULES", "Base"]

MODEL_MODULES = (
    zentrale.api.models,
    zentrale.customers.models,
    zentrale.privacy.models,
    zentrale.stats.indexes,
    zentrale.surveys.models,
)
