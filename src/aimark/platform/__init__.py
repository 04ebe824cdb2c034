"""The platform side (SPEC section 6): the Article 6 decision, propagation and the moderation
hook. Each is a thin layer over :mod:`aimark.api`.

The HTTP service (:mod:`aimark.platform.service`, the ``serve`` extra) and the distributed
worker (:mod:`aimark.platform.celery`, the ``worker`` extra) are imported on their own: this
package needs nothing beyond the core.
"""

from __future__ import annotations

from .decision import NOTICES, decide
from .hooks import Moderation, moderate
from .propagate import Propagation, propagate, propagate_bytes, propagated_label

__all__ = ["NOTICES", "Moderation", "Propagation", "decide", "moderate", "propagate", "propagate_bytes", "propagated_label"]
