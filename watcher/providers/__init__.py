"""Provider registry: built-ins by name, third parties via the ``watcher.providers``
entry-point group (``my-vendor = "my_pkg.module:MyProvider"``)."""

from __future__ import annotations

from watcher.infra.plugins import Registry
from watcher.providers.protocol import Provider, accept

BUILTIN = {
    "extend": "watcher.providers.extend:ExtendProvider",
    "noxus": "watcher.providers.noxus:NoxusProvider",
    "cortex": "watcher.providers.cortex:CortexProvider",
    "knock": "watcher.providers.knock:KnockProvider",
    "json": "watcher.providers.json.provider:JsonProvider",
    "github": "watcher.providers.json.presets:GithubProvider",
    "gitlab": "watcher.providers.json.presets:GitlabProvider",
    "airflow": "watcher.providers.json.airflow:AirflowProvider",
    "prefect": "watcher.providers.json.presets:PrefectProvider",
}

GROUP = "watcher.providers"
PROVIDERS: Registry[type[Provider]] = Registry(GROUP, BUILTIN, accept)
provider_class = PROVIDERS.known
provider_names = PROVIDERS.names
