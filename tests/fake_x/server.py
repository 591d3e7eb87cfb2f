"""A fake X API v2 server (filtered stream and its rules) that the real tweepy client talks to.

It answers like the real API: the same paths, status codes, JSON bodies (`application/problem+json`
for errors), chunked streaming with one compact JSON item per line ending in `\\r\\n`, bare `\\r\\n`
keep-alives, `matching_rules` computed from the active rules, and only the fields and expansions
that the client asked for. Tests script the rest: mid-stream disconnects, `operational-disconnect`
errors, stalls, HTTP failures, a revoked token.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
PROBLEMS = "https://api.twitter.com/2/problems/"

# Error bodies exactly as the real API sends them.
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
CLIENT_FORBIDDEN = {
    "client_id": "00000000",
    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
    "tokens from a Twitter developer App that is attached to a Project. You can create a project "
    "via the developer portal.",
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": PROBLEMS + "client-forbidden",
}
NO_RULES = {
    "title": "ConnectionException",
    "detail": "You must define rules using the POST /2/tweets/search/stream/rules endpoint "
    "before connecting to filtered stream.",
    "connection_issue": "RuleConfigurationIssue",
    "type": PROBLEMS + "streaming-connection",
}
TOO_MANY_CONNECTIONS = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": PROBLEMS + "streaming-connection",
}
OPERATIONAL_DISCONNECT = {
    "errors": [
        {
            "title": "operational-disconnect",
            "disconnect_type": "UpstreamOperationalDisconnect",
            "detail": "This stream has been disconnected upstream for operational reasons.",
            "type": PROBLEMS + "operational-disconnect",
        }
    ]
}
GENERIC_TITLES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
TWEET_FIELDS = (
    "attachments", "author_id", "context_annotations", "conversation_id", "created_at",
    "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id",
    "lang", "non_public_metrics", "note_tweet", "organic_metrics", "possibly_sensitive",
    "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "source",
    "text", "withheld",
)  # fmt: skip
DEFAULT_USER_FIELDS = ("id", "name", "username")
USER_FIELDS = (
    "created_at", "description", "entities", "id", "location", "name", "pinned_tweet_id",
    "profile_image_url", "protected", "public_metrics", "url", "username", "verified",
    "verified_type", "withheld",
)  # fmt: skip
DEFAULT_MEDIA_FIELDS = ("media_key", "type")
MEDIA_FIELDS = (
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
)  # fmt: skip
DEFAULT_PLACE_FIELDS = ("full_name", "id")
PLACE_FIELDS = (
    "contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type",
)  # fmt: skip
POLL_FIELDS = ("duration_minutes", "end_datetime", "id", "options", "voting_status")
EXPANSIONS = (
    "attachments.media_keys", "attachments.poll_ids", "author_id", "edit_history_tweet_ids",
    "entities.mentions.username", "geo.place_id", "in_reply_to_user_id", "referenced_tweets.id",
    "referenced_tweets.id.author_id",
)  # fmt: skip
STREAM_PARAMETERS = {
    "backfill_minutes": None,
    "expansions": EXPANSIONS,
    "media.fields": MEDIA_FIELDS,
    "place.fields": PLACE_FIELDS,
    "poll.fields": POLL_FIELDS,
    "tweet.fields": TWEET_FIELDS,
    "user.fields": USER_FIELDS,
}
# A requested expansion brings the field it expands into `data` even when not asked for.
FIELD_OF_EXPANSION = {
    "author_id": "author_id",
    "attachments.media_keys": "attachments",
    "attachments.poll_ids": "attachments",
    "referenced_tweets.id": "referenced_tweets",
    "in_reply_to_user_id": "in_reply_to_user_id",
    "geo.place_id": "geo",
    "edit_history_tweet_ids": "edit_history_tweet_ids",
}
CONJUNCTION_REQUIRED = ("is", "has", "lang", "sample")
STANDALONE_OPERATORS = ("from", "to", "url", "retweets_of", "conversation_id", "context", "entity")


@dataclass
class LoggedRequest:
    """One request the fake received, as tests inspect it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    status: int | None = None


@dataclass
class _Connection:
    """One open stream connection and the commands waiting for it."""

    params: dict[str, tuple[str, ...]]
    commands: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    stalled: bool = False


