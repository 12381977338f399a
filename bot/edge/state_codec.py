"""Dialog and conversation state as plain JSON, with an explicit codec for the few SDK types botbuilder keeps there.

State used to be written with jsonpickle, which records any class and rebuilds it on reading, calling whatever a
`py/reduce` names (`safe=True` does not stop that). Anyone who can write one row of `bot_state` (a restored or
tampered backup, a SQL injection elsewhere) could then run code in the bot. Here nothing is ever imported or
called because the data names it: each type below is rebuilt field by field from an allow-list, and anything else
is refused.

What botbuilder and Safe Space's dialogs actually store (checked by running every dialog): dicts, lists, strings,
numbers; DialogState and DialogInstance; PromptOptions holding Activity and Attachment (msrest models from
botbuilder.schema) whose enum fields are str enums; and StoreItem in tests. datetime, tuple and Choice are
covered too, since botbuilder's own prompts may keep them.

Rows written by jsonpickle are still read when they hold only those types (jsonpickle's `py/object` of an allowed
class, `py/tuple`, and a `py/reduce` that is exactly a botbuilder.schema enum value); anything else in them is
refused, never executed.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Callable, Mapping
from typing import Any, Final

import botbuilder.schema
import botbuilder.schema.teams
from botbuilder.core import StoreItem
from botbuilder.dialogs import DialogInstance, DialogState
from botbuilder.dialogs.choices import Choice
from botbuilder.dialogs.prompts import PromptOptions
from msrest.serialization import Model

CODEC_VERSION: Final = 1
_VERSION_KEY: Final = "~codec"
_TYPE: Final = "~type"  # marks a typed value; a plain dict that has this key itself is escaped as "dict"
# JSON deeper than this is not state any dialog writes, and decoding it would only exercise recursion.
MAX_DEPTH: Final = 200


class UnsafeState(ValueError):
    """A stored value names a type or construct this codec does not rebuild; the value is not used."""


def _schema_classes() -> tuple[dict[str, type[Model]], dict[str, type[enum.Enum]]]:
    """botbuilder.schema's msrest models (which can be built empty) and its enums, by class name."""
    models: dict[str, type[Model]] = {}
    enums: dict[str, type[enum.Enum]] = {}
    for module in (botbuilder.schema, botbuilder.schema.teams):
        for name in dir(module):
            value = getattr(module, name)
            if not isinstance(value, type):
                continue
            if issubclass(value, Model):
                try:
                    value()
                except TypeError:
                    continue  # needs constructor arguments (TaskModuleCardResponse): never in state
                models[value.__name__] = value
            elif issubclass(value, enum.Enum) and issubclass(value, str):
                enums[value.__name__] = value
    return models, enums


_MODELS, _ENUMS = _schema_classes()
# The plain classes rebuilt attribute by attribute: only attributes a fresh instance has are set.
_PLAIN: Final[dict[str, type]] = {"PromptOptions": PromptOptions, "Choice": Choice}


# Encoding --------------------------------------------------------------------------------------------------


def encode_state(value: Any) -> str:
    """JSON for `value`; raises TypeError for anything the codec would not be able to rebuild."""
    return json.dumps({_VERSION_KEY: CODEC_VERSION, "value": _encode(value, 0)}, ensure_ascii=False)


