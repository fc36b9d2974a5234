"""Every capability's tables, gathered: `METADATA` is zentrale's whole schema.

The capabilities own their tables; this module, in the wiring layer, is the one place that
imports them all, for Alembic's environment and for anything that needs every table.
"""

from __future__ import annotations

import zentrale.calls.agent_states
import zentrale.calls.models
import zentrale.core.models
import zentrale.customers.models
import zentrale.privacy.models
import zentrale.qa.models
import zentrale.recording.models
import zentrale.stats.indexes
import zentrale.surveys.models
from zentrale.db.base import Base

__all__ = ["METADATA", "MODEL_MODULES", "Base"]

MODEL_MODULES = (
    zentrale.calls.models,
    zentrale.calls.agent_states,
    zentrale.recording.models,
    zentrale.core.models,
    zentrale.qa.models,
    zentrale.customers.models,
    zentrale.privacy.models,
    zentrale.stats.indexes,
    zentrale.surveys.models,
)
METADATA = Base.metadata
