"""Tasks: what differs between model kinds (model, loss, prior rows, explained output,
performance). ``create_task(name, ...)`` looks one up; ``register_task`` adds one (or a
plug-in, through the entry-point group ``regbench.tasks``: ``regbench.plugins``)."""
from __future__ import annotations

from regbench.plugins import GROUPS, Registry
from regbench.options.presets import TASK_SETTINGS
from regbench.tasks.base import ExplainedOutput, Task
from regbench.tasks.binary import BinaryTask
from regbench.tasks.profile import ProfileTask

TASKS: Registry[type] = Registry("task", GROUPS["tasks"])


def register_task(name: str):
    """Decorator adding a Task subclass under ``name`` (its ``name`` from then on:
    checkpoints and messages say which task trained), and its ``settings`` (its model
    when [model] names none, its preset sizes: ``presets.TaskSettings``) under the same
    name."""
    def add(cls):
        TASKS.register(name, cls)
        cls.name = name
        TASK_SETTINGS[name] = cls.settings
        return cls
    return add


def unregister_task(name: str) -> None:
    """Remove an entry (tests and notebooks that re-register)."""
    TASKS.unregister(name)
    TASK_SETTINGS.pop(name, None)


def create_task(name: str, model: dict | None = None, **data_shape) -> Task:
    """Task ``name`` for a model table and the data's shape (seq_len, n_tasks)."""
    return TASKS.get(name)(model, **data_shape)


def list_tasks() -> list[str]:
    return TASKS.names()


register_task("binary")(BinaryTask)
register_task("profile")(ProfileTask)

__all__ = ["BinaryTask", "ExplainedOutput", "ProfileTask", "TASKS", "Task", "create_task",
           "list_tasks", "register_task", "unregister_task"]
