"""Model backends behind one small interface: fit, predict_proba, save, load."""

from __future__ import annotations

from .base import BACKENDS, Backend, get_backend

__all__ = ["BACKENDS", "Backend", "get_backend"]
