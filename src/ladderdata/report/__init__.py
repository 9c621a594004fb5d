"""What a person looks at to check a built dataset or benchmark: ``report.html`` (:mod:`ladderdata.report.html`)
and the per-frame boxes that preview cards draw on multi-view sets and videos (:mod:`ladderdata.report.boxes`)."""