class RuleSyntaxError(ValueError):
    """A rule value the real API would refuse."""


class FakeXServer:
    """The filtered-stream endpoints of the X API v2, on a free 127.0.0.1 port."""

    def __init__(
        self,
        *,
        bearer_token: str = "test-bearer-token",
        keep_alive_interval: float = 20.0,
        max_connections: int | None = 1,
        max_rule_length: int = 512,
        max_rules: int = 1000,
    ) -> None:
        self.bearer_token = bearer_token
        self.keep_alive_interval = keep_alive_interval
        self.max_connections = max_connections
        self.max_rule_length = max_rule_length
        self.max_rules = max_rules
        self.forbidden = False
        self.rules: dict[str, dict[str, str]] = {}
        self.requests: list[LoggedRequest] = []
        self._entries: dict[int, LoggedRequest] = {}
        self.connections_total = 0
        self.items_sent = 0
        self.url = ""
        self._ids = itertools.count(1_700_000_000_000_000_000)
        self._connections: list[_Connection] = []
        self._backlog: list[tuple[str, Any]] = []
        self._stream_failures: deque[tuple[int, dict[str, Any] | None]] = deque()
        self._rules_failures: deque[tuple[int, dict[str, Any] | None]] = deque()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 and return the base URL."""
        app = web.Application(middlewares=[self._log_middleware])
        app.router.add_get(RULES_PATH, self._get_rules)
        app.router.add_post(RULES_PATH, self._post_rules)
        app.router.add_get(STREAM_PATH, self._stream)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for conn in list(self._connections):
            conn.commands.put_nowait(("close", True))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeXServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- scripting -------------------------------------------------------------------------

    def add_rule(self, value: str, tag: str | None = None) -> str:
        """Create a rule directly (as another app or an earlier run did) and return its id."""
        rule_id = str(next(self._ids))
        self.rules[rule_id] = {"id": rule_id, "value": value, **({"tag": tag} if tag else {})}
        return rule_id

    def push(self, item: dict[str, Any]) -> None:
        """Stream one stored item (`data` + full `includes`) to matching connections.

        Its `matching_rules` are computed from the active rules unless the item carries its own
        (a recording replayed as is); an item that matches no rule is not sent, like the real API.
        Items pushed while no client is connected wait for the next connection, like a backfill.
        """
        self._send(("item", item))

    def push_raw(self, payload: bytes) -> None:
        """Write bytes as they are: a broken line, half a line, a hand-made error item."""
        self._send(("raw", payload))

    def push_operational_disconnect(self) -> None:
        """Send the real `operational-disconnect` error item, then end the stream."""
        self._send(("operational", None))

    def disconnect(self, *, abrupt: bool = True) -> None:
        """Drop the open stream connections: mid-chunk when abrupt, else a clean end of stream."""
        for conn in self._connections:
            conn.commands.put_nowait(("close", abrupt))

    def stall(self) -> None:
        """Stop writing anything, keep-alives included, on the open connections."""
        for conn in self._connections:
            conn.stalled = True

    def fail_next_connections(
        self, status: int, body: dict[str, Any] | None = None, times: int = 1
    ) -> None:
        """Answer the next stream connections with an HTTP error (the real body by default)."""
        self._stream_failures.extend([(status, body)] * times)

    def fail_next_rules_requests(
        self, status: int, body: dict[str, Any] | None = None, times: int = 1
    ) -> None:
        """Answer the next rules requests with an HTTP error (the real body by default)."""
        self._rules_failures.extend([(status, body)] * times)

    @property
    def open_connections(self) -> int:
        """How many stream connections are open now."""
        return len(self._connections)

    def stream_requests(self) -> list[LoggedRequest]:
        """The stream connection attempts received so far."""
        return [r for r in self.requests if r.path == STREAM_PATH]

    def rules_requests(self, method: str | None = None) -> list[LoggedRequest]:
        """The rules requests received so far, optionally of one method."""
        return [r for r in self.requests if r.path == RULES_PATH and method in (None, r.method)]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until a condition on the fake's state holds (checked after every change)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    # -- HTTP handlers ---------------------------------------------------------------------

    @web.middleware
    async def _log_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            text = await request.text()
            try:
                body = json.loads(text)
            except json.JSONDecodeError:
                body = text
        entry = LoggedRequest(
            request.method, request.path, dict(request.query), dict(request.headers), body
        )
        self._entries[id(request)] = entry
        self.requests.append(entry)
        await self._notify()
        try:
            response: web.StreamResponse = await handler(request)
        finally:
            del self._entries[id(request)]
        entry.status = response.status
        await self._notify()
        return response

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The 401 or 403 answer when the bearer token is not accepted."""
        if request.headers.get("Authorization") != f"Bearer {self.bearer_token}":
            return problem(401, UNAUTHORIZED)
        if self.forbidden:
            return problem(403, CLIENT_FORBIDDEN)
        return None

    async def _get_rules(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request) or self._scripted(self._rules_failures)
        if refusal is not None:
            return refusal
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        rules = [r for r in self.rules.values() if not ids or r["id"] in ids]
        meta: dict[str, Any] = {"sent": _now(), "result_count": len(rules)}
        return _json(200, {"data": rules, "meta": meta} if rules else {"meta": meta})

    async def _post_rules(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request) or self._scripted(self._rules_failures)
        if refusal is not None:
            return refusal
        unknown = [p for p in request.query if p not in ("dry_run", "delete_all")]
        if unknown:
            return _invalid_request(
                {p: [request.query[p]] for p in unknown},
                f"The query parameter [{unknown[0]}] is not one of [dry_run,delete_all]",
            )
        dry_run = request.query.get("dry_run", "false").lower() == "true"
        body = self._entries[id(request)].body
        if isinstance(body, dict) and isinstance(body.get("add"), list) and "delete" not in body:
            return self._add_rules(body["add"], dry_run)
        if isinstance(body, dict) and isinstance(body.get("delete"), dict) and "add" not in body:
            return self._delete_rules(body["delete"], dry_run)
        return _invalid_request({}, "The request body must have exactly one of `add` or `delete`")

    def _add_rules(self, add: list[Any], dry_run: bool) -> web.Response:
        errors: list[dict[str, Any]] = []
        valid: list[dict[str, str]] = []
        existing = {r["value"]: r["id"] for r in self.rules.values()}
        for rule in add:
            value = rule.get("value") if isinstance(rule, dict) else None
            if not isinstance(value, str):
                return _invalid_request({}, "Each rule to add must have a string `value`")
            try:
                self.check_rule(value)
            except RuleSyntaxError as exc:
                errors.append(
                    {
                        "value": value,
                        "details": [str(exc)],
                        "title": "UnprocessableEntity",
                        "type": PROBLEMS + "invalid-rules",
                    }
                )
                continue
            if value in existing:
                errors.append(
                    {
                        "value": value,
                        "id": existing[value],
                        "title": "DuplicateRule",
                        "type": PROBLEMS + "duplicate-rules",
                    }
                )
                continue
            tag = rule.get("tag")
            valid.append({"value": value, **({"tag": tag} if tag else {})})
        invalid = len(add) - len(valid)
        has_invalid = any(e["title"] == "UnprocessableEntity" for e in errors)
        # One invalid rule refuses the whole request; duplicates only refuse themselves.
        created = [] if has_invalid else valid
        if len(self.rules) + len(created) > self.max_rules:
            errors.append(
                {
                    "title": "RulesCapExceeded",
                    "type": PROBLEMS + "rule-cap",
                    "detail": f"Rule creation would exceed the maximum of {self.max_rules}",
                }
            )
            created = []
        data = []
        for rule in created:
            rule_id = str(next(self._ids))
            data.append({**rule, "id": rule_id})
            if not dry_run:
                self.rules[rule_id] = {"id": rule_id, **rule}
        summary = {
            "created": len(data),
            "not_created": len(add) - len(data),
            "valid": len(valid),
            "invalid": invalid,
        }
        payload: dict[str, Any] = {}
        if data:
            payload["data"] = data
        payload["meta"] = {"sent": _now(), "summary": summary}
        if errors:
            payload["errors"] = errors
        return _json(200 if has_invalid else 201, payload)

    def _delete_rules(self, delete: dict[str, Any], dry_run: bool) -> web.Response:
        ids = [str(i) for i in delete.get("ids", [])]
        values = delete.get("values", [])
        by_value = {r["value"]: r["id"] for r in self.rules.values()}
        wanted = ids + [by_value.get(v, v) for v in values]
        found = [i for i in wanted if i in self.rules]
        missing = [i for i in wanted if i not in self.rules]
        if not dry_run:
            for rule_id in found:
                del self.rules[rule_id]
        payload: dict[str, Any] = {
            "meta": {
                "sent": _now(),
                "summary": {"deleted": len(found), "not_deleted": len(missing)},
            }
        }
        if missing:
            payload["errors"] = [
                {
                    "errors": [{"parameters": {}, "message": "Rule does not exist"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": PROBLEMS + "invalid-request",
                }
            ]
        return _json(200, payload)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        params, invalid = _stream_params(request)
        if invalid is not None:
            return invalid
        scripted = self._scripted(self._stream_failures)
        if scripted is not None:
            return scripted
        if not self.rules:
            return problem(409, NO_RULES)
        if self.max_connections is not None and len(self._connections) >= self.max_connections:
            return problem(429, TOO_MANY_CONNECTIONS)
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        self._entries[id(request)].status = 200
        conn = _Connection(params)
        for command in self._backlog:
            conn.commands.put_nowait(command)
        self._backlog.clear()
        self._connections.append(conn)
        self.connections_total += 1
        await self._notify()
        try:
            await self._serve(request, response, conn)
        except (ConnectionError, RuntimeError):
            pass  # the client went away
        finally:
            self._connections.remove(conn)
            await self._notify()
        return response

    async def _serve(
        self, request: web.Request, response: web.StreamResponse, conn: _Connection
    ) -> None:
        """Write items, errors and keep-alives until the client or a script ends the stream."""
        while True:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            try:
                kind, arg = await asyncio.wait_for(conn.commands.get(), self.keep_alive_interval)
            except TimeoutError:
                if not conn.stalled:
                    await response.write(b"\r\n")
                continue
            if kind == "item":
                line = self.render(arg, conn.params)
                if line is not None:
                    await response.write(line)
                    self.items_sent += 1
                    await self._notify()
            elif kind == "raw":
                await response.write(arg)
            elif kind == "operational":
                await response.write(_compact(OPERATIONAL_DISCONNECT))
                await response.write_eof()
                return
            elif kind == "close":
                if arg:
                    transport.abort()  # no last chunk: the client sees a broken payload
                    raise ConnectionResetError("scripted abrupt disconnect")
                await response.write_eof()
                return

    # -- what the stream sends -------------------------------------------------------------

    def render(self, item: dict[str, Any], params: dict[str, tuple[str, ...]]) -> bytes | None:
        """The line the real stream would send for a stored item, or None if no rule matches."""
        if "matching_rules" in item:
            matching = item["matching_rules"]
        else:
            matching = [
                {"id": r["id"], "tag": r.get("tag", "")}
                for r in self.rules.values()
                if rule_matches(r["value"], item)
            ]
            if not matching:
                return None
        out = hydrate(item, params)
        out["matching_rules"] = matching
        return _compact(out)

    def check_rule(self, value: str) -> None:
        """Raise RuleSyntaxError when the real API would refuse this rule value."""
        if len(value) > self.max_rule_length:
            raise RuleSyntaxError(
                f"Rule length exceeds the maximum of {self.max_rule_length} characters "
                f"(it has {len(value)})"
            )
        check_rule_syntax(value)

    # -- internals -------------------------------------------------------------------------

    def _send(self, command: tuple[str, Any]) -> None:
        if not self._connections:
            self._backlog.append(command)
        for conn in self._connections:
            conn.commands.put_nowait(command)

    def _scripted(self, failures: deque[tuple[int, dict[str, Any] | None]]) -> web.Response | None:
        if not failures:
            return None
        status, body = failures.popleft()
        return problem(status, body or default_problem(status))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def default_problem(status: int) -> dict[str, Any]:
    """The body the real API sends with a given error status."""
    if status == 401:
        return UNAUTHORIZED
    if status == 403:
        return CLIENT_FORBIDDEN
    if status == 409:
        return NO_RULES
    if status == 429:
        return TOO_MANY_CONNECTIONS
    title = GENERIC_TITLES.get(status, "Error")
    return {"title": title, "detail": title, "type": "about:blank", "status": status}


def problem(status: int, body: dict[str, Any]) -> web.Response:
    """An `application/problem+json` error response."""
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/problem+json",
    )


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json"
    )


