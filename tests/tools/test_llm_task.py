"""Every LLM unit is a task with a unique name, and every prompt file belongs to exactly one task."""
from pathlib import Path

import tools.domains
import tools.evolution
import tools.leakage
import tools.tagging
from settings import OPERATIONS
from tools.llm_task import LLMTask

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def all_tasks() -> list[type[LLMTask]]:
    seen, todo = [], list(LLMTask.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("tools."):
            seen.append(cls)
        todo += cls.__subclasses__()
    return seen


def templates_of(cls: type[LLMTask]) -> set[str]:
    if cls.template is None:
        return set()
    if "{operation}" in cls.template:
        return {cls.template.format(operation=op) for op in OPERATIONS}
    return {cls.template}


def test_task_names_are_unique_and_prompt_files_map_one_to_one():
    tasks = all_tasks()
    assert len(tasks) >= 9, [t.__name__ for t in tasks]
    names = [t.name for t in tasks]
    assert len(set(names)) == len(names) and all(names)
    used = [f for t in tasks for f in templates_of(t)]
    assert len(used) == len(set(used)), "two tasks share a prompt file"
    files = {p.name for p in PROMPTS.glob("*.j2") if not p.name.startswith("_")}  # _partials are included
    assert set(used) == files
    for t in tasks:
        if t.template is None:
            assert not t.parses and not t.json_mode  # only the plain answer has no prompt file


def test_the_modules_define_the_tasks_they_document():
    for module in (tools.domains, tools.evolution, tools.leakage, tools.tagging):
        assert any(isinstance(v, type) and issubclass(v, LLMTask) and v is not LLMTask for v in vars(module).values())
