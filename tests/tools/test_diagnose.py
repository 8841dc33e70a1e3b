"""tools/diagnose.py without a model: how an oracle reply that could not be used is classified."""
import pytest

from tools.diagnose import _finding
from tools.llm import LLMResult
from tools.mft_answer import Answer
from tools.oracle import COPY_PREFIX, ENTITY_PREFIX


@pytest.mark.parametrize("error, reason", [
    (f"{COPY_PREFIX}; describe THIS student's answer", "copied_example"),
    (f"{ENTITY_PREFIX} (Paris); describe the weakness as general skills", "named_entity"),
    ("the reply was cut off at the token limit", "reply_cut"),
    ('"severity" must be an integer 0 to 3', "parse_error"),
])
def test_an_unusable_reply_is_rejected_with_its_own_reason(error, reason):
    item = type("Item", (), {"id": 7})()
    f = _finding(item, "a1", Answer("x", 3, False), LLMResult(None, "{}", False, error))
    assert f.status == "rejected" and f.reject_reason == reason and f.detail["error"] == error
