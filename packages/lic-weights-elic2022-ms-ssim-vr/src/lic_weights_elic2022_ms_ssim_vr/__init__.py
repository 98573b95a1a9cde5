"""The weights of lic's elic2022-ms-ssim-vr model.

`elic2022-ms-ssim-vr.safetensors` (float16) and its card
`elic2022-ms-ssim-vr.json` sit in this folder, where `lic.weights.locate` finds them
(nothing here is imported).
"""
