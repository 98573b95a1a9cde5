"""Entropy coding of integer symbols under discrete tables or per-symbol integer distributions
(constriction's range coder)."""

from lic.coding.persymbol import PRECISION, quantize_pmfs
from lic.coding.rangecoder import Decoder, Encoder
from lic.coding.tables import TableSet, pmf_with_tail

__all__ = ["PRECISION", "Decoder", "Encoder", "TableSet", "pmf_with_tail", "quantize_pmfs"]
