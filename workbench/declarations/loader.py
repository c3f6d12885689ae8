"""Safe YAML that remembers where everything came from.

Each mapping and list knows its file and line (and each key its own line), so every later check
can say "in file f on line n". Only plain YAML is built: an explicit tag (`!!python/object…`) is
refused, never constructed. Anchors and aliases are allowed but their expansion is bounded, as
are nesting depth and file size, so a small hostile file cannot exhaust memory or the stack.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from workbench.declarations.issues import At, Issues
from workbench.declarations.model import ParamRef
from workbench.declarations.vocabulary import MAX_YAML_DEPTH, MAX_YAML_NODES, PARAM_RE


class LMap(dict):
    """A YAML mapping that remembers where it and each of its keys came from."""

    file: str = ""
    line: int | None = None
    key_lines: dict

    def at(self, key: str | None = None) -> At:
        if key is not None and key in self.key_lines:
            return self.file, self.key_lines[key]
        return self.file, self.line


class LList(list):
    """A YAML list that remembers where it and each of its items came from."""

    file: str = ""
    line: int | None = None
    item_lines: list

    def at(self, i: int | None = None) -> At:
        if i is not None and 0 <= i < len(self.item_lines):
            return self.file, self.item_lines[i]
        return self.file, self.line


_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{k}"
    for k in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp", "merge")
}


class _Refused(Exception):
    """The document is bigger or deeper than a declaration can be; stop building it."""

    def __init__(self, code: str, line: int | None, **values: object) -> None:
        self.code, self.line, self.values = code, line, values


class _Builder:
    """Turns composed nodes into LMap/LList, counting every node built. An alias makes the
    composer hand the same node out again, so the count is the size after expansion: a
    "billion laughs" file stops at the limit instead of filling memory."""

    def __init__(self, file: str, issues: Issues) -> None:
        self.file = file
        self.issues = issues
        self.cons = SafeConstructor()
        self.left = MAX_YAML_NODES
        self.seen: set[int] = set()
        self.alias_line: int | None = None  # where the outermost alias being expanded is

    def build(self, node: Node, depth: int = 0, via: int | None = None) -> Any:
        self.left -= 1
        entered_alias = False
        if id(node) in self.seen and not isinstance(node, ScalarNode):
            if self.alias_line is None:
                self.alias_line = via if via is not None else node.start_mark.line + 1
                entered_alias = True
        else:
            self.seen.add(id(node))
        if self.left < 0:
            if self.alias_line is not None:
                raise _Refused("E_YAML_ALIASES", self.alias_line, limit=MAX_YAML_NODES)
            raise _Refused("E_YAML_TOO_LARGE", node.start_mark.line + 1, limit=MAX_YAML_NODES)
        if depth > MAX_YAML_DEPTH:
            raise _Refused("E_YAML_TOO_DEEP", node.start_mark.line + 1, limit=MAX_YAML_DEPTH)
        try:
            return self._build(node, depth)
        finally:
            if entered_alias:
                self.alias_line = None

    def _build(self, node: Node, depth: int) -> Any:
        file, issues = self.file, self.issues
        if node.tag not in _PLAIN_TAGS:
            # Explicit tags (e.g. !!python/object) are refused, never constructed.
            issues.error("E_YAML_TAG", (file, node.start_mark.line + 1), tag=node.tag)
            return None
        if isinstance(node, MappingNode):
            self.cons.flatten_mapping(node)
            out = LMap()
            out.file, out.line, out.key_lines = file, node.start_mark.line + 1, {}
            for k_node, v_node in node.value:
                line = k_node.start_mark.line + 1
                if not isinstance(k_node, ScalarNode):
                    issues.error("E_YAML_KEY", (file, line))
                    continue
                key = str(k_node.value)  # keys stay text: `on:` is not YAML 1.1's boolean here
                if key in out:
                    issues.error(
                        "E_DUPLICATE_KEY", (file, line), key=key, first=out.key_lines.get(key)
                    )
                    continue
                value = self.build(v_node, depth + 1, line)
                if isinstance(value, (LMap, LList)):
                    value.line = line  # a nested block is "at" the key that introduces it
                out[key] = value
                out.key_lines[key] = line
            return out
        if isinstance(node, SequenceNode):
            line = node.start_mark.line + 1
            lst = LList(self.build(n, depth + 1, line) for n in node.value)
            lst.file, lst.line = file, line
            lst.item_lines = [n.start_mark.line + 1 for n in node.value]
            return lst
        value = self.cons.construct_object(node, deep=True)
        if isinstance(value, str) and node.start_mark.line != node.end_mark.line:
            return join_cjk_lines(value)  # a folded or plain scalar written over several lines
        return value


# Chinese prose wraps without spaces, but YAML folds a line break into one: `…问题）。 同一…`
# reached the 通报. A space with Chinese (ideograph or full-width punctuation, curly quotes) on
# both sides is such a fold and goes; one beside a number, a Latin word or `÷` stays.
_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d\u2014\u2026"
_FOLD_SPACE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")


def join_cjk_lines(text: str) -> str:
    """`…得满分， 未达目标…` → `…得满分，未达目标…` (only spaces between Chinese characters)."""
    return _FOLD_SPACE.sub("", text)


# libyaml's parser when PyYAML has it (same nodes and marks, several times faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, file: str, issues: Issues) -> LMap | None:
    """Safe-load one YAML document keeping lines; a syntax error becomes an issue, not a crash."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        issues.error("E_YAML_SYNTAX", (file, line), problem=exc.problem or str(exc))
        return None
    except yaml.YAMLError as exc:
        issues.error("E_YAML_SYNTAX", (file, None), problem=str(exc))
        return None
    except RecursionError:  # the pure-Python parser on absurd nesting
        issues.error("E_YAML_TOO_DEEP", (file, None), limit=MAX_YAML_DEPTH)
        return None
    if node is None:
        issues.error("E_FILE_EMPTY", (file, 1))
        return None
    try:
        data = _Builder(file, issues).build(node)
    except _Refused as exc:
        issues.error(exc.code, (file, exc.line), **exc.values)
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        issues.error("E_YAML_SYNTAX", (file, mark.line + 1 if mark else None), problem=str(exc))
        return None
    if not isinstance(data, LMap):
        issues.error("E_NOT_MAPPING", (file, node.start_mark.line + 1), what=file)
        return None
    return data


def plain(value: Any) -> Any:
    """A YAML value without line bookkeeping (mappings → dict, lists → list)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# ---- scalars a declaration writes in its own way ----------------------------------------------
def param_ref(v: Any) -> ParamRef | None:
    """`$name` → a reference to a parameter, replaced by its value once the set is built."""
    if isinstance(v, str):
        mt = PARAM_RE.match(v.strip())
        if mt:
            return ParamRef(mt.group(1))
    return None


def percent_text(v: Any) -> float | None:
    """Accept `90%` as 0.9 in YAML for readability."""
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            return float(v.strip()[:-1]) / 100
        except ValueError:
            return None
    return None


def month_text(v: Any) -> str | None:
    """A YYYY-MM month from a date or text, else None."""
    if isinstance(v, (dt.date, dt.datetime)):
        return f"{v.year:04d}-{v.month:02d}"
    s = str(v).strip()
    if re.match(r"^\d{4}-\d{2}$", s) and 1 <= int(s[5:]) <= 12:
        return s
    return None
