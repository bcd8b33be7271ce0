"""Units (issue 11 item 5): one luminosity unit (/pb) everywhere, a unit per physical field in the catalog."""

from __future__ import annotations

import pytest

from dqquery.catalog import BY_PATH, LUMINOSITY_UNIT, UNITS, fields_markdown, lookup
from dqquery.sources.oms import INVERSE_BARN_TO_PB, attributes_in_pb


def test_every_unit_belongs_to_a_catalog_field_and_luminosity_is_in_pb():
    assert set(UNITS) <= set(BY_PATH)
    assert (lookup("energy").unit, lookup("b_field").unit) == ("GeV", "T")
    for name in ("recorded_lumi", "delivered_lumi", "recorded", "delivered"):
        assert lookup(name).unit == LUMINOSITY_UNIT == "/pb"
    assert lookup("tracker-strip").unit == "" and lookup("run.oms.not_listed").unit == ""


def test_the_fields_page_shows_units():
    page = fields_markdown()
    assert "| name | qualified name | type | unit |" in page
    assert "| `energy` | `run.oms.energy` | float | `GeV` |" in page


@pytest.mark.parametrize(("units", "value", "in_pb"), [("pb^{-1}", 103.19, 103.19), ("ub^{-1}", 147000.0, 0.147),
                                                        ("nb^{-1}", 250.0, 0.25), ("fb^{-1}", 0.5, 500.0)])
def test_oms_luminosity_is_converted_to_pb_by_its_stated_units(units, value, in_pb):
    item = {"attributes": {"recorded_lumi": value, "fill_number": 6573, "init_lumi": 6885.2},
            "meta": {"row": {"recorded_lumi": {"units": units}, "init_lumi": {"units": "10^{30}cm^{-2}s^{-1}"}}}}
    out = attributes_in_pb(item)
    assert out["recorded_lumi"] == pytest.approx(in_pb, rel=1e-12)
    assert (out["fill_number"], out["init_lumi"]) == (6573, 6885.2)  # not an integrated luminosity: unchanged
    assert item["attributes"]["recorded_lumi"] == value  # the answer itself is not modified


def test_attributes_without_stated_units_are_kept():
    assert attributes_in_pb({"attributes": {"recorded_lumi": 1.5, "x": None}}) == {"recorded_lumi": 1.5, "x": None}
    assert attributes_in_pb({"attributes": {"recorded_lumi": None}, "meta": {"row": {"recorded_lumi": {"units": "ub^{-1}"}}}}) == {"recorded_lumi": None}


def test_conversion_factors_are_powers_of_a_thousand():
    ladder = {"fb": 1e3, "pb": 1.0, "nb": 1e-3, "ub": 1e-6, "mb": 1e-9}
    for units, factor in INVERSE_BARN_TO_PB.items():
        prefix = units.replace("^{-1}", "").replace("/", "").replace("\u00b5", "u")
        assert factor == ladder[prefix]
