"""The sandbox Keepnet platform: fake API server and its deterministic data."""

from bot.sandbox.data import advance, generate_companies, is_flagged
from bot.sandbox.server import Sandbox
from bot.sandbox.switches import Switches

__all__ = ["Sandbox", "Switches", "advance", "generate_companies", "is_flagged"]
