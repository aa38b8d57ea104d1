"""One typed Settings object; the only module that reads the environment (prefix PERLES_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aggregator import __version__

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
    # Named in every request's User-Agent, so a site's operator can find who fetched and why.
    contact_url: str = "https://github.com/perles-board/perles"
    connect_timeout: float = 5.0
    dns_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 25.0
    max_body_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allowed_ports: frozenset[int] = frozenset({80, 443})
    # Hosts or networks that may be fetched although not globally routable. Empty in
    # production; tests put their own 127.0.0.1 servers here ("127.0.0.1", "127.0.0.0/8").
    allow_private_hosts: frozenset[str] = frozenset()

    # Politeness: robots.txt is honoured (cached per host for robots_ttl seconds), one request
    # at a time per host with host_delay seconds between them; 429/503 are retried after their
    # Retry-After, capped at retry_cap seconds.
    respect_robots: bool = True
    robots_ttl: float = 3600.0
    host_delay: float = 1.0
    retry_base: float = 30.0  # first backoff; doubles with each attempt
    retry_cap: float = 3600.0

    # The durable ingest queue (aggregator/queue/jobs.py): a job is tried max_attempts times; a
    # worker holds a job's lease for lease_seconds (renewed while it works), after which a
    # killed worker's job is taken again. `perles serve` runs serve_workers in-process.
    max_attempts: int = 3
    lease_seconds: float = 120.0
    workers: int = 2
    serve_workers: int = 1

    # Link health (aggregator/queue/health.py): sources are checked every check_interval_hours; a
    # source failing dead_after checks in a row (or 404/410, or no DNS) is marked dead.
    check_interval_hours: float = 24.0 * 7
    dead_after: int = 3
    # Raw responses kept per article (WARC records) so pages can be re-extracted offline.
    raw_responses_kept: int = 3

    # Extraction runs in a worker process, killed past its timeout (extract/isolation.py).
    extract_timeout: float = 20.0
    extract_memory_mb: int = 1024  # the worker's address-space cap (Linux); 0 for none

    # Curators (aggregator/curate/accounts.py, sessions.py): argon2id's cost (RFC 9106's
    # second recommended option: 3 passes over 64 MiB), how long a web session lasts and may
    # sit idle, and the sign-in throttle: at most signin_account_limit failed sign-ins per
    # account and signin_address_limit per address in signin_window seconds.
    password_time_cost: int = 3
    password_memory_kib: int = 64 * 1024
    password_parallelism: int = 4
    session_hours: float = 12.0
    session_idle_minutes: float = 120.0
    signin_window: float = 900.0
    signin_account_limit: int = 10
    signin_address_limit: int = 50
    # The write API's rate limit: at most this many writes per curator per minute, counted
    # by each server process (web/ratelimit.py); 0 for none.
    api_writes_per_minute: int = 120
    # The board's public address when it is served behind https (a proxy): session cookies
    # are then Secure. Absolute URLs the board writes come from here, never from the request.
    public_url: str = ""
    # Rendered answers of anonymous public reads kept in each server process (web/page_cache/),
    # least recently used out first past this many MiB; 0 for none.
    page_cache_mb: int = Field(default=64, ge=0)

    @property
    def user_agent(self) -> str:
        """Names Perles and where to reach whoever runs it (SECURITY decision 4, issue 4)."""
        major, minor = __version__.split(".")[:2]
        return f"Perles/{major}.{minor} (+{self.contact_url}; curated link board)"

    host: str = "127.0.0.1"
    port: int = 8000

    # Held under load (web/serving.py, issue 11 item 8): in each server process, a request's
    # head must arrive within serve_head_timeout seconds and its body within
    # serve_body_timeout of the head, else the connection is closed; at most
    # serve_max_connections are open (lowered to what the file-descriptor limit leaves), the
    # one idle the longest closed to make room; kept-alive connections close after
    # serve_keep_alive idle seconds. X-Forwarded-For/-Proto are believed only from
    # forwarded_allow_ips (a reverse proxy's addresses, comma-separated; "*" for any).
    serve_head_timeout: float = Field(default=10.0, gt=0)
    serve_body_timeout: float = Field(default=30.0, gt=0)
    serve_max_connections: int = Field(default=4096, ge=1)
    serve_keep_alive: int = Field(default=5, ge=1)
    forwarded_allow_ips: str = "127.0.0.1,::1"
