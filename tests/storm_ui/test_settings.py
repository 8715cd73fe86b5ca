"""The Storm UI's settings from the environment."""

from __future__ import annotations

import pytest

from lendstream.services.environment import SettingsError
from lendstream.storm.nimbus import NimbusAddress
from lendstream.storm_ui.settings import UiSettings, server_settings


def test_defaults_point_at_a_local_nimbus() -> None:
    settings = UiSettings.from_env({})
    assert settings.nimbus_seeds == (NimbusAddress("127.0.0.1", 6627),)
    assert settings.thrift_timeout_ms == 5000
    assert settings.metrics_timeout_ms == 2000
    assert server_settings({}).bind == "127.0.0.1:8080"


def test_several_seeds_keep_their_order() -> None:
    settings = UiSettings.from_env(
        {
            "LENDSTREAM_STORM_UI_NIMBUS_SEEDS": "master-1:6627, master-2:6627,,master-3:16627",
            "LENDSTREAM_STORM_UI_THRIFT_TIMEOUT_MS": "1500",
            "LENDSTREAM_STORM_UI_METRICS_TIMEOUT_MS": "700",
        }
    )
    assert [str(seed) for seed in settings.nimbus_seeds] == [
        "master-1:6627",
        "master-2:6627",
        "master-3:16627",
    ]
    assert settings.thrift_timeout_ms == 1500
    assert settings.metrics_timeout_ms == 700


@pytest.mark.parametrize("seeds", ["master-1", "master-1:port", ":6627", "master-1:70000", ","])
def test_bad_seeds_are_refused_by_name(seeds: str) -> None:
    with pytest.raises(SettingsError, match="LENDSTREAM_STORM_UI_NIMBUS_SEEDS"):
        UiSettings.from_env({"LENDSTREAM_STORM_UI_NIMBUS_SEEDS": seeds})


@pytest.mark.parametrize(
    "variable", ["LENDSTREAM_STORM_UI_THRIFT_TIMEOUT_MS", "LENDSTREAM_STORM_UI_METRICS_TIMEOUT_MS"]
)
@pytest.mark.parametrize("value", ["99", "120001", "soon"])
def test_timeouts_out_of_range_are_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        UiSettings.from_env({variable: value})
