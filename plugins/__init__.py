"""The institution plugins bundled with Cellule, each registered through its entry point."""
