"""The book is its own test suite: the chapters listed in _toc.yml are collected and executed by
sslbook's pytest plugin (nbval cells, per-chapter budget, claim checks); see sslbook/pytest_plugin.py."""

pytest_plugins = ["sslbook.pytest_plugin"]
