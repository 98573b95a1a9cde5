"""The weights of lic's he2021-checkerboard-vr model.

`he2021-checkerboard-vr.safetensors` (float16) and its card `he2021-checkerboard-vr.json` sit in
this folder, where `lic.weights.locate` finds them (nothing here is imported).
"""
