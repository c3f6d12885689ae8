"""The ledger reference (docs/ledgers.md), rendered from the contracts so it cannot drift."""

from __future__ import annotations

from workbench.contracts import LEDGERS
from workbench.messages import catalogue
from workbench.template import (
    field_notes,
    ledger_description,
    options_text,
    rule_texts,
    type_label,
)

HEADER = """# 台账字段说明（Ledger reference）

本文件由 `workbench ledger-docs` 根据 `workbench/contracts.py` 生成，请勿手工修改。
Generated from `workbench/contracts.py` by `workbench ledger-docs`; do not edit by hand.

表头匹配规则：全角/半角括号、空格、`(元)`/`（元）` 等单位后缀不影响识别；也接受英文字段名作表头。
"""


def render_markdown() -> str:
    out = [HEADER]
    for lg in LEDGERS.values():
        rules = rule_texts(lg)
        out.append(f"\n## {lg.title}（`{lg.name}`）\n\n{ledger_description(lg)}\n")
        out.append(f"唯一键：{' + '.join(lg.field(k).header for k in lg.key)}\n")
        out.append("| 表头 | 字段 | 类型 | 必填 | 可选值 | 规则与说明 |\n|---|---|---|---|---|---|")
        for f in lg.fields:
            notes = "；".join(field_notes(lg, f, rules))
            if f.personal:
                notes = ("个人信息，输出时脱敏；" + notes) if notes else "个人信息，输出时脱敏"
            out.append(
                f"| {f.header} | `{f.name}` | {type_label(f)} | "
                f"{'是' if f.required else ''} | {options_text(f)} | {notes} |"
            )
    out.append(
        "\n## 规则编码（Error and warning codes）\n\n"
        "| 编码 | 问题类型 | 级别 | 说明 |\n|---|---|---|---|"
    )
    cat = catalogue()
    for key, text in sorted(cat.items()):
        if key.startswith("ingest.code."):
            code = key.removeprefix("ingest.code.")
            level = "警告" if code.startswith("W_") else "错误"
            out.append(f"| `{code}` | {cat.get(f'ingest.rule.{code}', '')} | {level} | {text} |")
    return "\n".join(out) + "\n"
