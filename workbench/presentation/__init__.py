"""The presentation layer: between the engine and every face.

It decides, once, what each number means to a reader — a KPI's status, signed gap, change on
last year and the text of each (through the one formatter, `workbench.fmt`, with the unit and
decimals declared in YAML) — and the as-of lists every face shows (overdue rectifications, open
cases, unreferred cases over the threshold, key-monitored institutions not inspected, counties
that have not submitted). The cockpit, county page, reports, 通报, CLI and exports read these;
none judges or formats an indicator number on its own.

Modules: `kpis` (status, gap, texts of KPI rows), `lists` (as-of ledger lists), `cache` (the one
cache of computed tables, keyed by the warehouse's content, the declarations and the code),
`words` (a set's own words: unit noun, report title, issuer, the total row), `citations` (a
declared `source:` as the policy document's title, for every face that prints one), `product`
(the product's Chinese name and the colophon every face ends with).
"""
