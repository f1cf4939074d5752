"""The compose deployment, checked by parsing it.

Nothing here starts a container: these tests hold docker-compose.yml, the Dockerfile and the files
under deploy/compose/ to the settings contract (shared/settings.py) and to each other, so a renamed
variable, a wrong port or a missing file fails here rather than at `docker compose up`.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from shared.settings import ENVIRONMENT_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# Each service and the host port its HTTP port (8080 in the container) is published on.
APP_SERVICES = {"wallet": 8081, "gifting": 8082, "payout": 8083}
INFRASTRUCTURE = ("kafka", "postgres", "topics-init", "otel-collector", "jaeger")
HTTP_PORT = 8080
INITDB = PurePosixPath("/docker-entrypoint-initdb.d")
ALLOWED_ENV = frozenset(ENVIRONMENT_VARIABLES) | {"OTEL_SERVICE_NAME"}
# A service that lacks one of these would silently fall back to a default meant for a laptop.
REQUIRED_SERVICE_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "COINLOG_INSTANCE_ID", "COINLOG_HTTP_HOST",
    "COINLOG_HTTP_PORT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
}

# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ...
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


# ---------------------------------------------------------------------------------------------
# Reading the files


def resolve(value: object) -> object:
    """The value compose uses with no .env file and an empty environment (defaults only)."""
    if isinstance(value, dict):
        return {key: resolve(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item) for item in value]
    if not isinstance(value, str):
        return value

    def default(match: re.Match[str]) -> str:
        assert match["op"] in ("-", ":-"), f"{match[0]} has no default value"
        return match["arg"]

    return VARIABLE.sub(default, value).replace("$$", "$")


@pytest.fixture(scope="module")
def compose_text() -> str:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing"
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict:
    document = yaml.safe_load(compose_text)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    """Every service with its variables replaced by their defaults."""
    return {name: resolve(service) for name, service in compose["services"].items()}


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def app_image_services(services: dict[str, dict]) -> dict[str, dict]:
    """The containers built from this repository's Dockerfile."""
    return {name: service for name, service in services.items() if "build" in service}


