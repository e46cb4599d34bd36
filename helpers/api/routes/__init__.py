"""The API's routes, one router per concern: probes, predictions, the model (info, retraining), monitoring."""
