"""Instances and prices: which cloud plugins are installed (``plugins``), which prices a run
uses and the note that says so (``pricing``), the local price cache (``cache``), and what is known
of an instance type by name, priced or not (``instances``).

May import: errors, vocabulary, gpus, providers.
"""
