"""Tasks: what differs between model kinds (model, loss, prior rows, explained output,
performance). ``create_task(name, ...)`` looks one up; ``register_task`` adds one."""
from __future__ import annotations

from regbench.errors import RegbenchError
from regbench.tasks.base import ExplainedOutput, Task
from regbench.tasks.binary import BinaryTask
from regbench.tasks.profile import ProfileTask

_TASKS: dict[str, type] = {"binary": BinaryTask, "profile": ProfileTask}


def register_task(name: str):
    """Decorator adding a Task subclass under ``name``."""
    def add(cls):
        if name in _TASKS:
            raise RegbenchError(f"a task named {name!r} is already registered")
        _TASKS[name] = cls
        return cls
    return add


def create_task(name: str, model: dict | None = None, **data_shape) -> Task:
    """Task ``name`` for a model table and the data's shape (seq_len, n_tasks)."""
    try:
        cls = _TASKS[name]
    except KeyError:
        raise RegbenchError(f"unknown task {name!r}; known: {', '.join(sorted(_TASKS))}") \
            from None
    return cls(model, **data_shape)


def list_tasks() -> list[str]:
    return list(_TASKS)


__all__ = ["BinaryTask", "ExplainedOutput", "ProfileTask", "Task", "create_task", "list_tasks",
           "register_task"]
