"""The weights of lic's hu2020-vr model.

`hu2020-vr.safetensors` (float16) and its card `hu2020-vr.json` sit in
this folder, where `lic.weights.locate` finds them (nothing here is imported).
"""
