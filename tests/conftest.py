"""Shared test settings."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The tests use tiny models, which gain nothing from a second thread; on a busy 2-core machine a
    second OpenMP thread mostly waits for a core (measured 30-100x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
