"""damos report: heatmaps and working-set sizes from monitoring records
(docs/report.md)."""
