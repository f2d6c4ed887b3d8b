"""Cases: what staff handle, one or more reports moving through the procedure."""
