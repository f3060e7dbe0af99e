"""What every configuration file shares: reading TOML, and errors that name the file and the field.

A problem is one `ConfigError` line, ``FILE: FIELD.PATH: PROBLEM``, with the bad value
quoted where it helps (``storage.targets[1].weight: must be >= 0, got -3``).  Values are
quoted only after `reject_inline_secrets` has refused every key that could hold a
secret, so a quoted value is never one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from failover.errors import ConfigError, InvalidInput
from failover.redact import redact

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

T = TypeVar("T")

# Key names that hold a secret when given a value: the file must name an environment
# variable instead (``connection_string_env = "AZURE_STORAGE_CONNECTION_STRING"``).
SECRET_WORDS = ("secret", "password", "passwd", "connection_string", "access_key", "account_key", "sas", "token")


def read_toml(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """``(name of the file, its tables)``; a file that cannot be read or is not UTF-8 TOML is a `ConfigError`."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{file}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    return str(file), parse_toml(text, str(file))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        tables: dict[str, Any] = tomllib.loads(text)
        return tables
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: tables or arrays nested too deeply") from None


def validate(model: type[BaseModel], data: Mapping[str, Any], source: str) -> Any:
    """``model`` validated from ``data``; every problem found, as one `ConfigError` line."""
    try:
        return model.model_validate(data)
    except RecursionError:
        raise ConfigError(f"{source}: tables or arrays nested too deeply") from None
    except ValidationError as exc:
        problems = dict.fromkeys(problem(model, e) for e in exc.errors())  # ordered, no repeats
        raise ConfigError(f"{source}: {'; '.join(problems)}") from None


def shown(value: Any) -> str:
    """A value as the file spells it: ``-3``, ``true``, ``"text"``."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def where(loc: Sequence[str | int]) -> str:
    """``("storage", "targets", 1, "weight")`` -> ``storage.targets[1].weight``."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def problem(model: type[BaseModel], error: Any) -> str:
    loc = tuple(error["loc"])
    kind, context, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        known = _keys_at(model, loc[:-1])
        message = f"unknown key; the keys here are {', '.join(known)}" if known else "unknown key"
    elif kind == "missing":
        message = "required"
    elif kind in _BOUNDS:
        symbol, bound = _BOUNDS[kind]
        message = f"must be {symbol} {context[bound]}, got {shown(value)}"
    elif kind == "literal_error":
        message = f"must be {context['expected']}, got {shown(value)}"
    elif kind.endswith(("_type", "_parsing")):
        message = f"must be {_TYPE_NAMES.get(kind.split('_')[0], kind.split('_')[0])}, got {shown(value)}"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    at = where(loc)
    return redact(f"{at}: {message}" if at else message)


# pydantic's error type -> (how the message says it, the key of the bound in the error's context)
_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}
_TYPE_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "an array",
    "dict": "a table",
    "model": "a table",
}


def _keys_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the table at ``loc`` takes (empty if it is not one of ours)."""
    current: Any = model
    for part in loc:
        current = _inner(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return []
        current = current.model_fields[part].annotation
    current = _inner(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _inner(annotation: Any) -> Any:
    """The model inside ``X | None``, ``list[X]``, ``Annotated[X, ...]``."""
    while get_origin(annotation) is not None:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, list, tuple) or str(get_origin(annotation)) == "types.UnionType":
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            annotation = args[0]
    return annotation


def reject_inline_secrets(data: Any, source: str, path: tuple[str | int, ...] = ()) -> None:
    """A key that looks like it holds a secret (``password``, ``connection_string``...) is a
    `ConfigError` naming it and the ``*_env`` form to use; its value is never repeated."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = (*path, str(key))
            name = str(key).lower()
            if not name.endswith("_env") and any(word in name for word in SECRET_WORDS):
                # Worded without "KEY: value", which failover.redact would mask.
                raise ConfigError(
                    f"{source}: {where(path) or 'top level'}: the key {where(here)!r} would put a secret in "
                    f"the file; name an environment variable that holds it, with {key}_env = \"VARIABLE\""
                )
            reject_inline_secrets(value, source, here)
    elif isinstance(data, str) and redact(data) != data:
        # A credential inside a value: a password or a signature in a URL's query string.
        raise ConfigError(
            f"{source}: {where(path)}: this value holds a credential (a password or signature in it); "
            "keep the URL in an environment variable and name it with the key's *_env form"
        )
    elif isinstance(data, list):
        for index, item in enumerate(data):
            reject_inline_secrets(item, source, (*path, index))


def named(where: str, make: Callable[[], T]) -> T:
    """``make()``, with any bad-input error it raises turned into a `ConfigError` naming ``where``."""
    try:
        return make()
    except InvalidInput as exc:  # ConfigError included
        if exc.message.startswith(where):
            raise  # it names this place already, or a place inside it
        raise ConfigError(f"{where}: {exc.message}") from None
    except ValueError as exc:  # an SDK's own check of a value from the file
        raise ConfigError(f"{where}: {redact(str(exc))}") from None


__all__ = [
    "SECRET_WORDS",
    "named",
    "parse_toml",
    "problem",
    "read_toml",
    "reject_inline_secrets",
    "shown",
    "validate",
    "where",
]
