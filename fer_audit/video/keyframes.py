"""Keyframe selection with K-means (the paper's section 3.2.2).

K-means clusters a video's frames; the frame nearest each centroid represents its
cluster; keyframes are kept in time order. The paper's three variants:

- K=10: over the whole video;
- K=20: skipping the first second (the paper skips 100 frames at 100 fps; here the
  window is in seconds, so other frame rates behave the same);
- K=50: 20 from the first half of the frames and 30 from the second half.

Any other K clusters the whole video.
"""

from __future__ import annotations

import numpy as np

from fer_audit.video.decode import VideoError

SKIP_SECONDS = 1.0


def windows(times: np.ndarray, k: int) -> list[tuple[np.ndarray, int]]:
    """(frame indices, number of keyframes to take from them) for variant `k`."""
    everything = np.arange(len(times))
    if k == 20:
        return [(everything[times >= times[0] + SKIP_SECONDS], 20)]
    if k == 50:
        half = len(times) // 2
        return [(everything[:half], 20), (everything[half:], 30)]
    return [(everything, k)]


def pick_representatives(features: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Indices (into `features`) of the k frames nearest the k-means centroids, distinct:
    when two centroids share a nearest frame, the later one takes its next nearest."""
    from sklearn.cluster import KMeans  # here, not at the top: importing sklearn takes 0.5 s

    features = features.reshape(len(features), -1).astype(np.float32)
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(features)
    distances = model.transform(features)  # (n, k)
    chosen: list[int] = []
    for centroid in range(k):
        for candidate in np.argsort(distances[:, centroid], kind="stable"):
            if candidate not in chosen:
                chosen.append(int(candidate))
                break
    return np.sort(np.asarray(chosen))


def select_keyframes(
    features: np.ndarray, times: np.ndarray, *, k: int, seed: int = 0
) -> np.ndarray:
    """Keyframe indices for variant `k`, in time order and distinct.

    Raises VideoError("too_short") when a window has fewer frames than it must give.
    """
    picked = []
    for indices, count in windows(times, k):
        if len(indices) < count:
            raise VideoError(
                "too_short",
                f"{len(times)} frames ({times[-1] - times[0]:.2f} s): K={k} needs {count} "
                f"frames in a window that holds {len(indices)}",
            )
        picked.append(indices[pick_representatives(features[indices], count, seed=seed)])
    return np.sort(np.concatenate(picked))
