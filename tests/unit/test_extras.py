"""Honest extras and light imports: an adapter loads its own SDK and no other, imports with
nothing but its extra installed, and a missing SDK (or CLI library) is one line naming
the extra that installs it.

"Not installed" is simulated in a fresh interpreter by a `sys.meta_path` finder that
refuses the SDK's modules, as Python does for a module that is not there.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from failover.registry import BUILTIN

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
SELF = canonicalize_name(PROJECT["name"])

# The module each optional distribution installs: what the blocker hides to make it missing.
MODULES = {
    "boto3": "boto3",
    "dnspython": "dns",
    "azure-identity": "azure.identity",
    "azure-storage-blob": "azure.storage.blob",
    "azure-mgmt-dns": "azure.mgmt.dns",
    "azure-mgmt-compute": "azure.mgmt.compute",
    "google-cloud-storage": "google.cloud.storage",
    "google-cloud-dns": "google.cloud.dns",
    "google-cloud-compute": "google.cloud.compute_v1",
    "redis": "redis",
    "rich": "rich",
    "pydantic": "pydantic",
    "tomli": "tomli",
    "prometheus-client": "prometheus_client",
    "opentelemetry-api": "opentelemetry",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "plotly": "plotly",
    "aiobotocore": "aiobotocore",
    "aiohttp": "aiohttp",
    "gcloud-aio-storage": "gcloud.aio.storage",
}
# The extra each adapter of failover.registry asks for (and that must install it).
ADAPTERS = {
    "s3": "s3",
    "route53": "route53",
    "ec2": "ec2",
    "azure_blob": "azure-blob",
    "azure_dns": "azure-dns",
    "azure_compute": "azure-compute",
    "gcs": "gcs",
    "cloud_dns": "cloud-dns",
    "gce": "gce",
    "rfc2136": "dns",
    "s3_aio": "s3-aio",
    "azure_blob_aio": "azure-blob-aio",
    "gcs_aio": "gcs-aio",
}
LAZY_PACKAGES = ("aws", "azure", "gcp", "dns")
# An SDK that several adapters share: missing, it fails each of them with an extra that has it.
SHARED = ("boto3", "dns", "azure.storage.blob", "google.cloud.storage")
NAMED_EXTRA = re.compile(r"multicloud-failover\[([^\]]+)\]")

BLOCKER = """\
import sys

class NotInstalled:
    blocked = {blocked!r}
    roots = {{b.partition(".")[0] for b in blocked}}

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in cls.roots and any(name == b or name.startswith(b + ".") for b in cls.blocked):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled)
"""


def python(code: str, blocked: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which the ``blocked`` modules are not installed."""
    script = BLOCKER.format(blocked=blocked) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)


def import_statement(adapter: str) -> str:
    """``from failover.providers.gcp import GCSStore`` for ``gcs``: the way users import it."""
    module, attribute = BUILTIN[adapter].split(":")
    return f"from {module.rpartition('.')[0]} import {attribute}"


@cache
def requirements(extra: str) -> frozenset[str]:
    """The distributions ``extra`` installs directly, through the project's other extras too."""
    found: set[str] = set()
    for line in EXTRAS[extra]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name == SELF:
            found.update(*(requirements(inner) for inner in requirement.extras))
        else:
            found.add(name)
    return frozenset(found)


def sdk_modules(extra: str) -> set[str]:
    return {MODULES[name] for name in requirements(extra) if name in MODULES}


def loaded_sdks(statement: str, blocked: tuple[str, ...] = ()) -> set[str]:
    """The optional SDKs loaded by ``statement`` in a fresh interpreter."""
    report = f"import json\nprint(json.dumps([m for m in {sorted(MODULES.values())!r} if m in sys.modules]))"
    done = python(f"{statement}\n{report}", blocked)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]
    return set(json.loads(done.stdout))


# ---------------------------------------------------------------- light imports


