"""Every setting of hashwall, read from the environment and a `.env` file."""

from __future__ import annotations

import enum
import ipaddress
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from moderation import hashtags
from server import branding

DEFAULT_STORE_URL = "sqlite:///hashwall.sqlite3"


class ModerationMode(enum.StrEnum):
    """Whether posts wait for approval (pre) or show at once unless held (post)."""

    PRE = "pre"
    POST = "post"


class RetweetPolicy(enum.StrEnum):
    """What happens to a retweet: it counts toward its original, or is dropped."""

    COUNT = "count"
    DROP = "drop"


class Theme(enum.StrEnum):
    """The pages' built-in colour themes: the branding's dark one, light, high contrast."""

    DARK = "dark"
    LIGHT = "light"
    HIGH_CONTRAST = "high-contrast"


class AnnouncementStyle(enum.StrEnum):
    """How the wall shows the organiser's announcements: a banner, or a scrolling ticker."""

    BANNER = "banner"
    TICKER = "ticker"


class WallLayout(enum.StrEnum):
    """How the wall arranges posts: a grid of cards, one post at a time, a photo-first
    mosaic, or the mosaic when the recent posts carry photos and the grid otherwise."""

    GRID = "grid"
    SPOTLIGHT = "spotlight"
    MOSAIC = "mosaic"
    AUTO = "auto"


