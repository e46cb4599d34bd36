"""Notebook 05: experiment tracking and the model registry with MLflow, the CI/CD pipeline, and deployment.

`store` configures MLflow (a local SQLite store under artifacts/mlflow/, quiet and offline) and must run before
MLflow is used: every function here calls it first. Modules: `store`, `runs`, `registry`, `pipeline`,
`security`, `deploy`; `python -m helpers.mlops ui` opens the MLflow UI (`make mlflow-ui`).
"""