def test_gcs_does_not_load_the_compute_sdk_nor_blob_the_azure_compute_one() -> None:
    assert "google.cloud.compute_v1" not in loaded_sdks("from failover.providers.gcp import GCSStore")
    assert "azure.mgmt.compute" not in loaded_sdks("from failover.providers.azure import BlobStore")


@pytest.mark.parametrize("adapter", ["azure_dns", "azure_compute", "cloud_dns", "gce"])
def test_a_clouds_dns_and_compute_adapters_leave_its_storage_sdk_unloaded(adapter: str) -> None:
    # Installed or not, the storage SDK is not theirs to load (it costs time and memory).
    assert not loaded_sdks(import_statement(adapter)) & {"azure.storage.blob", "google.cloud.storage"}


def test_the_memory_and_chaos_providers_need_no_sdk_at_all() -> None:
    # They are the base install's clouds: the drill and every unit test run on them.
    code = """
        from failover.providers.chaos import ChaosProvider
        from failover.providers.memory import MemoryCompute, MemoryDnsZone, MemoryObjectStore
        from failover.capabilities import Record
        zone = MemoryDnsZone("example.test.")
        zone.upsert_record(Record("txt", "TXT", 60, ("v=1",)))
        print(ChaosProvider(MemoryObjectStore()).put("k", b"v").key, MemoryCompute().__class__.__name__)
    """
    done = python(code, blocked=tuple(MODULES.values()))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["k", "MemoryCompute"]


def test_the_drill_runs_with_nothing_but_the_cli_extra() -> None:
    cli = {"rich", "pydantic"}
    code = "from failover.cli import main\nsys.exit(main(['demo', '--duration', '5']))"
    done = python(code, blocked=tuple(m for m in MODULES.values() if m not in cli))
    assert done.returncode == 0, done.stderr[-2000:]


def test_import_failover_and_the_bare_cloud_packages_load_no_sdk() -> None:
    packages = "\n".join(f"import failover.providers.{name}" for name in LAZY_PACKAGES)
    assert loaded_sdks(f"import failover\n{packages}") == set()


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_a_lazy_package_exports_what_its_type_checking_imports_name(package: str) -> None:
    init = REPO / "providers" / package / "__init__.py"
    typed = {
        alias.name: node.module
        for block in ast.parse(init.read_text()).body
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    module = importlib.import_module(f"failover.providers.{package}")
    assert sorted(module.__all__) == sorted(typed)
    for name, home in typed.items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        module.Nothing  # noqa: B018


# ---------------------------------------------------------------- honest extras


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_an_adapter_imports_with_nothing_but_its_extra_installed(adapter: str) -> None:
    # With every other SDK missing, an import of one fails: this is also the proof that
    # an adapter loads no SDK but its own.
    own = sdk_modules(ADAPTERS[adapter])
    loaded = loaded_sdks(import_statement(adapter), blocked=tuple(sorted(set(MODULES.values()) - own)))
    assert loaded and loaded <= own


def test_a_missing_sdk_names_the_adapters_extra() -> None:
    attempts = "\n".join(
        f"try:\n    {import_statement(adapter)}\nexcept ImportError as exc:\n    errors[{adapter!r}] = str(exc)"
        for adapter in ADAPTERS
    )
    done = python(f"import json\nerrors = {{}}\n{attempts}\nprint(json.dumps(errors))", blocked=tuple(MODULES.values()))
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout)
    assert sorted(errors) == sorted(ADAPTERS), "every adapter must fail without its SDK"
    for adapter, message in errors.items():
        assert f"pip install 'multicloud-failover[{ADAPTERS[adapter]}]'" in message, message
        assert "\n" not in message


@pytest.mark.parametrize("module", SHARED)
def test_a_missing_shared_sdk_names_an_extra_that_installs_it(module: str) -> None:
    users = [adapter for adapter, extra in ADAPTERS.items() if module in sdk_modules(extra)]
    attempts = "\n".join(
        f"try:\n    {import_statement(adapter)}\nexcept ImportError as exc:\n    errors[{adapter!r}] = str(exc)"
        for adapter in users
    )
    done = python(f"import json\nerrors = {{}}\n{attempts}\nprint(json.dumps(errors))", blocked=(module,))
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout)
    assert sorted(errors) == sorted(users)
    for message in errors.values():
        named = NAMED_EXTRA.findall(message)
        assert len(named) == 1 and module in sdk_modules(named[0]), message


