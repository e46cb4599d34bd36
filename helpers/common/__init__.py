"""What every chapter shares: paths, the data contract and release rules, timing, plotting, background processes."""
