"""The weights of lic's mbt2018-mean-vr model.

`mbt2018-mean-vr.safetensors` (float16) and its card `mbt2018-mean-vr.json` sit in
this folder, where `lic.weights.locate` finds them (nothing here is imported).
"""
