"""`python -m helpers.api --port 8000`: serve the model API with uvicorn (see helpers.api.launch)."""

from helpers.api.launch import main

main()
