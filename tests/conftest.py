from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from back_care_guide.components import build_triage
from back_care_guide.flow.loader import FlowBundle, load_bundle
from back_care_guide.safety.triage import Triage
from tests.harness import ChatClient, FakeClock, RecordingTransport, build_client, make_runtime

# A throwaway PostgreSQL: postgres_server, postgres_url, fresh_postgres_url (see the module).
pytest_plugins = ("tests.conftest_pg",)


@pytest.fixture(scope="session", autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tests' own cache folder (XDG_CACHE_HOME), shared by every bot process they start:
    the data's checks run once, not at each start, and nothing is left in the user's cache."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(scope="session")
def bundle() -> FlowBundle:
    return load_bundle()


@pytest.fixture(scope="session")
def triage(bundle: FlowBundle) -> Triage:
    return build_triage(bundle)


@pytest.fixture
async def client(bundle: FlowBundle, triage: Triage, tmp_path: Path
                 ) -> AsyncIterator[ChatClient]:
    runtime, transport = make_runtime(bundle, triage, tmp_path / "bot.db")
    await runtime.start()
    yield ChatClient(runtime, transport)
    await runtime.close()


@pytest.fixture
def transport(client: ChatClient) -> RecordingTransport:
    return client.transport


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def chat(bundle: FlowBundle, triage: Triage, tmp_path: Path, clock: FakeClock
               ) -> AsyncIterator[ChatClient]:
    """A user on a runtime driven by ``clock`` (timers fire when the test moves it)."""
    client = build_client(bundle, triage, tmp_path / "bot.db", clock)
    await client.runtime.start()
    yield client
    await client.runtime.close()

