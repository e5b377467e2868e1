"""Anomaly detection (FDC): MSPC (PCA T²/SPE with sensor contributions), isolation forest,
streaming EWMA/CUSUM charts, their combination, and the mapping of detections to alarms.

Rule of the family: **high score = abnormal**; ``score >= threshold_`` is an alarm.
"""

from fabmind.models.anomaly.adjusted import AdjustedMSPC, Response, fit_response
from fabmind.models.anomaly.alarms import sensor_contributions, sensor_of, to_alarm, units_of
from fabmind.models.anomaly.base import AnomalyDetector, Detection
from fabmind.models.anomaly.ensemble import AnomalyEnsemble
from fabmind.models.anomaly.iforest import IForestDetector
from fabmind.models.anomaly.mspc import MSPC, MSPCStatistics, MSPCStream
from fabmind.models.anomaly.streaming import CUSUMMonitor, CUSUMStream, EWMAMonitor, EWMAStream
from fabmind.models.anomaly.windows import window_indicators

__all__ = [
    "MSPC",
    "AdjustedMSPC",
    "Response",
    "fit_response",
    "AnomalyDetector",
    "AnomalyEnsemble",
    "CUSUMMonitor",
    "CUSUMStream",
    "Detection",
    "EWMAMonitor",
    "EWMAStream",
    "IForestDetector",
    "MSPCStatistics",
    "MSPCStream",
    "sensor_contributions",
    "sensor_of",
    "to_alarm",
    "units_of",
    "window_indicators",
]
