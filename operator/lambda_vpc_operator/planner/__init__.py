"""Pure decisions: desired + observed -> actions, conditions and events.

Nothing in this package does I/O or reads a clock; every input arrives as an argument, so every
branch is a unit test (tests/unit/test_planner_*.py). ``planning.plan_attachment`` is the entry
point for a live attachment, ``planning.plan_release`` for one being deleted.
"""
