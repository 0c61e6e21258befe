"""Training: config (settings and run ids), runs (run folders), data (cached clips),
loop (the training loop, resumable), inference (probabilities of cached clips),
features (frozen backbones), distributed (several processes)."""