# ---------------------------------------------------------------- the command line

CLI_MESSAGE = "pip install 'multicloud-failover[cli]'"


@pytest.mark.parametrize(
    ("entry", "blocked"),
    [
        ("from failover.cli import main; sys.exit(main(['demo', '--duration', '1']))", "rich"),  # the console script
        ("import runpy; runpy.run_module('failover', run_name='__main__')", "rich"),  # python -m failover
        ("from failover.cli import main; sys.exit(main(['dns-controller', '--config', 'x.toml']))", "pydantic"),
    ],
)
def test_the_cli_without_its_extra_says_so_in_one_line_and_exits_2(entry: str, blocked: str) -> None:
    done = python(entry, blocked=(blocked,))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and CLI_MESSAGE in lines[0] and blocked in lines[0], done.stderr


def test_the_cli_still_raises_an_import_error_that_is_not_its_extras() -> None:
    done = python("from failover.cli import main; sys.exit(main(['demo']))", blocked=("failover.cli.demo",))
    assert done.returncode == 1 and "Traceback" in done.stderr


# ---------------------------------------------------------------- pyproject


def named_extras() -> set[str]:
    """Every extra the code and the docs tell users to install."""
    named: set[str] = set()
    for path in [*REPO.joinpath("failover").rglob("*.py"), *REPO.joinpath("providers").rglob("*.py")]:
        for function in ast.walk(ast.parse(path.read_text())):
            # An extra passed on from a parameter is checked through the parameter's default.
            defaults = _literal_defaults(function) if isinstance(function, ast.FunctionDef) else {}
            for call in ast.walk(function):
                if isinstance(call, ast.Call) and ast.unparse(call.func) == "missing_sdk" and len(call.args) == 3:
                    extra = call.args[1]
                    if isinstance(extra, ast.Name) and extra.id in defaults:
                        named.add(defaults[extra.id])
                    elif isinstance(extra, ast.Constant):
                        named.add(extra.value)
    for path in [*REPO.joinpath("failover").rglob("*.py"), *REPO.glob("*.md"), *REPO.joinpath("docs").glob("*.md")]:
        for found in NAMED_EXTRA.findall(path.read_text()):
            named.update(found.split(","))
    return named


def _literal_defaults(function: ast.FunctionDef) -> dict[str, str]:
    positional = function.args.args[len(function.args.args) - len(function.args.defaults) :]
    return {
        arg.arg: default.value
        for arg, default in zip(positional, function.args.defaults, strict=True)
        if isinstance(default, ast.Constant) and isinstance(default.value, str)
    }


def test_every_extra_the_code_and_docs_name_exists() -> None:
    named = named_extras()
    assert set(ADAPTERS.values()) | {"cli"} <= named
    assert named - set(EXTRAS) == set()


def test_extra_names_are_normalized() -> None:
    assert [name for name in EXTRAS if canonicalize_name(name) != name] == []


def test_the_base_install_needs_nothing() -> None:
    assert PROJECT["dependencies"] == []


def test_every_optional_distribution_has_a_module_to_block() -> None:
    assert requirements("all") - set(MODULES) == set(), "add the module it installs to MODULES"


@pytest.mark.parametrize(
    ("union", "parts"),
    [("aws", "s3 route53 ec2"), ("azure", "azure-blob azure-dns azure-compute"), ("gcp", "gcs cloud-dns gce")],
)
def test_a_cloud_extra_is_the_union_of_its_adapters(union: str, parts: str) -> None:
    assert requirements(union) == frozenset().union(*(requirements(part) for part in parts.split()))


def test_dev_installs_every_extra() -> None:
    for extra in EXTRAS:
        assert requirements(extra) <= requirements("dev"), extra
    assert requirements("cli") <= requirements("all")
