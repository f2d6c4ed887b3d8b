"""What reporters submit: the report, kept apart from the reporter's identity."""
