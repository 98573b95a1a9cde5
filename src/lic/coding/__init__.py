"""Entropy coding of integer symbols under discrete tables (constriction's range coder)."""

from lic.coding.rangecoder import Decoder, Encoder
from lic.coding.tables import TableSet, pmf_with_tail

__all__ = ["Decoder", "Encoder", "TableSet", "pmf_with_tail"]
