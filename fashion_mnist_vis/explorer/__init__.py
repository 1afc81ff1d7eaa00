"""The interactive explorer: a local web app that classifies drawings, uploads and test images live.

:mod:`~fashion_mnist_vis.explorer.session` turns an uploaded image into the page's JSON (built on
:class:`~fashion_mnist_vis.explain.analysis.Analyser`, so the numbers are classify's),
:mod:`~fashion_mnist_vis.explorer.encoding` packs arrays into small PNG data URLs,
:mod:`~fashion_mnist_vis.explorer.app_server` serves the API and the static page (``static/``) on the
project's hardened server, and :mod:`fashion_mnist_vis.commands.explore` is the command.
"""
