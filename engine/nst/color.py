"""Colour helpers: luminance-only transfer keeps the content's own colours (Gatys et al. 2016,
"Preserving Color in Neural Artistic Style Transfer"): stylise luminance, then put the content's
chroma back. YIQ is what that paper uses; it is a linear map, so it is exact and cheap."""

import numpy as np

_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float32,
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _RGB_TO_YIQ.T


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    return yiq @ _YIQ_TO_RGB.T


def luminance_as_rgb(rgb: np.ndarray) -> np.ndarray:
    """A grey RGB image with the same luminance: what the network sees in colour-preserving mode."""
    y = rgb_to_yiq(rgb)[..., :1]
    return np.repeat(y, 3, axis=-1)


def match_luminance(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Shift and scale source's luminance to the mean/std of reference's (the paper's
    luminance matching), so a dark style does not darken a bright photo."""
    ys, yr = rgb_to_yiq(source)[..., 0], rgb_to_yiq(reference)[..., 0]
    scale = yr.std() / max(float(ys.std()), 1e-6)
    y = (ys - ys.mean()) * scale + yr.mean()
    return np.repeat(y[..., None], 3, axis=-1).astype(np.float32)


def keep_content_colors(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance of `stylized`, chroma (I, Q) of `content`; both HxWx3 floats in [0, 1], same size."""
    out = rgb_to_yiq(content)
    out[..., 0] = rgb_to_yiq(stylized)[..., 0]
    return np.clip(yiq_to_rgb(out), 0.0, 1.0).astype(np.float32)
