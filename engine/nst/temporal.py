"""Temporal stability for video: less flicker between consecutive stylised frames.

A network that stylises each frame on its own paints each with its own brush strokes, and small
changes between source frames move the strokes: the texture flickers. The fix here (after Ruder
et al. 2016, "Artistic style transfer for videos", in its cheap feed-forward form):

1. optical flow on the *source* frames (OpenCV's DIS flow, dense, a few ms a frame at 480 px):
   `backward[y, x]` says where pixel (x, y) of frame t was in frame t-1;
2. the previous *output* frame warped along it, so its strokes land where the content moved;
3. an occlusion mask from forward-backward consistency: where following the flow back and then
   forward again does not return to the start (a pixel that was hidden in t-1, the edge of a moving
   object), the warped frame is wrong there and is not used; the mask is widened a little so that
   moving objects do not drag a halo;
4. the output is the new stylised frame blended with the warped previous output where the mask
   allows: out = (1 - w·m)·stylised + w·m·warped, w = stability × MAX_BLEND.

Blending is a running average along motion paths: flicker drops, and so does sharpness a little
(the warp resamples), hence the `stability` control (0 = every frame on its own). MAX_BLEND < 1 so
that new content always comes through. `warping_error` is the flicker measure of the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_BLEND = 0.85
# Sundaram et al. 2010's forward-backward test, as Ruder et al. use it: |f + b|² > a(|f|² + |b|²) + c
CONSISTENCY_A, CONSISTENCY_C = 0.01, 0.5
OCCLUSION_GROW = 2  # px the occluded area is widened by
# DIS is run on frames no larger than this (longest side); the flow is scaled up. Its error at the
# output size is a fraction of a pixel for the moves of ordinary footage, and 720 p costs half.
FLOW_MAX_SIDE = 640


def grey(image: np.ndarray) -> np.ndarray:
    """HxW uint8 luma of an HxWx3 uint8 RGB frame."""
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


class FlowField:
    """DIS optical flow between two grey frames, at most FLOW_MAX_SIDE px, scaled to their size."""

    def __init__(self) -> None:
        import cv2

        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, frame_from: np.ndarray, frame_to: np.ndarray) -> np.ndarray:
        """HxWx2 float32: for each pixel of `frame_from`, its displacement (dx, dy) to `frame_to`."""
        import cv2

        height, width = frame_from.shape
        scale = min(1.0, FLOW_MAX_SIDE / max(height, width))
        if scale < 1.0:
            size = (max(8, round(width * scale)), max(8, round(height * scale)))
            small = self._dis.calc(cv2.resize(frame_from, size, interpolation=cv2.INTER_AREA),
                                   cv2.resize(frame_to, size, interpolation=cv2.INTER_AREA), None)
            flow = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= width / size[0]
            flow[..., 1] *= height / size[1]
            return flow
        return self._dis.calc(frame_from, frame_to, None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` (of the frame the flow points into) pulled along `flow`: out[y, x] = image[(x, y) + flow]."""
    import cv2

    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def consistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """HxW float32 in {0, 1}: 1 where the backward flow of frame t and the forward flow of frame t-1
    agree (the pixel was visible in both), 0 where it was occluded or leaves the frame."""
    import cv2

    height, width = backward.shape[:2]
    forward_there = warp(forward, backward)  # t-1's forward flow, read where each pixel of t came from
    total = backward + forward_there
    mismatch = (total ** 2).sum(-1)
    allowed = CONSISTENCY_A * ((backward ** 2).sum(-1) + (forward_there ** 2).sum(-1)) + CONSISTENCY_C
    grid_x, grid_y = np.meshgrid(np.arange(width), np.arange(height))
    src_x, src_y = grid_x + backward[..., 0], grid_y + backward[..., 1]
    inside = (src_x >= 0) & (src_x <= width - 1) & (src_y >= 0) & (src_y <= height - 1)
    occluded = ((mismatch > allowed) | ~inside).astype(np.uint8)
    if OCCLUSION_GROW:
        kernel = np.ones((2 * OCCLUSION_GROW + 1,) * 2, np.uint8)
        occluded = cv2.dilate(occluded, kernel)
    return 1.0 - occluded.astype(np.float32)


@dataclass
class Motion:
    """What a frame needs from its predecessor: the backward flow and where it can be trusted."""

    backward: np.ndarray
    mask: np.ndarray


def motion(flow: FlowField, previous_grey: np.ndarray, current_grey: np.ndarray) -> Motion:
    backward = flow(current_grey, previous_grey)
    forward = flow(previous_grey, current_grey)
    return Motion(backward, consistent(backward, forward))


def stabilise(stylised: np.ndarray, previous_output: np.ndarray, step: Motion, stability: float) -> np.ndarray:
    """The output frame: `stylised` (HxWx3 uint8) blended with the previous output warped along the
    source's motion where it is trustworthy, by stability × MAX_BLEND."""
    weight = (stability * MAX_BLEND) * step.mask[..., None]
    warped = warp(previous_output, step.backward).astype(np.float32)
    out = stylised.astype(np.float32) * (1.0 - weight) + warped * weight
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def warping_error(previous: np.ndarray, current: np.ndarray, step: Motion) -> float:
    """Flicker between two consecutive output frames: the mean absolute difference (0-255 scale,
    averaged over channels) between `current` and `previous` warped along the source's motion, over
    the pixels visible in both. Motion the source has is not counted, only what the stylisation adds."""
    warped = warp(previous, step.backward).astype(np.float32)
    diff = np.abs(current.astype(np.float32) - warped).mean(-1)
    visible = step.mask > 0.5
    return float(diff[visible].mean()) if visible.any() else 0.0
