"""YAML for hand-written configuration: PyYAML's safe loader, with its silent surprises refused.

:func:`load` reads a document as ``yaml.safe_load`` does, but raises :class:`StrictYamlError`
(naming the line, the problem and the fix) where the safe loader would quietly do something else:

- a key given twice in one mapping (the safe loader keeps the last value, so an edit can vanish);
- anchors (``&name``), aliases (``*name``) and merge keys (``<<``): a handful of nested aliases
  (an "alias bomb") stands for billions of values, which anything walking the result (a ``repr``
  in an error message, a dump) expands until memory runs out. Refused at the first anchor, before
  anything is built; a configuration file can spell its values out;
- nesting deeper than :data:`MAX_DEPTH` (PyYAML composes recursively, so a deep enough document
  raises ``RecursionError`` instead of a YAML error).

Syntax errors, and text that is not UTF-8 (:func:`load_file`), raise :class:`StrictYamlError` too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from d365_assets.errors import D365AssetsError

__all__ = ["MAX_DEPTH", "StrictYamlError", "list_item_at", "load", "load_file", "mapping_value"]

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists accepted."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictYamlError(D365AssetsError):
    """A file or text that is not UTF-8, not YAML, or uses something a strict load refuses."""

    def __init__(self, *, line: int | None, problem: str, fix: str) -> None:
        super().__init__(f"{f'line {line}: ' if line else ''}{problem}. Fix: {fix}")
        self.line = line
        """1-based line of the offending text, when known."""
        self.problem = problem
        self.fix = fix
        self.root: yaml.Node | None = None
        """The document's node tree, when the problem was found after it was composed (a repeated key)."""


def load_file(path: Path) -> Any:
    """The document of a UTF-8 YAML file; ``OSError`` when it cannot be read, else as :func:`load`."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StrictYamlError(
            line=data.count(b"\n", 0, exc.start) + 1,
            problem=f"byte {data[exc.start]:#04x} at offset {exc.start} is not UTF-8 text",
            fix="save the file as UTF-8 (an editor's Save As or Encoding menu offers it)",
        ) from None
    return load(text)


def load(text: str) -> Any:
    """The document in ``text`` (None when empty); raises :class:`StrictYamlError`, syntax errors included."""
    try:
        return _compose_and_construct(text)
    except yaml.reader.ReaderError as exc:
        raise StrictYamlError(
            line=text.count("\n", 0, exc.position) + 1,
            problem=f"character U+{_code_point(exc.character):04X} is not allowed in YAML",
            fix="remove it (YAML holds printable text only)",
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise StrictYamlError(
            line=_line(exc.problem_mark) if exc.problem_mark else None,
            problem=f"this is not valid YAML: {exc.problem or exc}",
            fix="correct the YAML there (indentation, a missing colon, quote or bracket)",
        ) from None


def _code_point(character: int | str) -> int:
    return character if isinstance(character, int) else ord(character)


def _compose_and_construct(text: str) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        try:
            return None if node is None else loader.construct_document(node)
        except StrictYamlError as exc:
            exc.root = node
            raise
    finally:
        loader.dispose()


def list_item_at(root: yaml.Node | None, list_key: str, line: int) -> tuple[int, yaml.Node] | None:
    """The index and node of the item of the top-level list ``list_key`` whose text holds ``line``."""
    items = mapping_value(root, list_key)
    if not isinstance(items, yaml.SequenceNode):
        return None
    for index, item in reversed(list(enumerate(items.value))):
        first, last = _line_span(item)
        if first <= line <= last:
            return index, item
    return None


def mapping_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a mapping node, or None."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node
    return None


def _line_span(node: yaml.Node) -> tuple[int, int]:
    """The first and last line (1-based) of the text a composed node was read from."""
    last = node.end_mark.line + 1
    if isinstance(node, yaml.SequenceNode):
        last = max([_line(node)] + [_line_span(item)[1] for item in node.value])
    elif isinstance(node, yaml.MappingNode):
        last = max([_line(node)] + [_line_span(part)[1] for pair in node.value for part in pair])
    return _line(node), last


def _line(node_or_mark: Any) -> int:
    return getattr(node_or_mark, "start_mark", node_or_mark).line + 1


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases, anchors, merge keys, repeated keys and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise StrictYamlError(
                line=_line(event),
                problem=f"{sign}{event.anchor} is a YAML {'alias' if sign == '*' else 'anchor'}; anchors "
                "and aliases are not accepted (a few nested aliases can stand for billions of values)",
                fix="write the value out in full where it is used; a configuration file needs no anchors",
            )
        if self._depth >= MAX_DEPTH:
            raise StrictYamlError(
                line=_line(event),
                problem=f"the document nests deeper than {MAX_DEPTH} levels",
                fix="flatten the structure; a configuration file needs only a few levels",
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                raise StrictYamlError(
                    line=_line(key_node),
                    problem="'<<' merge keys are not accepted",
                    fix="write the merged keys out in full",
                )
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # the safe loader refuses unhashable keys itself
            key = self.construct_object(key_node)
            if key in first_lines:
                raise StrictYamlError(
                    line=_line(key_node),
                    problem=f"key {key_node.value!r} appears twice in one mapping, on line "
                    f"{first_lines[key]} and on line {_line(key_node)}",
                    fix="keep one of them (YAML would silently use only the last)",
                )
            first_lines[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)