def host_ports(service: dict) -> list[tuple[str, int, int]]:
    """(host address, published port, container port) of each published port."""
    published = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            if port.get("published") is not None:
                published.append((port.get("host_ip", ""), int(port["published"]),
                                  int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        if len(parts) == 1:
            continue  # container port only: Docker picks an ephemeral host port
        host_ip = parts[0] if len(parts) == 3 else ""
        published.append((host_ip, int(parts[-2]), int(parts[-1])))
    return published


def mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume or bind mount."""
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append((volume.get("source", ""), volume["target"]))
        else:
            source, target = str(volume).split(":")[:2]
            found.append((source, target))
    return found


def bind_mount_source(service: dict, target: str) -> Path:
    sources = [source for source, mounted_at in mounts(service) if mounted_at == target]
    assert len(sources) == 1, f"nothing is mounted at {target}"
    assert sources[0].startswith("./"), f"{target} must come from a file in this repository"
    return ROOT / sources[0]


def healthcheck_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def listeners(value: str) -> dict[str, str]:
    """'NAME://host:port,...' as {NAME: 'host:port'}."""
    return dict(item.split("://", 1) for item in value.split(","))


def read_env_file(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries[key] = value
    return entries


# ---------------------------------------------------------------------------------------------
# The stack


def test_every_service_of_the_stack_is_defined(services):
    missing = (set(APP_SERVICES) | set(INFRASTRUCTURE)) - set(services)
    assert not missing, f"missing services: {sorted(missing)}"


def test_follows_the_compose_spec_without_a_version_key(compose):
    assert "version" not in compose


def test_images_are_pinned(services):
    for name, service in services.items():
        assert "image" in service, f"{name}: no image"
        image = service["image"]
        if "@sha256:" in image:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
        if repository != "coinlog":
            # A major version alone (postgres:16) floats to every new minor release. Prometheus
            # spells its versions with a v (v3.5.0).
            assert re.match(r"^v?\d+\.\d+", tag), f"{name}: {image} is not a full version"


def test_kafka_and_postgres_match_the_local_stack_and_the_test_containers(services):
    from tests.infrastructure import KAFKA_IMAGE, POSTGRES_IMAGE

    local_kafka = re.search(r'KAFKA_VERSION="\$\{COINLOG_KAFKA_VERSION:-([0-9.]+)\}"',
                            (ROOT / "deploy/local/lib.sh").read_text())
    assert local_kafka, "deploy/local/lib.sh names no default Kafka version"
    assert services["kafka"]["image"] == KAFKA_IMAGE == f"apache/kafka:{local_kafka[1]}"
    assert services["postgres"]["image"] == POSTGRES_IMAGE
    # The local stack installs Debian bookworm's PostgreSQL, which is 15.
    assert POSTGRES_IMAGE.startswith("postgres:15.") and POSTGRES_IMAGE.endswith("-bookworm")


def test_every_container_rotates_its_log_and_has_limits(services):
    for name, service in services.items():
        logging = service.get("logging") or {}
        assert logging.get("driver") == "json-file", f"{name}: log not rotated"
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), name
        limits = (service.get("deploy") or {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"{name}: no resource limits"


def test_long_running_containers_have_health_checks(services):
    # The collector is a single binary on scratch: nothing inside it can run a probe.
    unprobed = {"otel-collector", "topics-init"}
    for name, service in services.items():
        if name not in unprobed and service.get("restart") != "no":
            assert service.get("healthcheck", {}).get("test"), f"{name}: no health check"


def test_every_variable_has_a_default_and_is_in_env_example(compose_text):
    bare = re.findall(r"\$(?!\{)[A-Za-z_]\w*", compose_text.replace("$$", ""))
    assert not bare, f"use ${{VAR:-default}}, not {bare}"
    used = {}
    for match in VARIABLE.finditer(compose_text):
        assert match["op"] in ("-", ":-"), f"{match[0]} has no default value"
        assert used.setdefault(match["name"], match["arg"]) == match["arg"], (
            f"{match['name']} has different defaults in different places"
        )
    documented = read_env_file(ROOT / ".env.example")
    assert documented == used, ".env.example must list each variable with its compose default"


def test_app_services_share_one_image_built_from_this_repository(services):
    built = app_image_services(services)
    assert set(built) == set(APP_SERVICES) | {"topics-init", "sealer"}
    assert {service["build"] for service in built.values()} == {"."}
    assert len({service["image"] for service in built.values()}) == 1


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_its_module(services, name):
    command = services[name]["command"]
    assert command[:2] == ["python", "-m"] and len(command) == 3, command
    module = command[2]
    assert module == f"services.{name}"
    package = ROOT.joinpath(*module.split("."))
    # The package must exist; its __main__.py is what `python -m` runs once written.
    assert package.is_dir(), f"{module} does not exist in the repository"


def test_topics_init_runs_the_cli_once(services):
    init = services["topics-init"]
    assert init["command"] == ["coinlog", "topics", "ensure"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "coinlog" in scripts, "pyproject.toml does not install the coinlog command"
    assert init["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert init.get("restart", "no") == "no"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_healthcheck_asks_readiness(services, name):
    command = healthcheck_command(services[name])
    assert f"http://127.0.0.1:{HTTP_PORT}/readyz" in command
    # python:3.11-slim has no curl or wget.
    assert command.split()[:2] in (["CMD", "python"], ["CMD-SHELL", "python"]), command


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_starts_after_its_dependencies(services, name):
    depends_on = services[name]["depends_on"]
    assert depends_on["kafka"] == {"condition": "service_healthy"}
    assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert depends_on["topics-init"] == {"condition": "service_completed_successfully"}
    assert services[name]["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", [*APP_SERVICES, "topics-init"])
def test_app_image_environment_is_the_settings_contract(services, name):
    unknown = set(environment(services[name])) - ALLOWED_ENV
    assert not unknown, f"{name} sets variables shared/settings.py does not read: {unknown}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_sets_every_deployment_setting(services, name):
    missing = REQUIRED_SERVICE_ENV - set(environment(services[name]))
    assert not missing, f"{name} does not set {missing}"
    assert not REQUIRED_SERVICE_ENV - ALLOWED_ENV, "a required variable left the settings contract"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_listens_on_its_published_port(services, name):
    env = environment(services[name])
    assert env["COINLOG_HTTP_HOST"] == "0.0.0.0", "the port is unreachable from outside"
    assert env["COINLOG_HTTP_PORT"] == str(HTTP_PORT)
    assert [(port, target) for _, port, target in host_ports(services[name])] == [
        (APP_SERVICES[name], HTTP_PORT)
    ]


def test_instance_ids_are_distinct(services):
    ids = [environment(services[name])["COINLOG_INSTANCE_ID"] for name in APP_SERVICES]
    assert len(set(ids)) == len(ids), ids


def test_host_ports_are_unique(services):
    published = [port for service in services.values() for _, port, _ in host_ports(service)]
    assert published, "no port is published"
    duplicates = {port for port in published if published.count(port) > 1}
    assert not duplicates, f"host ports published twice: {sorted(duplicates)}"


# ---------------------------------------------------------------------------------------------
# Kafka


@pytest.fixture(scope="module")
def kafka_env(services) -> dict[str, str]:
    return environment(services["kafka"])


def test_kafka_is_a_single_kraft_node(kafka_env):
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{kafka_env['KAFKA_NODE_ID']}@kafka:9093"
    bound = listeners(kafka_env["KAFKA_LISTENERS"])
    protocols = dict(item.split(":") for item in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
                     .split(","))
    assert set(bound) <= set(protocols), "every listener needs a security protocol"
    assert kafka_env["KAFKA_CONTROLLER_LISTENER_NAMES"] in bound
    assert kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"] in bound
    assert set(listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])) <= set(bound)


def test_kafka_internal_topics_fit_one_broker(kafka_env):
    for name in ("OFFSETS_TOPIC_REPLICATION_FACTOR",
                 "TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "TRANSACTION_STATE_LOG_MIN_ISR",
                 "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
                 "SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR"):
        assert kafka_env[f"KAFKA_{name}"] == "1", name
    assert kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka_env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"


def test_kafka_keeps_its_log_in_a_named_volume(compose, services, kafka_env):
    data = dict((target, source) for source, target in mounts(services["kafka"]))
    volume = data.get(kafka_env["KAFKA_LOG_DIRS"])
    assert volume in (compose.get("volumes") or {}), "the Kafka log would not survive a restart"


def test_apps_bootstrap_from_the_internal_listener(services, kafka_env):
    advertised = listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    internal = advertised[kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert internal.split(":")[0] == "kafka", "other containers reach Kafka by its service name"
    for name, service in app_image_services(services).items():
        assert environment(service)["KAFKA_BOOTSTRAP_SERVERS"] == internal, name


def test_kafka_host_listener_matches_the_published_port(services, kafka_env):
    advertised = listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    internal_name = kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    host_side = [address for name, address in advertised.items() if name != internal_name]
    published = [(port, target) for _, port, target in host_ports(services["kafka"])]
    assert len(host_side) == 1 and len(published) == 1
    host, port = host_side[0].rsplit(":", 1)
    assert host in ("127.0.0.1", "localhost")
    assert published == [(int(port), int(port))], "clients are sent to the advertised port"


def test_kafka_healthcheck_fetches_metadata(services, kafka_env):
    command = healthcheck_command(services["kafka"])
    assert re.search(r"kafka-(broker-api-versions|topics)\.sh", command), command
    bound = listeners(kafka_env["KAFKA_LISTENERS"])
    internal_port = bound[kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]].rsplit(":", 1)[1]
    assert f"--bootstrap-server localhost:{internal_port}" in command


# ---------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture(scope="module")
def postgres_env(services) -> dict[str, str]:
    return environment(services["postgres"])


def secret_source(compose: dict, secret: str) -> Path:
    """The file compose mounts as `secret` when .env names none (its default)."""
    declared = compose.get("secrets", {}).get(secret)
    assert declared and "file" in declared, f"secret {secret} is not declared with a file"
    path = ROOT / str(resolve(declared["file"]))
    assert path.is_file(), f"{path} (secret {secret}) does not exist"
    return path


def mounted_secret(service: dict, secret: str) -> bool:
    return any((entry if isinstance(entry, str) else entry.get("source")) == secret
               for entry in service.get("secrets", []))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_connects_with_its_own_role(compose, services, postgres_env, name):
    env = environment(services[name])
    url = urlsplit(env["DATABASE_URL"])
    assert url.scheme in ("postgresql", "postgres")
    assert url.username == name
    assert url.password is None, "a password in DATABASE_URL: it is a secret file's"
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert url.path == f"/{postgres_env['POSTGRES_DB']}"
    # The service reads the same secret the init script creates its role with.
    secret = f"{name}_db_password"
    assert env["COINLOG_DB_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    assert mounted_secret(services[name], secret)
    assert postgres_env[f"{name.upper()}_DB_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    assert mounted_secret(services["postgres"], secret)
    assert secret_source(compose, secret).read_text().strip()


def test_no_password_stands_in_the_environment(services):
    for name, service in services.items():
        for variable, value in environment(service).items():
            if re.search(r"PASSWORD|SECRET", variable):
                assert variable.endswith(("_FILE", "__FILE")) and value.startswith(
                    "/run/secrets/"), f"{name}: {variable} holds a password"


@pytest.fixture(scope="module")
def init_script(services) -> str:
    # The image runs the *.sh and *.sql files directly in this folder, on first initialisation.
    mounted = [target for _, target in mounts(services["postgres"])
               if PurePosixPath(posixpath.normpath(target)).parent == INITDB
               and PurePosixPath(target).suffix in (".sh", ".sql")]
    assert len(mounted) == 1, "no init script is mounted"
    path = bind_mount_source(services["postgres"], mounted[0])
    assert path.is_file(), f"{path} does not exist"
    return path.read_text()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_init_script_gives_each_service_a_role_owning_its_schema(init_script, postgres_env, name):
    variable = f"{name.upper()}_DB_PASSWORD"
    assert re.search(rf'^coinlog_create_service_role {name} "\${variable}"$', init_script,
                     re.MULTILINE), f"no role for {name}"
    assert re.search(rf'^{variable}="\$\(coinlog_secret {variable}\)"$', init_script,
                     re.MULTILINE), f"{variable} is not read as a secret"
    assert f"{variable}_FILE" in postgres_env, f"the postgres container does not get {variable}"
    assert 'CREATE SCHEMA IF NOT EXISTS :"role" AUTHORIZATION :"role";' in init_script


def test_init_script_creates_a_read_only_auditor(init_script, postgres_env):
    assert re.search(r'^coinlog_login_role auditor "\$AUDITOR_DB_PASSWORD"$', init_script,
                     re.MULTILINE)
    assert "WITH LOGIN NOSUPERUSER" in init_script
    assert "GRANT pg_read_all_data TO auditor;" in init_script
    assert "ALTER ROLE auditor SET default_transaction_read_only = on;" in init_script
    assert "AUDITOR_DB_PASSWORD_FILE" in postgres_env


def test_postgres_is_ready_only_after_initialisation(compose, services, postgres_env):
    postgres = services["postgres"]
    command = healthcheck_command(postgres)
    # Over TCP: during initialisation the server listens on its Unix socket only.
    assert "pg_isready" in command and "-h 127.0.0.1" in command
    assert f"-d {postgres_env['POSTGRES_DB']}" in command
    data = dict((target, source) for source, target in mounts(postgres))
    assert data.get("/var/lib/postgresql/data") in (compose.get("volumes") or {})


# ---------------------------------------------------------------------------------------------
# Telemetry


@pytest.fixture(scope="module")
def collector_config(services) -> dict:
    collector = services["otel-collector"]
    (config_flag,) = [arg for arg in collector["command"] if arg.startswith("--config=")]
    path = bind_mount_source(collector, config_flag.removeprefix("--config="))
    assert path.is_file(), f"{path} does not exist"
    config = yaml.safe_load(path.read_text())
    assert isinstance(config, dict)
    return config


def test_collector_pipelines_use_only_defined_components(collector_config):
    pipelines = collector_config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines)
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            undefined = set(pipeline.get(kind, [])) - set(collector_config.get(kind) or {})
            assert not undefined, f"{kind} used but not defined: {undefined}"
        assert pipeline["processors"][0] == "memory_limiter"


def test_apps_export_to_the_collectors_otlp_grpc_receiver(services, collector_config):
    grpc = collector_config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    expected = f"http://otel-collector:{grpc.rsplit(':', 1)[1]}"
    for name in APP_SERVICES:
        assert environment(services[name])["OTEL_EXPORTER_OTLP_ENDPOINT"] == expected, name


def test_collector_sends_traces_to_jaeger(services, collector_config):
    (exporter,) = collector_config["service"]["pipelines"]["traces"]["exporters"]
    assert exporter.split("/")[0] in ("otlp", "otlp_grpc")
    assert collector_config["exporters"][exporter]["endpoint"] == "jaeger:4317"
    jaeger = services["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/jaeger:2.")
    assert (16686, 16686) in [(port, target) for _, port, target in host_ports(jaeger)]


def test_collector_serves_metrics_for_prometheus(services, collector_config):
    exporters = collector_config["service"]["pipelines"]["metrics"]["exporters"]
    assert "prometheus" in exporters
    port = int(collector_config["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1])
    assert port in [target for _, _, target in host_ports(services["otel-collector"])]


# ---------------------------------------------------------------------------------------------
# The image


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    path = ROOT / "Dockerfile"
    assert path.is_file(), "Dockerfile is missing"
    joined = re.sub(r"\\\n", " ", path.read_text())
    return [line.strip() for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_builds_on_a_pinned_python_311_slim_from_the_lockfile(dockerfile):
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", "\n".join(dockerfile), re.MULTILINE))
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], line.split()[1])
             for line in dockerfile if line.startswith("FROM ")]
    assert len(set(bases)) == 1, bases
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", bases[0]), bases
    assert any(re.search(r"pip install --require-hashes -r requirements\.lock$", line)
               for line in dockerfile), "dependencies not installed from the lockfile"
    assert any(re.search(r"pip install --no-deps \.$", line) for line in dockerfile), \
        "no `pip install --no-deps .`"


def test_dockerfile_runs_as_a_non_root_user_on_port_8080(dockerfile):
    final_stage = dockerfile[max(i for i, line in enumerate(dockerfile)
                                 if line.startswith("FROM ")):]
    users = [line.split()[1] for line in final_stage if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image runs as root"
    assert f"EXPOSE {HTTP_PORT}" in final_stage
    assert final_stage[-1] == 'CMD ["coinlog", "--help"]'


def test_dockerignore_keeps_local_state_out_of_the_image():
    patterns = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".local", ".env", "**/__pycache__"} <= patterns


def test_the_sealer_runs_the_sealing_module(services):
    sealer = services["sealer"]
    assert sealer["command"] == ["python", "-m", "shared.sealing"]
    assert (ROOT / "shared" / "sealing" / "__main__.py").is_file()
    assert environment(sealer)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, f"stop_grace_period {duration!r} is not a number of seconds"
    return float(match.group(1))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_a_stop_ends_before_compose_kills_the_service(services, name):
    from shared.runtime.service import CLOSE_S

    grace_s = float(environment(services[name])["COINLOG_SHUTDOWN_GRACE_S"])
    # The batch in flight has the grace; the consumers' close and the rest CLOSE_S each.
    assert grace_s + 2 * CLOSE_S < _seconds(services[name]["stop_grace_period"])


def test_the_sealers_health_check_asks_its_readiness(services):
    sealer = services["sealer"]
    assert f"http://127.0.0.1:{HTTP_PORT}/readyz" in healthcheck_command(sealer)
    assert environment(sealer)["COINLOG_HTTP_PORT"] == str(HTTP_PORT)
    assert environment(sealer)["COINLOG_HTTP_HOST"] == "0.0.0.0"


# ---------------------------------------------------------------------------------------------
# Observability: Prometheus and Grafana in the `observability` profile

OBSERVABILITY = ("prometheus", "grafana")
SCRAPED = (*APP_SERVICES, "sealer")


def test_prometheus_and_grafana_start_only_with_the_observability_profile(services):
    for name in OBSERVABILITY:
        assert services[name].get("profiles") == ["observability"], name
    for name in (*SCRAPED, *INFRASTRUCTURE):
        assert "profiles" not in services[name], f"{name} would not start by default"


@pytest.fixture(scope="module")
def prometheus_config(services) -> dict:
    prometheus = services["prometheus"]
    (config_flag,) = [flag for flag in prometheus["command"] if flag.startswith("--config.file=")]
    config = yaml.safe_load(bind_mount_source(prometheus, config_flag.split("=", 1)[1])
                            .read_text())
    assert isinstance(config, dict)
    return config


def test_prometheus_scrapes_every_service_and_the_sealer(services, prometheus_config):
    targets = {}
    for job in prometheus_config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]:
            for target in static["targets"]:
                targets[static["labels"]["service"]] = target
    assert targets == {name: f"{name}:{HTTP_PORT}" for name in SCRAPED}
    for name in SCRAPED:
        env = environment(services[name])
        assert env.get("COINLOG_HTTP_PORT", str(HTTP_PORT)) == str(HTTP_PORT), name
        assert env.get("COINLOG_HTTP_HOST", "0.0.0.0") == "0.0.0.0", name


def test_prometheus_evaluates_the_tested_alert_rules(services, prometheus_config):
    (rule_file,) = prometheus_config["rule_files"]
    assert bind_mount_source(services["prometheus"], rule_file) == (
        ROOT / "deploy" / "prometheus" / "alerts.yml")


def test_the_sealer_sets_what_it_serves_metrics_with(services):
    unknown = set(environment(services["sealer"])) - ALLOWED_ENV
    assert not unknown, f"the sealer sets variables shared/settings.py does not read: {unknown}"
    assert environment(services["sealer"])["COINLOG_INSTANCE_ID"]


def test_grafana_reads_the_compose_prometheus(services, prometheus_config):
    grafana = services["grafana"]
    provisioning = bind_mount_source(grafana, "/etc/grafana/provisioning")
    (datasource,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["type"] == "prometheus"
    assert urlsplit(datasource["url"]).netloc == "prometheus:9090"
    assert (9090, 9090) in [(port, target) for _, port, target in host_ports(
        services["prometheus"])]
    assert grafana["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_grafana_provisions_the_dashboard_it_mounts(services):
    grafana = services["grafana"]
    provisioning = bind_mount_source(grafana, "/etc/grafana/provisioning")
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "coinlog.yml").read_text())["providers"]
    folder = bind_mount_source(grafana, provider["options"]["path"])
    dashboards = sorted(folder.glob("*.json"))
    assert [path.name for path in dashboards] == ["coinlog.json"]
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert PurePosixPath(home).parent == PurePosixPath(provider["options"]["path"])
    assert PurePosixPath(home).name == "coinlog.json"