def _encode(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise TypeError("state nests too deeply to store")
    if value is None or isinstance(value, bool | int | float | str):
        return value  # str enums are str: they are stored as their value
    if isinstance(value, list):
        return [_encode(item, depth + 1) for item in value]
    if isinstance(value, dict):
        items = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"state keys must be strings, not {type(key).__name__}")
            items[key] = _encode(item, depth + 1)
        return {_TYPE: "dict", "items": items} if _TYPE in items else items
    if isinstance(value, tuple):
        return {_TYPE: "tuple", "items": [_encode(item, depth + 1) for item in value]}
    if isinstance(value, dt.datetime):
        return {_TYPE: "datetime", "iso": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TYPE: "date", "iso": value.isoformat()}
    if isinstance(value, DialogState):
        return {_TYPE: "DialogState", "stack": [_encode(item, depth + 1) for item in value.dialog_stack]}
    if isinstance(value, DialogInstance):
        return {_TYPE: "DialogInstance", "id": value.id, "state": _encode(value.state, depth + 1)}
    if isinstance(value, StoreItem):
        return {_TYPE: "StoreItem", "fields": _encode(dict(vars(value)), depth + 1)}
    name = type(value).__name__
    if _PLAIN.get(name) is type(value):
        return {_TYPE: name, "fields": _encode(dict(vars(value)), depth + 1)}
    if isinstance(value, Model) and _MODELS.get(name) is type(value):
        fields = {
            attr: _encode(getattr(value, attr), depth + 1)
            for attr in type(value)._attribute_map
            if getattr(value, attr, None) is not None
        }
        extra = getattr(value, "additional_properties", None)
        if extra:
            fields["additional_properties"] = _encode(extra, depth + 1)
        return {_TYPE: "model", "class": name, "fields": fields}
    raise TypeError(f"{type(value).__module__}.{type(value).__qualname__} cannot be stored in state")


# Decoding --------------------------------------------------------------------------------------------------


