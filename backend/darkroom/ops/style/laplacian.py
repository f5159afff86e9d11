"""The matting Laplacian (Levin, Lischinski & Weiss 2008, "A Closed-Form Solution to Natural
Image Matting", §3, eq. 12), the photorealism regulariser of Deep Photo Style Transfer
(Luan et al. 2017, §3.1, eq. 2: L_m = Σ_c V_c[O]ᵀ L V_c[O]).

For an image I (N = H·W pixels, 3 colours) and every 3×3 window w_k with colour mean μ_k and
covariance Σ_k,

    L_ij = Σ_{k : i, j ∈ w_k} ( δ_ij − (1 + (I_i − μ_k)ᵀ (Σ_k + ε/|w_k| I₃)⁻¹ (I_j − μ_k)) / |w_k| ).

L is symmetric and positive semi-definite; its null space holds every image that is, inside
each window, an affine function of I's colours (exactly so as ε → 0). A small ``V ᵀ L V`` is
therefore what "locally affine in colour, i.e. photorealistic" means.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

EPS = 1e-7  #: Levin et al.'s and Luan et al.'s ε (regularises flat windows)


def matting_laplacian(image: np.ndarray, eps: float = EPS, radius: int = 1,
                      check: Callable[[], None] | None = None) -> sp.csr_matrix:
    """Matting Laplacian of an H×W×3 float image in [0, 1] → (N, N) scipy CSR, N = H·W,
    pixels in row-major order (index = y·W + x). Windows are (2r+1)² and fully inside the image.

    ``check`` is called between chunks of windows (a few tens of ms each on a CPU) and may
    raise to abandon the build: building takes seconds at the working size, and a cancel in
    the editor must free the worker well within a second.
    """
    h, w, _ = image.shape
    n = h * w
    k = 2 * radius + 1
    if h < k or w < k:
        return sp.csr_matrix((n, n))
    img = image.astype(np.float64).reshape(n, 3)
    ids = np.arange(n).reshape(h, w)
    # Window pixel indices, one row per window centre: (K, k²).
    offs = [(dy, dx) for dy in range(k) for dx in range(k)]
    win = np.stack([ids[dy : h - k + 1 + dy, dx : w - k + 1 + dx].ravel() for dy, dx in offs], 1)
    m = k * k
    eye = np.eye(3)
    rows, cols, vals = [], [], []
    # Chunks bound the (K, m, m) temporaries to a few MB whatever the image size; entries are
    # gathered and summed once at the end (adding sparse matrices chunk by chunk cost more
    # than computing them).
    for start in range(0, len(win), 8192):
        if check is not None:
            check()
        wi = win[start : start + 8192]
        c = img[wi]  # (K, m, 3)
        mu = c.mean(1, keepdims=True)
        x = c - mu
        cov = np.einsum("kmi,kmj->kij", x, x) / m
        inv = np.linalg.inv(cov + (eps / m) * eye)
        vals.append((np.eye(m) - (1.0 + np.einsum("kmi,kij,knj->kmn", x, inv, x)) / m).ravel())
        wi32 = wi.astype(np.int32)
        rows.append(np.repeat(wi32, m, axis=1).ravel())
        cols.append(np.tile(wi32, (1, m)).ravel())
    if check is not None:
        check()
    # COO → CSR sums the duplicate (i, j) entries that overlapping windows contribute.
    return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n)).tocsr()


def to_torch(lap: sp.spmatrix, device: str | torch.device = "cpu") -> torch.Tensor:
    """A scipy sparse matrix → a float32 torch sparse tensor on ``device``: CSR where torch has
    a fast CSR × dense product (CPU, CUDA), coalesced COO elsewhere (e.g. MPS)."""
    coo = lap.tocoo()
    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    val = torch.from_numpy(coo.data.astype(np.float32))
    t = torch.sparse_coo_tensor(idx, val, coo.shape, check_invariants=False).coalesce()
    dev = torch.device(device)
    if dev.type in ("cpu", "cuda"):
        with warnings.catch_warnings():  # "sparse CSR support is in beta": a product is all we use
            warnings.simplefilter("ignore", UserWarning)
            t = t.to_sparse_csr()
    return t.to(dev)


class _QuadraticForm(torch.autograd.Function):
    """Σ_c V_cᵀ L V_c / N for V (N, 3) and a symmetric sparse L, with the gradient 2·L·V / N
    written out: one sparse product per iteration instead of autograd's transpose-and-multiply
    (about 20× cheaper on a CPU, which made the photorealism term most of a dpst iteration)."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        lv = lap @ v
        ctx.save_for_backward(lv)
        return (v * lv).sum() / v.shape[0]

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (lv,) = ctx.saved_tensors
        return grad * 2.0 * lv / lv.shape[0], None


def photorealism_loss(img: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
    """Luan et al. eq. 2: Σ_c V_cᵀ L V_c for a (1, 3, H, W) image and L from :func:`to_torch`,
    divided by the pixel count (so weights do not depend on the working size). L must be
    symmetric (the matting Laplacian is), which the closed-form gradient relies on."""
    v = img[0].reshape(3, -1).t()  # (N, 3)
    return _QuadraticForm.apply(v, lap)
