"""An in-memory stand-in for the few label-studio-sdk calls that push and pull make, for page tests that need no
server. The behaviour that matters is tested against a real server in test_labelstudio_server.py."""

from __future__ import annotations

import json
from itertools import count
from types import SimpleNamespace as Obj
from typing import Any

from label_studio_sdk.core.api_error import ApiError


class FakeLabelStudio:
    def __init__(self) -> None:
        self.project_rows: dict[int, Obj] = {}
        self.task_rows: dict[int, dict[str, Any]] = {}  # task id -> {"project", "data", "meta", "annotations"}
        self.user_rows = [Obj(id=1, email="admin@example.com", username="", first_name="", last_name="")]
        self._ids = count(1)
        self.projects = Obj(
            get=self._get,
            list=lambda title=None: [p for p in self.project_rows.values() if title in p.title],
            create=self._create,
            import_tasks=self._import,
            exports=Obj(download_sync=self._export),
        )
        self.tasks = Obj(list=self._tasks)
        self.users = Obj(list=lambda: list(self.user_rows))

    def annotate(self, task_id: int, user_id: int, result: list[dict[str, Any]]) -> None:
        self.task_rows[task_id]["annotations"].append(
            {"id": next(self._ids), "completed_by": user_id, "result": result, "was_cancelled": False}
        )

    def _get(self, id: int) -> Obj:
        if id not in self.project_rows:
            raise ApiError(status_code=404, body={"detail": "No Project matches the given query."})
        tasks = sum(1 for t in self.task_rows.values() if t["project"] == id)
        return Obj(id=id, title=self.project_rows[id].title, task_number=tasks)

    def _create(self, title: str, label_config: str) -> Obj:
        project = Obj(id=next(self._ids), title=title, label_config=label_config)
        self.project_rows[project.id] = project
        return project

    def _import(self, id: int, request: list[dict[str, Any]], return_task_ids: bool) -> Obj:
        ids = []
        for task in request:
            ids.append(next(self._ids))
            self.task_rows[ids[-1]] = {
                "project": id,
                "data": task["data"],
                "meta": task.get("meta", {}),
                "annotations": [],
            }
        return Obj(task_ids=ids)

    def _tasks(self, project: int, fields: str = "task_only") -> list[Obj]:
        return [Obj(id=i, data=t["data"]) for i, t in self.task_rows.items() if t["project"] == project]

    def _export(self, id: int, export_type: str):
        tasks = [
            {"id": i, "data": t["data"], "meta": t["meta"], "annotations": t["annotations"]}
            for i, t in self.task_rows.items()
            if t["project"] == id and t["annotations"]
        ]
        yield json.dumps(tasks).encode()
