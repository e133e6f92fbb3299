"""Finding the project a request is about, and refusing edits by people it is not assigned to."""
from __future__ import annotations

from flask import abort, g

from models import Project


def project_or_404(project_id: int) -> Project:
    project = Project.get_or_none(Project.id == project_id)
    if project is None:
        abort(404, "no such project")
    return project


def require_edit(project: Project) -> Project:
    """The project, if the current user may change it (see Project.can_edit); 403 otherwise."""
    if not project.can_edit(g.user):
        abort(403, "this project is assigned to another coordinator; ask them or a lead")
    return project


def editable_project(project_id: int) -> Project:
    return require_edit(project_or_404(project_id))
