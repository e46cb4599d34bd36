"""Notebook 04: the model API. `app` assembles it, `launch` starts it as a server process (`python -m helpers.api`).

Submodules are imported one by one: `from helpers.api.app import create_app`, `from helpers.api import launch`.
"""
