"""Browser tests of the dashboards (playwright + Debian chromium)."""
