"""What a person looks at to check a built dataset or benchmark: ``report.html`` (:mod:`ladderdata.report.html`)."""
