"""A small dict -> TOML writer for generated configuration files: tables, strings, integers,
booleans, floats and arrays of those. Dotted keys are never produced: nested dicts become
[a.b] tables."""

import json
import re

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes (\" \\ \n \uXXXX) are all valid TOML basic-string escapes.
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _table(path: list, table: dict, out: list) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if path and (scalars or not tables):
        out.append("[" + ".".join(_key(p) for p in path) + "]")
    for name, value in scalars.items():
        out.append(f"{_key(name)} = {_value(value)}")
    if scalars:
        out.append("")
    for name, value in tables.items():
        _table(path + [name], value, out)


def dumps(document: dict) -> str:
    out: list = []
    _table([], document, out)
    return "\n".join(out).rstrip("\n") + "\n"
