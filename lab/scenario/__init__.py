"""Guided scenarios: data files, one engine for the app, the notebooks and the CLI.

`model.py` loads and checks scenario files (the JSON Schema ships beside it), `paths.py` reads
and writes fields by dotted path, `actions.py` does what a step's `do` says (commit as a
persona, kubectl as mallory, turn a knob...), `checks.py` tells whether an `expect` holds, and
`runner.py` plays a scenario guided (the learner acts, checks poll) or on autoplay. Scenarios
only use the Lab facade, like any other face.
"""
