"""One typed Settings object; the only module that reads the environment (prefix PERLES_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The checkout's collections/ when running from a clone (editable install); else ./collections.
_REPO_COLLECTIONS = Path(__file__).resolve().parent.parent / "collections"


def _default_collections_dir() -> Path:
    return _REPO_COLLECTIONS if _REPO_COLLECTIONS.is_dir() else Path("collections")


class Settings(BaseSettings):
    """Everything configurable, read from PERLES_* variables or passed in by tests."""

    model_config = SettingsConfigDict(env_prefix="PERLES_", extra="ignore")

    database_url: str = "sqlite:///perles.db"
    collections_dir: Path = Field(default_factory=_default_collections_dir)

    # Outbound fetching (see ../shared/SECURITY.md, section 0).
    user_agent: str = "Perles/0.1 (+https://github.com/perles-board/perles; curated link board)"
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 25.0
    max_body_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allowed_ports: frozenset[int] = frozenset({80, 443})
    # Hosts or networks that may be fetched although not globally routable. Empty in
    # production; tests put their own 127.0.0.1 servers here ("127.0.0.1", "127.0.0.0/8").
    allow_private_hosts: frozenset[str] = frozenset()

    # Extraction runs in a worker process, killed past the timeout (aggregator/isolation.py).
    extract_timeout: float = 20.0
    extract_memory_mb: int = 1024  # the worker's address-space cap (Linux); 0 for none

    host: str = "127.0.0.1"
    port: int = 8000
