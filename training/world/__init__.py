"""Synthetic customer worlds: raw CRM tables with realistic behaviour, drift and dirt, plus hidden truth."""

from training.world.config import WorldConfig
from training.world.generate import RAW_TABLES, World, generate_world, write_world

__all__ = ["RAW_TABLES", "World", "WorldConfig", "generate_world", "write_world"]
