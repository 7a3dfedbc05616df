"""Checks of docker/ and deploy/ that no generic linter knows (run by scripts/lint-deploy.sh).

    python scripts/deploy_checks.py names
    python scripts/deploy_checks.py rendered RENDERED.yaml OUTDIR

`names`: every `locvlm_*` series a dashboard, HPA or adapter rule queries is one the
server exports (server/locvlm/api/metrics.py), and every `LOCVLM_*` variable set in
docker/ or deploy/ is a field of the server's settings (server/locvlm/api/settings.py):
a typo there is silently ignored by the server. Read from the source text, so this runs
without the server's dependencies (only PyYAML).

`rendered`: one overlay as kustomize renders it. Writes the built-in kinds to
OUTDIR/core.yaml (for kubernetes-validate) and each custom resource to
OUTDIR/crs/<schema>/<name>.yaml, failing on a custom kind without a schema in
deploy/k8s/schemas; checks every Deployment's terminationGracePeriodSeconds against its
preStop sleep plus LOCVLM_DRAIN_TIMEOUT_S (a shorter one SIGKILLs pods mid-drain).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "deploy" / "k8s" / "schemas"
METRICS_PY = ROOT / "server" / "locvlm" / "api" / "metrics.py"
SETTINGS_PY = ROOT / "server" / "locvlm" / "api" / "settings.py"
QUERY_FILES = ["docker/grafana/dashboards/*.json", "deploy/k8s/**/hpa*.yaml",
               "deploy/prometheus-adapter/*.yaml"]  # fmt: skip
SETTING_FILES = ["docker/Dockerfile.*", "docker/compose*.yaml", "deploy/k8s/**/*.yaml"]
DEFAULT_DRAIN_S = 30  # Settings.drain_timeout_s
DEFAULT_GRACE_S = 30  # Kubernetes' terminationGracePeriodSeconds
EXIT_MARGIN_S = 10  # the engine's shutdown after the drain


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def exported_series() -> set[str]:
    """The series names the server's metrics produce (prometheus_client's suffixes)."""
    text = METRICS_PY.read_text()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    found: set[str] = set()
    for kind, name in re.findall(r"self\._(counter|histogram|gauge)\(\s*\"(\w+)\"", text):
        found.update(f"locvlm_{name}{suffix}" for suffix in suffixes[kind])
    if not found:
        raise SystemExit(f"no metrics found in {METRICS_PY}: has its layout changed?")
    return found


def setting_names() -> set[str]:
    """The `LOCVLM_*` variables the settings class reads (its field names, upper-cased)."""
    fields = re.findall(r"^    (\w+): ", SETTINGS_PY.read_text(), flags=re.MULTILINE)
    return {f"LOCVLM_{field.upper()}" for field in fields if field != "model_config"}


def _files(patterns: list[str]) -> list[Path]:
    return sorted({path for pattern in patterns for path in ROOT.glob(pattern)})


def _queries(path: Path) -> str:
    """The text that may name series: a dashboard's queries only (not its descriptions)."""
    if path.suffix != ".json":
        return path.read_text()
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query", "definition") and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(path.read_text()))
    return "\n".join(found)


def check_names() -> list[str]:
    """Unknown metric and setting names, as error lines."""
    errors = []
    series = exported_series()
    for path in _files(QUERY_FILES):
        for name in sorted(set(re.findall(r"\blocvlm_[a-z_]+", _queries(path))) - series):
            errors.append(f"{path.relative_to(ROOT)}: {name} is not a metric the server exports")
    settings = setting_names()
    for path in _files(SETTING_FILES):
        for name in sorted(set(re.findall(r"\bLOCVLM_[A-Z_]+", path.read_text())) - settings):
            errors.append(f"{path.relative_to(ROOT)}: {name} is not a server setting")
    queries, setters = len(_files(QUERY_FILES)), len(_files(SETTING_FILES))
    _say(f"names: {len(series)} series and {len(settings)} settings known; "
         f"{queries} files with queries, {setters} files with settings read")  # fmt: skip
    return errors


def _schema_for(doc: dict[str, Any]) -> Path | None:
    """The schema file of a custom kind; None for a built-in one.

    Built-in: a group without a dot (`apps/v1`, `v1`) or ending `.k8s.io`.
    """
    group, _, version = doc["apiVersion"].rpartition("/")
    if "." not in group or group.endswith(".k8s.io"):
        return None
    return SCHEMAS / f"{group}_{version}_{doc['kind'].lower()}.json"


def _pre_stop_s(container: dict[str, Any]) -> int:
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = pre_stop.get("exec", {}).get("command", [])
    return int(command[1]) if len(command) == 2 and command[0] == "sleep" else 0


def _drain_s(container: dict[str, Any], config_maps: dict[str, dict[str, str]]) -> float:
    value: str | None = None
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        value = config_maps.get(name, {}).get("LOCVLM_DRAIN_TIMEOUT_S", value)
    for env in container.get("env", []):
        if env["name"] == "LOCVLM_DRAIN_TIMEOUT_S" and "value" in env:
            value = env["value"]
    return float(value) if value is not None else DEFAULT_DRAIN_S


def check_grace(docs: list[dict[str, Any]]) -> list[str]:
    """Deployments whose grace period is shorter than preStop + drain + exit margin."""
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    errors = []
    for doc in (d for d in docs if d["kind"] == "Deployment"):
        pod = doc["spec"]["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
        for container in pod["containers"]:
            need = _pre_stop_s(container) + _drain_s(container, config_maps) + EXIT_MARGIN_S
            verdict = "ok" if grace >= need else "TOO SHORT"
            _say(f"grace: {doc['metadata']['name']}/{container['name']}: {grace}s >= preStop "
                 f"{_pre_stop_s(container)}s + drain {_drain_s(container, config_maps):g}s + "
                 f"{EXIT_MARGIN_S}s: {verdict}")  # fmt: skip
            if grace < need:
                errors.append(f"Deployment {doc['metadata']['name']}: grace {grace}s < {need:g}s")
    return errors


def split_rendered(rendered: Path, out: Path) -> list[str]:
    """Write core.yaml and crs/<schema>/<name>.yaml under `out`; return error lines."""
    docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    errors, core = [], []
    for doc in docs:
        schema = _schema_for(doc)
        if schema is None:
            core.append(doc)
        elif not schema.exists():
            errors.append(f"{doc['apiVersion']} {doc['kind']}: no schema at "
                          f"{schema.relative_to(ROOT)}")  # fmt: skip
        else:
            target = out / "crs" / schema.stem / f"{doc['metadata']['name']}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(yaml.safe_dump(doc, sort_keys=False))
    out.mkdir(parents=True, exist_ok=True)
    (out / "core.yaml").write_text(yaml.safe_dump_all(core, sort_keys=False))
    kinds = sorted({f"{d['kind']}" for d in core})
    _say(f"split: {len(core)} built-in ({', '.join(kinds)}), {len(docs) - len(core)} custom")
    return errors + check_grace(docs)


def main(argv: list[str]) -> int:
    """Run one check; non-zero exit on any error."""
    if argv[:1] == ["names"] and len(argv) == 1:
        errors = check_names()
    elif argv[:1] == ["rendered"] and len(argv) == 3:
        errors = split_rendered(Path(argv[1]), Path(argv[2]))
    else:
        sys.stderr.write(__doc__ or "")
        return 2
    for line in errors:
        sys.stderr.write(f"error: {line}\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
