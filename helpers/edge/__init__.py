"""Advanced notebook A2: compressing the forest, compiling it to C, and scoring it in a browser with no Python."""
