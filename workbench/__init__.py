"""医保基金监管 评估与政策跟踪工作台."""

from __future__ import annotations

__version__ = "0.1.0"
