"""Terraform from a chosen plan: the Python side decides, Jinja2 templates only lay out.

``deployment`` (what gets deployed, cloud-neutral), ``roles`` and ``boot`` (node roles and the
boot script), ``templates`` (the Jinja environment and its escaping filters), ``escape``,
``terraform`` (main.tf or a module folder), ``clouds`` (the renderer registry) and one module per
cloud (``aws``, ``gcp``, ``azure``).

May import: errors, vocabulary, workload, engines, plan, verify.
"""
