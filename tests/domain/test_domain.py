import math
from datetime import datetime, timezone

import numpy as np
import pytest

from fabmind.domain import (
    Chamber,
    DomainError,
    FabBatch,
    InvalidReading,
    Lot,
    RecipeParameter,
    Run,
    RunTrace,
    Sensor,
    Yield,
)

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


def test_natural_chamber_id_ok():
    c = Chamber(chamber_id="ETCH-03/B", equipment_id="ETCH-03", type_id="DRYETCH-X")
    assert c.natural_key() == ("ETCH-03/B",)


@pytest.mark.parametrize("bad", ["etch 3b", "ETCH-3/B", "ETCH-03", "ETCH-03/", "/B"])
def test_bad_chamber_id_names_field_and_value(bad):
    with pytest.raises(DomainError) as e:
        Chamber(chamber_id=bad, equipment_id="ETCH-03", type_id="DRYETCH-X")
    assert e.value.field == "chamber_id"
    assert e.value.value == bad
    assert "chamber_id" in str(e.value) and repr(bad) in str(e.value)


def test_chamber_must_belong_to_its_tool():
    with pytest.raises(DomainError, match="not on tool ETCH-04"):
        Chamber(chamber_id="ETCH-03/B", equipment_id="ETCH-04", type_id="X")


def test_sensor_check_rejects_with_reason():
    s = Sensor(type_id="DRYETCH-X", name="RF_FWD_W", unit="W", low=0, high=3000)
    assert s.check(1500.0) == 1500.0
    with pytest.raises(InvalidReading, match="outside valid range 0..3000 W"):
        s.check(-3.2, chamber_id="ETCH-03/B")
    with pytest.raises(InvalidReading, match="NaN"):
        s.check(math.nan)
    with pytest.raises(InvalidReading, match="not a number"):
        s.check("12")  # type: ignore[arg-type]


def test_sensor_range_must_be_ordered():
    with pytest.raises(DomainError, match="low=10.0 must be below high=5.0"):
        Sensor(type_id="X", name="P", unit="Pa", low=10, high=5)


def test_recipe_parameter_default_within_limits():
    with pytest.raises(DomainError, match="outside limits"):
        RecipeParameter(name="RF", unit="W", default=5000, low=0, high=3000)


def test_run_end_before_start_rejected():
    with pytest.raises(DomainError, match="before it starts"):
        Run(run_id="R1", chamber_id="CVD-01/A", step_id="S1", recipe_id="RC", lot_id="L1",
            substrate_id="L1-01", start=T0, end=T0.replace(hour=0, minute=0) .replace(day=4))


def test_yield_range_and_nan():
    with pytest.raises(DomainError) as e:
        Yield(lot_id="L1", ts=T0, yield_pct=120)
    assert e.value.field == "yield_pct"
    with pytest.raises(DomainError, match="finite"):
        Yield(lot_id="L1", ts=T0, yield_pct=float("nan"))


def test_lot_size_limits():
    with pytest.raises(DomainError) as e:
        Lot(lot_id="L1", product_id="P1", start=T0, size=0)
    assert e.value.field == "size"


def test_run_trace_shape_and_nan():
    ok = RunTrace(run_id="R1", chamber_id="CVD-01/A", start=T0, dt_s=1.0, sensors=("A", "B"),
                  values=np.zeros((5, 2), np.float32), step_index=np.zeros(5, np.uint8))
    assert ok.values.shape == (5, 2)
    with pytest.raises(DomainError, match="does not match 2 sensors"):
        RunTrace(run_id="R1", chamber_id="CVD-01/A", start=T0, dt_s=1.0, sensors=("A", "B"),
                 values=np.zeros((5, 3)), step_index=np.zeros(5, np.uint8))
    bad = np.zeros((5, 2))
    bad[3, 1] = np.nan
    with pytest.raises(DomainError, match="sample 3 of sensor B"):
        RunTrace(run_id="R1", chamber_id="CVD-01/A", start=T0, dt_s=1.0, sensors=("A", "B"),
                 values=bad, step_index=np.zeros(5, np.uint8))


def test_records_are_immutable_and_reject_unknown_fields():
    with pytest.raises(DomainError, match="Extra inputs"):
        Lot(lot_id="L1", product_id="P1", start=T0, size=25, colour="red")


def test_fab_batch_counts():
    b = FabBatch(lots=[Lot(lot_id="L1", product_id="P1", start=T0, size=25)])
    assert b.counts()["lots"] == 1 and b.counts()["runs"] == 0
