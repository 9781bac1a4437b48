"""Vendor the JSON schemas that tests/test_kubernetes.py validates deploy/kubernetes/ against (CI is offline).

    python scripts/vendor_kubernetes_schemas.py KUBERNETES_VALIDATE_SCHEMAS_DIR KEDA_CRD_DIR

- KUBERNETES_VALIDATE_SCHEMAS_DIR: one version's directory of the kubernetes-validate wheel (PyPI), e.g.
  ``kubernetes_validate/kubernetes-json-schema/v1.33.0-local-strict``; the kinds the manifests use are kept
  with only the definitions they reach, in one file.
- KEDA_CRD_DIR: ``config/crd/bases`` of a KEDA release; each CRD's served version's ``openAPIV3Schema``.

Writes tests/data/kubernetes/; its README says which versions (update it when you run this again).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "kubernetes"
KINDS = {
    "v1/Secret": "secret-v1.json",
    "v1/Service": "service-v1.json",
    "apps/v1/Deployment": "deployment-apps-v1.json",
    "apps/v1/StatefulSet": "statefulset-apps-v1.json",
    "policy/v1/PodDisruptionBudget": "poddisruptionbudget-policy-v1.json",
}
KEDA_CRDS = ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml")
_PREFIX = "/api/_definitions.json#/$defs/"


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _local(node: Any) -> Any:
    """References rewritten to this file's own ``$defs``."""
    if isinstance(node, dict):
        return {k: (v.replace(_PREFIX, "#/$defs/") if k == "$ref" else _local(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_local(value) for value in node]
    return node


def kubernetes(source: Path) -> dict[str, Any]:
    definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
    kinds = {key: json.loads((source / name).read_text()) for key, name in KINDS.items()}
    wanted: set[str] = set()
    todo = [ref.rsplit("/", 1)[1] for kind in kinds.values() for ref in _refs(kind)]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += [ref.rsplit("/", 1)[1] for ref in _refs(definitions[name])]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "source": source.name,
            "kinds": {key: _local(kind) for key, kind in kinds.items()},
            "$defs": {name: definitions[name] for name in sorted(wanted)}}


def keda(source: Path) -> dict[str, Any]:
    found = {}
    for name in KEDA_CRDS:
        crd = yaml.safe_load((source / name).read_text())
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                key = f"{crd['spec']['group']}/{version['name']}/{crd['spec']['names']['kind']}"
                found[key] = version["schema"]["openAPIV3Schema"]
    return {"kinds": found}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "kubernetes.json").write_text(json.dumps(kubernetes(Path(sys.argv[1])), indent=1, sort_keys=True) + "\n")
    (OUT / "keda.json").write_text(json.dumps(keda(Path(sys.argv[2])), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
