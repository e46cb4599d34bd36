"""Notebook 05: experiment tracking and the model registry with MLflow, the CI/CD pipeline, and deployment.

`store` configures MLflow (a local SQLite store under artifacts/mlflow/, quiet and offline); the other modules
configure it on first use. Modules: `store`, `runs` (log and compare), `registry` (versions, aliases, the gate,
rollback), `steps` and `pipeline` (the eight-step pipeline), `security` (its scans), `deploy` (the production
bundle), `course` (notebook 05 as one function); `python -m helpers.mlops ui` opens the MLflow UI (`make mlflow-ui`).
"""
