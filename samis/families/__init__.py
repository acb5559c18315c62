"""The model families samis runs, one self-registering module each (see :mod:`samis.families.registry`).

This package's ``__init__`` stays empty: :mod:`samis.families.registry` imports every module found here when it
loads, so a module dropped into this folder is a family with no other edit.
"""
