"""The live topic and payload scheme used by every message-based connector (MQTT, in-process bus).

Topic
    ``<root>/<area>/<tool>/<chamber>/trace`` — e.g. ``fab/ETCH/ETCH-03/B/trace``; the chamber id is
    ``<tool>/<chamber>`` (``ETCH-03/B``). ``<root>`` is ``Settings.mqtt_topic_root`` (default ``fab``).
    Sibling leaves: ``.../alarm`` (equipment alarms, same envelope with ``"alarm"`` instead of values)
    are reserved; the monitor subscribes to ``<root>/+/+/+/trace``.

Payload (UTF-8 JSON object, at most :data:`MAX_PAYLOAD_BYTES`), one message = a batch of samples
of one chamber, columnar so that a thousand readings cost one message::

    {"v": 1,
     "msg_id": "ETCH-03/B:000042",          # unique per message; a re-send keeps it (dedup key)
     "run_id": "R-000123",                    # optional: the run the samples belong to
     "sent": 1732840000.125,                  # optional: publisher clock, epoch s (latency figures)
     "sensors": ["RF_FWD_W", "CHAMBER_P_MTORR"],
     "ts": [1732840000.0, 1732840000.1],      # sample times: epoch seconds UTC, or ISO-8601 strings
     "values": [[1510.2, 30.1], [1509.8, 30.0]],   # one row per ts, one column per sensor
     "step": [0, 1],                          # optional: recipe step index per sample (or one int)
     "run_end": false}                        # optional: true on the run's last message

``step`` and ``run_end`` feed run-level scoring: the monitor assembles a run's samples and, when the
run ends (``run_end``, or the chamber's next run starts), computes its FDC indicators per step and
scores them with the chamber's active models (MSPC, PdM risk).

Why not Sparkplug B: Sparkplug B mandates protobuf payloads, the ``spBv1.0/<group>/<type>/<node>/<device>``
namespace and NBIRTH/NDEATH state handling by a primary host application. Fab FDC gateways we target
publish plain JSON, JSON stays readable in a broker console and quarantine table, and columnar
batches amortise per-message overhead (the 50k readings/s goal); a Sparkplug bridge can map DDATA
metrics onto this envelope (metric name -> sensor, timestamp -> ts) without changing the monitor.

Delivery: QoS 1 (at least once) with a persistent session; duplicates are harmless because
messages are deduplicated by ``msg_id`` and readings by their natural key ``(chamber, sensor, ts)``.

    >>> topic = trace_topic("fab", "ETCH", "ETCH-03/B")
    >>> topic
    'fab/ETCH/ETCH-03/B/trace'
    >>> chamber_of_topic(topic)
    'ETCH-03/B'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

try:  # about 9x faster than the standard library on number arrays (the live path's payloads)
    import orjson as _orjson
except ImportError:  # pragma: no cover - optional speed-up
    _orjson = None

MAX_PAYLOAD_BYTES = 1 << 20  # 1 MiB: anything bigger is quarantined as oversize
SCHEME_VERSION = 1


def trace_topic(root: str, area: str, chamber_id: str) -> str:
    tool, _, letter = chamber_id.partition("/")
    return f"{root}/{area}/{tool}/{letter}/trace"


def subscription(root: str) -> str:
    return f"{root}/+/+/+/trace"


def chamber_of_topic(topic: str) -> str | None:
    """Chamber id encoded in a trace topic, or None if the topic does not follow the scheme."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[4] != "trace" or not parts[2] or not parts[3]:
        return None
    return f"{parts[2]}/{parts[3]}"


def loads(payload: bytes) -> Any:
    """Parse a JSON payload: orjson when installed (strict RFC 8259), else / on what it refuses the
    standard library, whose more lenient reading (NaN, Infinity, huge integers) the validator then
    judges value by value. Raises ``ValueError`` (or ``RecursionError``) on malformed JSON."""
    if _orjson is not None:
        try:
            return _orjson.loads(payload)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(payload.decode("utf-8", "replace"))


def encode_trace(
    msg_id: str,
    sensors: Sequence[str],
    ts: Sequence[float],
    values: Sequence[Sequence[float]] | Any,
    run_id: str | None = None,
    sent: float | None = None,
    step: Sequence[int] | int | Any | None = None,
    run_end: bool = False,
) -> bytes:
    """Build a trace payload; ``values`` (and ``ts``, ``step``) may be numpy arrays.

    Finite numpy blocks are written by orjson when installed; anything else (lists, NaN, which
    orjson would silently turn into ``null``) by the standard library, so a test can still send NaN.
    """
    fast = (_orjson is not None and isinstance(values, np.ndarray) and isinstance(ts, np.ndarray)
            and values.dtype.kind == "f" and bool(np.isfinite(values).all()) and bool(np.isfinite(ts).all()))
    body: dict[str, Any] = {"v": SCHEME_VERSION, "msg_id": msg_id, "sensors": list(sensors)}
    if fast:
        body["ts"], body["values"] = np.ascontiguousarray(ts, dtype=np.float64), np.ascontiguousarray(values)
    else:
        body["ts"] = ts.tolist() if hasattr(ts, "tolist") else ts
        body["values"] = values.tolist() if hasattr(values, "tolist") else values
    if run_id:
        body["run_id"] = run_id
    if sent is not None:
        body["sent"] = sent
    if step is not None:
        body["step"] = step.tolist() if hasattr(step, "tolist") else step
    if run_end:
        body["run_end"] = True
    if fast:
        return _orjson.dumps(body, option=_orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(body, separators=(",", ":")).encode()
