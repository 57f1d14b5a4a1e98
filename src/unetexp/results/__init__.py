"""Reading finished runs: tables, the study's reference figures, plots and the report document."""