def _invalid_request(parameters: dict[str, list[str]], message: str) -> web.Response:
    return problem(
        400,
        {
            "errors": [{"parameters": parameters, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEMS + "invalid-request",
        },
    )


def _stream_params(
    request: web.Request,
) -> tuple[dict[str, tuple[str, ...]], web.Response | None]:
    """The requested fields and expansions, or the real 400 answer for unknown ones."""
    params: dict[str, tuple[str, ...]] = {}
    for name, raw in request.query.items():
        if name not in STREAM_PARAMETERS:
            return params, _invalid_request(
                {name: [raw]},
                f"The query parameter [{name}] is not one of [{','.join(STREAM_PARAMETERS)}]",
            )
        allowed = STREAM_PARAMETERS[name]
        values = tuple(v for v in raw.split(",") if v)
        if allowed is not None:
            bad = [v for v in values if v not in allowed]
            if bad:
                return params, _invalid_request(
                    {name: [raw]},
                    f"The `{name}` query parameter value [{bad[0]}] is not one of "
                    f"[{','.join(allowed)}]",
                )
        params[name] = values
    return params, None


def hydrate(item: dict[str, Any], params: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """`data`, `includes` and `errors` of a stored item, cut down to what was requested."""
    data = item["data"]
    pool = item.get("includes", {})
    users = {u["id"]: u for u in pool.get("users", [])}
    tweets = {t["id"]: t for t in pool.get("tweets", [])}
    media = {m["media_key"]: m for m in pool.get("media", [])}
    places = {p["id"]: p for p in pool.get("places", [])}
    expansions = set(params.get("expansions", ()))
    tweet_fields = set(params.get("tweet.fields", ())) | set(DEFAULT_TWEET_FIELDS)
    tweet_fields |= {FIELD_OF_EXPANSION[e] for e in expansions if e in FIELD_OF_EXPANSION}
    errors: list[dict[str, Any]] = []

    def lookup(table: dict[str, Any], key: str, kind: str, parameter: str) -> Any:
        if key not in table:
            errors.append(
                {
                    "value": key,
                    "detail": f"Could not find {kind} with {parameter}: [{key}].",
                    "title": "Not Found Error",
                    "resource_type": kind,
                    "parameter": parameter,
                    "resource_id": key,
                    "type": PROBLEMS + "resource-not-found",
                }
            )
        return table.get(key)

    out_tweets: list[dict[str, Any]] = []
    referenced = [r["id"] for r in data.get("referenced_tweets", [])]
    if "referenced_tweets.id" in expansions:
        for i in referenced:
            if (found_tweet := lookup(tweets, i, "tweet", "referenced_tweets.id")) is not None:
                out_tweets.append(found_tweet)
    if "edit_history_tweet_ids" in expansions:
        for i in data.get("edit_history_tweet_ids", []):
            if i in tweets and tweets[i] not in out_tweets:
                out_tweets.append(tweets[i])
    user_ids: list[str] = []
    if "author_id" in expansions and "author_id" in data:
        user_ids.append(data["author_id"])
    if "in_reply_to_user_id" in expansions and "in_reply_to_user_id" in data:
        user_ids.append(data["in_reply_to_user_id"])
    if "entities.mentions.username" in expansions:
        by_name = {u["username"].lower(): u["id"] for u in users.values()}
        for m in data.get("entities", {}).get("mentions", []):
            if m["username"].lower() in by_name:
                user_ids.append(by_name[m["username"].lower()])
    if "referenced_tweets.id.author_id" in expansions:
        user_ids += [tweets[i]["author_id"] for i in referenced if i in tweets]
    out_users = []
    for uid in dict.fromkeys(user_ids):
        user = lookup(users, uid, "user", "author_id")
        if user is not None:
            fields = set(params.get("user.fields", ())) | set(DEFAULT_USER_FIELDS)
            out_users.append(_pick(user, fields))
    out_media = []
    if "attachments.media_keys" in expansions:
        for key in data.get("attachments", {}).get("media_keys", []):
            found = lookup(media, key, "media", "attachments.media_keys")
            if found is not None:
                out_media.append(
                    _pick(found, set(params.get("media.fields", ())) | set(DEFAULT_MEDIA_FIELDS))
                )
    out_places = []
    place_id = data.get("geo", {}).get("place_id")
    if "geo.place_id" in expansions and place_id:
        found = lookup(places, place_id, "place", "geo.place_id")
        if found is not None:
            out_places.append(
                _pick(found, set(params.get("place.fields", ())) | set(DEFAULT_PLACE_FIELDS))
            )
    includes: dict[str, Any] = {}
    for key, values in (
        ("media", out_media),
        ("users", out_users),
        ("places", out_places),
        ("tweets", [_pick(t, tweet_fields) for t in out_tweets]),
    ):
        if values:
            includes[key] = values
    out: dict[str, Any] = {"data": _pick(data, tweet_fields)}
    if includes:
        out["includes"] = includes
    if errors:
        out["errors"] = errors
    return out


def _pick(obj: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in fields}


def _compact(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\r\n"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the rule language, as far as a wall uses it --------------------------------------------

_MISMATCHED = "There are mismatched parentheses in this rule (at position {at})"
_TOKEN = re.compile(r'\s*(?:(?P<open>-?\()|(?P<close>\))|(?P<phrase>-?"[^"]*")|(?P<word>[^\s()]+))')


def _tokenize(value: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(value):
        if value[pos:].strip() == "":
            break
        match = _TOKEN.match(value, pos)
        if match is None:
            raise RuleSyntaxError(f"Unterminated quoted phrase (at position {pos + 1})")
        kind = match.lastgroup or "word"
        text = match.group(kind)
        start = match.start(kind)
        if kind == "word" and text == "OR":
            kind = "or"
        tokens.append((kind, text, start + 1))
        pos = match.end()
    if value.count('"') % 2:
        at = value.index('"') + 1
        raise RuleSyntaxError(f"Unterminated quoted phrase (at position {at})")
    return tokens


class _Parser:
    """Recursive descent over the rule grammar: OR binds looser than implicit AND."""

    def __init__(self, value: str) -> None:
        self.tokens = _tokenize(value)
        self.pos = 0

    def parse(self) -> Any:
        if not self.tokens:
            raise RuleSyntaxError("Rules must not be empty")
        tree = self._or()
        if self.pos < len(self.tokens):
            raise RuleSyntaxError(_MISMATCHED.format(at=self.tokens[self.pos][2]))
        return tree

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self) -> Any:
        branches = [self._and()]
        while (tok := self._peek()) is not None and tok[0] == "or":
            self.pos += 1
            branches.append(self._and())
        return ("or", branches) if len(branches) > 1 else branches[0]

    def _and(self) -> Any:
        terms = []
        while (tok := self._peek()) is not None and tok[0] not in ("or", "close"):
            terms.append(self._unary())
        if not terms:
            tok = self._peek()
            at = tok[2] if tok else (self.tokens[-1][2] + len(self.tokens[-1][1]))
            raise RuleSyntaxError(f"Ambiguous use of or (at position {at})")
        return ("and", terms) if len(terms) > 1 else terms[0]

    def _unary(self) -> Any:
        kind, text, at = self.tokens[self.pos]
        self.pos += 1
        if kind == "open":
            inner = self._or()
            closing = self._peek()
            if closing is None or closing[0] != "close":
                raise RuleSyntaxError(_MISMATCHED.format(at=at))
            self.pos += 1
            return ("not", inner) if text.startswith("-") else inner
        if kind == "phrase":
            node = ("phrase", text.lstrip("-").strip('"').lower(), at)
            return ("not", node) if text.startswith("-") else node
        negated = text.startswith("-") and len(text) > 1
        term = text[1:] if negated else text
        node = ("term", term, at)
        return ("not", node) if negated else node


def check_rule_syntax(value: str) -> None:
    """Raise RuleSyntaxError for the mistakes the real rule validator reports."""
    tree = _Parser(value).parse()
    positives = list(_positive_terms(tree))
    if not positives:
        raise RuleSyntaxError("Rules must contain a non-negation term (at position 1)")
    for node in _all_terms(tree):
        term = node[1]
        if ":" in term and not term.startswith(("http:", "https:")):
            operator = term.split(":", 1)[0].lstrip("#@$")
            if operator not in CONJUNCTION_REQUIRED + STANDALONE_OPERATORS:
                raise RuleSyntaxError(
                    f"Reference to invalid operator '{operator}'. Operator is not available in "
                    f"current product or product packaging. (at position {node[2]})"
                )
    if all(p[0] == "term" and p[1].split(":", 1)[0] in CONJUNCTION_REQUIRED for p in positives):
        raise RuleSyntaxError(
            "Rules must contain at least one positive, non-stopword clause (at position 1)"
        )


def _positive_terms(tree: Any) -> Any:
    if tree[0] in ("term", "phrase"):
        yield tree
    elif tree[0] in ("and", "or"):
        for child in tree[1]:
            yield from _positive_terms(child)


def _all_terms(tree: Any) -> Any:
    if tree[0] == "term":
        yield tree
    elif tree[0] == "not":
        yield from _all_terms(tree[1])
    elif tree[0] in ("and", "or"):
        for child in tree[1]:
            yield from _all_terms(child)


def rule_matches(value: str, item: dict[str, Any]) -> bool:
    """Whether a stored item matches a rule value (hashtags, keywords, from:, is:, has:, lang:)."""
    try:
        tree = _Parser(value).parse()
    except RuleSyntaxError:
        return False
    return _evaluate(tree, _Facts(item))


class _Facts:
    """What a rule can test about one post (and the post it retweets or quotes)."""

    def __init__(self, item: dict[str, Any]) -> None:
        data = item["data"]
        pool = item.get("includes", {})
        tweets = {t["id"]: t for t in pool.get("tweets", [])}
        users = {u["id"]: u for u in pool.get("users", [])}
        refs = {r["type"]: r["id"] for r in data.get("referenced_tweets", [])}
        related = [data] + [tweets[i] for t, i in refs.items() if t != "replied_to" and i in tweets]
        self.text = " ".join(_full_text(t) for t in related).lower()
        self.words = set(re.findall(r"\w+", self.text))
        self.hashtags = {h["tag"].lower() for t in related for h in _entities(t, "hashtags")}
        self.mentions = {m["username"].lower() for t in related for m in _entities(t, "mentions")}
        self.urls = [u.get("expanded_url", "") for t in related for u in _entities(t, "urls")]
        author = users.get(data.get("author_id", ""), {})
        self.author = str(author.get("username", "")).lower()
        self.flags = {
            "is:retweet": "retweeted" in refs,
            "is:quote": "quoted" in refs,
            "is:reply": "replied_to" in refs,
            "is:verified": bool(author.get("verified")),
            "has:media": bool(data.get("attachments", {}).get("media_keys")),
            "has:links": bool(self.urls),
            "has:hashtags": bool(self.hashtags),
            "has:mentions": bool(self.mentions),
        }
        self.lang = str(data.get("lang", "")).lower()


def _full_text(tweet: dict[str, Any]) -> str:
    note = tweet.get("note_tweet")
    return str(note["text"]) if isinstance(note, dict) and "text" in note else str(tweet["text"])


def _entities(tweet: dict[str, Any], key: str) -> list[dict[str, Any]]:
    note = tweet.get("note_tweet")
    if isinstance(note, dict) and "entities" in note:
        return list(note["entities"].get(key, []))
    return list(tweet.get("entities", {}).get(key, []))


def _evaluate(tree: Any, facts: _Facts) -> bool:
    kind = tree[0]
    if kind == "or":
        return any(_evaluate(child, facts) for child in tree[1])
    if kind == "and":
        return all(_evaluate(child, facts) for child in tree[1])
    if kind == "not":
        return not _evaluate(tree[1], facts)
    if kind == "phrase":
        return tree[1] in facts.text
    term = tree[1]
    lowered = term.lower()
    if lowered.startswith(("#", "＃")):
        return lowered[1:] in facts.hashtags
    if lowered.startswith("@"):
        return lowered[1:] in facts.mentions
    operator, _, arg = lowered.partition(":")
    if arg and operator in ("is", "has"):
        return facts.flags.get(lowered, False)
    if arg and operator == "lang":
        return facts.lang == arg
    if arg and operator == "from":
        return facts.author == arg
    if arg and operator == "url":
        return any(arg.strip('"') in u.lower() for u in facts.urls)
    return lowered in facts.words
