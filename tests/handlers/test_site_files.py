"""Files browsers fetch on every page: the icon."""

from __future__ import annotations

import re
import struct

import pytest

ICON_LINKS = re.compile(r'<link rel="icon" href="/favicon\.ico"[^>]*>\s*<link rel="icon" href="/static/favicon\.svg"')


def test_favicon_ico_is_a_real_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    reserved, kind, count = struct.unpack("<HHH", response.data[:6])
    assert (reserved, kind) == (0, 1) and count >= 2  # ICO header: an icon with several sizes
    sizes = {response.data[6 + 16 * i] for i in range(count)}
    assert {16, 32} <= sizes
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.data.startswith(b"<svg")


@pytest.mark.parametrize("path", ["/login", "/contact", "/faq", "/m/"])
def test_every_layout_links_the_icon(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    assert ICON_LINKS.search(response.get_data(as_text=True)), path
