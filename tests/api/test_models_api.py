import numpy as np


def test_registry_list_activate_rollback(client, auth, app):
    from fabmind.models.anomaly import MSPC
    from fabmind.models.registry import ModelRegistry

    reg = ModelRegistry.from_settings(app.state.settings)
    X = np.random.default_rng(0).normal(size=(60, 4))
    for _ in range(2):
        reg.register(MSPC().fit(X), scope="CVD-01/A", name="mspc")
    listed = client.get("/api/models", headers=auth("viewer")).json()
    entry = next(m for m in listed if m["name"] == "mspc" and m["scope"] == "CVD-01/A")
    assert entry["versions"] == 2 and entry["active"]["number"] == 2
    assert client.post("/api/models/mspc/rollback", json={"scope": "CVD-01/A"}, headers=auth("engineer")).status_code == 403
    r = client.post("/api/models/mspc/rollback", json={"scope": "CVD-01/A"}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["number"] == 1
    r = client.post("/api/models/mspc/activate", json={"scope": "CVD-01/A", "version": 9}, headers=auth("admin"))
    assert r.status_code == 400 and "no version" in r.json()["detail"]
