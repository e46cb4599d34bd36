"""The framework floor: a FastAPI endpoint that returns a constant (no parsing, no model)."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()
_ANSWER = {"prediction": 0, "probabilities": {"0": 1.0, "1": 0.0}, "confidence": 1.0}


@app.get("/health")
async def health() -> JSONResponse:
    """Readiness for the benchmark harness."""
    return JSONResponse({"status": "ok"})


@app.post("/predict")
async def predict() -> JSONResponse:
    """Return a constant answer."""
    return JSONResponse(_ANSWER)
