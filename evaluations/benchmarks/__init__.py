"""One module per benchmark; ``evaluations.registry`` maps names to instances."""
