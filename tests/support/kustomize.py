"""What ``kubectl kustomize`` builds from deploy/kubernetes, for the subset of kustomize the manifests use.

CI machines need not have kubectl or kustomize: this renders resources, components, ``namespace``,
``labels`` (metadata only) and ``images``, and refuses any other field, so a manifest change that needs
more of kustomize fails here instead of being checked half. tests/test_kubernetes.py compares it with
``kubectl kustomize`` where that binary exists.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

FIELDS = {"apiVersion", "kind", "resources", "components", "namespace", "labels", "images"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def load(directory: Path) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(found) - FIELDS
    if unsupported:
        raise ValueError(f"{directory}: kustomization fields this renderer does not know: {sorted(unsupported)}")
    return found


def render(directory: Path) -> list[dict[str, Any]]:
    kustomization = load(directory)
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects += render(path) if path.is_dir() else [o for o in yaml.safe_load_all(path.read_text()) if o]
    for entry in kustomization.get("components", []):
        objects += render((directory / entry).resolve())
    objects = copy.deepcopy(objects)
    for obj in objects:
        _transform(obj, kustomization)
    return objects


def _transform(obj: dict[str, Any], kustomization: dict[str, Any]) -> None:
    metadata = obj.setdefault("metadata", {})
    if "namespace" in kustomization and obj["kind"] not in CLUSTER_SCOPED:
        metadata["namespace"] = kustomization["namespace"]
    for entry in kustomization.get("labels", []):
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise ValueError("labels with includeSelectors/includeTemplates are not rendered here")
        metadata.setdefault("labels", {}).update(entry["pairs"])
    for image in kustomization.get("images", []):
        for container in containers(obj):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a workload's pod template (none for other kinds)."""
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]
