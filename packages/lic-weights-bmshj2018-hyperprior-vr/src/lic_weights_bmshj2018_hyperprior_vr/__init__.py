"""The weights of lic's bmshj2018-hyperprior-vr model.

`bmshj2018-hyperprior-vr.safetensors` (float16) and its card `bmshj2018-hyperprior-vr.json` sit in
this folder, where `lic.weights.locate` finds them (nothing here is imported).
"""
