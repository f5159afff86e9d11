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

import numpy as np
import scipy.sparse as sp
import torch

EPS = 1e-7  #: Levin et al.'s and Luan et al.'s ε (regularises flat windows)


def matting_laplacian(image: np.ndarray, eps: float = EPS, radius: int = 1) -> sp.csr_matrix:
    """Matting Laplacian of an H×W×3 float image in [0, 1] → (N, N) scipy CSR, N = H·W,
    pixels in row-major order (index = y·W + x). Windows are (2r+1)² and fully inside the image.
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
    out = sp.csr_matrix((n, n))
    eye = np.eye(3)
    # Chunks bound the (K, m, m) temporaries to a few tens of MB whatever the image size.
    for start in range(0, len(win), 65536):
        wi = win[start : start + 65536]
        c = img[wi]  # (K, m, 3)
        mu = c.mean(1, keepdims=True)
        x = c - mu
        cov = np.einsum("kmi,kmj->kij", x, x) / m
        inv = np.linalg.inv(cov + (eps / m) * eye)
        vals = (np.eye(m) - (1.0 + np.einsum("kmi,kij,knj->kmn", x, inv, x)) / m).ravel()
        rows = np.repeat(wi, m, axis=1).ravel()
        cols = np.tile(wi, (1, m)).ravel()
        out = out + sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    return out


def to_torch(lap: sp.spmatrix, device: str | torch.device = "cpu") -> torch.Tensor:
    """A scipy sparse matrix → a coalesced float32 torch COO tensor on ``device``."""
    coo = lap.tocoo()
    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    val = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(idx, val, coo.shape, device=device,
                                   check_invariants=False).coalesce()


def photorealism_loss(img: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
    """Luan et al. eq. 2: Σ_c V_cᵀ L V_c for a (1, 3, H, W) image and L from :func:`to_torch`,
    divided by the pixel count (so weights do not depend on the working size)."""
    v = img[0].reshape(3, -1).t()  # (N, 3)
    return (v * torch.sparse.mm(lap, v)).sum() / v.shape[0]
