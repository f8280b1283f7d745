"""Reports: ranked comparison tables of runs and studies, and the HTML report."""
