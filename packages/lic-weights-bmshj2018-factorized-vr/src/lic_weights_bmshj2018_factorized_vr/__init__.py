"""The weights of lic's bmshj2018-factorized-vr model.

`bmshj2018-factorized-vr.safetensors` (float16) and its card `bmshj2018-factorized-vr.json` sit in
this folder, where `lic.weights.locate` finds them (nothing here is imported).
"""
