import pytest
from fastapi.testclient import TestClient

from fabmind.api.app import create_app
from fabmind.api.auth import UserDirectory
from fabmind.config import Settings

PASSWORD = "test-password-1"
ROLES = ("viewer", "engineer", "admin")


@pytest.fixture(scope="session")
def demo_store(small_fab, tmp_path_factory):
    """The API tests' own copy of the small demo fab: they acknowledge alarms, record verdicts and approve
    work orders, which must not leak into other rooms' tests that share the session's ``demo_store``."""
    from fabmind.store import Store

    s = Store(f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}")
    s.write_batch(small_fab.batch)
    yield s
    s.close()


@pytest.fixture(scope="session")
def app(demo_store, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    application = create_app(Settings(db_url=demo_store.url, home=home), store=demo_store)
    directory: UserDirectory = application.state.directory
    for role in ROLES:
        directory.add_user(role, PASSWORD, role)
    # an engineer of another area, for approval tests
    directory.add_user("engineer_photo", PASSWORD, "engineer", "PHOTO")
    application.state.tokens = {role: directory.issue_token(role, "tests") for role in ROLES}
    application.state.tokens["engineer_photo"] = directory.issue_token("engineer_photo", "tests")
    return application


@pytest.fixture(scope="session")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def auth(app):
    """``auth("engineer")`` → headers with that role's bearer token."""
    return lambda who: {"Authorization": f"Bearer {app.state.tokens[who]}"}
