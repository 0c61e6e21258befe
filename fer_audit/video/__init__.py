"""Video: settings (preprocessing, declared once), decode (streaming frames), faces
(detectors, crops), keyframes (K-means), clip (one clip to keyframe crops), cache (one
entry per video and settings), batch (a dataset, in workers and shards), augment."""
