"""The self-tests import the kit (kit.*, from harness/) and the instructor's
tools they test (mutants, soak, stale_text, package: harness/instructor/)."""
import os
import sys

INSTRUCTOR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.dirname(INSTRUCTOR), INSTRUCTOR):
    if path not in sys.path:
        sys.path.insert(0, path)
