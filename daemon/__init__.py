"""harvestd: a self-hosted imagery acquisition daemon (one asyncio process)."""

__version__ = "0.1.0"
