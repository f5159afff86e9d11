"""Photo style transfer: Deep Photo Style Transfer (Luan et al. 2017), neural style (Gatys et
al. 2016), CNNMRF (Li & Wand 2016), and a fast full-resolution photo method (an affine
bilateral grid optimised with the same losses).

Read in order: :mod:`.losses` (the losses), :mod:`.features` (which layers), :mod:`.labels`
(region pairing), :mod:`.laplacian` (photorealism term), :mod:`.grid` (the fast method's
model), :mod:`.affine` (local affine fits), :mod:`.solve` (the methods), :mod:`.op` (the op).
"""
