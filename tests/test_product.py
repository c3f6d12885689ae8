"""The product's colophon: every face that names the workbench (the batch's reports and index,
the cockpit and county page, `workbench --version`) prints the one Chinese name with the
version, never the package's English code."""

from __future__ import annotations

import re

import pytest

from workbench import __version__
from workbench.presentation.product import colophon, product_name

NAME = "医保基金监管工作台"  # the name the 通报 and the templates have always used


def test_colophon_is_the_chinese_name_and_the_version():
    assert product_name() == NAME
    assert colophon() == f"{NAME} {__version__}"
    assert "workbench" not in colophon().lower()


def test_batch_footer_carries_the_colophon():
    from workbench.batch import batch_footer

    text = batch_footer("20251001-abc", "2025年9月")
    assert text == (
        "运行编号 20251001-abc　评估期 2025年9月　"
        f"{NAME} {__version__}　本报告由批量任务自动生成，个人信息已脱敏。"
    )


def test_batch_index_page_ends_with_the_footer(tmp_path):
    from workbench import publish
    from workbench.batch import batch_footer

    meta = {
        "title": "演示市",
        "words": {"noun": "区县", "code_label": "区划代码"},
        "period_label": "2025年9月",
        "run_id": "r1",
        "state_label": "完成",
        "total": 0,
        "ok": 0,
        "failed": 0,
        "pending": 0,
        "footer": batch_footer("r1", "2025年9月"),
    }
    page = publish.index_html(tmp_path, meta, [])
    foot = re.search(r'<footer class="wb-foot">(.*?)</footer>', page, re.S)
    assert foot and f"{NAME} {__version__}" in foot.group(1)
    assert "workbench" not in foot.group(1)


def test_cockpit_and_county_page_end_with_the_same_colophon():
    pytest.importorskip("anywidget")
    from tests.test_dashboard import sample_data
    from workbench import dashboard as d

    cockpit = d.Cockpit(sample_data(), geojson="/nonexistent.geojson").widget.skeleton
    county = d.CountyPage(sample_data(), county="990103", ledgers=lambda c: {}).widget.skeleton
    for page in (cockpit, county):
        foot = re.findall(r'<footer class="wb-foot">(.*?)</footer>', page)
        assert foot == [f"{NAME} {__version__}"]


def test_cli_version_is_the_colophon(capsys):
    from workbench import cli

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"{NAME} {__version__}"
