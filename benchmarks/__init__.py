"""The benchmark suite behind ``nox -s bench``: ours side by side with every peer.

Measurement (``worker``, ``httpbench``) runs each backend in a fresh process and
returns plain data; ``runner`` gathers it into one JSON document; ``report``
turns that document into a terminal table, a Markdown table and a PNG plot.
Every read is checked against what was written, and wrong reads are counted.
"""
