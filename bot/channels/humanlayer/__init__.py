"""HumanLayer-compatible REST surface under /humanlayer/v1, so the `humanlayer` SDK 0.7.x works unchanged
against Countersign: function calls and human contacts become approvals."""

from bot.channels.humanlayer.install import install

__all__ = ["install"]
