"""Connectors that turn the outside into validated domain records; every rejection is quarantined with a reason.

* :mod:`~fabmind.ingest.files` — CSV / Parquet exports (MES, FDC, QMS, work orders), column mapping;
* :mod:`~fabmind.ingest.mqtt` — MQTT (aiomqtt): QoS 1, persistent session, ack after commit, backoff;
* :mod:`~fabmind.ingest.opcua` — OPC UA (asyncua) subscriptions by node-id -> sensor map;
* :mod:`~fabmind.ingest.hsms` — SECS/GEM HSMS host (secsgem): S6F11, S6F1, S5F1;
* :mod:`~fabmind.ingest.source` — the source protocol and the broker-less in-process bus;
* :mod:`~fabmind.ingest.payload` — the live topic / payload scheme; :mod:`~fabmind.ingest.validate`,
  :mod:`~fabmind.ingest.sink` — validation and the idempotent transactional write.

Heavy protocol libraries are imported inside the connectors (extra ``fabmind[live]``).
"""
