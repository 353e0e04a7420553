"""``damos eval``: what a scheme saves and what it costs (issue 17).

One concern per module; this pass has the statistics (:mod:`.stats`)."""
