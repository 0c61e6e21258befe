"""What to change when the data stops a job: the words the readiness list, the jobs'
errors (`errors.DataProblem.fix`) and the pages share."""

#: the preprocessing left subjects without a usable clip
FIX_PREPROCESSING = "change the preprocessing (a smaller K for short clips, another detector)"
#: the test split holds out subjects a training set or a test group cannot spare
FIX_SPLIT = "redraw the test split (Data page, Test split; or: fer-audit datasets split)"
#: where the subjects without a usable clip are listed
WHERE_LISTED = "the Data page lists the subjects without a usable clip under each preprocessing"