class SettingsError(Exception):
    """A setting has a value hashwall cannot use."""


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Typed settings; each field is documented in docs/settings.md."""

    model_config = SettingsConfigDict(
        env_prefix="HASHWALL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    hashtags: CommaList = Field(default_factory=lambda: ["#uemedef14", "#Paroles2CEO"])
    store_url: str = DEFAULT_STORE_URL
    moderator_password: str | None = None
    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    x_api_url: str = "https://api.twitter.com"
    x_bearer_token: str | None = Field(
        default=None, validation_alias=AliasChoices("X_BEARER_TOKEN", "HASHWALL_X_BEARER_TOKEN")
    )
    moderation_mode: ModerationMode = ModerationMode.PRE
    retweet_policy: RetweetPolicy = RetweetPolicy.COUNT
    trusted_authors: CommaList = Field(default_factory=list)
    blocked_words: CommaList = Field(default_factory=list)
    replay_file: Path | None = None
    rules_file: Path | None = None
    accounts_file: Path | None = None
    claim_timeout: float = Field(default=300.0, ge=10, le=86_400)
    ingest_status: str | None = None
    replay_speed: float = 1.0
    recent_posts: int = Field(default=30, ge=1, le=500)
    client_queue_size: int = Field(default=256, ge=8, le=100_000)
    heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    event_title: str = "Université d'été du MEDEF"
    language: str = "fr"
    logo_url: str | None = None
    color_background: str = "#0f1420"
    color_text: str = "#f4f6fb"
    color_accent: str = "#7cc7ff"
    color_card: str = "#1b2233"
    font_family: str = 'system-ui, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif'
    wall_layout: WallLayout = WallLayout.AUTO
    wall_rotate_seconds: float = Field(default=12.0, ge=3, le=3600)
    onsite_posts: bool = False
    onsite_post_moderation: bool = False
    onsite_max_chars: int = Field(default=280, ge=1, le=5000)
    onsite_max_name_chars: int = Field(default=40, ge=1, le=200)
    onsite_max_photo_bytes: int = Field(default=10_000_000, ge=10_000, le=100_000_000)
    onsite_limit_minutes: float = Field(default=10.0, gt=0, le=1440)
    onsite_device_posts: int = Field(default=5, ge=1, le=100_000)
    onsite_device_photos: int = Field(default=3, ge=0, le=100_000)
    onsite_address_posts: int = Field(default=200, ge=1, le=1_000_000)
    onsite_address_photos: int = Field(default=100, ge=0, le=1_000_000)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=1_073_741_824)
    forwarded_allow_ips: CommaList = Field(default_factory=list)
    max_connections: int | None = Field(default=None, ge=10, le=1_000_000)
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    store_timeout: float = Field(default=2.0, gt=0, le=60)
    demo_photos: bool = False
    announcement_style: AnnouncementStyle = AnnouncementStyle.BANNER
    theme: Theme = Theme.DARK
    sources: CommaList | None = None
    x_stall_timeout: float = Field(default=60.0, gt=20, le=600)
    x_monthly_read_budget: int | None = Field(default=None, ge=1)
    x_price_per_read: float = Field(default=0.005, ge=0)
    bluesky_jetstream_url: CommaList = Field(default_factory=lambda: [
        "wss://jetstream1.us-east.bsky.network", "wss://jetstream2.us-east.bsky.network"])
    bluesky_appview_url: str = "https://public.api.bsky.app"
    bluesky_plc_url: str = "https://plc.directory"
    bluesky_compress: bool = True
    bluesky_zstd_dictionary: Path | None = None
    bluesky_profile_wait: float = Field(default=10.0, ge=0, le=120)
    mastodon_instances: CommaList = Field(default_factory=list)
    mastodon_tokens: str | None = None
    mastodon_poll_seconds: float = Field(default=10.0, ge=2, le=3600)
    mastodon_unlisted: bool = False

    @field_validator("hashtags", "trusted_authors", "blocked_words", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        if value is None:
            return None
        names = _split_list(value)
        return [name.lower() for name in names] if isinstance(names, list) else names

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: list[str]) -> list[str]:
        tags = []
        for tag in value:
            tag = tag if tag.startswith("#") else f"#{tag}"
            why = hashtags.problem(tag)
            if why is not None:
                raise ValueError(f"expected hashtags like '#uemedef14', got {tag!r}: {why}")
            tags.append(tag)
        return tags

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        proxies = _split_list(value)
        for proxy in proxies if isinstance(proxies, list) else []:
            if proxy != "*":
                try:
                    ipaddress.ip_network(proxy, strict=False)
                except ValueError:
                    raise ValueError(f"expected proxy addresses like 10.0.0.2, 10.0.0.0/8 or *, "
                                     f"got {proxy!r}") from None
        return proxies

    @field_validator("trusted_authors")
    @classmethod
    def _handles(cls, value: list[str]) -> list[str]:
        return [handle.lstrip("@").lower() for handle in value]

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("sqlite", "redis", "rediss"):
            raise ValueError(
                f"expected a URL starting with sqlite:/// or redis://, got {value!r}"
            )
        if scheme == "sqlite" and not value.startswith("sqlite:///"):
            raise ValueError(f"expected sqlite:///path/to/file.sqlite3, got {value!r}")
        return value

    @field_validator("public_url", "x_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http(s):// URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("replay_speed")
    @classmethod
    def _speed(cls, value: float) -> float:
        if value < 0:
            raise ValueError(f"expected 0 (no pauses) or a positive factor, got {value}")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in branding.LANGUAGES:
            raise ValueError(f"expected one of {', '.join(branding.LANGUAGES)}, got {value!r}")
        return value

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        return branding.check_logo_url(value) if value else None

    @field_validator("color_background", "color_text", "color_accent", "color_card")
    @classmethod
    def _colour(cls, value: str, info: ValidationInfo) -> str:
        if not branding.HEX_COLOUR.fullmatch(value):
            raise ValueError(f"expected a colour like #1b2233 or #fff, got {value!r}")
        if info.field_name == "color_card":  # the last colour: the others are known now
            text = info.data.get("color_text")
            for name, ground in (("color_background", info.data.get("color_background")),
                                 ("color_card", value)):
                if not (text and ground):
                    continue
                ratio = branding.contrast_ratio(text, ground)
                if ratio < branding.MIN_CONTRAST:
                    raise ValueError(
                        f"expected HASHWALL_COLOR_TEXT {text} to contrast at least "
                        f"{branding.MIN_CONTRAST}:1 with HASHWALL_{name.upper()} {ground}, "
                        f"got {ratio:.1f}:1"
                    )
        return value

    @field_validator("font_family")
    @classmethod
    def _font(cls, value: str) -> str:
        if not branding.FONT_FAMILY.fullmatch(value):
            raise ValueError(f"expected CSS font names like 'Inter, sans-serif', got {value!r}")
        return value

    @field_validator("rules_file")
    @classmethod
    def _rules_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            from moderation.exceptions import InvalidRules
            from moderation.ruleset_config import load_rules_file

            try:
                load_rules_file(value)
            except InvalidRules as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("accounts_file")
    @classmethod
    def _accounts_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            from moderation.accounts import AccountsError, load_accounts

            try:
                load_accounts(value)
            except AccountsError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("ingest_status")
    @classmethod
    def _ingest_status(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, _, port = value.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected a port or host:port like 127.0.0.1:9100, got {value!r}")
        return f"{host or '127.0.0.1'}:{port}"

    @field_validator("bluesky_jetstream_url", mode="before")
    @classmethod
    def _jetstream_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("bluesky_jetstream_url")
    @classmethod
    def _jetstream_urls(cls, value: list[str]) -> list[str]:
        urls = []
        for url in value:
            url = url if "://" in url else f"wss://{url}"
            parts = urlsplit(url)
            if parts.scheme not in ("ws", "wss") or not parts.netloc:
                raise ValueError(f"expected Jetstream hosts like wss://jetstream1.us-east."
                                 f"bsky.network, comma separated, got {url!r}")
            urls.append(url.rstrip("/"))
        if not urls:
            raise ValueError("expected at least one Jetstream host, got none")
        return urls

    @field_validator("bluesky_appview_url", "bluesky_plc_url")
    @classmethod
    def _bluesky_http_url(cls, value: str) -> str:
        return cls._http_url(value)

    @field_validator("bluesky_zstd_dictionary")
    @classmethod
    def _zstd_dictionary(cls, value: Path | None) -> Path | None:
        if value is not None:
            from server.sources.bluesky.compression import load_dictionary
            from server.sources.bluesky.exceptions import DictionaryError

            try:
                load_dictionary(value)
            except DictionaryError as exc:
                raise ValueError(str(exc)) from None
        return value
    @field_validator("mastodon_instances", mode="before")
    @classmethod
    def _mastodon_instances(cls, value: Any) -> Any:
        from server.sources.mastodon.config import parse_instances

        return parse_instances(_split_list(value)) if value is not None else value

    @field_validator("mastodon_tokens")
    @classmethod
    def _mastodon_tokens(cls, value: str | None) -> str | None:
        from server.sources.mastodon.config import parse_tokens

        if value:
            parse_tokens(value)
        return value or None

    @property
    def mastodon_token_map(self) -> dict[str, str]:
        """Read tokens by server host, from `mastodon_tokens` (pairs, or a file of them)."""
        from server.sources.mastodon.config import parse_tokens

        return parse_tokens(self.mastodon_tokens) if self.mastodon_tokens else {}

    @property
    def ingest_status_address(self) -> tuple[str, int] | None:
        """Where `hashwall ingest` serves /metrics and /healthz, or None."""
        if self.ingest_status is None:
            return None
        host, _, port = self.ingest_status.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def public_origin(self) -> str:
        """The `Origin` header browsers send for pages of the public URL."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one clear `SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            env = f"HASHWALL_{name.upper()}" if name != "x_bearer_token" else "X_BEARER_TOKEN"
            lines.append(f"{env}: {error['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
