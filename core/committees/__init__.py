"""A tenant's units and committees, and who sits on them."""
