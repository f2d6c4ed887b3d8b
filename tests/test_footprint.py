"""What a web worker holds: the heavy libraries of rare work are imported when first used."""

import subprocess
import sys

from core import PROJECT_ROOT


def test_the_app_starts_without_the_pdf_libraries(tmp_path):
    """WeasyPrint (case-file exports) and pypdf with its font tools (PDF evidence) weigh some
    50 MiB together; a worker that never uses them does not load them."""
    probe = (
        "import sys; from core import create_app; "
        f"create_app(instance_path={str(tmp_path)!r}); "
        "print(sorted(m for m in ('weasyprint', 'pypdf', 'fontTools') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
