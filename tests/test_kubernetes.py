"""``deploy/kubernetes``: both kustomizations render with ``kubectl kustomize``, every
document passes ``kubernetes-validate --strict`` offline, and the rendered manifests hold
what an operator relies on: probes on /healthz and /readyz, a hardened pod, secrets
referenced and never inlined, no service-account token, a config whose change rolls the
pods and that passes ``watcher check``, and in ``ha`` replicas that survive a drain and a
rollout.

The ServiceMonitor beside the ``ha`` overlay is a custom resource the schemas do not
know: it is not among the overlay's resources, and its test checks it against the
rendered Service instead of the schema.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT, run_cli
from watcher.runtime.daemon import DRAIN_DEADLINE

KUBERNETES = ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = {"base": KUBERNETES / "base", "ha": KUBERNETES / "overlays" / "ha"}
#: the oldest Kubernetes the manifests are for (topology spread's matchLabelKeys), and the
#: newest kubernetes-validate knows
K8S_VERSIONS = ("1.27.0", None)
LABELS = {"app.kubernetes.io/name": "watcher"}


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def kubectl() -> str:
    """kubectl from the venv (.ci/run installs one there where the machine has none fit),
    else from PATH; one whose Kustomize is older than v4 cannot read an overlay."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        _unavailable("kubectl missing (.ci/run installs it)")
        raise AssertionError  # unreachable: the call above raises
    out = subprocess.run([found, "version", "--client"], capture_output=True, text=True,
                         timeout=60).stdout
    m = re.search(r"Kustomize Version: v(\d+)", out)
    if m is None or int(m.group(1)) < 4:
        _unavailable(f"{found} has no Kustomize v4 or later: {out.strip()!r}")
    return found


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Each kustomization as ``kubectl kustomize`` renders it."""
    exe = kubectl()
    out: dict[str, str] = {}
    for name, path in KUSTOMIZATIONS.items():
        r = subprocess.run([exe, "kustomize", str(path)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", r.stderr  # no deprecated field warned about
        out[name] = r.stdout
    return out


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def kind(text: str, k: str) -> list[dict[str, Any]]:
    return [d for d in docs(text) if d["kind"] == k]


def only(text: str, k: str) -> dict[str, Any]:
    [doc] = kind(text, k)
    return doc


def pod(text: str) -> dict[str, Any]:
    spec: dict[str, Any] = only(text, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(text: str) -> dict[str, Any]:
    [c] = pod(text)["containers"]
    return c


def config_of(text: str) -> str:
    toml: str = only(text, "ConfigMap")["data"]["watcher.toml"]
    return toml


@pytest.fixture(params=list(KUSTOMIZATIONS))
def each(request: pytest.FixtureRequest, rendered: dict[str, str]) -> Iterator[str]:
    yield rendered[request.param]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_rendered_document_passes_the_strict_schema_check_offline(
        version: str | None, rendered: dict[str, str], tmp_path: Path) -> None:
    """kubernetes-validate --strict (schemas shipped with it, no cluster, no network)
    passes every document of both kustomizations."""
    files = []
    for name, text in rendered.items():
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_text(text)
    r = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict",
                        *(["-k", version] if version else []), *map(str, files)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    passed = r.stdout.count(" passed for resource ")
    assert passed == sum(len(docs(t)) for t in rendered.values()), r.stdout


def test_the_probes_are_healthz_for_liveness_and_readyz_for_readiness_on_the_listener(
        each: str) -> None:
    """Liveness (and startup) ask /healthz, readiness /readyz, on the container port the
    config's http_listen binds, beyond loopback."""
    c = container(each)
    [port] = c["ports"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert f'http_listen = "0.0.0.0:{port["containerPort"]}"' in config_of(each)
    [svc] = only(each, "Service")["spec"]["ports"]
    assert svc["targetPort"] == port["name"]


def test_the_pod_is_hardened_and_has_no_service_account_token(each: str) -> None:
    """Non-root (the image's own user), seccomp RuntimeDefault, no privilege escalation,
    every capability dropped, a read-only root filesystem, no service-account token."""
    spec, c = pod(each), container(each)
    assert spec["automountServiceAccountToken"] is False
    sc = spec["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["runAsUser"] == image_user() != 0
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "privileged": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}


def test_secrets_are_referenced_and_mounted_under_credentials_directory_never_inlined(
        each: str) -> None:
    """No Secret is rendered; the credentials Secret is a volume mounted where
    CREDENTIALS_DIRECTORY points; every other env value is a secretKeyRef; the config
    names secret files and ${VAR}s, never a secret itself."""
    assert kind(each, "Secret") == []
    spec, c = pod(each), container(each)
    env = {e["name"]: e for e in c["env"]}
    creds = env.pop("CREDENTIALS_DIRECTORY")["value"]
    assert all(set(e) == {"name", "valueFrom"} and set(e["valueFrom"]) == {"secretKeyRef"}
               for e in env.values()), env
    assert all(set(e) == {"secretRef"} for e in c.get("envFrom", []))
    [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == creds]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert mount["readOnly"] is True and volume["secret"]["secretName"] == "watcher-credentials"
    config = config_of(each)
    assert not re.search(r"^\s*(token|http_token|password|url)\s*=\s*\"[^$]", config, re.M)
    assert 'token_file = "extend-token"' in config and 'http_token_file = "http-token"' in config


def test_the_config_passes_watcher_check_with_the_secrets_where_the_pod_has_them(
        each: str, tmp_path: Path) -> None:
    """The ConfigMap's watcher.toml passes `watcher check`, its secret files read from
    CREDENTIALS_DIRECTORY and ${WATCHER_STATE_PATH} set, as in the pod."""
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "extend-token").write_text("sk_test_extend\n")
    (creds / "http-token").write_text("a-long-random-token\n")
    path = tmp_path / "watcher.toml"
    path.write_text(config_of(each))
    r = run_cli("check", "-c", str(path), env={
        "CREDENTIALS_DIRECTORY": str(creds),
        "WATCHER_STATE_PATH": "postgresql://watcher:pw@db.internal:5432/watcher"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"warning" not in r.stderr, r.stderr


def test_the_config_map_name_carries_a_hash_so_a_config_change_rolls_the_pods(
        each: str) -> None:
    """The Deployment mounts the generated ConfigMap by its hashed name."""
    name = only(each, "ConfigMap")["metadata"]["name"]
    assert re.fullmatch(r"watcher-config-[a-z0-9]{10}", name), name
    [volume] = [v for v in pod(each)["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == name


def test_the_pod_has_resources_and_outlives_the_stop_deadline(each: str) -> None:
    """Requests and limits of CPU and memory are set, and the grace period after SIGTERM
    is longer than the delivery deadline (plus handing leases over)."""
    res = container(each)["resources"]
    assert set(res["requests"]) == set(res["limits"]) == {"cpu", "memory"}
    assert pod(each)["terminationGracePeriodSeconds"] >= DRAIN_DEADLINE + 15


def test_the_image_is_the_one_the_kustomization_names(each: str) -> None:
    """The container's image is the base kustomization's ``images:`` setting."""
    base = yaml.safe_load((KUSTOMIZATIONS["base"] / "kustomization.yaml").read_text())
    [image] = base["images"]
    assert container(each)["image"] == f"{image['newName']}:{image['newTag']}"


def test_the_base_is_one_replica_on_sqlite_with_a_volume_and_recreate(
        rendered: dict[str, str]) -> None:
    """The base keeps its SQLite state on a PersistentVolumeClaim and replaces its one pod
    by stopping it first (SQLite has one writer)."""
    text = rendered["base"]
    spec = only(text, "Deployment")["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    claim = only(text, "PersistentVolumeClaim")["metadata"]["name"]
    [volume] = [v for v in pod(text)["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    assert 'state_path = "/var/lib/watcher/state.db"' in config_of(text)


def test_ha_runs_replicas_on_postgresql_that_survive_a_drain_and_a_rollout(
        rendered: dict[str, str]) -> None:
    """ha: two or more replicas, state_path from a Secret, a PDB of maxUnavailable 1 over
    the pods, a rolling update that never goes below the replicas, spread across nodes."""
    text = rendered["ha"]
    deployment = only(text, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pdb = only(text, "PodDisruptionBudget")["spec"]
    assert pdb == {"maxUnavailable": 1, "selector": {"matchLabels": LABELS}}
    assert spec["template"]["metadata"]["labels"] == LABELS
    spread = {t["topologyKey"]: t for t in pod(text)["topologySpreadConstraints"]}
    assert spread["kubernetes.io/hostname"]["labelSelector"] == {"matchLabels": LABELS}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert kind(text, "PersistentVolumeClaim") == []
    assert not [v for v in pod(text)["volumes"] if "persistentVolumeClaim" in v]
    assert 'state_path = "${WATCHER_STATE_PATH}"' in config_of(text)
    env = {e["name"]: e for e in container(text)["env"]}
    assert env["WATCHER_STATE_PATH"]["valueFrom"]["secretKeyRef"]["name"] == "watcher-database"


def test_the_example_service_monitor_scrapes_the_rendered_service(
        rendered: dict[str, str]) -> None:
    """The ServiceMonitor (a custom resource, kept out of the overlay's resources) selects
    the Service by its labels and scrapes its named port's /metrics."""
    monitor = yaml.safe_load((KUSTOMIZATIONS["ha"] / "servicemonitor.yaml").read_text())
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert kind(rendered["ha"], "ServiceMonitor") == []
    svc = only(rendered["ha"], "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert svc["metadata"]["name"] == "watcher"  # the job label the Prometheus rules expect


def image_user() -> int:
    """The numeric user the Containerfile's image runs as."""
    [user] = re.findall(r"^USER (\d+)(?::\d+)?$", (ROOT / "Containerfile").read_text(), re.M)
    return int(user)


def test_the_containerfile_installs_the_package_and_runs_watcher_as_a_user() -> None:
    """The image installs the package into a slim Python from what the repository holds,
    runs as a numeric non-root user, and its entry point is `watcher run`."""
    text = (ROOT / "Containerfile").read_text()
    assert all("-slim" in line for line in re.findall(r"^FROM .+$", text, re.M))
    for copied in re.findall(r"^COPY (?!--from)(.+) /\S+$", text, re.M):
        assert all((ROOT / p).exists() for p in copied.split()), copied
    assert image_user() != 0
    assert re.search(r'^ENTRYPOINT \["watcher", "run"\]$', text, re.M)


def test_the_readme_creates_every_secret_the_manifests_reference_and_its_ingress_is_valid(
        rendered: dict[str, str], tmp_path: Path) -> None:
    """The README's Kubernetes section creates each Secret the rendered pods reference,
    with the keys they read, and its Ingress passes the strict check and routes to the
    Service's port."""
    section = (ROOT / "README.md").read_text().split("\n## Kubernetes\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    created = {m.group(1): set(re.findall(r"--from-file=([\w-]+)=", m.group(2)))
               for m in re.finditer(r"kubectl create secret generic ([\w-]+)((?:.*\\\n)*.*)",
                                    section)}
    for text in rendered.values():
        spec, c = pod(text), container(text)
        refs = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        refs |= {e["secretRef"]["name"] for e in c.get("envFrom", [])}
        for e in c["env"]:
            if "valueFrom" in e:
                ref = e["valueFrom"]["secretKeyRef"]
                refs.add(ref["name"])
                assert ref["key"] in created[ref["name"]], ref
        assert refs <= created.keys(), refs - created.keys()
    files = set(re.findall(r'token_file = "([\w-]+)"', config_of(rendered["base"])))
    assert files <= created["watcher-credentials"]
    [ingress] = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (tmp_path / "ingress.yaml").write_text(ingress)
    r = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict",
                        str(tmp_path / "ingress.yaml")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    [rule] = yaml.safe_load(ingress)["spec"]["rules"]
    [path] = rule["http"]["paths"]
    svc = only(rendered["base"], "Service")
    assert path["backend"]["service"] == {"name": svc["metadata"]["name"],
                                          "port": {"name": svc["spec"]["ports"][0]["name"]}}