def decode_state(data: str) -> Any:
    """The value `data` holds; raises UnsafeState (a ValueError) for anything not rebuilt by this codec."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise UnsafeState("the stored JSON nests too deeply") from None
    except ValueError as exc:
        raise UnsafeState(f"not JSON ({exc})") from None
    if isinstance(document, dict) and _VERSION_KEY in document:
        if document.get(_VERSION_KEY) != CODEC_VERSION or "value" not in document:
            raise UnsafeState(f"unknown state format {document.get(_VERSION_KEY)!r}")
        return _decode(document["value"], 0)
    return _decode_legacy(document, 0)


def _fields(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise UnsafeState("a stored object has no fields")
    return value


def _items(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UnsafeState("a stored sequence is not a list")
    return value


def _store_item(fields: Mapping[str, Any], decode: Callable[[Any], Any]) -> StoreItem:
    if any(key.startswith("__") for key in fields):
        raise UnsafeState("a stored StoreItem has a special attribute")
    return StoreItem(**{key: decode(item) for key, item in fields.items()})


def _rebuild(cls: Callable[[], Any], fields: Mapping[str, Any], decode: Callable[[Any], Any]) -> Any:
    """A fresh instance with the stored fields it knows; unknown fields are refused rather than set."""
    instance = cls()
    allowed = set(vars(instance))
    if isinstance(instance, Model):
        allowed |= set(type(instance)._attribute_map) | {"additional_properties"}
    for name, item in fields.items():
        if name not in allowed:
            raise UnsafeState(f"{type(instance).__name__} has no field {name!r}")
        setattr(instance, name, decode(item))
    return instance


def _decode(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise UnsafeState("the stored state nests too deeply")
    if isinstance(value, list):
        return [_decode(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    if _TYPE not in value:
        return {key: _decode(item, depth + 1) for key, item in value.items()}
    kind = value[_TYPE]

    def inner(item: Any) -> Any:
        return _decode(item, depth + 1)

    try:
        if kind == "dict":
            return {key: inner(item) for key, item in _fields(value["items"]).items()}
        if kind == "tuple":
            return tuple(inner(item) for item in _items(value["items"]))
        if kind == "datetime":
            return dt.datetime.fromisoformat(value["iso"])
        if kind == "date":
            return dt.date.fromisoformat(value["iso"])
        if kind == "DialogState":
            return DialogState([inner(item) for item in _items(value["stack"])])
        if kind == "DialogInstance":
            return DialogInstance(id=value["id"], state=inner(value["state"]))
        if kind == "StoreItem":
            return _store_item(_fields(value["fields"]), inner)
        if kind in _PLAIN:
            return _rebuild(_PLAIN[kind], _fields(value["fields"]), inner)
        if kind == "model" and value.get("class") in _MODELS:
            return _rebuild(_MODELS[value["class"]], _fields(value["fields"]), inner)
    except (KeyError, TypeError) as exc:
        raise UnsafeState(f"a stored {kind!r} is malformed ({exc})") from None
    raise UnsafeState(f"unknown stored type {kind!r}")


# Rows written by jsonpickle ----------------------------------------------------------------------------------

_LEGACY_PLAIN: Final[dict[str, Callable[[], Any]]] = {
    "botbuilder.dialogs.dialog_state.DialogState": DialogState,
    "botbuilder.dialogs.dialog_instance.DialogInstance": DialogInstance,
    "botbuilder.dialogs.prompts.prompt_options.PromptOptions": PromptOptions,
    "botbuilder.dialogs.choices.choice.Choice": Choice,
    "botbuilder.core.storage.StoreItem": StoreItem,
}
_LEGACY_SCHEMA_MODULES: Final = ("botbuilder.schema._models_py3", "botbuilder.schema.teams._models_py3")
_LEGACY_ENUM_MODULE: Final = "botbuilder.schema._connector_client_enums"


def _legacy_enum(reduce: Any) -> Any:
    """jsonpickle's form of a botbuilder.schema enum member: [{"py/type": "...Enum"}, {"py/tuple": [value]}].

    Read as data: the enum is looked up by name in botbuilder.schema and the member by value; nothing named in
    the row is imported or called.
    """
    if isinstance(reduce, list) and len(reduce) == 2 and isinstance(reduce[0], dict) and isinstance(reduce[1], dict):
        path = reduce[0].get("py/type")
        args = reduce[1].get("py/tuple")
        if (
            isinstance(path, str)
            and set(reduce[0]) == {"py/type"}
            and set(reduce[1]) == {"py/tuple"}
            and isinstance(args, list)
            and len(args) == 1
            and isinstance(args[0], str)
        ):
            module, _, name = path.rpartition(".")
            if module == _LEGACY_ENUM_MODULE and name in _ENUMS:
                try:
                    return _ENUMS[name](args[0])
                except ValueError:
                    pass
    raise UnsafeState("a py/reduce that is not a botbuilder.schema enum value")


def _decode_legacy(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise UnsafeState("the stored state nests too deeply")
    if isinstance(value, list):
        return [_decode_legacy(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    tags = [key for key in value if key.startswith("py/")]
    if not tags:
        return {key: _decode_legacy(item, depth + 1) for key, item in value.items()}

    def inner(item: Any) -> Any:
        return _decode_legacy(item, depth + 1)

    if tags == ["py/reduce"] and len(value) == 1:
        return _legacy_enum(value["py/reduce"])
    if tags == ["py/tuple"] and len(value) == 1 and isinstance(value["py/tuple"], list):
        return tuple(inner(item) for item in value["py/tuple"])
    if tags == ["py/object"] and isinstance(value["py/object"], str):
        path = value["py/object"]
        fields = {key: item for key, item in value.items() if key != "py/object"}
        if path == "botbuilder.dialogs.dialog_state.DialogState":
            stack = fields.pop("_dialog_stack", [])
            if fields or not isinstance(stack, list):
                raise UnsafeState("a stored DialogState has unexpected fields")
            return DialogState([inner(item) for item in stack])
        if path == "botbuilder.core.storage.StoreItem":
            return _store_item(fields, inner)
        if path in _LEGACY_PLAIN:
            return _rebuild(_LEGACY_PLAIN[path], fields, inner)
        module, _, name = path.rpartition(".")
        if module in _LEGACY_SCHEMA_MODULES and name in _MODELS:
            return _rebuild(_MODELS[name], fields, inner)
        raise UnsafeState(f"py/object of a type that is not read back: {path}")
    raise UnsafeState(f"jsonpickle construct {', '.join(sorted(tags))} is not read back")
