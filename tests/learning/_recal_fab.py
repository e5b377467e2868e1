"""The recalibrated gauge of the learning tests' fab (see conftest.recal_store)."""

CHAMBER, RECIPE, SENSOR = "CVD-01/B", "CVD-SIN-GI", "CHAMBER_PRESS_MTORR"
RECAL_DAY = 2.5
