from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.flow.loader import FlowBundle, load_bundle
from bot.safety.detection import Detector
from bot.safety.detector import default_detector
from tests.harness import ChatClient, RecordingTransport, make_runtime


@pytest.fixture(scope="session")
def bundle() -> FlowBundle:
    return load_bundle()


@pytest.fixture(scope="session")
def detector() -> Detector:
    return default_detector()


@pytest.fixture
async def client(bundle: FlowBundle, detector: Detector, tmp_path: Path
                 ) -> AsyncIterator[ChatClient]:
    runtime, transport = make_runtime(bundle, detector, tmp_path / "bot.db")
    await runtime.start()
    yield ChatClient(runtime, transport)
    await runtime.close()


@pytest.fixture
def transport(client: ChatClient) -> RecordingTransport:
    return client.transport
