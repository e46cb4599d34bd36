"""Notebook 06: drift metrics, the simulated production week, alert rules, and the week served through the API.

Modules are imported one by one (`from helpers.monitoring import psi`): the API server needs only the numpy-only
`psi`, never pandas or scipy.
"""
