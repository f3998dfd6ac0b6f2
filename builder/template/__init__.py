"""Templates: JSON with positions, user variables, and the {{ }} language."""
