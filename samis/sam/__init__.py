"""Segment Anything in samis: engine (load, run, cache), mask selection, prompted SAM.

Modules: :mod:`~samis.sam.engine` (models, devices, the locked shared model),
:mod:`~samis.sam.amg` (fast automatic mask generation), :mod:`~samis.sam.decoder`,
:mod:`~samis.sam.masks` (mask cache files), :mod:`~samis.sam.run` (resumable runs over a dataset),
:mod:`~samis.sam.selection` (strategies: masks -> one map), :mod:`~samis.sam.selection_search` (their
parameters, chosen on the train split), :mod:`~samis.sam.select_run` (a strategy over a dataset),
:mod:`~samis.sam.records` (what each map chose), :mod:`~samis.sam.prompts` (box/point prompts),
:mod:`~samis.sam.checkpoints`, :mod:`~samis.sam.tiny` (the test-size model).
Importing this package loads nothing heavy.
"""
