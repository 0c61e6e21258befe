"""The study as one job: a chain of background jobs from preprocessing to the report
(`chain`), its settings (`settings`) and its progress (`progress`)."""
