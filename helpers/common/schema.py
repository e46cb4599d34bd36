"""The course's data contract and release rules: the constants every chapter shares, defined once."""

from __future__ import annotations

SEED = 42
"""The seed of every random draw in the course (data, splits, forests, simulations)."""

N_FEATURES = 20
FEATURES: list[str] = [f"feature_{i}" for i in range(N_FEATURES)]
"""The model's input columns, in the order every format and the API expect them."""
TARGET = "target"
CLASSES: tuple[int, ...] = (0, 1)

BACKLOG_ROWS = 2_000
"""Production-pool rows [0, 2000): labelled data a retrained model may add; the rest of the pool is live traffic."""

MAX_BATCH_ROWS = 1_000
"""The most rows one /predict_batch request may carry."""

MIN_ACCURACY = 0.80
"""The release gate's floor: no model below this validation accuracy ever serves."""
GATE_MARGIN = 0.02
"""How much worse than production a candidate may score on validation and still pass: differences below it are noise."""
