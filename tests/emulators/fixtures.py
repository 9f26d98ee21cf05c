"""Fixtures for tests in any directory (``pytest_plugins = ["tests.emulators.fixtures"]``)."""

from __future__ import annotations

import pytest

from config import WeComSettings
from tests.emulators.wecom import WeComEmulator


@pytest.fixture
def wecom_emulator():
    """A running WeCom emulator (fresh state per test); ``.base_url`` goes into ``WECOM_API_BASE``."""
    with WeComEmulator() as emulator:
        yield emulator


def wecom_settings_for(emulator: WeComEmulator) -> WeComSettings:
    return WeComSettings(corp_id=emulator.corp_id, agent_id=str(emulator.agent_id), secret=emulator.secret,
                         token=emulator.token, aes_key=emulator.aes_key, api_base=emulator.base_url)


@pytest.fixture
def wecom_app(app, wecom_emulator):
    """An app with WeCom switched on against the emulator, on the test database (``app``'s tables)."""
    from application import create_app

    settings = app.extensions["settings"].with_overrides({"wecom": wecom_settings_for(wecom_emulator)})
    flask_app = create_app(settings=settings)
    yield flask_app
    flask_app.extensions["db_engine"].dispose()
