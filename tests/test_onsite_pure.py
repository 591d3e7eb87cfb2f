"""The pure parts of phones' posts: ids from keys, field checks, addresses and windows."""

from __future__ import annotations

import pytest

from server.cli import demo_settings
from server.sources.onsite.limits import Limit, address_key
from server.sources.onsite.photo import PhotoRefused, claimed_format
from server.sources.onsite.submission import (
    SubmissionRefused,
    check_text,
    device_author,
    submission_id,
)


def test_one_key_is_one_post_id_and_keys_do_not_collide() -> None:
    """The id depends on the key alone; different keys give different ids."""
    key = "k" * 20
    assert submission_id(key) == submission_id(key)
    assert submission_id(key).startswith("onsite:")
    assert len({submission_id(f"{key}{n}") for n in range(1000)}) == 1000


def test_an_ipv6_address_stands_for_its_64() -> None:
    """Addresses of one /64 are one sender; IPv4 (also mapped) stays whole."""
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == (
        "2001:db8:1:2::/64")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7" == address_key("192.0.2.7")
    assert address_key(None) == "unknown"


def test_a_limit_counts_in_fixed_windows_and_says_how_long_to_wait() -> None:
    """Counter names change with the window; the wait runs to the next window."""
    limit = Limit("posts", "device:d", 5, 600.0)
    assert limit.counter(1200.0) == limit.counter(1799.0) != limit.counter(1800.0)
    assert limit.wait(1250.0) == 550.0


def test_text_is_normalised_and_checked() -> None:
    """NFC, trimmed, CRLF to LF, blank runs collapsed; the limit counts code points."""
    assert check_text(" Cafe\u0301\r\n\r\n\r\n\r\nbis ", "text", 280, lines=True) == (
        "Café\n\nbis")
    assert check_text("😀" * 5, "text", 5, lines=True) == "😀" * 5
    with pytest.raises(SubmissionRefused, match="lone surrogate"):
        check_text("a\ud800b", "text", 280, lines=True)
    with pytest.raises(SubmissionRefused, match="noncharacter"):
        check_text("a\uffffb", "name", 40, lines=False)


def test_a_display_name_is_not_a_handle() -> None:
    """A phone's author has no handle: trust and blocks by handle never match it."""
    author = device_author("device-1234567890abcdef", "ada")
    assert author.handle == "" and author.name == "ada" and author.id.startswith("onsite:")


def test_declared_types_and_names_must_agree() -> None:
    """A type and a file name naming two formats are refused; unknown types are refused."""
    assert claimed_format("image/jpeg", "IMG_0001.JPG") == "JPEG"
    assert claimed_format("", "IMG_0001.HEIC") == "HEIF"
    assert claimed_format("application/octet-stream", "blob") is None
    with pytest.raises(PhotoRefused, match=r"named \.png but sent as image/jpeg"):
        claimed_format("image/jpeg", "x.png")
    with pytest.raises(PhotoRefused, match="text/html"):
        claimed_format("text/html", "x.jpg")


def test_the_demo_takes_posts_from_phones() -> None:
    """`hashwall demo` (and so `make demo`) turns posting from phones on."""
    assert demo_settings().onsite_posts is True
